//! What a backup run will copy: the selected device files less those the
//! manifest already holds, with the files that travel with them (sidecars such as
//! `.aae` edits, a Live Photo's video). Pure: no device, no disk.

use std::collections::{HashMap, HashSet};

use super::junk::is_junk;
use super::remote::{FileKey, RemoteFile};
use super::select::{Selection, media_kind};
use crate::session::SkippedStorage;
use crate::sort::{Follows, follows};

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
    pub junk: Vec<RemoteFile>,
    /// Selected files a person rejected in a preview (skipped unless
    /// `--include-rejected`); set by the run, which knows the rejections.
    pub rejected: Vec<RemoteFile>,
    /// Storages the device lists that were not read, and why.
    pub skipped_storages: Vec<SkippedStorage>,
    /// Files in `already` that the manifest knows under a drifted key (a
    /// renamed storage, a zone-shifted date): (today's key, the recorded key).
    pub recognised: Vec<(FileKey, FileKey)>,
    /// Files that travel with another (by key): its key, and how the name follows.
    /// Each comes right after the file it travels with.
    pub travels_with: HashMap<FileKey, (FileKey, Follows)>,
    /// Selected files listed under the key of another (the same path, size and date:
    /// a device that gives two files one name): not copied, reported as failed.
    pub twins: Vec<RemoteFile>,
    /// Keys listed more than once: which file a record of such a key holds cannot be
    /// told, so no file under one is ever deleted from the device.
    pub ambiguous: HashSet<FileKey>,
}

impl Plan {
    /// Splits the files listed on the wanted storages into "copy", "already
    /// backed up" and "not selected" (by kind and patterns: `--since` needs
    /// the capture date, which the run reads). A key listed twice (a device bug, or a
    /// name with `/` in it) is kept once; the others are [`Plan::twins`].
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
        let mut listed: Vec<RemoteFile> = listed.into_iter().collect();
        listed.sort_by(|a, b| (a.storage_id, &a.path).cmp(&(b.storage_id, &b.path)));
        // What makes the key, borrowed (the serial is the same for all).
        let mut seen = HashSet::new();
        let first: Vec<bool> = listed
            .iter()
            .map(|f| seen.insert((&f.storage, &f.path, f.size, f.modified.map(|t| t.local))))
            .collect();
        drop(seen);
        for (file, _) in listed.iter().zip(&first).filter(|(_, first)| !**first) {
            plan.ambiguous.insert(file.key(serial));
            if selection.wants(file) && (selection.include_junk || !is_junk(&file.path)) {
                plan.twins.push(file.clone());
            }
        }
        let mut first = first.into_iter();
        listed.retain(|_| first.next().unwrap_or(true));
        let of_kind = listed
            .iter()
            .filter(|file| selection.only.accepts(media_kind(file.name(), file.format)));
        plan.unmatched_patterns = selection.unmatched_patterns(of_kind);
        let leads = leads(&listed);
        let junk = |i: usize| !selection.include_junk && is_junk(&listed[i].path);
        let wanted: Vec<bool> = (0..listed.len())
            .map(|i| selection.wants(&listed[i]) && !junk(i))
            .collect();
        // A sidecar (not media: `.aae`, `.xmp`) goes wherever the file it travels with
        // goes, whatever the selection; a Live Photo's video is selected as a video.
        let selected = |i: usize| {
            wanted[i]
                || (!junk(i)
                    && media_kind(listed[i].name(), listed[i].format).is_none()
                    && leads[i].as_ref().is_some_and(|(main, _)| wanted[*main]))
        };
        let mut order = Vec::new();
        for (i, file) in listed.iter().enumerate() {
            if selected(i) {
                order.push(i);
            } else if selection.wants(file) {
                plan.junk.push(file.clone());
            } else {
                plan.not_selected += 1;
            }
        }
        // Followers right after their file: (storage, folder, lead's name, follower, name).
        let sort_key = |i: usize| {
            let lead = leads[i].as_ref().map_or(i, |(main, _)| *main);
            (
                listed[i].storage_id,
                folder_of(&listed[i].path),
                listed[lead].name(),
                lead != i,
                listed[i].name(),
            )
        };
        order.sort_by(|&a, &b| sort_key(a).cmp(&sort_key(b)));
        for &i in &order {
            if let Some((main, follows)) = &leads[i]
                && selected(*main)
            {
                plan.travels_with.insert(
                    listed[i].key(serial),
                    (listed[*main].key(serial), follows.clone()),
                );
            }
        }
        // Each file moves into the plan (100,000 of them are not copied).
        let mut files: Vec<Option<RemoteFile>> = listed.into_iter().map(Some).collect();
        for i in order {
            let Some(file) = files[i].take() else {
                continue;
            };
            if backed_up.contains(&file.key(serial)) {
                plan.already.push(file);
            } else {
                plan.to_copy.push(file);
            }
        }
        plan
    }

    /// Bytes the run would copy (at most `u64::MAX`: a device may list any size).
    pub fn bytes_to_copy(&self) -> u64 {
        self.to_copy
            .iter()
            .fold(0, |total: u64, file| total.saturating_add(file.size))
    }
}

/// For each file, the file of its folder it travels with, if any (indexes into `files`).
fn leads(files: &[RemoteFile]) -> Vec<Option<(usize, Follows)>> {
    let mut folders: HashMap<(u32, &str), Vec<usize>> = HashMap::new();
    for (i, file) in files.iter().enumerate() {
        folders
            .entry((file.storage_id.0, folder_of(&file.path)))
            .or_default()
            .push(i);
    }
    let mut leads = vec![None; files.len()];
    for members in folders.values() {
        let names: Vec<&str> = members.iter().map(|&i| files[i].name()).collect();
        for (position, &i) in members.iter().enumerate() {
            leads[i] = follows(names[position], &names).map(|f| (members[f.main], f));
        }
    }
    leads
}

fn folder_of(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(folder, _)| folder)
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
        let plan = Plan::new(
            "S",
            [photo.clone(), again.clone()],
            &Selection::new(),
            &HashSet::new(),
        );
        assert_eq!(plan.to_copy.len(), 1);
        assert_eq!(plan.twins, [again]);
        assert!(plan.ambiguous.contains(&photo.key("S")));
    }
}
