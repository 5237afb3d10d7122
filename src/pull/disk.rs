//! The destination's disk: free space before a run, and one run at a time.

use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::io::AsRawFd;
use std::path::Path;
use std::time::{Duration, Instant};

use super::error::PullError;
use super::manifest::STATE_DIR;

/// How long to wait for DEST's lock before saying another run holds it.
const LOCK_PATIENCE: Duration = Duration::from_secs(2);

/// Room kept free beyond the plan's bytes: the manifest, folders, the filesystem's own needs.
pub const SPACE_MARGIN: u64 = 1 << 20;

/// Bytes this user may still write on the filesystem holding `path` (statvfs).
pub fn free_space(path: &Path) -> io::Result<u64> {
    let c_path = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))?;
    let mut stats = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: c_path is a valid C string and stats points to writable memory of the right type.
    let status = unsafe { libc::statvfs(c_path.as_ptr(), stats.as_mut_ptr()) };
    if status != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: statvfs returned 0, so it filled the struct.
    let stats = unsafe { stats.assume_init() };
    // fsblkcnt_t and c_ulong are 32-bit on some targets.
    #[allow(clippy::useless_conversion)]
    Ok(u64::from(stats.f_bavail).saturating_mul(u64::from(stats.f_frsize)))
}

/// Fails up front when DEST cannot hold `needed` more bytes (plus [`SPACE_MARGIN`]).
pub fn check_space(dest_root: &Path, needed: u64) -> Result<(), PullError> {
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

/// Holds DEST for one run: a second mtpull into the same DEST is refused
/// instead of racing it for temp files. Released when dropped (or the process dies).
#[derive(Debug)]
pub struct DestLock {
    _file: File,
}

impl DestLock {
    /// Takes the lock, or says who has it.
    pub fn acquire(dest_root: &Path) -> Result<DestLock, PullError> {
        let state = dest_root.join(STATE_DIR);
        std::fs::create_dir_all(&state).map_err(PullError::disk(&state))?;
        let path = state.join("lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(PullError::disk(&path))?;
        // A process forked (by anyone in this process) while an earlier lock
        // was held keeps it until it execs: wait that moment out, not a real run.
        let deadline = Instant::now() + LOCK_PATIENCE;
        loop {
            // SAFETY: flock on a descriptor we own.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
                return Ok(DestLock { _file: file });
            }
            let error = io::Error::last_os_error();
            if error.raw_os_error() != Some(libc::EWOULDBLOCK) {
                return Err(PullError::disk(&path)(error));
            }
            if Instant::now() >= deadline {
                return Err(PullError::Busy(dest_root.to_owned()));
            }
            std::thread::sleep(Duration::from_millis(50));
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
    fn one_run_per_destination() {
        let dir = tempfile::tempdir().unwrap();
        let held = DestLock::acquire(dir.path()).unwrap();
        assert!(matches!(DestLock::acquire(dir.path()), Err(PullError::Busy(_))));
        drop(held);
        assert!(DestLock::acquire(dir.path()).is_ok());
    }
}
