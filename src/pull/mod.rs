//! Backing up a device into a destination folder: planning what is new,
//! copying it resumably and verified, filing it by date, and recording it.

pub mod hash;
pub mod manifest;
pub mod partial;
pub mod plan;
pub mod remote;
pub mod report;
pub mod select;

pub use hash::{ContentHash, ContentHasher};
pub use manifest::{Manifest, ManifestError, Outcome, Record, RescanReport};
pub use partial::{PartialFile, TempArea};
pub use plan::Plan;
pub use remote::{FileKey, RemoteFile};
pub use report::{DryRunEntry, Event, FileOutcome, Observer, Summary};
pub use select::{MediaKind, Only, Selection, media_kind, parse_since};
