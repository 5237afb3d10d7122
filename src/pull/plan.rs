//! What a backup run will copy: the selected device files less those the
//! manifest already holds. Pure: no device, no disk.

use std::collections::HashSet;

use super::junk::is_junk;
use super::remote::{FileKey, RemoteFile};
use super::select::{Selection, media_kind};
use crate::session::SkippedStorage;

/// The files of one device that a run copies, and those it skips.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// The device's serial (part of every key).
    pub serial: String,
    /// Selected files not yet backed up, in storage then path order.
    pub to_copy: Vec<RemoteFile>,
    /// Selected files the manifest already records (skipped; candidates for `--delete-after`).
    pub already: Vec<RemoteFile>,
    /// Files listed but not selected (kind, patterns, `--since`).
    pub not_selected: usize,
    /// `--include`/`--exclude` patterns that match no listed file of the
    /// chosen kinds, as given (`--include "*.mp3"`): worth a warning.
    pub unmatched_patterns: Vec<String>,
    /// Selected files skipped as Android's trash, unfinished files,
    /// thumbnails or app data (none with `--include-junk`).
    pub junk: usize,
    /// Storages the device lists that were not read, and why.
    pub skipped_storages: Vec<SkippedStorage>,
    /// Files in `already` that the manifest knows under a drifted key (a
    /// renamed storage, a zone-shifted date): (today's key, the recorded key).
    pub recognised: Vec<(FileKey, FileKey)>,
}

impl Plan {
    /// Splits the files listed on the wanted storages into "copy", "already
    /// backed up" and "not selected" (by kind and patterns: `--since` needs
    /// the capture date, which the run reads). A key listed twice (a device bug, or a
    /// name with `/` in it) is kept once.
    pub fn new(
        serial: &str,
        listed: impl IntoIterator<Item = RemoteFile>,
        selection: &Selection,
        backed_up: &HashSet<FileKey>,
    ) -> Plan {
        let mut plan = Plan {
            serial: serial.to_owned(),
            ..Plan::default()
        };
        let mut seen = HashSet::new();
        let mut listed: Vec<RemoteFile> = listed.into_iter().collect();
        listed.sort_by(|a, b| (a.storage_id, &a.path).cmp(&(b.storage_id, &b.path)));
        let of_kind: Vec<RemoteFile> = listed
            .iter()
            .filter(|file| selection.only.accepts(media_kind(file.name(), file.format)))
            .cloned()
            .collect();
        plan.unmatched_patterns = selection.unmatched_patterns(&of_kind);
        for file in listed {
            if !selection.wants(&file) {
                plan.not_selected += 1;
                continue;
            }
            if !selection.include_junk && is_junk(&file.path) {
                plan.junk += 1;
                continue;
            }
            let key = file.key(serial);
            if !seen.insert(key.clone()) {
                continue;
            }
            if backed_up.contains(&key) {
                plan.already.push(file);
            } else {
                plan.to_copy.push(file);
            }
        }
        plan
    }

    /// Bytes the run would copy.
    pub fn bytes_to_copy(&self) -> u64 {
        self.to_copy.iter().map(|file| file.size).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ptp::{ObjectFormat, ObjectHandle, StorageId};
    use crate::pull::remote::tests::file;

    #[test]
    fn subtracts_the_manifest_and_the_unselected() {
        let listed = vec![
            file("DCIM/Camera/b.jpg", 20, "2024-05-26 10:00:00"),
            file("DCIM/Camera/a.jpg", 10, "2024-05-26 09:00:00"),
            file("Documents/notes.txt", 5, "2024-05-26 09:00:00"),
            RemoteFile {
                storage_id: StorageId(0x0002_0001),
                storage: "SD card".into(),
                ..file("DCIM/c.mp4", 30, "")
            },
        ];
        let backed_up = HashSet::from([listed[0].key("S")]);
        let plan = Plan::new("S", listed.clone(), &Selection::new(), &backed_up);
        let paths: Vec<&str> = plan.to_copy.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["DCIM/Camera/a.jpg", "DCIM/c.mp4"]);
        assert_eq!(plan.bytes_to_copy(), 40);
        assert_eq!(plan.already, [listed[0].clone()]);
        assert_eq!(plan.not_selected, 1);
    }

    #[test]
    fn a_changed_file_is_new_again() {
        let before = file("DCIM/a.jpg", 10, "2024-05-26 09:00:00");
        let backed_up = HashSet::from([before.key("S")]);
        let edited = file("DCIM/a.jpg", 12, "2024-05-27 09:00:00");
        let plan = Plan::new("S", [edited.clone()], &Selection::new(), &backed_up);
        assert_eq!(plan.to_copy, [edited]);
        // Another phone with the same path is another file.
        let plan = Plan::new("T", [before.clone()], &Selection::new(), &backed_up);
        assert_eq!(plan.to_copy, [before]);
    }

    #[test]
    fn keeps_a_repeated_key_once() {
        let photo = RemoteFile {
            format: ObjectFormat::EXIF_JPEG,
            ..file("DCIM/a.jpg", 10, "")
        };
        let again = RemoteFile {
            handle: ObjectHandle(99),
            ..photo.clone()
        };
        let plan = Plan::new("S", [photo, again], &Selection::new(), &HashSet::new());
        assert_eq!(plan.to_copy.len(), 1);
    }
}
