//! Which USB interfaces speak MTP or PTP, decided from descriptors alone.
//!
//! Everything here is pure: the backends gather the facts (interface class, the
//! interface string, the Microsoft OS descriptor's compatible ID) and these
//! functions decide. The udev rules and their tests reuse the same decisions.
//!
//! Facts behind the rules (MTP 1.1 spec, Microsoft OS 1.0 descriptors, AOSP,
//! libmtp):
//! - PTP and MTP share the Still Image class 0x06/0x01/0x01. Android names its MTP
//!   interface "MTP" and leaves the PTP-mode interface unnamed.
//! - Older Android kernels and many media players use vendor class 0xFF; only the
//!   interface string or the OS descriptor's compatible ID "MTP" tells.
//! - The OS descriptor is string descriptor 0xEE reading "MSFT100" followed by a
//!   vendor request code; that request with wIndex 4 returns the extended compat
//!   ID descriptor, one 24-byte function section per interface.

use std::fmt;

/// USB interface class for still-image devices (PTP, MTP).
pub(crate) const CLASS_STILL_IMAGE: u8 = 0x06;
/// USB interface class "vendor specific".
pub(crate) const CLASS_VENDOR: u8 = 0xFF;
/// String descriptor index of the Microsoft OS string descriptor.
pub(crate) const OS_STRING_INDEX: u8 = 0xEE;
/// wIndex of the vendor request that returns the extended compat ID descriptor.
pub(crate) const EXTENDED_COMPAT_ID_INDEX: u16 = 0x0004;

/// What the descriptors say about one interface.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct InterfaceFacts {
    /// bInterfaceClass.
    pub class: u8,
    /// bInterfaceSubClass.
    pub subclass: u8,
    /// bInterfaceProtocol.
    pub protocol: u8,
    /// The interface string (iInterface), if the device has one.
    pub interface_string: Option<String>,
    /// The compatible ID the Microsoft OS descriptor gives this interface
    /// ("MTP", "PTP", "WINUSB"…), if the device was asked and answered.
    pub os_compat_id: Option<String>,
}

/// The protocol an interface speaks, as far as descriptors can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    /// Media Transfer Protocol (a phone in "File transfer" mode, a media player).
    Mtp,
    /// Picture Transfer Protocol: a camera, or a phone in "PTP" mode (it shows only
    /// DCIM and Pictures). The device's DeviceInfo may still reveal MTP extensions.
    Ptp,
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Mtp => "MTP",
            Protocol::Ptp => "PTP",
        })
    }
}

/// Which descriptor gave the interface away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Evidence {
    /// Interface class 0x06/0x01/0x01 (Still Image, PIMA 15740).
    StillImageClass,
    /// The interface string contains "MTP".
    InterfaceString,
    /// The Microsoft OS descriptor's compatible ID.
    OsDescriptor,
}

/// The verdict on one interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Classification {
    /// MTP or plain PTP.
    pub protocol: Protocol,
    /// What told us so.
    pub evidence: Evidence,
}

fn is_still_image(facts: &InterfaceFacts) -> bool {
    (facts.class, facts.subclass, facts.protocol) == (CLASS_STILL_IMAGE, 0x01, 0x01)
}

fn names_mtp(facts: &InterfaceFacts) -> bool {
    facts
        .interface_string
        .as_deref()
        .is_some_and(|s| s.contains("MTP"))
}

/// Decides whether an interface speaks MTP or PTP. `None`: neither (or unknown yet:
/// see [`wants_os_descriptor`]).
pub(crate) fn classify(facts: &InterfaceFacts) -> Option<Classification> {
    let compat = facts.os_compat_id.as_deref();
    let classified = |protocol, evidence| Some(Classification { protocol, evidence });
    match facts.class {
        CLASS_STILL_IMAGE if is_still_image(facts) => {
            if names_mtp(facts) {
                classified(Protocol::Mtp, Evidence::InterfaceString)
            } else if compat == Some("MTP") {
                classified(Protocol::Mtp, Evidence::OsDescriptor)
            } else {
                classified(Protocol::Ptp, Evidence::StillImageClass)
            }
        }
        CLASS_VENDOR => {
            if names_mtp(facts) {
                classified(Protocol::Mtp, Evidence::InterfaceString)
            } else {
                match compat {
                    Some("MTP") => classified(Protocol::Mtp, Evidence::OsDescriptor),
                    Some("PTP") => classified(Protocol::Ptp, Evidence::OsDescriptor),
                    _ => None,
                }
            }
        }
        _ => None,
    }
}

