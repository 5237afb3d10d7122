//! Paths inside the destination, reached from the destination's own descriptor one
//! component at a time and never through a symbolic link: a link planted inside DEST
//! (`DEST/2024 -> /elsewhere`) can neither take a write out of DEST nor stand in for a
//! backup copy when deciding what may be deleted from a phone.
//!
//! DEST itself is the user's choice and may be reached through links; everything below
//! it is not.

use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use rustix::fs::{AtFlags, CWD, FileType, Mode, OFlags};

use crate::fault_points::step;

/// Folders are made as `mkdir -p` would (the umask applies).
const FOLDER_MODE: u32 = 0o777;

/// An open destination folder.
#[derive(Debug)]
pub struct Root {
    fd: OwnedFd,
    path: PathBuf,
}

impl Root {
    /// Opens `path`, creating it and any missing parents first; each folder created
    /// is made durable in its parent (fsync), so a power cut cannot take away a new
    /// DEST that files were already moved into.
    pub fn create(path: &Path) -> io::Result<Root> {
        create_durably(path)?;
        Root::open(path)
    }

    /// Opens an existing destination folder.
    pub fn open(path: &Path) -> io::Result<Root> {
        let fd = rustix::fs::open(path, dir_flags(), Mode::empty())?;
        Ok(Root {
            fd,
            path: path.to_owned(),
        })
    }

    /// The destination's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The destination's descriptor.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Opens the folder `relative` (an empty path is DEST itself). With `create`,
    /// missing levels are made, and `created` is told each one (relative to DEST).
    pub fn dir(&self, relative: &Path, create: bool, created: &mut dyn FnMut(&Path)) -> io::Result<OwnedFd> {
        let mut fd = rustix::fs::openat(&self.fd, ".", dir_flags(), Mode::empty())?;
        let mut walked = PathBuf::new();
        for name in components(relative)? {
            walked.push(name);
            fd = match rustix::fs::openat(&fd, name, dir_flags(), Mode::empty()) {
                Ok(next) => next,
                Err(rustix::io::Errno::NOENT) if create => {
                    step("make a folder")?;
                    match rustix::fs::mkdirat(&fd, name, Mode::from_raw_mode(FOLDER_MODE)) {
                        Ok(()) => created(&walked),
                        Err(rustix::io::Errno::EXIST) => {}
                        Err(e) => return Err(e.into()),
                    }
                    rustix::fs::openat(&fd, name, dir_flags(), Mode::empty())?
                }
                Err(e) => return Err(not_a_folder(e, &walked)),
            };
        }
        Ok(fd)
    }

    /// Opens the regular file `relative` for reading, following no link on the way.
    pub fn open_file(&self, relative: &Path) -> io::Result<File> {
        let parent = relative.parent().unwrap_or(Path::new(""));
        let name = relative
            .file_name()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?;
        let dir = self.dir(parent, false, &mut |_| {})?;
        open_file_in(&dir, name)
    }
}

/// Opens the regular file `name` in `dir` for reading, refusing a link or anything
/// that is not a regular file.
pub(crate) fn open_file_in(dir: impl AsFd, name: impl AsRef<OsStr>) -> io::Result<File> {
    let fd = rustix::fs::openat(
        dir,
        name.as_ref(),
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK,
        Mode::empty(),
    )?;
    if FileType::from_raw_mode(rustix::fs::fstat(&fd)?.st_mode) != FileType::RegularFile {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a regular file"));
    }
    Ok(File::from(fd))
}

/// What a name in a folder is, without following a link: `None` when nothing is there.
pub(crate) fn kind_at(dir: impl AsFd, name: impl AsRef<OsStr>) -> io::Result<Option<FileType>> {
    match rustix::fs::statat(dir, name.as_ref(), AtFlags::SYMLINK_NOFOLLOW) {
        Ok(stat) => Ok(Some(FileType::from_raw_mode(stat.st_mode))),
        Err(rustix::io::Errno::NOENT) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Creates `path` and its missing parents, fsyncing the parent of each folder made.
pub(crate) fn create_durably(path: &Path) -> io::Result<()> {
    if rustix::fs::statat(CWD, path, AtFlags::empty()).is_ok() {
        return Ok(());
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_durably(parent)?;
    }
    step("make DEST or a parent")?;
    match rustix::fs::mkdir(path, Mode::from_raw_mode(FOLDER_MODE)) {
        Ok(()) | Err(rustix::io::Errno::EXIST) => {}
        Err(e) => return Err(e.into()),
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    sync_dir_at(CWD, parent)
}

/// Fsyncs a folder (making the entries made or removed in it durable).
pub(crate) fn sync_dir_at(dir: impl AsFd, relative: &Path) -> io::Result<()> {
    rustix::fs::fsync(open_to_sync(dir, relative)?)?;
    Ok(())
}

/// Opens a folder that is about to be fsynced (maybe on another thread).
pub(crate) fn open_to_sync(dir: impl AsFd, relative: &Path) -> io::Result<OwnedFd> {
    let fd = rustix::fs::openat(dir, relative, dir_flags(), Mode::empty())?;
    step("sync a folder")?;
    Ok(fd)
}

fn dir_flags() -> OFlags {
    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC
}

/// The names of a relative path of plain components (no `..`, no root).
fn components(relative: &Path) -> io::Result<Vec<&OsStr>> {
    relative
        .components()
        .filter(|c| !matches!(c, Component::CurDir))
        .map(|c| match c {
            Component::Normal(name) => Ok(name),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} leaves the destination", relative.display()),
            )),
        })
        .collect()
}

/// A link (or file) where a folder should be says so.
fn not_a_folder(errno: rustix::io::Errno, walked: &Path) -> io::Error {
    match errno {
        rustix::io::Errno::LOOP | rustix::io::Errno::NOTDIR => io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} is a link or a file, not a folder: mtpull follows no link inside the destination",
                walked.display()
            ),
        ),
        other => other.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::symlink;

    #[test]
    fn links_inside_dest_are_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        let dest = dir.path().join("dest");
        fs::create_dir_all(outside.join("05")).unwrap();
        fs::write(outside.join("05/a.jpg"), b"x").unwrap();
        let root = Root::create(&dest).unwrap();
        symlink(&outside, dest.join("2024")).unwrap();
        let error = root.dir(Path::new("2024/05"), true, &mut |_| {}).unwrap_err();
        assert!(error.to_string().contains("follows no link"), "{error}");
        assert!(root.open_file(Path::new("2024/05/a.jpg")).is_err());
        symlink(outside.join("05/a.jpg"), dest.join("b.jpg")).unwrap();
        assert!(root.open_file(Path::new("b.jpg")).is_err());
        assert_eq!(kind_at(root.fd(), "b.jpg").unwrap(), Some(FileType::Symlink));
        assert!(root.dir(Path::new("../outside"), false, &mut |_| {}).is_err());
    }

    #[test]
    fn folders_are_made_and_reported() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("a/b/dest");
        let root = Root::create(&dest).unwrap();
        let mut made = Vec::new();
        root.dir(Path::new("2024/05/26"), true, &mut |p| made.push(p.to_owned()))
            .unwrap();
        assert_eq!(made, ["2024", "2024/05", "2024/05/26"].map(PathBuf::from));
        fs::write(dest.join("2024/05/26/x"), b"1").unwrap();
        let mut read = String::new();
        io::Read::read_to_string(&mut root.open_file(Path::new("2024/05/26/x")).unwrap(), &mut read).unwrap();
        assert_eq!(read, "1");
    }
}
