//! Backing up a device into a destination folder: planning what is new,
//! copying it resumably and verified, filing it by date, and recording it.

pub mod hash;
pub mod manifest;
pub mod remote;

pub use hash::{ContentHash, ContentHasher};
pub use manifest::{Manifest, ManifestError, Outcome, Record, RescanReport};
pub use remote::{FileKey, RemoteFile};
