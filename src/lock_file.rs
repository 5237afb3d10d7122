//! An exclusive flock(2) on a file, held for as long as the value lives. The
//! kernel drops it when the process ends, however it ends, so a crash never
//! leaves a stale lock. DEST's one-run-at-a-time lock and the auto-backup's
//! one-backup-per-device locks are both this.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rustix::fs::{FlockOperation, flock};

/// A held lock; dropping it lets the next holder in.
#[derive(Debug)]
pub struct LockFile {
    _file: File,
    path: PathBuf,
}

impl LockFile {
    /// Locks `path` (created readable by this user only, if missing).
    /// `Ok(None)`: another holder has it.
    pub fn try_acquire(path: &Path) -> io::Result<Option<LockFile>> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)?;
        match flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => Ok(Some(LockFile {
                _file: file,
                path: path.to_owned(),
            })),
            Err(rustix::io::Errno::WOULDBLOCK) => Ok(None),
            Err(errno) => {
                let error = io::Error::from(errno);
                Err(io::Error::new(
                    error.kind(),
                    format!("locking {}: {error}", path.display()),
                ))
            }
        }
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}
