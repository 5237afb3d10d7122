//! What Linux's sysfs tells about a USB device without opening it: its
//! endpoints (from the raw `descriptors` file, readable by every user) and which
//! interfaces a kernel driver has bound.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use super::discover::{EndpointInfo, EndpointKind, Endpoints};

/// The PCI USB host controller a device hangs off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct HostController {
    /// PCI vendor id.
    pub vendor: u16,
    /// PCI device id.
    pub device: u16,
    /// Programming interface 0x30: an xHCI.
    pub is_xhci: bool,
}

/// Finds the host controller above `device_dir` (a sysfs device path, as
/// `/sys/devices/pci0000:00/0000:00:04.0/usb1/1-1`): the first ancestor whose
/// PCI class is "USB controller" (0x0c03).
pub(super) fn host_controller(device_dir: &Path) -> Option<HostController> {
    let hex = |dir: &Path, name: &str| -> Option<u32> {
        let text = fs::read_to_string(dir.join(name)).ok()?;
        u32::from_str_radix(text.trim().trim_start_matches("0x"), 16).ok()
    };
    device_dir.ancestors().skip(1).find_map(|dir| {
        let class = hex(dir, "class")?;
        (class >> 8 == 0x0c03).then_some(())?;
        Some(HostController {
            vendor: u16::try_from(hex(dir, "vendor")?).ok()?,
            device: u16::try_from(hex(dir, "device")?).ok()?,
            is_xhci: class & 0xff == 0x30,
        })
    })
}

const DESCRIPTOR_CONFIGURATION: u8 = 0x02;
const DESCRIPTOR_INTERFACE: u8 = 0x04;
const DESCRIPTOR_ENDPOINT: u8 = 0x05;

/// Endpoints of each interface (alternate setting 0) of configuration
/// `active_configuration`, from the concatenated raw descriptors (device
/// descriptor, then every configuration with its interfaces and endpoints).
/// Total: malformed descriptors end the walk.
pub(super) fn endpoints_by_interface(
    descriptors: &[u8],
    active_configuration: u8,
) -> BTreeMap<u8, Endpoints> {
    let mut found: BTreeMap<u8, Vec<EndpointInfo>> = BTreeMap::new();
    let mut in_active_configuration = false;
    let mut current_interface = None;
    let mut rest = descriptors;
    while let [length, kind, ..] = *rest {
        let length = usize::from(length);
        if length < 2 || length > rest.len() {
            break;
        }
        let (descriptor, tail) = rest.split_at(length);
        rest = tail;
        match (kind, descriptor) {
            (DESCRIPTOR_CONFIGURATION, [_, _, _, _, _, value, ..]) => {
                in_active_configuration = *value == active_configuration;
                current_interface = None;
            }
            (DESCRIPTOR_INTERFACE, [_, _, number, alternate, ..]) => {
                current_interface = (in_active_configuration && *alternate == 0).then_some(*number);
                if let Some(number) = current_interface {
                    found.entry(number).or_default();
                }
            }
            (DESCRIPTOR_ENDPOINT, [_, _, address, attributes, size_low, size_high, ..]) => {
                if let Some(number) = current_interface {
                    found.entry(number).or_default().push(EndpointInfo {
                        address: *address,
                        kind: EndpointKind::from_attributes(*attributes),
                        max_packet_size: usize::from(u16::from_le_bytes([*size_low, *size_high]) & 0x07FF),
                    });
                }
            }
            _ => {}
        }
    }
    found
        .into_iter()
        .filter_map(|(number, endpoints)| Some((number, Endpoints::from_descriptors(endpoints)?)))
        .collect()
}

/// Endpoints per interface of the device at `device_dir` (`/sys/bus/usb/devices/1-4`).
pub(super) fn read_endpoints(device_dir: &Path) -> BTreeMap<u8, Endpoints> {
    let descriptors = fs::read(device_dir.join("descriptors")).unwrap_or_default();
    let active = fs::read_to_string(device_dir.join("bConfigurationValue"))
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(1);
    endpoints_by_interface(&descriptors, active)
}

