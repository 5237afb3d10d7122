//! Putting a finished file at its planned place: atomically, and never over another file.
//!
//! The planned name is tried first, then `-1`, `-2`… before the extension. A name that
//! holds the same bytes makes the file a duplicate (nothing is written); a name that holds
//! other bytes is passed over. Files appear under their final name by a rename that
//! refuses to replace (`renameat2(RENAME_NOREPLACE)`, else link + unlink), after the data
//! was fsynced; a copy is first written to a temp file in the target folder.

use std::collections::{BTreeSet, HashMap};
use std::fs::{self, File, FileTimes};
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

use super::SortError;
use super::plan::split_extension;

/// The highest `-N` tried before giving up on a name.
pub const MAX_CLASH_SUFFIX: u32 = 9999;

/// Whether the source stays where it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Copy,
    /// Rename into place (copy, then delete, across filesystems). Duplicates are left
    /// where they are.
    Move,
}

/// What filing did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Placed under the planned name.
    Filed,
    /// Placed under the planned name with `-N` (the planned name held other content).
    Renamed(u32),
    /// The destination already holds this content; nothing was written.
    Duplicate,
}

impl Outcome {
    /// A placement under the name with suffix `-n` (0: no suffix).
    fn for_suffix(n: u32) -> Outcome {
        if n == 0 {
            Outcome::Filed
        } else {
            Outcome::Renamed(n)
        }
    }
}

/// Where a file ended up (for a duplicate: the existing copy) and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filed {
    pub path: PathBuf,
    pub outcome: Outcome,
}

/// Files into one destination folder tree.
///
/// File data is fsynced before each rename; the folders whose entries changed are
/// fsynced by [`Filer::sync`], so a batch pays for each folder once. Until then a crash
/// can undo a rename, which leaves the source in place (or, for a copy, a temp file)
/// and loses nothing.
#[derive(Debug)]
pub struct Filer {
    root: PathBuf,
    mode: Mode,
    fsync_sources: bool,
    unsynced: BTreeSet<PathBuf>,
    temp_serial: u64,
    /// Folders already cleared of a killed run's temp files.
    swept: BTreeSet<PathBuf>,
}

/// Files one file and makes the result durable: [`Filer::file`] then [`Filer::sync`].
pub fn file_into(dest_root: &Path, planned: &Path, src: &Path, mode: Mode) -> Result<Filed, SortError> {
    let mut filer = Filer::new(dest_root, mode);
    let filed = filer.file(planned, src)?;
    filer.sync()?;
    Ok(filed)
}

impl Filer {
    pub fn new(dest_root: impl Into<PathBuf>, mode: Mode) -> Filer {
        Filer {
            root: dest_root.into(),
            mode,
            fsync_sources: true,
            unsynced: BTreeSet::new(),
            temp_serial: 0,
            swept: BTreeSet::new(),
        }
    }

    /// For moving files that were on disk before this run, such as a user's folder: a
    /// rename leaves their data exactly as durable as it was, so the fsync before each
    /// move (a device flush each, milliseconds) is skipped. A file the caller has just
    /// written, like the pull's temp file, needs that fsync: do not use this for it.
    pub fn settled_sources(mut self) -> Filer {
        self.fsync_sources = false;
        self
    }

    /// Files `src` (a complete local file) at `planned`, a relative path inside the
    /// destination such as [`super::plan()`] gives, or at a numbered variant of it.
    pub fn file(&mut self, planned: &Path, src: &Path) -> Result<Filed, SortError> {
        let (dir, name) = target_of(&self.root, planned)?;
        self.create_dir(&dir)?;
        if !self.swept.contains(&dir) {
            remove_stale_temps(&dir)?;
            self.swept.insert(dir.clone());
        }
        loop {
            match find_slot(&dir, name, src, on_disk)? {
                Slot::Same(path) => {
                    return Ok(Filed {
                        path,
                        outcome: Outcome::Duplicate,
                    });
                }
                Slot::Free(path, n) => {
                    if self.place(src, &path)? {
                        let outcome = Outcome::for_suffix(n);
                        return Ok(Filed { path, outcome });
                    }
                    // Someone else took the name between the look and the rename: look again.
                }
            }
        }
    }

