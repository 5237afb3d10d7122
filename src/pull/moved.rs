//! Files the manifest knows under a key that has drifted: the "already backed
//! up" check must survive what Android does to a file's key without
//! anything being downloaded again.
//!
//! - Android renders every date in the phone's *current* time zone, with no
//!   offset: after a trip every file's date is shifted by the same whole
//!   number of quarter hours (zones are 15-minute multiples, UTC-12 to
//!   UTC+14).
//! - Android localises the storage's description ("Internal shared
//!   storage", "Interner gemeinsamer Speicher"): a language change renames
//!   the storage, and with it every key.
//!
//! A key is (device serial, storage name, path, size, device date). A file
//! the plan would copy is a candidate for "already backed up" when the
//! manifest has a record of the same device, path and size whose date is the
//! same or shifted by a zone change and whose storage is the same or gone
//! from the device (renamed). Only a renamed storage with the same date is
//! taken as is; every other candidate is confirmed by comparing the start of
//! the file on the device with the start of its copy in DEST (one partial
//! read of [`CONFIRM_LEN`] bytes). A confirmed file is recorded under its new
//! key too, so the next run matches it exactly.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDateTime;

use super::remote::{FileKey, RemoteFile};

/// Bytes compared to confirm that a file under a drifted key is the copy in DEST.
pub(super) const CONFIRM_LEN: usize = 16 * 1024;

/// The largest zone change: UTC-12 to UTC+14.
const MAX_SHIFT_SECONDS: i64 = 26 * 3600;
/// Time zones are whole quarter hours from UTC.
const ZONE_STEP_SECONDS: i64 = 15 * 60;

/// Whether two device dates can be the same moment shown in two time zones.
pub(super) fn zone_shifted(a: NaiveDateTime, b: NaiveDateTime) -> bool {
    let seconds = (a - b).num_seconds().abs();
    let sub_second_equal = (a - b).subsec_nanos() == 0;
    seconds != 0 && seconds <= MAX_SHIFT_SECONDS && seconds % ZONE_STEP_SECONDS == 0 && sub_second_equal
}

/// A planned file the manifest may know under another key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Candidate {
    /// Its index in the plan's files to copy.
    pub index: usize,
    /// The key the manifest knows it by.
    pub recorded: FileKey,
    /// Whether its bytes must be compared before it counts as backed up.
    pub confirm: bool,
}

/// The candidates among `to_copy` (none of which matched a key exactly).
/// `current_storages` are the names of the storages the device shows now.
pub(super) fn candidates(
    to_copy: &[RemoteFile],
    backed_up: &HashSet<FileKey>,
    serial: &str,
    current_storages: &HashSet<&str>,
) -> Vec<Candidate> {
    let mut by_path: HashMap<(&str, u64), Vec<&FileKey>> = HashMap::new();
    for key in backed_up.iter().filter(|key| key.serial == serial) {
        by_path
            .entry((key.path.as_str(), key.size))
            .or_default()
            .push(key);
    }
    let mut found = Vec::new();
    for (index, file) in to_copy.iter().enumerate() {
        let Some(known) = by_path.get(&(file.path.as_str(), file.size)) else {
            continue;
        };
        let key = file.key(serial);
        let best = known
            .iter()
            .filter_map(|recorded| {
                let same_date = recorded.device_date == key.device_date;
                let shifted = match (recorded.device_date, key.device_date) {
                    (Some(a), Some(b)) => zone_shifted(a, b),
                    _ => false,
                };
                if !same_date && !shifted {
                    return None;
                }
                // A storage name the device no longer shows was renamed (a
                // language change); one it still shows is another storage,
                // where the same path may hold other bytes.
                let renamed =
                    recorded.storage != key.storage && !current_storages.contains(recorded.storage.as_str());
                let confirm = !(renamed && same_date);
                Some((confirm, *recorded))
            })
            // Prefer what needs no confirmation.
            .min_by_key(|(confirm, _)| *confirm);
        if let Some((confirm, recorded)) = best {
            found.push(Candidate {
                index,
                recorded: recorded.clone(),
                confirm,
            });
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pull::remote::tests::file;

    fn time(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn zone_changes_are_whole_quarter_hours_within_a_day_and_two_hours() {
        let home = time("2024-05-26 10:15:07");
        assert!(zone_shifted(home, time("2024-05-26 19:15:07")), "Berlin to Tokyo");
        assert!(zone_shifted(home, time("2024-05-26 13:45:07")), "to India");
        assert!(zone_shifted(home, time("2024-05-27 12:15:07")), "26 hours");
        assert!(!zone_shifted(home, home), "no shift");
        assert!(
            !zone_shifted(home, time("2024-05-26 10:16:07")),
            "an edit a minute later"
        );
        assert!(!zone_shifted(home, time("2024-05-26 11:15:08")), "seconds differ");
        assert!(!zone_shifted(home, time("2024-05-27 13:15:07")), "27 hours");
    }

    fn storage(file: RemoteFile, name: &str) -> RemoteFile {
        RemoteFile {
            storage: name.into(),
            ..file
        }
    }

    #[test]
    fn renamed_storages_and_shifted_dates_are_candidates_and_edits_are_not() {
        let before = file("DCIM/a.jpg", 10, "2024-05-26 10:15:00");
        let backed_up = HashSet::from([before.key("S")]);
        let current = HashSet::from(["Interner gemeinsamer Speicher"]);
        let renamed = storage(before.clone(), "Interner gemeinsamer Speicher");
        let travelled = file("DCIM/a.jpg", 10, "2024-05-26 17:15:00");
        let travelled_and_renamed = storage(travelled.clone(), "Interner gemeinsamer Speicher");
        let edited = file("DCIM/a.jpg", 10, "2024-05-26 10:17:00");
        let resized = file("DCIM/a.jpg", 11, "2024-05-26 10:15:00");
        let other_phone = [renamed.clone()];
        let to_copy = [renamed, travelled, travelled_and_renamed, edited, resized];
        let found = candidates(&to_copy, &backed_up, "S", &current);
        let summary: Vec<(usize, bool)> = found.iter().map(|c| (c.index, c.confirm)).collect();
        assert_eq!(summary, [(0, false), (1, true), (2, true)]);
        assert!(found.iter().all(|c| c.recorded == before.key("S")));
        assert!(candidates(&other_phone, &backed_up, "T", &current).is_empty());
    }

    #[test]
    fn a_storage_still_shown_is_not_taken_for_renamed() {
        let internal = file("DCIM/a.jpg", 10, "2024-05-26 10:15:00");
        let backed_up = HashSet::from([internal.key("S")]);
        let on_card = storage(internal.clone(), "SD card");
        let current = HashSet::from(["Internal shared storage", "SD card"]);
        let found = candidates(&[on_card], &backed_up, "S", &current);
        assert_eq!(found.len(), 1);
        assert!(
            found[0].confirm,
            "the same path on another storage is compared first"
        );
    }
}
