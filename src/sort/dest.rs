//! Whether a destination folder can take files at all, asked once before a
//! run (a dry run too, so that it predicts the failure), and which errors
//! mean it cannot take any more.

use std::io;
use std::path::Path;

use rustix::fs::Access;
use rustix::io::Errno;

use super::SortError;

/// Checks that `dest` is a folder this user can write into, or a new folder
/// whose parent is one; creates nothing. A missing parent is an error, as
/// in rsync — a typo should not grow a tree of folders — unless
/// `missing_parents` allows them (a configured destination): then the
/// nearest folder that exists must be writable.
pub(crate) fn check_destination(dest: &Path, missing_parents: bool) -> Result<(), SortError> {
    let unusable = |reason: String| SortError::Destination {
        path: dest.to_owned(),
        reason,
    };
    let mut folder = dest;
    loop {
        match std::fs::metadata(folder) {
            Ok(meta) if meta.is_dir() => break,
            Ok(_) if folder == dest => {
                return Err(unusable("it is a file, not a folder; choose a folder".into()));
            }
            Ok(_) => return Err(unusable(format!("{} is a file, not a folder", folder.display()))),
            // Missing, or under a file (which the next round names).
            Err(e) if matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::NotADirectory) => {
                let parent = match folder.parent() {
                    Some(parent) if !parent.as_os_str().is_empty() => parent,
                    _ => Path::new("."),
                };
                if folder != dest && !missing_parents {
                    return Err(unusable(format!(
                        "its parent folder {} does not exist; create it first (or check the path)",
                        folder.display()
                    )));
                }
                folder = parent;
            }
            Err(e) => return Err(unusable(e.to_string())),
        }
    }
    writable(folder).map_err(|e| {
        let hint = match Errno::from_io_error(&e) {
            Some(Errno::ROFS) => "it is on a read-only filesystem",
            _ => "this user may not write there; choose another folder or fix its permissions",
        };
        unusable(format!("cannot write into {}: {e} ({hint})", folder.display()))
    })
}

/// Whether an error while filing into `dest` means no other file can be
/// filed either: no permission, a read-only filesystem, a full disk or quota.
pub(crate) fn stops_the_run(error: &SortError, dest: &Path) -> bool {
    match error {
        SortError::Io { path, source, .. } => {
            error.is_disk_full()
                || path.starts_with(dest)
                    && matches!(
                        Errno::from_io_error(source),
                        Some(Errno::ACCESS | Errno::PERM | Errno::ROFS)
                    )
        }
        _ => false,
    }
}

impl SortError {
    /// Whether a write found no room (disk or quota). Only writes fail so, and a sort
    /// writes only into the destination, whichever path the error names (a copy is
    /// named by its source).
    pub fn is_disk_full(&self) -> bool {
        match self {
            SortError::Io { source, .. } => {
                matches!(Errno::from_io_error(source), Some(Errno::NOSPC | Errno::DQUOT))
            }
            _ => false,
        }
    }
}

/// access(2) for writing and entering: the kernel's answer, with ACLs and
/// read-only mounts, for this process's user.
fn writable(folder: &Path) -> io::Result<()> {
    rustix::fs::access(folder, Access::WRITE_OK | Access::EXEC_OK).map_err(io::Error::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_or_a_missing_parent_is_no_destination() {
        let root = tempfile::tempdir().unwrap();
        let file = root.path().join("file");
        std::fs::write(&file, b"x").unwrap();
        assert!(check_destination(root.path(), false).is_ok());
        assert!(check_destination(&root.path().join("new"), false).is_ok());
        let error = check_destination(&file, false).unwrap_err().to_string();
        assert!(error.contains("is a file"), "{error}");
        let error = check_destination(&root.path().join("a/b"), false)
            .unwrap_err()
            .to_string();
        assert!(error.contains("a does not exist"), "{error}");
        assert!(check_destination(&root.path().join("a/b"), true).is_ok());
        let error = check_destination(&file.join("a/b"), true)
            .unwrap_err()
            .to_string();
        assert!(error.contains("is a file"), "{error}");
        assert!(!root.path().join("a").exists());
    }

    #[test]
    fn only_destination_errors_that_hit_every_file_stop_the_run() {
        let dest = Path::new("/backup");
        let error = |path: &str, code| SortError::Io {
            action: "create folder",
            path: path.into(),
            source: io::Error::from(code),
        };
        assert!(stops_the_run(&error("/backup/2024", Errno::ACCESS), dest));
        assert!(stops_the_run(&error("/backup/2024/x.jpg", Errno::NOSPC), dest));
        // A copy that found no room is named by its source.
        assert!(stops_the_run(&error("/photos/x.jpg", Errno::NOSPC), dest));
        // An obstacle in one folder, or an unreadable source, fails one file.
        assert!(!stops_the_run(&error("/backup/2024", Errno::NOTDIR), dest));
        assert!(!stops_the_run(&error("/photos/x.jpg", Errno::ACCESS), dest));
    }
}
