//! An exclusive flock(2) on a file, held for as long as the value lives. The
//! kernel drops it when the process ends, however it ends, so a crash never
//! leaves a stale lock. DEST's one-run-at-a-time lock and the auto-backup's
//! one-backup-per-device locks are both this.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rustix::fs::{FlockOperation, flock, fstat, stat};

/// A held lock; dropping it lets the next holder in.
#[derive(Debug)]
pub struct LockFile {
    file: File,
    path: PathBuf,
}

impl LockFile {
    /// Locks `path` (created readable by this user only, if missing).
    /// `Ok(None)`: another holder has it.
    pub fn try_acquire(path: &Path) -> io::Result<Option<LockFile>> {
        match lock_opened(open(path)?, path)? {
            Attempt::Held(lock) => Ok(Some(lock)),
            Attempt::Busy => Ok(None),
        }
    }

    /// [`try_acquire`](Self::try_acquire) for a lock file that a holder other than
    /// its creator may remove (a staging lock: whoever takes over a dead run's
    /// staging removes its lock). Opening and locking are two steps, and between
    /// them the holder may lock, remove and release the file: the lock would then
    /// be on a file no one else can find. So a lock taken on a file that is no
    /// longer the one at `path` (same device and inode) is dropped and taken again.
    pub fn try_acquire_removable(path: &Path) -> io::Result<Option<LockFile>> {
        // Each retry follows a removal by another holder; a path that keeps changing
        // under the lock (a filesystem whose inode numbers are not stable) is an error.
        for _ in 0..RETRIES {
            let Attempt::Held(lock) = lock_opened(open(path)?, path)? else {
                return Ok(None);
            };
            if lock.is_at_path()? {
                return Ok(Some(lock));
            }
        }
        Err(io::Error::other(format!(
            "locking {}: the file was replaced {RETRIES} times while it was being locked",
            path.display()
        )))
    }

    /// Whether the locked file is still the one at its path.
    fn is_at_path(&self) -> io::Result<bool> {
        let context = |errno: rustix::io::Errno| {
            io::Error::new(
                io::Error::from(errno).kind(),
                format!("locking {}: {errno}", self.path.display()),
            )
        };
        let locked = fstat(&self.file).map_err(context)?;
        match stat(&self.path) {
            Ok(now) => Ok((now.st_dev, now.st_ino) == (locked.st_dev, locked.st_ino)),
            Err(rustix::io::Errno::NOENT) => Ok(false),
            Err(errno) => Err(context(errno)),
        }
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Opens (creating) the lock file at `path`, not yet locked.
fn open(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
}

/// How many times [`LockFile::try_acquire_removable`] takes a lock again.
const RETRIES: usize = 100;

/// What locking an opened lock file came to.
enum Attempt {
    Held(LockFile),
    /// Another holder has it.
    Busy,
}

/// Locks `file`, opened from `path`.
fn lock_opened(file: File, path: &Path) -> io::Result<Attempt> {
    match flock(&file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(Attempt::Held(LockFile {
            file,
            path: path.to_owned(),
        })),
        Err(rustix::io::Errno::WOULDBLOCK) => Ok(Attempt::Busy),
        Err(errno) => {
            let error = io::Error::from(errno);
            Err(io::Error::new(
                error.kind(),
                format!("locking {}: {error}", path.display()),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run opens its lock file; before it locks it, the holder that was sweeping
    /// locks, removes and releases the same file. The run's lock must be on the file
    /// at the path, where the sweeper sees it, not on the removed one.
    #[test]
    fn a_lock_file_removed_between_open_and_lock_is_locked_anew() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.lock");
        let opened = open(&path).unwrap();
        let sweeper = LockFile::try_acquire(&path).unwrap().unwrap();
        std::fs::remove_file(sweeper.path()).unwrap();
        drop(sweeper);

        let Attempt::Held(stale) = lock_opened(opened, &path).unwrap() else {
            panic!("the removed file is locked by no one")
        };
        assert!(
            !stale.is_at_path().unwrap(),
            "a lock on a removed file is no lock"
        );
        drop(stale);
        let held = LockFile::try_acquire_removable(&path).unwrap().unwrap();
        assert!(held.is_at_path().unwrap());
        assert!(
            LockFile::try_acquire(&path).unwrap().is_none(),
            "the lock at the path is held"
        );
        drop(held);
        assert!(LockFile::try_acquire_removable(&path).unwrap().is_some());
    }
}
