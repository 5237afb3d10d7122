//! What the gadget writes to FunctionFS's ep0 before it can be bound: the
//! function's descriptors at full, high and super speed, its Microsoft OS
//! descriptor, and its strings (format: the kernel's `linux/usb/functionfs.h`).
//!
//! The layout follows what an Android phone presents in MTP mode: one
//! interface, class 6/1/1 (Still Image), named "MTP", with a bulk-IN, a
//! bulk-OUT and an interrupt-IN endpoint, in that order (so FunctionFS names
//! them ep1, ep2, ep3), and an extended compat ID "MTP" for interface 0.

/// `FUNCTIONFS_DESCRIPTORS_MAGIC_V2`.
const DESCRIPTORS_MAGIC_V2: u32 = 3;
/// `FUNCTIONFS_STRINGS_MAGIC`.
const STRINGS_MAGIC: u32 = 2;
const HAS_FS_DESC: u32 = 1;
const HAS_HS_DESC: u32 = 2;
const HAS_SS_DESC: u32 = 4;
const HAS_MS_OS_DESC: u32 = 8;

const DT_INTERFACE: u8 = 4;
const DT_ENDPOINT: u8 = 5;
const DT_SS_ENDPOINT_COMP: u8 = 0x30;
const CLASS_STILL_IMAGE: u8 = 6;
const XFER_BULK: u8 = 2;
const XFER_INT: u8 = 3;
const DIR_IN: u8 = 0x80;

/// Largest event packet Android sends (an event container with three parameters).
pub const EVENT_PACKET_SIZE: u16 = 28;
/// Bulk packet size per speed.
pub const FULL_SPEED_PACKET: u16 = 64;
pub const HIGH_SPEED_PACKET: u16 = 512;
pub const SUPER_SPEED_PACKET: u16 = 1024;
/// Packets per burst Android announces for its bulk endpoints at super speed.
const SUPER_SPEED_BURST: u8 = 6;
/// The interrupt endpoint's polling interval (2^(6-1) microframes at high speed).
const EVENT_INTERVAL: u8 = 6;
/// Index of the MTP interface's extended compat ID in the Microsoft OS descriptor.
const EXT_COMPAT_INDEX: u16 = 4;

/// How the interface presents itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presentation {
    /// The interface string ("MTP" on Android in MTP mode; none in PTP mode).
    pub interface_name: Option<String>,
    /// The Microsoft OS descriptor's compatible ID ("MTP"), if the device has one.
    pub compat_id: Option<String>,
}

impl Presentation {
    /// An Android phone in MTP mode.
    pub fn android() -> Presentation {
        Presentation {
            interface_name: Some("MTP".into()),
            compat_id: Some("MTP".into()),
        }
    }

    /// A plain PTP device (a camera, an iPhone): class 6/1/1 and nothing else.
    pub fn ptp() -> Presentation {
        Presentation {
            interface_name: None,
            compat_id: None,
        }
    }
}

fn interface(presentation: &Presentation) -> [u8; 9] {
    let name_index = u8::from(presentation.interface_name.is_some());
    [
        9,
        DT_INTERFACE,
        0, // bInterfaceNumber
        0, // bAlternateSetting
        3, // bNumEndpoints
        CLASS_STILL_IMAGE,
        1, // bInterfaceSubClass
        1, // bInterfaceProtocol
        name_index,
    ]
}

fn endpoint(address: u8, attributes: u8, max_packet: u16, interval: u8) -> [u8; 7] {
    let [low, high] = max_packet.to_le_bytes();
    [7, DT_ENDPOINT, address, attributes, low, high, interval]
}

fn ss_companion(max_burst: u8, bytes_per_interval: u16) -> [u8; 6] {
    let [low, high] = bytes_per_interval.to_le_bytes();
    [6, DT_SS_ENDPOINT_COMP, max_burst, 0, low, high]
}

/// The three endpoints at one speed: (descriptor bytes, descriptor count).
fn speed_descriptors(presentation: &Presentation, bulk_packet: u16, super_speed: bool) -> (Vec<u8>, u32) {
    let mut out = interface(presentation).to_vec();
    let endpoints = [
        (1 | DIR_IN, XFER_BULK, bulk_packet, 0, SUPER_SPEED_BURST, 0),
        (2, XFER_BULK, bulk_packet, 0, SUPER_SPEED_BURST, 0),
        (
            3 | DIR_IN,
            XFER_INT,
            EVENT_PACKET_SIZE,
            EVENT_INTERVAL,
            0,
            EVENT_PACKET_SIZE,
        ),
    ];
    for (address, kind, packet, interval, burst, per_interval) in endpoints {
        out.extend(endpoint(address, kind, packet, interval));
        if super_speed {
            out.extend(ss_companion(burst, per_interval));
        }
    }
    let count = if super_speed { 7 } else { 4 };
    (out, count)
}