/// Whether to ask the device for its Microsoft OS descriptor because of this
/// interface: only a vendor-class interface not named "MTP", as libmtp does.
///
/// An unnamed Still Image interface (a camera, an iPhone, a phone in PTP mode) is
/// not probed: it is served as PTP either way, and string 0xEE is a request some
/// cameras and scanners answer badly (libmtp stopped sending it to them).
/// `endpoints_fit` is whether the interface has the MTP shape (bulk IN, bulk OUT,
/// interrupt IN) and `has_kernel_driver` whether the OS bound a driver to it: a
/// vendor interface that is driven (a serial adapter, a modem) is left alone, as
/// libmtp does, because some devices misbehave when probed.
pub(crate) fn wants_os_descriptor(
    facts: &InterfaceFacts,
    endpoints_fit: bool,
    has_kernel_driver: bool,
) -> bool {
    let unsettled = facts.os_compat_id.is_none() && !names_mtp(facts);
    unsettled && endpoints_fit && facts.class == CLASS_VENDOR && !has_kernel_driver
}

/// Android's ADB interface (vendor class, subclass 0x42, protocol 1): a phone that
/// shows only this is connected with USB debugging but without file transfer.
pub(crate) fn is_android_debug_bridge(facts: &InterfaceFacts) -> bool {
    (facts.class, facts.subclass, facts.protocol) == (CLASS_VENDOR, 0x42, 0x01)
}

/// Reads the Microsoft OS string descriptor (index 0xEE): the vendor request code
/// that fetches the OS feature descriptors, or `None` when the bytes are not an
/// OS string descriptor.
pub fn parse_os_string_descriptor(bytes: &[u8]) -> Option<u8> {
    const SIGNATURE: &[u8; 14] = b"M\0S\0F\0T\x001\x000\x000\0";
    let (header, rest) = bytes.split_first_chunk::<2>()?;
    let (signature, rest) = rest.split_first_chunk::<14>()?;
    let vendor_code = *rest.first()?;
    let valid = header[1] == 0x03 && usize::from(header[0]) >= 18 && signature == SIGNATURE;
    valid.then_some(vendor_code)
}

/// One function section of the extended compat ID descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompatFunction {
    /// The first interface of the function.
    pub first_interface: u8,
    /// Its compatible ID ("MTP", "PTP", …).
    pub compatible_id: String,
    /// Its sub-compatible ID.
    pub sub_compatible_id: String,
}

/// Reads the extended compat ID descriptor (vendor request, wIndex 4). Total:
/// sections cut short by the device are dropped, garbage gives an empty list.
pub fn parse_extended_compat_id(bytes: &[u8]) -> Vec<CompatFunction> {
    const HEADER_LEN: usize = 16;
    const SECTION_LEN: usize = 24;
    let Some((header, sections)) = bytes.split_first_chunk::<HEADER_LEN>() else {
        return Vec::new();
    };
    let declared_len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
    let index = u16::from_le_bytes([header[6], header[7]]);
    if index != EXTENDED_COMPAT_ID_INDEX {
        return Vec::new();
    }
    let declared_sections =
        usize::try_from(declared_len).map_or(0, |len| len.saturating_sub(HEADER_LEN) / SECTION_LEN);
    let count = usize::from(header[8]).min(declared_sections);
    sections
        .chunks_exact(SECTION_LEN)
        .take(count)
        .map(|section| CompatFunction {
            first_interface: section[0],
            compatible_id: ascii_id(&section[2..10]),
            sub_compatible_id: ascii_id(&section[10..18]),
        })
        .collect()
}

