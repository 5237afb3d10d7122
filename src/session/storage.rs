//! Device access every command needs: the storages (waiting for a locked
//! phone), one rule for naming and choosing a storage, and a path such as
//! `SD card/DCIM/Camera` resolved to its storage and object.

use std::convert::Infallible;
use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::{Entry, Result, Session, SessionError};
use crate::ptp::{StorageId, StorageInfo};

/// While waiting for an unlock, the cancel flag is looked at this often.
const UNLOCK_POLL: Duration = Duration::from_secs(1);

/// One storage the device shows, and the name mtpull calls it by.
#[derive(Debug, Clone, PartialEq)]
pub struct Storage {
    /// Its id in this session.
    pub id: StorageId,
    /// Its description ("Internal shared storage"), else its volume label
    /// ("CARD"), else its id in hex: never empty.
    pub name: String,
    /// What the device says about it (capacity, free space, access).
    pub info: StorageInfo,
}

impl Storage {
    /// Names the storage `id` that `info` describes.
    pub fn new(id: StorageId, info: StorageInfo) -> Storage {
        let name = [&info.description, &info.volume_label]
            .into_iter()
            .map(|name| name.trim())
            .find(|name| !name.is_empty())
            .map_or_else(|| format!("{:08X}", id.0), str::to_owned);
        Storage { id, name, info }
    }
}

/// Which storage a person means: its name (as [`Storage::name`], any case)
/// or its id (`0x00010001` or decimal). `--storage`, `ls PATH`'s first
/// component and the settings all go through this one rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageSelector {
    text: String,
    /// `text` read as an id, when it is one (parsed once, here).
    id: Option<StorageId>,
}

impl FromStr for StorageSelector {
    type Err = Infallible;

    fn from_str(text: &str) -> std::result::Result<Self, Infallible> {
        Ok(StorageSelector::new(text))
    }
}

impl fmt::Display for StorageSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl StorageSelector {
    /// The storage `text` names.
    pub fn new(text: &str) -> StorageSelector {
        StorageSelector {
            text: text.to_owned(),
            id: text.parse().ok(),
        }
    }

    /// Whether `storage` is the one meant.
    pub fn matches(&self, storage: &Storage) -> bool {
        self.text.eq_ignore_ascii_case(&storage.name) || self.id == Some(storage.id)
    }

    /// Whether the id `id` is the one meant (for storages known by id only,
    /// such as one that is listed but cannot be read).
    pub fn matches_id(&self, id: StorageId) -> bool {
        self.id == Some(id)
    }

    /// "storage 0x00010001" or "storage named \"SD card\"", for messages.
    fn describe(&self) -> String {
        match self.id {
            Some(id) => format!("storage {id}"),
            None => format!("storage named \"{}\"", self.text),
        }
    }

