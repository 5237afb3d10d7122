//! Names and dates a device or a user hands over as text: a phone's file name turned
//! into a name in DEST (on any filesystem), a PTP date string, `--since`, and which
//! file a sidecar follows. A file name from the phone must always become one short,
//! plain path component: never empty, `.`, `..`, or anything with a separator.
#![no_main]

use std::path::{Component, Path};

use libfuzzer_sys::fuzz_target;
use mtpull::ptp::parse_ptp_time;
use mtpull::pull::parse_since;
use mtpull::sort::{Names, follows, safe_name, safe_name_for};

/// The longest name Linux filesystems take, in bytes.
const NAME_MAX: usize = 255;

fn one_plain_component(name: &str) {
    assert!(!name.is_empty() && name.len() <= NAME_MAX, "{name:?}");
    assert!(!name.chars().any(char::is_control), "{name:?}");
    assert!(!name.starts_with('.'), "{name:?}");
    let mut components = Path::new(name).components();
    assert!(matches!(components.next(), Some(Component::Normal(_))), "{name:?}");
    assert!(components.next().is_none(), "{name:?}");
}

fuzz_target!(|bytes: &[u8]| {
    let text = String::from_utf8_lossy(bytes);
    for names in [Names::Posix, Names::Windows] {
        // As filing sees it: the planned name (`plan`), made safe for the filesystem.
        let safe = safe_name_for(&safe_name(&text), names);
        one_plain_component(&safe);
        if names == Names::Windows {
            assert!(!safe.contains([':', '?', '"', '*', '<', '>', '|', '\\']), "{safe:?}");
            assert!(!safe.ends_with(['.', ' ']), "{safe:?}");
        }
    }
    let _ = parse_ptp_time(&text);
    let _ = parse_since(&text);
    let folder: Vec<&str> = text.split('\n').collect();
    for name in &folder {
        if let Some(found) = follows(name, &folder) {
            assert!(found.main < folder.len());
        }
    }
});
