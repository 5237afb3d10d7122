//! The pull's view of a file on the device, and the key that names it across sessions.

use chrono::NaiveDateTime;
use xxhash_rust::xxh3::Xxh3;

use crate::ptp::DeviceTime;
use crate::ptp::{ObjectFormat, ObjectHandle, StorageId};
use crate::sort::Origin;

/// The size a device lists for an object of 4 GiB or more when it cannot
/// say more (ObjectInfo's 32-bit field, with no 64-bit ObjectSize property).
pub(super) const UNKNOWN_SIZE: u64 = 0xFFFF_FFFF;

/// One file on the device, as listed in this session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteFile {
    /// Storage ID in this session (used for operations, never for keys).
    pub storage_id: StorageId,
    /// The storage's name (its description, e.g. "Internal shared storage").
    pub storage: String,
    /// Path inside the storage, `/`-separated, without a leading `/`.
    pub path: String,
    /// Object handle in this session (renumbered in every session).
    pub handle: ObjectHandle,
    /// The object's format as the device reports it.
    pub format: ObjectFormat,
    /// Size in bytes (64-bit); [`UNKNOWN_SIZE`] when the device only says "4 GiB or more".
    pub size: u64,
    /// The device's date for the file (on Android, the file's mtime on the phone).
    pub modified: Option<DeviceTime>,
}

impl RemoteFile {
    /// The size, unless the device only said "4 GiB or more".
    pub fn exact_size(&self) -> Option<u64> {
        (self.size != UNKNOWN_SIZE).then_some(self.size)
    }

    /// The file name: the last component of the path.
    pub fn name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }

    /// The last level of the folder holding it (`Camera` for `DCIM/Camera/IMG_1.jpg`),
    /// or the storage's name for a file at the top.
    pub fn folder_name(&self) -> &str {
        let folder = self.path.rsplit_once('/').map_or("", |(folder, _)| folder);
        match folder.rsplit('/').next() {
            Some(last) if !last.is_empty() => last,
            _ => &self.storage,
        }
    }

    /// What a folder template's tokens stand for, for this file of a device of `model`.
    pub fn origin<'a>(&'a self, model: &'a str) -> Origin<'a> {
        Origin {
            name: self.name(),
            folder: self.folder_name(),
            device: Some(model),
        }
    }

    /// `storage/path`, as `mtpull ls` shows it.
    pub fn display_path(&self) -> String {
        format!("{}/{}", self.storage, self.path)
    }

    /// The key that names this file on this device in every session.
    pub fn key(&self, serial: &str) -> FileKey {
        FileKey {
            serial: serial.to_owned(),
            storage: self.storage.clone(),
            path: self.path.clone(),
            size: self.size,
            device_date: self.modified.map(|time| time.local),
        }
    }
}

/// What makes a device file "the same file" across sessions: never the handle.
///
/// A file changed on the phone (new size or date) is a new key, so it is
/// backed up again and an old partial download of it is not resumed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FileKey {
    /// The device's serial number.
    pub serial: String,
    /// The storage's name.
    pub storage: String,
    /// Path inside the storage.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// The device's date for the file, when it gave one.
    pub device_date: Option<NaiveDateTime>,
}

impl FileKey {
    /// The device date as stored in the manifest: ISO 8601 seconds, or empty.
    pub fn device_date_text(&self) -> String {
        self.device_date
            .map(|date| date.format("%Y-%m-%dT%H:%M:%S").to_string())
            .unwrap_or_default()
    }

    /// A short stable name for this key, safe as a file name (hex).
    pub fn digest(&self) -> String {
        let mut hasher = Xxh3::new();
        for part in [&self.serial, &self.storage, &self.path] {
            hasher.update(part.as_bytes());
            hasher.update(&[0]);
        }
        hasher.update(&self.size.to_le_bytes());
        hasher.update(self.device_date_text().as_bytes());
        format!("{:032x}", hasher.digest128())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn file(path: &str, size: u64, date: &str) -> RemoteFile {
        RemoteFile {
            storage_id: StorageId(0x0001_0001),
            storage: "Internal shared storage".into(),
            path: path.into(),
            handle: ObjectHandle(7),
            format: ObjectFormat::UNDEFINED,
            size,
            modified: NaiveDateTime::parse_from_str(date, "%Y-%m-%d %H:%M:%S")
                .ok()
                .map(|local| DeviceTime { local, offset: None }),
        }
    }

    #[test]
    fn folder_names_for_templates() {
        assert_eq!(file("DCIM/Camera/IMG_1.jpg", 1, "").folder_name(), "Camera");
        assert_eq!(
            file("Pictures/Screenshots/a.png", 1, "").folder_name(),
            "Screenshots"
        );
        assert_eq!(file("top.jpg", 1, "").folder_name(), "Internal shared storage");
        let photo = file("DCIM/Camera/IMG_1.jpg", 1, "");
        let origin = photo.origin("Pixel 8");
        assert_eq!((origin.name, origin.device), ("IMG_1.jpg", Some("Pixel 8")));
    }

    #[test]
    fn names_and_keys() {
        let photo = file("DCIM/Camera/IMG_1.jpg", 10, "2024-05-26 10:15:00");
        assert_eq!(photo.name(), "IMG_1.jpg");
        assert_eq!(
            photo.display_path(),
            "Internal shared storage/DCIM/Camera/IMG_1.jpg"
        );
        let key = photo.key("SER");
        assert_eq!(key.device_date_text(), "2024-05-26T10:15:00");
        assert_eq!(file("x", 1, "").key("S").device_date_text(), "");
    }

    #[test]
    fn digest_changes_with_every_part_but_not_the_handle() {
        let base = file("DCIM/a.jpg", 10, "2024-05-26 10:15:00");
        let digest = base.key("S").digest();
        assert_eq!(digest.len(), 32);
        assert_eq!(
            RemoteFile {
                handle: ObjectHandle(99),
                ..base.clone()
            }
            .key("S")
            .digest(),
            digest
        );
        assert_ne!(base.key("T").digest(), digest);
        assert_ne!(
            file("DCIM/b.jpg", 10, "2024-05-26 10:15:00").key("S").digest(),
            digest
        );
        assert_ne!(
            file("DCIM/a.jpg", 11, "2024-05-26 10:15:00").key("S").digest(),
            digest
        );
        assert_ne!(
            file("DCIM/a.jpg", 10, "2024-05-26 10:15:01").key("S").digest(),
            digest
        );
        // The separator keeps ("ab","c") and ("a","bc") apart.
        let mut split = base.key("S");
        split.storage = "Internal shared storageD".into();
        split.path = "CIM/a.jpg".into();
        assert_ne!(split.digest(), digest);
    }
}
