//! Why a device could not be found or opened, in words a person can act on.

use std::path::{Path, PathBuf};

use super::discover::DeviceSummary;
use super::holders::{self, HolderScan, find_holders};

/// A failure to find, pick or open an MTP/PTP device.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Linux without `/sys/bus/usb`: a container or VM without USB passed through.
    #[error(
        "this system has no USB subsystem (/sys/bus/usb is missing): run mtpull on the machine \
         the phone is plugged into, or pass USB through to this container or VM \
         (for example `--device /dev/bus/usb` and a mounted /sys); `mtpull --demo` works without USB"
    )]
    NoUsbSubsystem,

    /// Nothing on USB speaks MTP or PTP.
    #[error("{}", no_device_message(.phones_without_mtp, .not_inspected))]
    NoDevice {
        /// Devices that look like Android phones but show no MTP interface
        /// (charging only, or USB debugging only), described for the user.
        phones_without_mtp: Vec<String>,
        /// Devices that might speak MTP but could not be asked (with why).
        not_inspected: Vec<String>,
    },

    /// `--device` named something that is not connected.
    #[error("no MTP/PTP device has the serial number or location \"{wanted}\"; connected:{}", list_or_none(.connected))]
    NoMatch {
        /// What `--device` said.
        wanted: String,
        /// The devices there are, one line each.
        connected: Vec<String>,
    },

    /// Several devices and no `--device` to choose.
    #[error("several MTP/PTP devices are connected; pick one with --device SERIAL:{}", indented(.connected))]
    SeveralDevices {
        /// The devices there are, one line each.
        connected: Vec<String>,
    },

    /// The OS refused to open the device node.
    #[error("{}", permission_message(.device, .node.as_ref(), *.vendor_id, *.product_id))]
    PermissionDenied {
        /// The device, described.
        device: String,
        /// Its usbfs node, on Linux.
        node: Option<PathBuf>,
        /// idVendor, for the udev rule.
        vendor_id: u16,
        /// idProduct, for the udev rule.
        product_id: u16,
    },

    /// Another program has claimed the interface.
    #[error("{}", busy_message(.device, .node.as_ref(), .scan))]
    Busy {
        /// The device, described.
        device: String,
        /// Its usbfs node, on Linux.
        node: Option<PathBuf>,
        /// Who has it open.
        scan: HolderScan,
    },

    /// The device went away while it was being opened.
    #[error("{device} was unplugged (or reset itself) while mtpull was opening it: plug it in again")]
    Disconnected {
        /// The device, described.
        device: String,
    },

    /// The interface lacks the endpoints MTP needs.
    #[error(
        "{device}: interface {interface} has no bulk IN and bulk OUT endpoint pair, so it cannot carry MTP"
    )]
    NoEndpoints {
        /// The device, described.
        device: String,
        /// bInterfaceNumber.
        interface: u8,
    },

    /// Anything else the USB stack reported.
    #[error("{device}: {context}: {message}")]
    Usb {
        /// The device, described.
        device: String,
        /// What was being done.
        context: &'static str,
        /// The USB library's words.
        message: String,
    },
}

/// How opening or claiming a device failed, as either backend reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OpenFailure {
    /// The OS refused the device node.
    PermissionDenied,
    /// Another program (or driver) holds the interface.
    Busy,
    /// The device went away.
    Disconnected,
    /// Anything else, in the USB library's words.
    Other(String),
}

impl OpenError {
    /// The error for `summary`'s device when `context` failed as `failure`
    /// says: which rule to install, who holds the device.
    pub(crate) fn opening(summary: &DeviceSummary, context: &'static str, failure: OpenFailure) -> OpenError {
        let device = summary.usb.describe();
        let node = cfg!(target_os = "linux").then(|| summary.usb.usbfs_node());
        match failure {
            OpenFailure::PermissionDenied => OpenError::PermissionDenied {
                device,
                node,
                vendor_id: summary.usb.vendor_id,
                product_id: summary.usb.product_id,
            },
            OpenFailure::Busy => {
                let scan = node.as_ref().map_or_else(HolderScan::default, |node| {
                    find_holders(Path::new("/proc"), node, std::process::id())
                });
                OpenError::Busy { device, node, scan }
            }
            OpenFailure::Disconnected => OpenError::Disconnected { device },
            OpenFailure::Other(message) => OpenError::Usb {
                device,
                context,
                message,
            },
        }
    }
}

fn no_device_message(phones_without_mtp: &[String], not_inspected: &[String]) -> String {
    let mut message = String::from(
        "no phone or camera speaking MTP/PTP was found on USB. Unlock the phone and pick \
         *File transfer* in its USB notification (a phone in *Charging only* mode shows no MTP interface)",
    );
    if !phones_without_mtp.is_empty() {
        message.push_str("\n  Connected without file transfer (charging only or USB debugging only):");
        message.push_str(&indented(phones_without_mtp));
    }
    if !not_inspected.is_empty() {
        message.push_str("\n  Could not be inspected (they might speak MTP):");
        message.push_str(&indented(not_inspected));
    }
    message
}

