//! The capture-date readers over a file's head and name as a phone hands them over:
//! EXIF in JPEG/TIFF/HEIF/PNG/WebP, QuickTime/MP4 boxes, and the dates in file names.
//! The first byte says how long the name is, the next bytes are the name, the rest is
//! the file's head. Any bytes must give a date or none, never a panic, and a date is
//! never accepted more than a day after the resolver's "now".
#![no_main]

use chrono::{DateTime, FixedOffset, TimeDelta};
use libfuzzer_sys::fuzz_target;
use mtpull::sort::{DateResolver, Moment};

fuzz_target!(|input: &[u8]| {
    let Some((&name_len, rest)) = input.split_first() else {
        return;
    };
    let (name, head) = rest.split_at(usize::from(name_len % 64).min(rest.len()));
    let name = String::from_utf8_lossy(name);
    let now = DateTime::from_timestamp(1_735_000_000, 0).expect("a valid instant");
    let zone = FixedOffset::east_opt(i32::from(name_len % 145) * 600 - 43_200).expect("within a day");
    let resolver = DateResolver::new(zone, now);
    let fallback = Some(Moment::Instant(now - TimeDelta::days(1)));
    for fallback in [None, fallback] {
        if let Some(found) = resolver.resolve(head, &name, fallback) {
            let latest = (now + TimeDelta::days(1)).with_timezone(&zone).naive_local();
            assert!(found.time <= latest, "accepted a future date: {found:?}");
        }
    }
});
