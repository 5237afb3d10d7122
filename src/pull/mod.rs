//! Backing up a device into a destination folder: planning what is new,
//! copying it resumably and verified, filing it by date, and recording it.
//!
//! - `select` and `plan`: which files a run wants ([`Selection`], [`Plan`]), less
//!   what the [`Manifest`] holds.
//! - `transfer` into `partial` temp files ([`PartialFile`]): streaming, resumable, hashed.
//! - `run`: the whole run ([`backup()`]), filing through [`crate::sort`], and
//!   `--delete-after`; `waiting`: finished downloads fsynced on a thread of their own
//!   while the next file downloads.
//! - `report`: events for progress display ([`Event`], [`Observer`]), and the [`Summary`].
//! - `verify`: re-reading DEST against the manifest's hashes ([`verify()`]).
//! - `status`: what of the phone DEST holds, and why the rest is not there ([`status()`]).

pub(crate) mod choice;
mod date_cache;
mod device;
mod disk;
mod error;
mod hash;
mod head;
mod junk;
mod manifest;
mod moved;
mod partial;
mod plan;
mod predict;
mod remote;
mod report;
mod run;
mod select;
mod staging;
mod status;
mod together;
mod transfer;
mod verify;
mod waiting;

pub use choice::{Choice, ChoiceError};
pub use date_cache::default_date_cache;
pub(crate) use device::is_shared_serial;
pub use device::{Listing, device_serial, list_files, reported_serial};
pub use disk::free_space;
pub use error::PullError;
pub use hash::{ContentHash, ContentHasher};
pub use manifest::{Manifest, ManifestError, Outcome, Record, RescanReport};
pub use partial::{FinishedDownload, PartialFile, TempArea};
pub use plan::Plan;
pub use remote::{FileKey, RemoteFile};
pub use report::{DryRunEntry, Event, FileOutcome, Observer, Summary};
pub use run::{BackupOptions, RunReport, backup};
pub use select::{MediaKind, Only, Selection, media_kind, parse_since};
pub use status::{Count, Missing, Status, status};
pub use verify::{Problem, VerifyReport, verify};
