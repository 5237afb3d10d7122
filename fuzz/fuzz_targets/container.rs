//! Containers as they arrive from a device: any bytes must decode or fail, never panic,
//! and what decodes must encode back to the same parameters.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mtpull::ptp::{Header, Message};

fuzz_target!(|bytes: &[u8]| {
    if let Ok(header) = Header::decode(bytes) {
        let _ = header.payload_length();
    }
    if let Ok(message) = Message::decode(bytes) {
        assert_eq!(Message::decode(&message.encode()).as_ref(), Ok(&message));
    }
});
