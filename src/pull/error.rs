//! Why a backup run stopped, in words a person can act on.

use std::io;
use std::path::PathBuf;

use rustix::io::Errno;

use super::manifest::ManifestError;
use super::select::BadPattern;
use crate::session::{ResolveError, SessionError};
use crate::sort::SortError;

/// A reason to stop the whole run (a failure of one file is a
/// [`FileOutcome::Failed`](super::FileOutcome::Failed) instead, and the run goes on).
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    /// The device could not be listed or asked about itself.
    #[error("{context}: {source}")]
    Device {
        /// What was being done.
        context: String,
        /// What the session said.
        #[source]
        source: SessionError,
    },
    /// The phone shows no storage: it is locked, not in File transfer mode,
    /// or (an iPhone) does not trust this computer yet.
    #[error("{hint}")]
    Locked {
        /// What to do ([`crate::session::LOCKED_HINT`] or the iPhone's words).
        hint: &'static str,
    },
    /// The link to the device broke mid-copy (unplugged, stalled, timed out).
    #[error(
        "lost the connection to the device while copying {file} ({kept} of {size} bytes kept): {source}; \
         reconnect and run the same command again to resume"
    )]
    Connection {
        /// The device path being copied.
        file: String,
        /// Bytes of it kept in the temp file.
        kept: u64,
        /// Its size.
        size: u64,
        /// What the session said.
        #[source]
        source: SessionError,
    },
    /// Writing into DEST failed (disk full, read-only, I/O error).
    #[error("{}: {source}{}", path.display(), disk_hint(source))]
    Disk {
        /// The file or folder in DEST.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: io::Error,
    },
    /// DEST lacks room for the plan, found before copying anything.
    #[error(
        "not enough space in {}: the backup needs {} more, {} is free; free some space or narrow the \
         selection (--only, --include, --since)",
        dest.display(), crate::human::bytes(*needed), crate::human::bytes(*available)
    )]
    NotEnoughSpace {
        /// DEST.
        dest: PathBuf,
        /// Bytes the plan still has to copy (plus a margin).
        needed: u64,
        /// Bytes free for this user there.
        available: u64,
    },
    /// Ctrl-C (or a caller's cancel flag).
    #[error("interrupted; what was copied is kept, and running the same command again resumes")]
    Interrupted,
    /// Another mtpull is writing to the same DEST.
    #[error("another mtpull is backing up into {}; wait for it to finish", .0.display())]
    Busy(PathBuf),
    /// `--storage` names a storage the device does not have.
    #[error(transparent)]
    NoSuchStorage(#[from] ResolveError),
    /// The manifest could not be read or written.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// Filing into the date folders failed.
    #[error(transparent)]
    Sort(#[from] SortError),
    /// An `--include`/`--exclude` pattern is malformed.
    #[error(transparent)]
    Pattern(#[from] BadPattern),
    /// The selection file cannot be used.
    #[error(transparent)]
    Choice(#[from] super::choice::ChoiceError),
}

fn disk_hint(error: &io::Error) -> &'static str {
    match Errno::from_io_error(error) {
        Some(Errno::NOSPC | Errno::DQUOT) => {
            " (the destination is full: free some space, then run again to resume)"
        }
        Some(Errno::ROFS) => " (the destination is read-only)",
        _ => "",
    }
}

impl PullError {
    /// Wraps an I/O error on a path in DEST.
    pub(crate) fn disk(path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> PullError {
        let path = path.into();
        move |source| PullError::Disk { path, source }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_disk_says_so_and_what_to_do() {
        let error = PullError::disk("/backup/.mtpull/tmp/x.part")(io::Error::from(Errno::NOSPC));
        let text = error.to_string();
        assert!(text.starts_with("/backup/.mtpull/tmp/x.part: "), "{text}");
        assert!(text.contains("destination is full"), "{text}");
        let space = PullError::NotEnoughSpace {
            dest: "/b".into(),
            needed: 5_000_000,
            available: 1_000_000,
        };
        assert!(
            space.to_string().contains("needs 5.00 MB more, 1.00 MB is free"),
            "{space}"
        );
    }
}