fn ascii_id(bytes: &[u8]) -> String {
    bytes
        .iter()
        .take_while(|&&b| b != 0)
        .map(|&b| if b.is_ascii_graphic() { char::from(b) } else { '?' })
        .collect()
}

/// The compatible ID the descriptor gives `interface`. A descriptor with a single
/// section is taken to describe the device's one function whatever interface
/// number it names (libmtp reads only the first section; some devices number it 0).
pub(crate) fn compat_id_for_interface(functions: &[CompatFunction], interface: u8) -> Option<&str> {
    let exact = functions.iter().find(|f| f.first_interface == interface);
    let only = match functions {
        [single] => Some(single),
        _ => None,
    };
    exact
        .or(only)
        .map(|f| f.compatible_id.as_str())
        .filter(|id| !id.is_empty())
}

/// Descriptors of real devices, from their public descriptor dumps and sources
/// (AOSP MtpDescriptors.cpp and f_mtp.c, QEMU's dev-mtp.c, usb.ids). Shared with
/// tests elsewhere (udev rules) so every place agrees on the same table.
#[cfg(test)]
pub(crate) mod real_devices {
    use super::*;

    /// A device's name, its interface and what mtpull must decide about it.
    pub(crate) struct RealInterface {
        pub name: &'static str,
        pub facts: InterfaceFacts,
        pub expected: Option<Classification>,
    }

    fn facts(
        class: u8,
        subclass: u8,
        protocol: u8,
        string: Option<&str>,
        compat: Option<&str>,
    ) -> InterfaceFacts {
        InterfaceFacts {
            class,
            subclass,
            protocol,
            interface_string: string.map(str::to_owned),
            os_compat_id: compat.map(str::to_owned),
        }
    }

    fn verdict(protocol: Protocol, evidence: Evidence) -> Option<Classification> {
        Some(Classification { protocol, evidence })
    }