    /// Fsyncs every folder whose entries changed, making the renames durable.
    pub fn sync(&mut self) -> Result<(), SortError> {
        while let Some(dir) = self.unsynced.pop_first() {
            File::open(&dir)
                .and_then(|d| d.sync_all())
                .map_err(SortError::io("sync folder", dir))?;
        }
        Ok(())
    }

    /// Like `create_dir_all`, remembering whose entries changed.
    fn create_dir(&mut self, dir: &Path) -> Result<(), SortError> {
        if dir.as_os_str().is_empty() || dir.is_dir() {
            return Ok(());
        }
        let parent = dir.parent().unwrap_or(Path::new(""));
        self.create_dir(parent)?;
        match fs::create_dir(dir) {
            Err(e) if !(e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir()) => {
                return Err(SortError::io("create folder", dir)(e));
            }
            _ => self.touched(dir),
        }
        Ok(())
    }

    /// Notes that `path`'s folder has a new or removed entry.
    fn touched(&mut self, path: &Path) {
        let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
        self.unsynced.insert(parent.unwrap_or(Path::new(".")).to_owned());
    }

    /// Puts `src` at `target` unless something is there; `false` if something was.
    fn place(&mut self, src: &Path, target: &Path) -> Result<bool, SortError> {
        match self.mode {
            Mode::Copy => self.copy_into_place(src, target),
            Mode::Move => self.move_into_place(src, target),
        }
    }

    fn move_into_place(&mut self, src: &Path, target: &Path) -> Result<bool, SortError> {
        if self.fsync_sources {
            File::open(src)
                .and_then(|f| f.sync_all())
                .map_err(SortError::io("sync", src))?;
        }
        match rename_noreplace(src, target) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(false),
            Err(e) if e.raw_os_error() == Some(libc::EXDEV) => {
                if !self.copy_into_place(src, target)? {
                    return Ok(false);
                }
                fs::remove_file(src).map_err(SortError::io("remove the moved", src))?;
            }
            Err(e) => return Err(SortError::io("move", src)(e)),
        }
        self.touched(src);
        self.touched(target);
        Ok(true)
    }

    fn copy_into_place(&mut self, src: &Path, target: &Path) -> Result<bool, SortError> {
        let (temp_path, temp) = self.create_temp(target)?;
        let placed = self.finish_copy(src, temp, &temp_path, target);
        if !matches!(placed, Ok(true)) {
            // Best effort: a leftover temp name is hidden and never taken for a photo.
            let _ = fs::remove_file(&temp_path);
        }
        placed
    }

    fn finish_copy(
        &mut self,
        src: &Path,
        temp: File,
        temp_path: &Path,
        target: &Path,
    ) -> Result<bool, SortError> {
        copy_durably(src, temp).map_err(SortError::io("copy", src))?;
        match rename_noreplace(temp_path, target) {
            Ok(()) => {
                self.touched(target);
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(SortError::io("rename into place", target)(e)),
        }
    }

    /// A new, hidden, uniquely named file beside `target`.
    fn create_temp(&mut self, target: &Path) -> Result<(PathBuf, File), SortError> {
        loop {
            self.temp_serial += 1;
            let name = temp_name(std::process::id(), self.temp_serial);
            let path = target.with_file_name(name);
            match File::create_new(&path) {
                Ok(file) => return Ok((path, file)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    return Err(SortError::io(
                        "create a temp file in",
                        target.parent().unwrap_or(target),
                    )(e));
                }
            }
        }
    }
}

/// The name of a copy in progress: hidden, and naming the process that writes it.
fn temp_name(pid: u32, serial: u64) -> String {
    format!(".mtpull-{pid}-{serial}.tmp")
}

