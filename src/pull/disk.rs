//! The destination's disk: free space before a run, and one run at a time.

use std::io;
use std::path::Path;

use super::error::PullError;

/// Room kept free beyond the plan's bytes: the manifest, folders, the filesystem's own needs.
pub(super) const SPACE_MARGIN: u64 = 1 << 20;

/// Bytes this user may still write on the filesystem holding `path` (statvfs).
pub fn free_space(path: &Path) -> io::Result<u64> {
    let stats = rustix::fs::statvfs(path)?;
    Ok(stats.f_bavail.saturating_mul(stats.f_frsize))
}

/// Fails up front when DEST cannot hold `needed` more bytes (plus [`SPACE_MARGIN`]).
pub(super) fn check_space(dest_root: &Path, needed: u64) -> Result<(), PullError> {
    let available = free_space(dest_root).map_err(PullError::disk(dest_root))?;
    let needed = needed.saturating_add(SPACE_MARGIN);
    if needed > available {
        return Err(PullError::NotEnoughSpace {
            dest: dest_root.to_owned(),
            needed,
            available,
        });
    }
    Ok(())
}

pub(super) use crate::sort::state::DestLock;

impl From<crate::sort::LockError> for PullError {
    fn from(error: crate::sort::LockError) -> Self {
        match error {
            crate::sort::LockError::Busy(dest) => PullError::Busy(dest),
            crate::sort::LockError::Io { path, source } => PullError::Disk { path, source },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_space_is_plausible_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let free = free_space(dir.path()).unwrap();
        assert!(free > 0);
        assert!(check_space(dir.path(), 0).is_ok() || free < SPACE_MARGIN);
        let error = check_space(dir.path(), u64::MAX / 2).unwrap_err();
        assert!(matches!(error, PullError::NotEnoughSpace { .. }), "{error}");
        assert!(free_space(&dir.path().join("missing")).is_err());
    }

    #[test]
    fn a_held_destination_is_busy() {
        let dir = tempfile::tempdir().unwrap();
        let _held = DestLock::acquire(dir.path()).unwrap();
        let busy = DestLock::acquire(dir.path()).map_err(PullError::from);
        assert!(matches!(busy, Err(PullError::Busy(_))));
    }
}
