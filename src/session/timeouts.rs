//! How long each operation may keep the host waiting, by what the device
//! has to do before it answers.
//!
//! A listing can take a phone a long time before its first byte: Android 9+
//! walks (and inotify-watches) the whole filesystem before answering a
//! whole-storage GetObjectPropList, and a depth-1 list of a photo folder costs
//! one MediaProvider query per file; libmtp gives Android 60 s per transaction.
//! Commands that only read what the device holds in memory should answer at
//! once, and a short timeout tells a hung device sooner. Transfers sit
//! between: the timeout is per read, and a phone may pause while it reads
//! its flash or converts a file.

use std::time::Duration;

use crate::ptp::OperationCode as Op;

/// The timeout for each kind of operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Session, storage and per-object queries (GetDeviceInfo, GetStorageIDs,
    /// GetObjectInfo, property values…).
    pub instant: Duration,
    /// Listings: GetObjectHandles, GetNumObjects, GetObjectPropList.
    pub listing: Duration,
    /// Each read or write of a data phase of file bytes (GetObject, partial
    /// reads, thumbnails, uploads), and deletions.
    pub transfer: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            instant: Duration::from_secs(5),
            listing: Duration::from_secs(60),
            transfer: Duration::from_secs(20),
        }
    }
}

impl Timeouts {
    /// The timeout for `op`.
    pub fn for_op(&self, op: Op) -> Duration {
        match op {
            Op::GET_OBJECT_HANDLES | Op::GET_NUM_OBJECTS | Op::GET_OBJECT_PROP_LIST => self.listing,
            Op::GET_OBJECT
            | Op::GET_PARTIAL_OBJECT
            | Op::GET_PARTIAL_OBJECT_64
            | Op::GET_THUMB
            | Op::SEND_OBJECT
            | Op::DELETE_OBJECT => self.transfer,
            _ => self.instant,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listings_get_a_minute_instant_commands_seconds() {
        let timeouts = Timeouts::default();
        assert!(timeouts.for_op(Op::GET_OBJECT_PROP_LIST) >= Duration::from_secs(60));
        assert!(timeouts.for_op(Op::GET_OBJECT_HANDLES) >= Duration::from_secs(60));
        for instant in [
            Op::GET_DEVICE_INFO,
            Op::OPEN_SESSION,
            Op::GET_STORAGE_IDS,
            Op::GET_OBJECT_INFO,
        ] {
            assert_eq!(timeouts.for_op(instant), Duration::from_secs(5), "{instant}");
        }
        assert_eq!(timeouts.for_op(Op::GET_OBJECT), timeouts.transfer);
    }
}