/// The writer of a temp file named by [`temp_name`].
fn temp_writer(name: &str) -> Option<u32> {
    let (pid, serial) = name
        .strip_prefix(".mtpull-")?
        .strip_suffix(".tmp")?
        .split_once('-')?;
    serial.parse::<u64>().ok()?;
    pid.parse().ok()
}

/// Removes from `dir` the temp files of copies whose process is gone (a
/// killed run): they are never a photo, only a partial or unplaced copy.
fn remove_stale_temps(dir: &Path) -> Result<(), SortError> {
    for entry in fs::read_dir(dir).map_err(SortError::io("list", dir))? {
        let entry = entry.map_err(SortError::io("list", dir))?;
        let Some(pid) = entry.file_name().to_str().and_then(temp_writer) else {
            continue;
        };
        if !process_alive(pid) {
            let path = entry.path();
            match fs::remove_file(&path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => {
                    return Err(SortError::io("remove the stale temp file", path)(e));
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// Whether a process with this id exists (signal 0 checks without sending).
fn process_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: kill with signal 0 only checks that the process exists.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Splits a planned relative path into its folder under `root` and its file name,
/// refusing anything that is absolute, climbs (`..`) or has no file name.
fn target_of<'p>(root: &Path, planned: &'p Path) -> Result<(PathBuf, &'p str), SortError> {
    let unsafe_path = || SortError::UnsafePath(planned.to_owned());
    if !planned.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(unsafe_path());
    }
    let name = planned
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(unsafe_path)?;
    let dir = root.join(planned.parent().unwrap_or(Path::new("")));
    Ok((dir, name))
}

/// The source's bytes into `temp`, with the source's mtime, on disk before returning.
fn copy_durably(src: &Path, mut temp: File) -> io::Result<()> {
    let mut source = File::open(src)?;
    io::copy(&mut source, &mut temp)?;
    temp.set_times(FileTimes::new().set_modified(source.metadata()?.modified()?))?;
    temp.sync_all()
}

/// What sits at a candidate name.
enum Occupant {
    Vacant,
    /// A regular file, and where its content can be read (for a dry run, the source
    /// that would have been filed there).
    File(PathBuf),
    /// A folder, link or device: never replaced, never a duplicate.
    Other,
}

enum Slot {
    /// Free, with the `-N` suffix it took (0 for none).
    Free(PathBuf, u32),
    /// Taken by identical content.
    Same(PathBuf),
}

/// The first of `name`, `name-1`, `name-2`… in `dir` that is vacant or holds the same
/// bytes as `src`.
fn find_slot(
    dir: &Path,
    name: &str,
    src: &Path,
    mut occupant: impl FnMut(&Path) -> Result<Occupant, SortError>,
) -> Result<Slot, SortError> {
    for n in 0..=MAX_CLASH_SUFFIX {
        let path = dir.join(numbered(name, n));
        match occupant(&path)? {
            Occupant::Vacant => return Ok(Slot::Free(path, n)),
            Occupant::File(content) if same_content(src, &content)? => return Ok(Slot::Same(path)),
            Occupant::File(_) | Occupant::Other => {}
        }
    }
    Err(SortError::TooManyClashes { path: dir.join(name) })
}

fn on_disk(path: &Path) -> Result<Occupant, SortError> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_file() => Ok(Occupant::File(path.to_owned())),
        Ok(_) => Ok(Occupant::Other),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Occupant::Vacant),
        Err(e) => Err(SortError::io("look at", path)(e)),
    }
}

/// `IMG_1.jpg` numbered 2 is `IMG_1-2.jpg`; 0 is the name itself.
pub fn numbered(name: &str, n: u32) -> String {
    if n == 0 {
        return name.to_owned();
    }
    let (stem, extension) = split_extension(name);
    format!("{stem}-{n}{extension}")
}

