//! Backing up a device into a destination folder: planning what is new,
//! copying it resumably and verified, filing it by date, and recording it.
//!
//! - [`select`] and [`plan`]: which files a run wants, less what the [`manifest`] holds.
//! - [`transfer`] into [`partial`] temp files: streaming, resumable, hashed.
//! - [`run`]: the whole run, filing through [`crate::sort`], and `--delete-after`.
//! - [`report`]: events for progress display, and the summary.
//! - [`verify`]: re-reading DEST against the manifest's hashes.
//! - [`status`]: what of the phone DEST holds, and why the rest is not there.

pub mod choice;
pub mod device;
pub mod disk;
pub mod error;
pub mod hash;
mod head;
pub mod junk;
pub mod manifest;
pub mod moved;
pub mod partial;
pub mod plan;
pub mod predict;
pub mod remote;
pub mod report;
pub mod run;
pub mod select;
pub mod status;
pub mod transfer;
pub mod verify;

pub use choice::{Choice, ChoiceError};
pub use device::{Listing, device_serial, list_files};
pub use error::PullError;
pub use hash::{ContentHash, ContentHasher};
pub use manifest::{Manifest, ManifestError, Outcome, Record, RescanReport};
pub use partial::{PartialFile, TempArea};
pub use plan::Plan;
pub use remote::{FileKey, RemoteFile};
pub use report::{DryRunEntry, Event, FileOutcome, Observer, Summary};
pub use run::{BackupOptions, RunReport, backup};
pub use select::{MediaKind, Only, Selection, media_kind, parse_since};
