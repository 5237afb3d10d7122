//! Storages a device lists that hold nothing to read, and what to say about them.
//!
//! - An iPhone that has not trusted this computer lists one placeholder
//!   storage, 0xFEEDFACE, until the user taps Trust; then it sends
//!   StoreRemoved for it and StoreAdded for the real one. The placeholder is
//!   never shown: the phone counts as showing no storage yet, and is waited
//!   for as a locked phone is, with the iPhone's words.
//! - A storage id whose low 16 bits are 0 names a physical store with no
//!   logical storage behind it: an empty card slot (PTP's StorageID layout).
//! - A storage whose GetStorageInfo answers Store Not Available (a card being
//!   mounted, a storage the phone keeps locked) cannot be read now.
//!
//! The last two are skipped and reported; the other storages are read.

use std::fmt;

use super::{Result, Session, SessionError};
use crate::ptp::{ResponseCode, StorageId, StorageInfo};

/// The storage id an untrusted iPhone lists instead of its real storage.
pub(super) const UNTRUSTED_PLACEHOLDER: StorageId = StorageId(0xFEED_FACE);

/// What to tell a person whose iPhone shows only its placeholder storage.
pub const UNTRUSTED_HINT: &str = "iPhone does not trust this computer yet: unlock it and tap \
     Trust on the iPhone (\"Trust This Computer?\"), entering its passcode if asked";

/// Why a listed storage is not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// Low 16 bits 0: a physical store without a logical one (an empty card slot).
    EmptySlot,
    /// GetStorageInfo answered Store Not Available.
    NotAvailable,
}

/// A storage the device lists that this session does not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SkippedStorage {
    /// The storage.
    pub id: StorageId,
    /// Why it is not read.
    pub reason: SkipReason,
}

impl SkippedStorage {
    /// Whether a backup of it was wanted and failed (an empty slot is not a failure).
    pub fn is_failure(&self) -> bool {
        self.reason == SkipReason::NotAvailable
    }
}

impl fmt::Display for SkippedStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.reason {
            SkipReason::EmptySlot => write!(f, "storage {}: an empty card slot", self.id),
            SkipReason::NotAvailable => write!(
                f,
                "storage {}: the device says it is not available (a card being mounted or \
                 removed?); it was not read",
                self.id
            ),
        }
    }
}

/// The storage ids worth reading among those GetStorageIDs gave, whether the
/// list was an untrusted iPhone's placeholder, and the empty slots.
pub(super) fn sort_storage_ids(ids: Vec<StorageId>) -> (Vec<StorageId>, bool, Vec<SkippedStorage>) {
    let untrusted = ids.contains(&UNTRUSTED_PLACEHOLDER);
    let mut usable = Vec::with_capacity(ids.len());
    let mut empty_slots = Vec::new();
    for id in ids.into_iter().filter(|&id| id != UNTRUSTED_PLACEHOLDER) {
        if id.0 & 0xFFFF == 0 {
            empty_slots.push(SkippedStorage {
                id,
                reason: SkipReason::EmptySlot,
            });
        } else {
            usable.push(id);
        }
    }
    (usable, untrusted, empty_slots)
}

impl Session {
    /// Whether the last GetStorageIDs showed only an untrusted iPhone's placeholder.
    pub fn is_untrusted(&self) -> bool {
        self.untrusted
    }

    /// What to tell a person when the device shows no storage: unlock the
    /// phone and allow file transfer, or (an iPhone) tap Trust.
    pub fn no_storage_hint(&self) -> &'static str {
        if self.untrusted {
            UNTRUSTED_HINT
        } else {
            super::LOCKED_HINT
        }
    }

    /// Storages listed by the last GetStorageIDs, or refused since, that are not read.
    pub fn skipped_storages(&self) -> &[SkippedStorage] {
        &self.skipped_storages
    }

    /// GetStorageInfo, or `None` (the storage recorded as skipped) when the
    /// device says the storage is not available.
    pub fn storage_info_if_available(&mut self, storage: StorageId) -> Result<Option<StorageInfo>> {
        match self.storage_info(storage) {
            Err(SessionError::Device { code, .. }) if code == ResponseCode::STORE_NOT_AVAILABLE => {
                self.skipped_storages.push(SkippedStorage {
                    id: storage,
                    reason: SkipReason::NotAvailable,
                });
                Ok(None)
            }
            other => other.map(Some),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_and_empty_slots_are_set_apart() {
        let (usable, untrusted, empty) = sort_storage_ids(vec![
            StorageId(0x0001_0001),
            StorageId(0x0002_0000),
            StorageId(0x0002_0001),
        ]);
        assert_eq!(usable, [StorageId(0x0001_0001), StorageId(0x0002_0001)]);
        assert!(!untrusted);
        assert_eq!(
            empty,
            [SkippedStorage {
                id: StorageId(0x0002_0000),
                reason: SkipReason::EmptySlot
            }]
        );
        assert_eq!(empty[0].to_string(), "storage 0x00020000: an empty card slot");
        assert!(!empty[0].is_failure());

        let (usable, untrusted, empty) = sort_storage_ids(vec![UNTRUSTED_PLACEHOLDER]);
        assert!(usable.is_empty() && empty.is_empty());
        assert!(untrusted);
    }
}
