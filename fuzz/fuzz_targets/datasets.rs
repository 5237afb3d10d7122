//! Every dataset decoder over the same bytes: the first byte picks the dataset
//! so one corpus reaches them all. Whatever decodes must survive a round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mtpull::ptp::parse_ptp_time;
use mtpull::ptp::{Codec, DeviceInfo, ObjectInfo, ObjectPropDesc, ObjectPropList, StorageInfo};

fn round_trip<T: Codec + PartialEq + std::fmt::Debug>(bytes: &[u8]) {
    if let Ok(value) = T::decode(bytes) {
        assert_eq!(T::decode(&value.to_bytes()).as_ref(), Ok(&value));
    }
}

fuzz_target!(|input: &[u8]| {
    let Some((selector, bytes)) = input.split_first() else {
        return;
    };
    match selector % 6 {
        0 => round_trip::<DeviceInfo>(bytes),
        1 => round_trip::<StorageInfo>(bytes),
        2 => round_trip::<ObjectInfo>(bytes),
        3 => round_trip::<ObjectPropList>(bytes),
        4 => round_trip::<ObjectPropDesc>(bytes),
        _ => {
            let _ = parse_ptp_time(&String::from_utf8_lossy(bytes));
        }
    }
});
