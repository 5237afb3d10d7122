//! What a USB device answers before any MTP is spoken: the Microsoft OS string
//! descriptor, the extended compat ID descriptor, and Get Device Status. Each parser is
//! total: garbage gives "not MTP" or an error, never a panic or an unbounded list.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mtpull::transport::{DeviceStatus, parse_extended_compat_id, parse_os_string_descriptor};

fuzz_target!(|bytes: &[u8]| {
    let _ = parse_os_string_descriptor(bytes);
    let functions = parse_extended_compat_id(bytes);
    assert!(functions.len() <= bytes.len() / 24);
    if let Ok(status) = DeviceStatus::parse(bytes) {
        assert!(status.params.len() <= bytes.len() / 4);
        assert!(status.halted_endpoints().len() <= 2 * status.params.len());
    }
});