    pub(crate) fn table() -> Vec<RealInterface> {
        use Evidence::*;
        use Protocol::*;
        vec![
            RealInterface {
                name: "Google Pixel (18d1:4ee1) in File transfer mode",
                facts: facts(0x06, 0x01, 0x01, Some("MTP"), Some("MTP")),
                expected: verdict(Mtp, InterfaceString),
            },
            RealInterface {
                name: "Google Pixel (18d1:4ee5) in PTP mode",
                facts: facts(0x06, 0x01, 0x01, None, Some("PTP")),
                expected: verdict(Ptp, StillImageClass),
            },
            RealInterface {
                name: "Samsung Galaxy (04e8:6860) MTP interface",
                facts: facts(0x06, 0x01, 0x01, Some("MTP"), None),
                expected: verdict(Mtp, InterfaceString),
            },
            RealInterface {
                name: "Samsung Galaxy (04e8:6860) ADB interface beside MTP",
                facts: facts(0xFF, 0x42, 0x01, Some("ADB Interface"), None),
                expected: None,
            },
            RealInterface {
                name: "Android on an older kernel (f_mtp: vendor class, named MTP)",
                facts: facts(0xFF, 0xFF, 0x00, Some("MTP"), Some("MTP")),
                expected: verdict(Mtp, InterfaceString),
            },
            RealInterface {
                name: "Vendor-class media player confirmed by the OS descriptor",
                facts: facts(0xFF, 0xFF, 0x00, None, Some("MTP")),
                expected: verdict(Mtp, OsDescriptor),
            },
            RealInterface {
                name: "Vendor-class device whose OS descriptor says WINUSB",
                facts: facts(0xFF, 0x00, 0x00, None, Some("WINUSB")),
                expected: None,
            },
            RealInterface {
                name: "Unnamed Still Image interface confirmed MTP by the OS descriptor",
                facts: facts(0x06, 0x01, 0x01, None, Some("MTP")),
                expected: verdict(Mtp, OsDescriptor),
            },
            RealInterface {
                name: "QEMU usb-mtp (46f4:0004)",
                facts: facts(0x06, 0x01, 0x01, Some("MTP"), Some("MTP")),
                expected: verdict(Mtp, InterfaceString),
            },
            RealInterface {
                name: "Canon EOS camera (04a9:32xx), PTP",
                facts: facts(0x06, 0x01, 0x01, None, None),
                expected: verdict(Ptp, StillImageClass),
            },
            RealInterface {
                name: "Apple iPhone (05ac:12a8): Still Image interface named PTP",
                facts: facts(0x06, 0x01, 0x01, Some("PTP"), None),
                expected: verdict(Ptp, StillImageClass),
            },
            RealInterface {
                name: "USB mass-storage stick (bulk-only SCSI)",
                facts: facts(0x08, 0x06, 0x50, None, None),
                expected: None,
            },
            RealInterface {
                name: "USB keyboard (HID boot protocol)",
                facts: facts(0x03, 0x01, 0x01, None, None),
                expected: None,
            },
            RealInterface {
                name: "Android phone charging only, USB debugging on (ADB only)",
                facts: facts(0xFF, 0x42, 0x01, Some("ADB Interface"), None),
                expected: None,
            },
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_devices_are_classified_as_expected() {
        for device in real_devices::table() {
            assert_eq!(classify(&device.facts), device.expected, "{}", device.name);
        }
    }

    #[test]
    fn only_interfaces_the_os_descriptor_can_settle_are_probed() {
        let unnamed_vendor = InterfaceFacts {
            class: 0xFF,
            subclass: 0xFF,
            ..Default::default()
        };
        assert!(wants_os_descriptor(&unnamed_vendor, true, false));
        assert!(
            !wants_os_descriptor(&unnamed_vendor, true, true),
            "driven by a kernel driver"
        );
        assert!(
            !wants_os_descriptor(&unnamed_vendor, false, false),
            "not the MTP endpoint shape"
        );

        let unnamed_still_image = InterfaceFacts {
            class: 6,
            subclass: 1,
            protocol: 1,
            ..Default::default()
        };
        assert!(
            !wants_os_descriptor(&unnamed_still_image, true, false),
            "cameras and iPhones are not probed"
        );

        let named = InterfaceFacts {
            interface_string: Some("MTP".into()),
            ..unnamed_vendor.clone()
        };
        assert!(!wants_os_descriptor(&named, true, false));
        let answered = InterfaceFacts {
            os_compat_id: Some("MTP".into()),
            ..unnamed_vendor
        };
        assert!(!wants_os_descriptor(&answered, true, false));
        let keyboard = InterfaceFacts {
            class: 3,
            subclass: 1,
            protocol: 1,
            ..Default::default()
        };
        assert!(!wants_os_descriptor(&keyboard, true, false));
    }

    #[test]
    fn adb_interface_is_recognised() {
        let adb = InterfaceFacts {
            class: 0xFF,
            subclass: 0x42,
            protocol: 1,
            ..Default::default()
        };
        assert!(is_android_debug_bridge(&adb));
        let fastboot = InterfaceFacts {
            class: 0xFF,
            subclass: 0x42,
            protocol: 3,
            ..Default::default()
        };
        assert!(!is_android_debug_bridge(&fastboot));
    }

    fn os_string(vendor_code: u8) -> Vec<u8> {
        let mut bytes = vec![0x12, 0x03];
        for c in "MSFT100".encode_utf16() {
            bytes.extend_from_slice(&c.to_le_bytes());
        }
        bytes.extend_from_slice(&[vendor_code, 0x00]);
        bytes
    }

    #[test]
    fn os_string_descriptor_gives_the_vendor_code() {
        assert_eq!(parse_os_string_descriptor(&os_string(0x01)), Some(0x01));
        assert_eq!(parse_os_string_descriptor(&os_string(0xFE)), Some(0xFE));
    }

    #[test]
    fn other_strings_at_0xee_are_not_os_descriptors() {
        let mut wrong_signature = os_string(1);
        wrong_signature[2] = b'X';
        assert_eq!(parse_os_string_descriptor(&wrong_signature), None);
        let mut not_a_string = os_string(1);
        not_a_string[1] = 0x02;
        assert_eq!(parse_os_string_descriptor(&not_a_string), None);
        assert_eq!(
            parse_os_string_descriptor(&os_string(1)[..16]),
            None,
            "no vendor code"
        );
        assert_eq!(parse_os_string_descriptor(&[]), None);
    }

    fn compat_descriptor(sections: &[(u8, &[u8])]) -> Vec<u8> {
        let total = 16 + 24 * sections.len();
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&u32::try_from(total).unwrap().to_le_bytes());
        bytes.extend_from_slice(&0x0100u16.to_le_bytes());
        bytes.extend_from_slice(&4u16.to_le_bytes());
        bytes.push(u8::try_from(sections.len()).unwrap());
        bytes.extend_from_slice(&[0; 7]);
        for (interface, id) in sections {
            let mut compatible = [0u8; 8];
            compatible[..id.len()].copy_from_slice(id);
            bytes.push(*interface);
            bytes.push(0x01);
            bytes.extend_from_slice(&compatible);
            bytes.extend_from_slice(&[0; 8]);
            bytes.extend_from_slice(&[0; 6]);
        }
        bytes
    }

    #[test]
    fn extended_compat_id_lists_each_function() {
        // An Android phone with MTP on interface 0 and ADB on interface 1.
        let functions = parse_extended_compat_id(&compat_descriptor(&[(0, b"MTP"), (1, b"")]));
        assert_eq!(functions.len(), 2);
        assert_eq!(functions[0].first_interface, 0);
        assert_eq!(functions[0].compatible_id, "MTP");
        assert_eq!(functions[1].compatible_id, "");
        assert_eq!(compat_id_for_interface(&functions, 0), Some("MTP"));
        assert_eq!(compat_id_for_interface(&functions, 1), None);
        assert_eq!(compat_id_for_interface(&functions, 2), None);
    }

    #[test]
    fn a_single_section_describes_the_device_whatever_interface_it_names() {
        let functions = parse_extended_compat_id(&compat_descriptor(&[(0, b"MTP")]));
        assert_eq!(compat_id_for_interface(&functions, 3), Some("MTP"));
    }

    #[test]
    fn truncated_or_foreign_compat_descriptors_are_handled() {
        let full = compat_descriptor(&[(0, b"MTP"), (1, b"PTP")]);
        assert_eq!(
            parse_extended_compat_id(&full[..16 + 24 + 10]).len(),
            1,
            "second section cut short"
        );
        assert!(parse_extended_compat_id(&full[..10]).is_empty());
        let mut extended_properties = full.clone();
        extended_properties[6] = 5;
        assert!(
            parse_extended_compat_id(&extended_properties).is_empty(),
            "wIndex 5 is not compat IDs"
        );
        let mut lying_count = full;
        lying_count[8] = 200;
        assert_eq!(parse_extended_compat_id(&lying_count).len(), 2);
        assert!(parse_extended_compat_id(&[0xFF; 64]).is_empty());
    }

    proptest::proptest! {
        /// Any bytes as the OS string and compat ID descriptors: a vendor code or none,
        /// and never more functions than whole sections sent. A descriptor only differing
        /// from a valid one in its section count keeps sections that were really sent.
        #[test]
        fn os_descriptors_are_total(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
            count in proptest::prelude::any::<u8>(),
        ) {
            let _ = parse_os_string_descriptor(&bytes);
            proptest::prop_assert!(parse_extended_compat_id(&bytes).len() <= bytes.len() / 24);
            let mut lying = compat_descriptor(&[(0, b"MTP"), (1, b"PTP")]);
            lying[8] = count;
            let parsed = parse_extended_compat_id(&lying);
            proptest::prop_assert_eq!(parsed.len(), usize::from(count).min(2));
        }
    }
}