    /// The storage meant, among `storages`.
    pub fn pick<'a>(&self, storages: &'a [Storage]) -> Result<&'a Storage, ResolveError> {
        storages
            .iter()
            .find(|storage| self.matches(storage))
            .ok_or_else(|| ResolveError::NoSuchStorage {
                wanted: self.describe(),
                available: storages
                    .iter()
                    .map(|s| format!("\"{}\" ({})", s.name, s.id))
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}

/// A place on the device: a storage, and a file or folder in it.
#[derive(Debug, Clone, PartialEq)]
pub struct Place {
    /// The storage.
    pub storage: Storage,
    /// The file or folder; `None` for the storage's root.
    pub object: Option<Entry>,
}

/// Why a path named nothing on the device.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// No storage goes by the name or id given.
    #[error("the device has no {wanted}; it has {available}")]
    NoSuchStorage {
        /// What was asked for ("storage named \"SD card\"").
        wanted: String,
        /// The storages there are, with their ids.
        available: String,
    },
    /// The storage holds nothing at that path.
    #[error("{path}: no such file or folder")]
    NotFound {
        /// The path asked for, storage first.
        path: String,
    },
    /// The device failed while the path was looked up.
    #[error(transparent)]
    Session(#[from] SessionError),
}

impl Session {
    /// Every storage the device shows that can be read. A phone showing none
    /// (locked, not in File transfer mode, or an iPhone not trusting this
    /// computer yet) is waited for up to `wait` — StoreAdded arrives when the
    /// user unlocks it or taps Trust — with `cancel` looked at every second;
    /// `waiting` is called once, when the wait begins, with what the user
    /// must do. An empty list means none appeared in time (or `cancel` was
    /// raised). Storages that cannot be read (an empty card slot, one not
    /// available) are left out and kept in [`Session::skipped_storages`]; a
    /// device that lists only those is not waited for.
    pub fn storages(
        &mut self,
        wait: Duration,
        cancel: &AtomicBool,
        waiting: impl FnOnce(&'static str),
    ) -> Result<Vec<Storage>> {
        let mut ids = self.storage_ids()?;
        if ids.is_empty() && self.skipped_storages().is_empty() && !wait.is_zero() {
            waiting(self.no_storage_hint());
            let started = Instant::now();
            while ids.is_empty() && !cancel.load(Ordering::Relaxed) {
                let left = wait.saturating_sub(started.elapsed());
                if left.is_zero() {
                    break;
                }
                ids = self.wait_for_storages(left.min(UNLOCK_POLL))?;
            }
        }
        let mut storages = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(info) = self.storage_info_if_available(id)? {
                storages.push(Storage::new(id, info));
            }
        }
        Ok(storages)
    }

    /// Finds `path`: a storage (by name or id, as [`StorageSelector`] says),
    /// then `/`-separated names down from its root.
    pub fn resolve(&mut self, storages: &[Storage], path: &str) -> Result<Place, ResolveError> {
        let path = path.trim_start_matches('/');
        let (first, inner) = path.split_once('/').unwrap_or((path, ""));
        self.resolve_in(StorageSelector::new(first).pick(storages)?, inner)
    }

    /// Finds the object `path` (`/`-separated names) leads to from the root
    /// of `storage`; an empty path is the root itself.
    pub fn resolve_in(&mut self, storage: &Storage, path: &str) -> Result<Place, ResolveError> {
        let names: Vec<&str> = path.split('/').filter(|name| !name.is_empty()).collect();
        let object = if names.is_empty() {
            None
        } else {
            let found = self.find(storage.id, &names)?;
            Some(found.ok_or_else(|| ResolveError::NotFound {
                path: format!("{}/{}", storage.name, names.join("/")),
            })?)
        };
        Ok(Place {
            storage: storage.clone(),
            object,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn storage(id: u32, description: &str, label: &str) -> Storage {
        let info = StorageInfo {
            description: description.into(),
            volume_label: label.into(),
            ..StorageInfo::default()
        };
        Storage::new(StorageId(id), info)
    }

    #[test]
    fn names_fall_back_to_the_label_then_the_id() {
        assert_eq!(
            storage(1, "Internal shared storage", "x").name,
            "Internal shared storage"
        );
        assert_eq!(storage(1, " ", "CARD").name, "CARD");
        assert_eq!(storage(0x0001_0001, "", "").name, "00010001");
    }

    #[test]
    fn a_selector_matches_the_name_in_any_case_or_the_id() {
        let card = storage(0x0002_0001, "", "CARD");
        for text in ["CARD", "card", "0x00020001", "131073"] {
            assert!(StorageSelector::new(text).matches(&card), "{text}");
        }
        for text in ["CAR", "0x00010001", "SD card", ""] {
            assert!(!StorageSelector::new(text).matches(&card), "{text}");
        }
        assert_eq!(
            "card".parse::<StorageSelector>(),
            Ok(StorageSelector::new("card"))
        );
    }

    #[test]
    fn picking_a_missing_storage_names_the_ones_there_are() {
        let storages = [
            storage(0x0001_0001, "Internal shared storage", ""),
            storage(0x0002_0001, "", "CARD"),
        ];
        assert_eq!(
            StorageSelector::new("card").pick(&storages).unwrap().id,
            StorageId(0x0002_0001)
        );
        let by_name = StorageSelector::new("SD card")
            .pick(&storages)
            .unwrap_err()
            .to_string();
        assert_eq!(
            by_name,
            "the device has no storage named \"SD card\"; it has \
             \"Internal shared storage\" (0x00010001), \"CARD\" (0x00020001)"
        );
        let by_id = StorageSelector::new("0x00030001")
            .pick(&storages)
            .unwrap_err()
            .to_string();
        assert!(
            by_id.starts_with("the device has no storage 0x00030001; it has"),
            "{by_id}"
        );
    }
}
