//! Dating photos and videos by capture time and filing them into folders.
//!
//! The pieces, in the order a file meets them:
//! - `date`: when was it captured? EXIF, video boxes, the file name, then a
//!   fallback ([`DateResolver`]).
//! - `plan`: where does it go? `DEST/<template>/<safe name>` or `DEST/undated/<safe name>`
//!   ([`plan()`], [`Template`]).
//! - `file`: put it there atomically, never overwriting; identical content is a
//!   duplicate ([`Filer`]).
//! - `tree`: all of the above for a whole local folder, the `mtpull sort` command
//!   ([`sort_tree`]).
//!
//! Nothing here talks to a device: the pull hands over a byte prefix to date and a
//! finished temp file to file.

mod batch;
pub(crate) mod beneath;
mod contents;
pub(crate) mod date;
pub(crate) mod dest;
pub(crate) mod file;
pub(crate) mod kind;
mod plan;
pub(crate) mod state;
mod tree;

#[cfg(test)]
mod testdata;

use std::io;
use std::path::PathBuf;

pub use beneath::Root;
pub use date::{DateResolver, DateSource, Dated, GeoPoint, HEAD_LEN, Moment, ZoneHints, ZoneSource};
pub use file::{Filed, Filer, Mode, Outcome, file_into};
pub use kind::{MediaKind, Only};
pub use plan::{DEFAULT_TEMPLATE, Names, Origin, Template, UNDATED_DIR, plan, safe_name, safe_name_for};
pub use state::{DestLock, Intent, IntentLog, LockError, STATE_DIR};
pub(crate) use tree::burst_name_prefix;
pub use tree::{Event, FileReport, Follows, Sorted, Summary, TreeOptions, follows, sort_tree};

/// What can go wrong while dating or filing, with the path a person needs to act on.
#[derive(Debug, thiserror::Error)]
pub enum SortError {
    /// A filesystem call failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done, as a verb phrase ("read", "create folder"...).
        action: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// What the OS said.
        source: io::Error,
    },
    /// The folder template is not usable.
    #[error("invalid folder template {template:?}: {reason}")]
    Template {
        /// The pattern given.
        template: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A planned path that is absolute or climbs out of the destination.
    #[error(
        "refusing destination path {}: it must be relative and stay inside the destination",
        .0.display()
    )]
    UnsafePath(PathBuf),
    /// Every numbered variant of a name is taken by a different file.
    #[error(
        "{} and its numbered variants up to -{} all exist with other content; tidy that folder",
        path.display(),
        file::MAX_CLASH_SUFFIX
    )]
    TooManyClashes {
        /// The name wanted.
        path: PathBuf,
    },
    /// A sidecar stays where it is because its main file could not be filed.
    #[error("not filed: it travels with {}, which failed", main.display())]
    MainNotFiled {
        /// The file the sidecar belongs with.
        main: PathBuf,
    },
    /// The destination cannot take files (a file, no permission, no parent).
    #[error("cannot use {} as the destination: {reason}", path.display())]
    Destination {
        /// The destination.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Ctrl-C: the run stopped between two files.
    #[error("interrupted; what was filed stays filed, and running the same command again goes on")]
    Interrupted,
    /// Another run holds the destination, or its state folder is unusable.
    #[error(transparent)]
    Lock(#[from] state::LockError),
    /// The source of a tree sort is not a folder.
    #[error("{} is not a folder", .0.display())]
    NotAFolder(PathBuf),
}

impl SortError {
    /// Wraps an I/O error with what was being done and to which path.
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> Self {
        let path = path.into();
        move |source| SortError::Io { action, path, source }
    }
}