/// Same size, then the same bytes. Compared directly rather than hashed: it stops at
/// the first difference and cannot collide.
pub fn same_content(a: &Path, b: &Path) -> Result<bool, SortError> {
    let open = |path: &Path| -> Result<(File, u64), SortError> {
        let file = File::open(path).map_err(SortError::io("open", path))?;
        let len = file.metadata().map_err(SortError::io("read", path))?.len();
        Ok((file, len))
    };
    let ((mut file_a, len_a), (mut file_b, len_b)) = (open(a)?, open(b)?);
    if len_a != len_b {
        return Ok(false);
    }
    let mut buf_a = vec![0; 64 * 1024];
    let mut buf_b = vec![0; 64 * 1024];
    loop {
        let n = fill(&mut file_a, &mut buf_a).map_err(SortError::io("read", a))?;
        let m = fill(&mut file_b, &mut buf_b).map_err(SortError::io("read", b))?;
        if buf_a[..n] != buf_b[..m] {
            return Ok(false);
        }
        if n == 0 {
            return Ok(true);
        }
    }
}

/// Reads until `buf` is full or the file ends.
fn fill(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Renames unless `to` exists (then fails with `AlreadyExists`).
#[cfg(target_os = "linux")]
fn rename_noreplace(from: &Path, to: &Path) -> io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;

    let from_c = CString::new(from.as_os_str().as_bytes())?;
    let to_c = CString::new(to.as_os_str().as_bytes())?;
    // SAFETY: both pointers are NUL-terminated strings that outlive the call.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            from_c.as_ptr(),
            libc::AT_FDCWD,
            to_c.as_ptr(),
            libc::RENAME_NOREPLACE,
        )
    };
    if rc == 0 {
        return Ok(());
    }
    let error = io::Error::last_os_error();
    match error.raw_os_error() {
        // The filesystem (or an old kernel) does not know the flag.
        Some(libc::EINVAL | libc::ENOSYS | libc::EOPNOTSUPP) => link_then_unlink(from, to),
        _ => Err(error),
    }
}

#[cfg(not(target_os = "linux"))]
fn rename_noreplace(from: &Path, to: &Path) -> io::Result<()> {
    link_then_unlink(from, to)
}

/// A no-replace rename from parts: creating a link fails if the name exists.
fn link_then_unlink(from: &Path, to: &Path) -> io::Result<()> {
    match fs::hard_link(from, to) {
        Ok(()) => fs::remove_file(from),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(e),
        Err(e) => Err(io::Error::new(
            e.kind(),
            format!(
                "this filesystem can neither rename without replacing nor hard-link ({e}), so filing here could overwrite files"
            ),
        )),
    }
}

/// What filing would do, writing nothing: each file it would place claims its name, so
/// later files in the same run see the clash exactly as a real run would.
#[derive(Debug)]
pub(crate) struct DryRun {
    root: PathBuf,
    claims: HashMap<PathBuf, PathBuf>,
}

impl DryRun {
    pub(crate) fn new(dest_root: impl Into<PathBuf>) -> DryRun {
        DryRun {
            root: dest_root.into(),
            claims: HashMap::new(),
        }
    }

    pub(crate) fn file(&mut self, planned: &Path, src: &Path) -> Result<Filed, SortError> {
        let (dir, name) = target_of(&self.root, planned)?;
        let slot = find_slot(&dir, name, src, |path| match self.claims.get(path) {
            Some(claimed_by) => Ok(Occupant::File(claimed_by.clone())),
            None => on_disk(path),
        })?;
        Ok(match slot {
            Slot::Same(path) => Filed {
                path,
                outcome: Outcome::Duplicate,
            },
            Slot::Free(path, n) => {
                self.claims.insert(path.clone(), src.to_owned());
                let outcome = Outcome::for_suffix(n);
                Filed { path, outcome }
            }
        })
    }
}

#[cfg(test)]
mod tests;