fn permission_message(device: &str, node: Option<&PathBuf>, vendor_id: u16, product_id: u16) -> String {
    let node = node.map_or(String::new(), |n| format!(" ({})", n.display()));
    format!(
        "no permission to open {device}{node}. Give the logged-in user access with a udev rule, e.g. \
         /etc/udev/rules.d/69-mtpull.rules containing\n  \
         SUBSYSTEM==\"usb\", ATTR{{idVendor}}==\"{vendor_id:04x}\", ATTR{{idProduct}}==\"{product_id:04x}\", TAG+=\"uaccess\"\n  \
         then `sudo udevadm control --reload` and plug the phone in again (the libmtp and \
         android-udev-rules packages ship such rules for known phones)"
    )
}

fn busy_message(device: &str, node: Option<&PathBuf>, scan: &HolderScan) -> String {
    match node {
        Some(node) => holders::busy_message(device, node, scan),
        None => format!(
            "{device} is in use by another program: close the program that has it open, then run mtpull again"
        ),
    }
}

fn indented(lines: &[String]) -> String {
    lines.iter().map(|line| format!("\n    {line}")).collect()
}

fn list_or_none(lines: &[String]) -> String {
    if lines.is_empty() {
        " none".to_owned()
    } else {
        indented(lines)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::holders::Holder;

    #[test]
    fn no_device_says_what_to_do_on_the_phone() {
        let message = OpenError::NoDevice {
            phones_without_mtp: vec![],
            not_inspected: vec![],
        }
        .to_string();
        assert!(message.contains("Unlock the phone and pick *File transfer*"));
        assert!(message.contains("*Charging only* mode shows no MTP interface"));
        assert!(!message.contains("Could not be inspected"));
    }

    #[test]
    fn no_device_lists_phones_in_charge_only_mode_and_uninspected_devices() {
        let message = OpenError::NoDevice {
            phones_without_mtp: vec!["Google Pixel 7 (18d1:4ee7) on bus 1 port 4".into()],
            not_inspected: vec!["1234:5678 on bus 2 port 1: permission denied".into()],
        }
        .to_string();
        assert!(
            message
                .contains("without file transfer (charging only or USB debugging only):\n    Google Pixel 7")
        );
        assert!(message.contains("Could not be inspected (they might speak MTP):\n    1234:5678"));
    }

    #[test]
    fn permission_denied_gives_a_udev_rule_for_this_device() {
        let message = OpenError::PermissionDenied {
            device: "Google Pixel 7 (18d1:4ee1)".into(),
            node: Some("/dev/bus/usb/001/005".into()),
            vendor_id: 0x18d1,
            product_id: 0x4ee1,
        }
        .to_string();
        assert!(
            message.starts_with("no permission to open Google Pixel 7 (18d1:4ee1) (/dev/bus/usb/001/005)")
        );
        assert!(message.contains(r#"ATTR{idVendor}=="18d1", ATTR{idProduct}=="4ee1", TAG+="uaccess""#));
    }

    #[test]
    fn busy_names_the_holder() {
        let scan = HolderScan {
            holders: vec![Holder {
                pid: 1234,
                name: "gvfsd-mtp".into(),
            }],
            unreadable: 0,
        };
        let message = OpenError::Busy {
            device: "phone".into(),
            node: Some("/dev/bus/usb/001/005".into()),
            scan,
        }
        .to_string();
        assert!(message.contains("gvfsd-mtp (pid 1234)"));
        assert!(message.contains("gio mount -s mtp"));
    }

    #[test]
    fn several_devices_and_no_match_list_what_is_connected() {
        let connected = vec!["AAA  Google Pixel 7".to_owned(), "BBB  Samsung Galaxy".to_owned()];
        let several = OpenError::SeveralDevices {
            connected: connected.clone(),
        }
        .to_string();
        assert_eq!(
            several,
            "several MTP/PTP devices are connected; pick one with --device SERIAL:\n    AAA  Google Pixel 7\n    BBB  Samsung Galaxy"
        );
        let no_match = OpenError::NoMatch {
            wanted: "CCC".into(),
            connected,
        }
        .to_string();
        assert!(
            no_match.starts_with(
                "no MTP/PTP device has the serial number or location \"CCC\"; connected:\n    AAA"
            )
        );
        let nothing = OpenError::NoMatch {
            wanted: "CCC".into(),
            connected: vec![],
        }
        .to_string();
        assert!(nothing.ends_with("connected: none"));
    }
}