/// Interfaces of the device at `device_dir` that a kernel driver drives. An
/// interface claimed by a program through usbfs does not count: that is not a
/// driver that might be upset by a probe.
pub(super) fn kernel_driven_interfaces(device_dir: &Path) -> Vec<u8> {
    let Ok(entries) = fs::read_dir(device_dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter(|entry| entry.file_name().to_string_lossy().contains(':'))
        .filter(|entry| {
            fs::read_link(entry.path().join("driver"))
                .is_ok_and(|driver| driver.file_name().is_some_and(|name| name != "usbfs"))
        })
        .filter_map(|entry| {
            let number = fs::read_to_string(entry.path().join("bInterfaceNumber")).ok()?;
            u8::from_str_radix(number.trim(), 16).ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// QEMU's usb-mtp at high speed: device descriptor, one configuration, one
    /// interface 06/01/01 with bulk IN 0x81, bulk OUT 0x02, interrupt IN 0x83.
    fn qemu_usb_mtp() -> Vec<u8> {
        let mut bytes = vec![
            18, 0x01, 0x00, 0x02, 0, 0, 0, 64, 0xf4, 0x46, 0x04, 0, 0, 0, 1, 2, 3, 1,
        ];
        bytes.extend_from_slice(&[9, 0x02, 39, 0, 1, 1, 6, 0xa0, 2]);
        bytes.extend_from_slice(&[9, 0x04, 0, 0, 3, 6, 1, 1, 4]);
        bytes.extend_from_slice(&[7, 0x05, 0x81, 0x02, 0x00, 0x02, 0]);
        bytes.extend_from_slice(&[7, 0x05, 0x02, 0x02, 0x00, 0x02, 0]);
        bytes.extend_from_slice(&[7, 0x05, 0x83, 0x03, 64, 0, 10]);
        bytes
    }

    #[test]
    fn endpoints_come_from_the_active_configuration() {
        let endpoints = endpoints_by_interface(&qemu_usb_mtp(), 1);
        let mtp = endpoints[&0];
        assert_eq!(
            (mtp.bulk_in, mtp.bulk_out, mtp.interrupt_in),
            (0x81, 0x02, Some(0x83))
        );
        assert_eq!(mtp.bulk_max_packet_size, 512);
        assert_eq!(mtp.interrupt_max_packet_size, 64);
        assert!(endpoints_by_interface(&qemu_usb_mtp(), 2).is_empty());
    }

    #[test]
    fn alternate_settings_and_other_configurations_are_skipped() {
        let mut bytes = qemu_usb_mtp();
        // Alternate setting 1 of interface 0 with different endpoints.
        bytes.extend_from_slice(&[9, 0x04, 0, 1, 2, 6, 1, 1, 0]);
        bytes.extend_from_slice(&[7, 0x05, 0x84, 0x02, 0x40, 0, 0]);
        bytes.extend_from_slice(&[7, 0x05, 0x05, 0x02, 0x40, 0, 0]);
        // A second configuration with a different interface 0.
        bytes.extend_from_slice(&[9, 0x02, 23, 0, 1, 2, 0, 0xa0, 2]);
        bytes.extend_from_slice(&[9, 0x04, 0, 0, 2, 8, 6, 0x50, 0]);
        bytes.extend_from_slice(&[7, 0x05, 0x86, 0x02, 0x00, 0x02, 0]);
        bytes.extend_from_slice(&[7, 0x05, 0x07, 0x02, 0x00, 0x02, 0]);
        assert_eq!(endpoints_by_interface(&bytes, 1)[&0].bulk_in, 0x81);
        assert_eq!(endpoints_by_interface(&bytes, 2)[&0].bulk_in, 0x86);
    }

    #[test]
    fn malformed_descriptors_end_the_walk_without_panicking() {
        let full = qemu_usb_mtp();
        for cut in 0..full.len() {
            let _ = endpoints_by_interface(&full[..cut], 1);
        }
        let mut zero_length = full.clone();
        zero_length[18] = 0;
        assert!(endpoints_by_interface(&zero_length, 1).is_empty());
        assert!(endpoints_by_interface(&[1, 2, 3], 1).is_empty());
    }

    #[test]
    fn endpoints_are_read_from_a_sysfs_device_directory() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("descriptors"), qemu_usb_mtp()).unwrap();
        fs::write(dir.path().join("bConfigurationValue"), "1\n").unwrap();
        assert_eq!(read_endpoints(dir.path())[&0].bulk_out, 0x02);
    }

    fn pci_device(dir: &Path, class: &str, vendor: &str, device: &str) {
        fs::create_dir_all(dir).unwrap();
        fs::write(dir.join("class"), format!("{class}\n")).unwrap();
        fs::write(dir.join("vendor"), format!("{vendor}\n")).unwrap();
        fs::write(dir.join("device"), format!("{device}\n")).unwrap();
    }

    #[test]
    fn the_host_controller_is_the_nearest_usb_class_pci_ancestor() {
        let root = tempfile::tempdir().unwrap();
        let bridge = root.path().join("pci0000:00/0000:00:1c.0");
        pci_device(&bridge, "0x060400", "0x8086", "0xa110");
        let controller = bridge.join("0000:03:00.0");
        pci_device(&controller, "0x0c0330", "0x1b36", "0x000d");
        let device = controller.join("usb1/1-1");
        fs::create_dir_all(&device).unwrap();
        fs::write(device.join("vendor"), "not a pci device\n").unwrap();

        let found = host_controller(&device).unwrap();
        assert_eq!(
            found,
            HostController {
                vendor: 0x1b36,
                device: 0x000d,
                is_xhci: true
            }
        );
        assert_eq!(host_controller(root.path()), None);
    }

    #[test]
    fn kernel_drivers_count_but_usbfs_claims_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let interface = |name: &str, number: &str, driver: Option<&str>| {
            let path = dir.path().join(name);
            fs::create_dir_all(&path).unwrap();
            fs::write(path.join("bInterfaceNumber"), format!("{number}\n")).unwrap();
            if let Some(driver) = driver {
                symlink(
                    format!("../../../../bus/usb/drivers/{driver}"),
                    path.join("driver"),
                )
                .unwrap();
            }
        };
        interface("1-4:1.0", "00", Some("usbfs"));
        interface("1-4:1.1", "01", Some("ftdi_sio"));
        interface("1-4:1.2", "0a", None);
        fs::create_dir_all(dir.path().join("power")).unwrap();
        assert_eq!(kernel_driven_interfaces(dir.path()), vec![1]);
    }
}
