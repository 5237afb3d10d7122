//! One backup per device at a time: a lock file per device serial, held with
//! flock(2) for as long as the backup runs. The kernel drops the lock when
//! the process ends, however it ends, so a crash never leaves a stale lock.
//!
//! Two starts for one device happen: udev's "add" and "bind" events, the udev
//! unit and a `mtpull watch` both running, a replug while a backup winds down.

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

use rustix::process::getuid;

use crate::lock_file::LockFile;

/// Takes the lock for `serial` in `dir` (created, private to this user, if
/// missing); dropping it lets the next backup of the device start.
/// `Ok(None)`: another backup of this device holds it.
pub fn lock_device(dir: &Path, serial: &str) -> io::Result<Option<LockFile>> {
    ensure_private_dir(dir)?;
    LockFile::try_acquire(&dir.join(format!("device-{}.lock", file_name_for(serial))))
}

/// Where this user's device locks live: `$XDG_RUNTIME_DIR/mtpull` (a private
/// tmpfs that systemd gives each logged-in user), else `/tmp/mtpull-UID`.
pub fn default_dir() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from) {
        Some(runtime) if runtime.is_absolute() => runtime.join("mtpull"),
        _ => std::env::temp_dir().join(format!("mtpull-{}", getuid().as_raw())),
    }
}

/// Creates `dir` readable by this user only, and refuses one that another
/// user owns (in a shared /tmp someone else could hold our locks forever).
fn ensure_private_dir(dir: &Path) -> io::Result<()> {
    match fs::DirBuilder::new().recursive(true).mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) => {
            return Err(io::Error::new(
                e.kind(),
                format!("creating {}: {e}", dir.display()),
            ));
        }
    }
    let owner = fs::metadata(dir)?.uid();
    let me = getuid().as_raw();
    if owner != me {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "{} belongs to user {owner}, not to you ({me}): remove it, or set XDG_RUNTIME_DIR",
                dir.display()
            ),
        ));
    }
    Ok(())
}

/// A file name that stands for `serial` and only for it: letters, digits,
/// `-`, `_` and `.` stay, every other byte becomes `%XX`. A device chooses its
/// serial, so it must not be able to name a path (`../`, `/`, NUL).
fn file_name_for(serial: &str) -> String {
    const MAX: usize = 120;
    let mut name = String::new();
    for byte in serial.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_') || (byte == b'.' && !name.is_empty()) {
            name.push(char::from(byte));
        } else {
            name.push_str(&format!("%{byte:02X}"));
        }
    }
    if name.len() > MAX {
        // Long serials keep a readable head and a hash of the whole, so two
        // serials sharing a head stay apart.
        let digest = format!("{:016x}", xxhash_rust::xxh3::xxh3_64(serial.as_bytes()));
        name.truncate(MAX - 17);
        name.push('-');
        name.push_str(&digest);
    }
    if name.is_empty() {
        name.push_str("%none");
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;

    #[test]
    fn a_second_backup_of_the_same_device_is_refused_until_the_first_ends() {
        let dir = tempfile::tempdir().unwrap();
        let first = lock_device(dir.path(), "R58M1234567").unwrap().unwrap();
        assert!(lock_device(dir.path(), "R58M1234567").unwrap().is_none());
        let other = lock_device(dir.path(), "28101FDH2000XY").unwrap();
        assert!(other.is_some(), "another device is not held up");
        drop(first);
        assert!(lock_device(dir.path(), "R58M1234567").unwrap().is_some());
    }

    #[test]
    fn the_lock_is_held_across_processes() {
        let dir = tempfile::tempdir().unwrap();
        let held = lock_device(dir.path(), "SERIAL").unwrap().unwrap();
        // flock(1) from util-linux stands in for a second mtpull.
        let Ok(status) = std::process::Command::new("flock")
            .args(["--nonblock", "--conflict-exit-code", "75"])
            .arg(held.path())
            .arg("true")
            .status()
        else {
            return testing::cannot_run("flock(1) is not installed (Debian package util-linux)");
        };
        assert_eq!(status.code(), Some(75), "another process got the lock");
        drop(held);
        // A child that another test forks meanwhile holds a copy of the lock's
        // descriptor until it execs (then CLOEXEC closes it): allow that moment.
        let status = std::process::Command::new("flock")
            .args(["--wait", "10"])
            .arg(dir.path().join("device-SERIAL.lock"))
            .arg("true")
            .status()
            .unwrap();
        assert!(status.success());
    }

    #[test]
    fn serials_cannot_name_other_paths() {
        assert_eq!(file_name_for("R58M1234567"), "R58M1234567");
        assert_eq!(file_name_for("../../etc/passwd"), "%2E.%2F..%2Fetc%2Fpasswd");
        assert_eq!(file_name_for("a/b"), "a%2Fb");
        assert_eq!(file_name_for("a\0b"), "a%00b");
        assert_eq!(file_name_for(""), "%none");
        assert_eq!(file_name_for("Canon EOS"), "Canon%20EOS");
        assert_ne!(
            file_name_for("a b"),
            file_name_for("a%20b"),
            "escapes are not ambiguous"
        );
        let long_a = format!("{}A", "x".repeat(500));
        let long_b = format!("{}B", "x".repeat(500));
        assert!(file_name_for(&long_a).len() <= 120);
        assert_ne!(file_name_for(&long_a), file_name_for(&long_b));
        let dir = tempfile::tempdir().unwrap();
        let lock = lock_device(dir.path(), "../escape").unwrap().unwrap();
        assert_eq!(lock.path().parent(), Some(dir.path()));
    }

    #[test]
    fn a_lock_folder_owned_by_someone_else_is_refused() {
        // Only root can make a folder owned by another user; elsewhere the
        // ownership check is exercised by the folder we own passing.
        let dir = tempfile::tempdir().unwrap();
        let locks = dir.path().join("locks");
        assert!(lock_device(&locks, "S").unwrap().is_some());
        if !getuid().is_root() {
            return testing::cannot_run("only root can give a folder to another user");
        }
        let foreign = dir.path().join("foreign");
        fs::create_dir(&foreign).unwrap();
        std::os::unix::fs::chown(&foreign, Some(65534), Some(65534)).unwrap();
        let error = lock_device(&foreign, "S").unwrap_err();
        assert!(error.to_string().contains("belongs to user 65534"), "{error}");
    }
}