/// The Microsoft OS descriptor section: one extended compat ID header and
/// its one function.
fn os_descriptors(compat_id: &str) -> Vec<u8> {
    // struct usb_os_desc_header: interface, dwLength, bcdVersion, wIndex, bCount, reserved.
    const HEADER_LEN: u32 = 11;
    const FUNCTION_LEN: u32 = 24;
    let mut out = Vec::new();
    out.push(0); // interface
    out.extend((HEADER_LEN + FUNCTION_LEN).to_le_bytes());
    out.extend(1u16.to_le_bytes()); // bcdVersion
    out.extend(EXT_COMPAT_INDEX.to_le_bytes());
    out.extend([1, 0]); // bCount, reserved
    out.push(0); // bFirstInterfaceNumber
    out.push(1); // Reserved1 (the kernel wants 1)
    let mut id = [0u8; 8];
    let bytes = compat_id.as_bytes();
    id[..bytes.len().min(8)].copy_from_slice(&bytes[..bytes.len().min(8)]);
    out.extend(id);
    out.extend([0u8; 8]); // SubCompatibleID
    out.extend([0u8; 6]); // Reserved2
    out
}

/// The descriptors blob (v2 format) for ep0.
pub fn descriptors(presentation: &Presentation) -> Vec<u8> {
    let (fs, fs_count) = speed_descriptors(presentation, FULL_SPEED_PACKET, false);
    let (hs, hs_count) = speed_descriptors(presentation, HIGH_SPEED_PACKET, false);
    let (ss, ss_count) = speed_descriptors(presentation, SUPER_SPEED_PACKET, true);
    let os = presentation.compat_id.as_deref().map(os_descriptors);
    let mut flags = HAS_FS_DESC | HAS_HS_DESC | HAS_SS_DESC;
    if os.is_some() {
        flags |= HAS_MS_OS_DESC;
    }
    let mut body = Vec::new();
    body.extend(fs_count.to_le_bytes());
    body.extend(hs_count.to_le_bytes());
    body.extend(ss_count.to_le_bytes());
    if os.is_some() {
        body.extend(1u32.to_le_bytes()); // os_count
    }
    body.extend(fs);
    body.extend(hs);
    body.extend(ss);
    body.extend(os.unwrap_or_default());
    with_header(DESCRIPTORS_MAGIC_V2, &[flags], &body)
}

/// The strings blob for ep0: US English only.
pub fn strings(presentation: &Presentation) -> Vec<u8> {
    let names: Vec<&str> = presentation.interface_name.iter().map(String::as_str).collect();
    let mut body = Vec::new();
    if !names.is_empty() {
        body.extend(0x0409u16.to_le_bytes());
        for name in &names {
            body.extend(name.as_bytes());
            body.push(0);
        }
    }
    let languages = u32::from(!names.is_empty());
    with_header(STRINGS_MAGIC, &[names.len() as u32, languages], &body)
}

/// magic, total length, then `fields`, then `body`.
fn with_header(magic: u32, fields: &[u32], body: &[u8]) -> Vec<u8> {
    let length = 8 + 4 * fields.len() + body.len();
    let mut out = Vec::with_capacity(length);
    out.extend(magic.to_le_bytes());
    out.extend((length as u32).to_le_bytes());
    for field in fields {
        out.extend(field.to_le_bytes());
    }
    out.extend(body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u32_at(bytes: &[u8], at: usize) -> u32 {
        u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap())
    }

    #[test]
    fn android_descriptors_carry_three_speeds_and_the_os_descriptor() {
        let blob = descriptors(&Presentation::android());
        assert_eq!(u32_at(&blob, 0), DESCRIPTORS_MAGIC_V2);
        assert_eq!(u32_at(&blob, 4) as usize, blob.len());
        assert_eq!(u32_at(&blob, 8), 0b1111, "fs, hs, ss and MS OS descriptors");
        assert_eq!(
            (u32_at(&blob, 12), u32_at(&blob, 16), u32_at(&blob, 20)),
            (4, 4, 7)
        );
        assert_eq!(u32_at(&blob, 24), 1, "one OS descriptor");
        // 9 + 3 * 7 per plain speed, 9 + 3 * 13 at super speed, 11 + 24 for the OS descriptor.
        assert_eq!(blob.len(), 28 + 30 + 30 + 48 + 35);
        let interface = &blob[28..37];
        assert_eq!(interface[5..], [6, 1, 1, 1], "class 6/1/1, string 1");
        let hs_bulk_in = &blob[58 + 9..58 + 16];
        assert_eq!(hs_bulk_in, [7, 5, 0x81, 2, 0x00, 0x02, 0]);
        let ss_bulk_out = &blob[88 + 9 + 13..88 + 9 + 20];
        assert_eq!(ss_bulk_out, [7, 5, 0x02, 2, 0x00, 0x04, 0], "1024-byte packets");
        let os = &blob[blob.len() - 35..];
        assert_eq!(u32_at(os, 1), 35, "dwLength counts the header and the function");
        assert_eq!(&os[13..16], b"MTP");
        assert_eq!(os[12], 1, "Reserved1");
    }

    #[test]
    fn ptp_devices_have_no_interface_string_and_no_os_descriptor() {
        let blob = descriptors(&Presentation::ptp());
        assert_eq!(u32_at(&blob, 8), 0b0111);
        assert_eq!(blob[24 + 8], 0, "iInterface");
        assert_eq!(blob.len(), 24 + 30 + 30 + 48);
        let strings = strings(&Presentation::ptp());
        assert_eq!(strings, [2, 0, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn strings_name_the_interface_in_us_english() {
        let blob = strings(&Presentation::android());
        assert_eq!(u32_at(&blob, 0), STRINGS_MAGIC);
        assert_eq!(u32_at(&blob, 4) as usize, blob.len());
        assert_eq!((u32_at(&blob, 8), u32_at(&blob, 12)), (1, 1));
        assert_eq!(&blob[16..], b"\x09\x04MTP\0");
    }
}
