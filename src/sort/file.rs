//! Putting a finished file at its planned place: atomically, and never over another file.
//!
//! The planned name is tried first, then `-1`, `-2`… before the extension. A name that
//! holds the same bytes makes the file a duplicate (nothing is written); a name that holds
//! other bytes is passed over. Files appear under their final name by a rename that
//! refuses to replace (`renameat2(RENAME_NOREPLACE)`; else link + unlink; else, on
//! filesystems with neither, a check then a rename under the destination's lock), after
//! the data was fsynced; a copy is first written to a temp file in `DEST/.mtpull/tmp/`.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::ffi::OsStr;
use std::fs::{self, File, FileTimes};
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use rustix::fs::{AtFlags, CWD, FileType, Mode as FileMode, OFlags, RenameFlags};
use rustix::io::Errno;

use super::SortError;
use super::beneath::{self, Root, kind_at, open_file_in};
use super::plan::{Names, SEQ_MARK, safe_name_for, split_extension};
use super::state::{DestLock, Intent, IntentLog, STATE_DIR, TEMP_DIR, is_state_dir};
use crate::fault_points::step;

/// The highest `-N` tried before giving up on a name.
pub(crate) const MAX_CLASH_SUFFIX: u32 = 9999;

/// Copies on their way into place are named `copy-N.tmp` in the state's temp folder.
const COPY_PREFIX: &str = "copy-";
const COPY_SUFFIX: &str = ".tmp";

/// Whether the source stays where it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Copy the file; the source stays.
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
    /// A placement of `planned` numbered `n`: a `{seq}` number is no rename.
    fn for_slot(planned: &str, n: u32) -> Outcome {
        match planned.contains(SEQ_MARK) {
            true => Outcome::Filed,
            false => Outcome::for_suffix(n),
        }
    }

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
    /// Where the file is now (relative to DEST).
    pub path: PathBuf,
    /// Whether it was filed, renamed or found as a duplicate.
    pub outcome: Outcome,
}

/// How a name is taken without replacing what is there, learned on the first file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NoReplace {
    /// `renameat2(RENAME_NOREPLACE)`: atomic.
    Kernel,
    /// A hard link (which fails on an existing name), then unlinking the source.
    Link,
    /// FAT through FUSE, exFAT, rclone-style mounts: neither of the above. mtpull holds
    /// the destination's lock, so nothing else takes the name between the check and
    /// the rename; an intent record lets the next run tidy a rename cut in half.
    CheckThenRename,
}

/// Files into one destination folder tree. The caller holds the destination's
/// [`DestLock`]: the filer is the only writer there.
///
/// Every folder below the destination is reached from the destination's descriptor,
/// never through a link. File data is fsynced before each rename; the folders whose
/// entries changed are fsynced by [`Filer::sync`], so a batch pays for each folder once.
/// Until then a crash can undo a rename, which leaves the source in place (or, for a
/// copy, a temp file the next run removes) and loses nothing.
#[derive(Debug)]
pub struct Filer {
    root_path: PathBuf,
    mode: Mode,
    fsync_sources: bool,
    opened: Option<Opened>,
    /// Folders inside the destination whose entries changed (relative).
    unsynced: BTreeSet<PathBuf>,
    /// Sources' folders outside the destination that lost an entry.
    unsynced_sources: BTreeSet<PathBuf>,
    temp_serial: u64,
}

/// The destination as the filer holds it once the first file comes.
#[derive(Debug)]
struct Opened {
    root: Root,
    temps: OwnedFd,
    temps_path: PathBuf,
    names: Names,
    no_replace: NoReplace,
    intents: IntentLog,
}

/// Files one file and makes the result durable, holding the destination's lock.
pub fn file_into(dest_root: &Path, planned: &Path, src: &Path, mode: Mode) -> Result<Filed, SortError> {
    target_of(planned)?;
    let _lock = DestLock::acquire(dest_root)?;
    let mut filer = Filer::new(dest_root, mode);
    let filed = filer.file(planned, src)?;
    filer.sync()?;
    Ok(filed)
}

impl Filer {
    /// A filer into `dest_root` that copies or moves as `mode` says.
    pub fn new(dest_root: impl Into<PathBuf>, mode: Mode) -> Filer {
        Filer {
            root_path: dest_root.into(),
            mode,
            fsync_sources: true,
            opened: None,
            unsynced: BTreeSet::new(),
            unsynced_sources: BTreeSet::new(),
            temp_serial: 0,
        }
    }

    /// For moving files that were on disk before this run, such as a user's folder: a
    /// rename leaves their data exactly as durable as it was, so the fsync before each
    /// move (a device flush each, milliseconds) is skipped. A file the caller has just
    /// written needs that fsync: use this for it only once the caller has fsynced it
    /// itself (the pull's temp files are, on a thread of their own, before filing).
    pub fn settled_sources(mut self) -> Filer {
        self.fsync_sources = false;
        self
    }

    /// Opens the destination (creating it durably), finishes what a cut run left —
    /// an unfinished step, stale copies — and learns what the filesystem can do.
    /// Returns what recovery removed (a moved source, or a half-made file).
    pub fn open(&mut self) -> Result<Option<PathBuf>, SortError> {
        if self.opened.is_some() {
            return Ok(None);
        }
        let dest = self.root_path.clone();
        let root = Root::create(&dest).map_err(SortError::io("create folder", &dest))?;
        let temps_rel = Path::new(STATE_DIR).join(TEMP_DIR);
        let temps_path = dest.join(&temps_rel);
        let temps =
            open_state_folder(&root, &temps_rel).map_err(SortError::io("create folder", &temps_path))?;
        let intents = IntentLog::new(&dest);
        let recovered = intents
            .recover(&root)
            .map_err(SortError::io("finish the step a cut run left in", &dest))?;
        sweep_copies(&temps).map_err(SortError::io("remove stale copies in", &temps_path))?;
        let names = names_of(&root, &temps);
        self.opened = Some(Opened {
            root,
            temps,
            temps_path,
            names,
            no_replace: NoReplace::Kernel,
            intents,
        });
        Ok(recovered)
    }

    /// Which names the destination takes (opening it first).
    pub fn names(&mut self) -> Result<Names, SortError> {
        self.open()?;
        Ok(self.opened().names)
    }

    fn opened(&self) -> &Opened {
        self.opened.as_ref().expect("opened before use")
    }

    /// Files `src` (a complete local file) at `planned`, a relative path inside the
    /// destination such as [`super::plan()`] gives, or at a numbered variant of it.
    pub fn file(&mut self, planned: &Path, src: &Path) -> Result<Filed, SortError> {
        let (dir_rel, name) = target_of(planned)?;
        self.open()?;
        let name = safe_name_for(name, self.opened().names);
        let dir_path = self.root_path.join(dir_rel);
        let dir = {
            let (opened, unsynced) = (self.opened.as_ref().expect("opened"), &mut self.unsynced);
            opened
                .root
                .dir(dir_rel, true, &mut |made| {
                    unsynced.insert(made.parent().unwrap_or(Path::new("")).to_owned());
                })
                .map_err(SortError::io("create folder", &dir_path))?
        };
        let stems = seq_stems(&name, &dir_path, []);
        loop {
            let slot = find_slot(&dir_path, &name, src, stems.as_ref(), |candidate| {
                occupant_in(&dir, candidate, &dir_path)
            })?;
            match slot {
                Slot::Same(found) => {
                    return Ok(Filed {
                        path: dir_path.join(found),
                        outcome: Outcome::Duplicate,
                    });
                }
                Slot::Free(free, n) => {
                    let target = Target {
                        dir: &dir,
                        rel: &dir_rel.join(&free),
                        name: &free,
                    };
                    if self.place(src, &target)? {
                        let outcome = Outcome::for_slot(&name, n);
                        return Ok(Filed {
                            path: dir_path.join(free),
                            outcome,
                        });
                    }
                    // Someone else took the name between the look and the rename: look again.
                }
            }
        }
    }

    /// Fsyncs every folder whose entries changed, making the renames durable.
    pub fn sync(&mut self) -> Result<(), SortError> {
        while let Some(dir) = self.unsynced.pop_first() {
            let root = &self.opened().root;
            beneath::sync_dir_at(root.fd(), &dot_if_empty(&dir))
                .map_err(SortError::io("sync folder", root.path().join(&dir)))?;
        }
        while let Some(dir) = self.unsynced_sources.pop_first() {
            beneath::sync_dir_at(CWD, &dir).map_err(SortError::io("sync folder", &dir))?;
        }
        Ok(())
    }

    /// Puts `src` at `target` unless something is there; `false` if something was.
    fn place(&mut self, src: &Path, target: &Target) -> Result<bool, SortError> {
        match self.mode {
            Mode::Copy => self.copy_into_place(src, target, None),
            Mode::Move => self.move_into_place(src, target),
        }
    }

    fn move_into_place(&mut self, src: &Path, target: &Target) -> Result<bool, SortError> {
        if self.fsync_sources {
            File::open(src)
                .and_then(|f| step("sync a source").and_then(|()| f.sync_all()))
                .map_err(SortError::io("sync", src))?;
        }
        match self.rename_noreplace(CWD, src.as_os_str(), Recorded::Here(src), target) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(false),
            Err(e) if e.raw_os_error() == Some(Errno::XDEV.raw_os_error()) => {
                return self.move_across_filesystems(src, target);
            }
            Err(e) => return Err(SortError::io("move", src)(e)),
        }
        self.source_left(src);
        self.touched(target);
        Ok(true)
    }

    /// A copy, made durable, then the source removed; an intent record lets the next
    /// run remove a source that a cut left behind beside its complete copy.
    fn move_across_filesystems(&mut self, src: &Path, target: &Target) -> Result<bool, SortError> {
        let intent = Intent {
            from: src.to_owned(),
            to: target.rel.to_owned(),
        };
        let intents = &self.opened().intents;
        intents
            .begin(&intent)
            .map_err(SortError::io("record the move of", src))?;
        if !self.copy_into_place(src, target, Some(src))? {
            let _ = self.opened().intents.end();
            return Ok(false);
        }
        // The copy's name must be durable before the source goes.
        step("sync a folder")
            .and_then(|()| Ok(rustix::fs::fsync(target.dir)?))
            .map_err(SortError::io("sync folder", self.root_path.join(target.rel)))?;
        step("remove a moved source")
            .and_then(|()| fs::remove_file(src))
            .map_err(SortError::io("remove the moved", src))?;
        self.source_left(src);
        self.opened()
            .intents
            .end()
            .map_err(SortError::io("record the move of", src))?;
        Ok(true)
    }

    /// Copies `src` into a temp file, then renames that into place. `moving`: the
    /// source of a move whose intent is already recorded (the rename records none).
    fn copy_into_place(
        &mut self,
        src: &Path,
        target: &Target,
        moving: Option<&Path>,
    ) -> Result<bool, SortError> {
        let (temp_name, temp) = self.create_temp()?;
        let temp_path = self.opened().temps_path.join(&temp_name);
        let placed = copy_durably(src, temp)
            .map_err(SortError::io("copy", src))
            .and_then(|()| {
                let temps = self
                    .opened()
                    .temps
                    .try_clone()
                    .map_err(SortError::io("copy", src))?;
                let recorded = match moving {
                    Some(_) => Recorded::ByCaller,
                    None => Recorded::Here(&temp_path),
                };
                match self.rename_noreplace(&temps, temp_name.as_ref(), recorded, target) {
                    Ok(()) => Ok(true),
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
                    Err(e) => Err(SortError::io(
                        "rename into place",
                        self.root_path.join(target.rel),
                    )(e)),
                }
            });
        match placed {
            Ok(true) => self.touched(target),
            // Best effort: a leftover copy is in the state folder, removed by the next run.
            _ => {
                let _ = rustix::fs::unlinkat(&self.opened().temps, &temp_name, AtFlags::empty());
            }
        }
        placed
    }

    /// Renames `from` (in `from_dir`) to the target unless the name is taken
    /// (`AlreadyExists`), by the best means the filesystem has.
    fn rename_noreplace(
        &mut self,
        from_dir: impl AsFd,
        from: &OsStr,
        recorded: Recorded,
        target: &Target,
    ) -> io::Result<()> {
        let from_dir = from_dir.as_fd();
        let intent = match recorded {
            Recorded::Here(from_path) => Some(Intent {
                from: from_path.to_owned(),
                to: target.rel.to_owned(),
            }),
            Recorded::ByCaller => None,
        };
        let begin = |intents: &IntentLog| intent.as_ref().map_or(Ok(()), |i| intents.begin(i));
        let end = |intents: &IntentLog| if intent.is_some() { intents.end() } else { Ok(()) };
        loop {
            let opened = self.opened.as_mut().expect("opened");
            match opened.no_replace {
                NoReplace::Kernel => {
                    step("rename into place")?;
                    match rustix::fs::renameat_with(
                        from_dir,
                        from,
                        target.dir,
                        target.name,
                        RenameFlags::NOREPLACE,
                    ) {
                        Ok(()) => return sync_renamed(opened.names, target),
                        // The filesystem (or an old kernel) does not know the flag.
                        Err(Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP) => {
                            opened.no_replace = NoReplace::Link
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
                NoReplace::Link => {
                    // Two names for a moment: a cut then leaves the source to be removed.
                    begin(&opened.intents)?;
                    step("link into place")?;
                    match rustix::fs::linkat(from_dir, from, target.dir, target.name, AtFlags::empty()) {
                        Ok(()) => {
                            step("sync a folder")?;
                            rustix::fs::fsync(target.dir)?;
                            step("unlink the linked source")?;
                            rustix::fs::unlinkat(from_dir, from, AtFlags::empty())?;
                            return end(&opened.intents);
                        }
                        Err(Errno::PERM | Errno::OPNOTSUPP | Errno::NOSYS | Errno::MLINK) => {
                            opened.no_replace = NoReplace::CheckThenRename
                        }
                        Err(e) => {
                            end(&opened.intents)?;
                            return Err(e.into());
                        }
                    }
                }
                NoReplace::CheckThenRename => {
                    if kind_at(target.dir, target.name)?.is_some() {
                        return Err(io::ErrorKind::AlreadyExists.into());
                    }
                    begin(&opened.intents)?;
                    step("rename into place")?;
                    rustix::fs::renameat(from_dir, from, target.dir, target.name)?;
                    sync_renamed(opened.names, target)?;
                    step("sync a folder")?;
                    rustix::fs::fsync(target.dir)?;
                    return end(&opened.intents);
                }
            }
        }
    }

    /// A new copy file in the state's temp folder.
    fn create_temp(&mut self) -> Result<(String, File), SortError> {
        loop {
            self.temp_serial += 1;
            let name = format!("{COPY_PREFIX}{}{COPY_SUFFIX}", self.temp_serial);
            let opened = self.opened();
            if let Err(e) = step("create a copy") {
                return Err(SortError::io("create a temp file in", &opened.temps_path)(e));
            }
            let created = rustix::fs::openat(
                &opened.temps,
                name.as_str(),
                OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                FileMode::from_raw_mode(0o666),
            );
            match created {
                Ok(fd) => return Ok((name, File::from(fd))),
                Err(Errno::EXIST) => continue,
                Err(e) => {
                    return Err(SortError::io("create a temp file in", &opened.temps_path)(
                        e.into(),
                    ));
                }
            }
        }
    }

    /// Notes that the target's folder has a new entry.
    fn touched(&mut self, target: &Target) {
        let parent = target.rel.parent().unwrap_or(Path::new(""));
        self.unsynced.insert(parent.to_owned());
    }

    /// Notes that a source's folder lost an entry.
    fn source_left(&mut self, src: &Path) {
        let parent = src.parent().filter(|p| !p.as_os_str().is_empty());
        self.unsynced_sources
            .insert(parent.unwrap_or(Path::new(".")).to_owned());
    }
}

/// Who records the intent of a rename that may not be atomic.
enum Recorded<'a> {
    /// The rename itself, with this source path.
    Here(&'a Path),
    /// The caller, for a move, already did (and ends it).
    ByCaller,
}

/// Where a file is being put: its folder (open), its path relative to the
/// destination, and its name.
struct Target<'a> {
    dir: &'a OwnedFd,
    rel: &'a Path,
    name: &'a str,
}

fn dot_if_empty(path: &Path) -> PathBuf {
    if path.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        path.to_owned()
    }
}

/// Opens (making, durably) a folder of mtpull's state.
fn open_state_folder(root: &Root, relative: &Path) -> io::Result<OwnedFd> {
    let mut made = Vec::new();
    let fd = root.dir(relative, true, &mut |p| made.push(p.to_owned()))?;
    for folder in made {
        let parent = folder.parent().unwrap_or(Path::new(""));
        beneath::sync_dir_at(root.fd(), &dot_if_empty(parent))?;
    }
    Ok(fd)
}

/// Removes the copies a cut run left (the lock says no run is making one now).
fn sweep_copies(temps: &OwnedFd) -> io::Result<()> {
    let listing = rustix::fs::Dir::read_from(temps)?;
    for entry in listing {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if name.starts_with(COPY_PREFIX.as_bytes()) && name.ends_with(COPY_SUFFIX.as_bytes()) {
            step("remove a stale copy")?;
            rustix::fs::unlinkat(temps, entry.file_name(), AtFlags::empty())?;
        }
    }
    Ok(())
}

/// On FAT-like filesystems, fsyncs a file again under the name it was just renamed to.
/// There a folder entry holds the file's size and first cluster, and the kernel's vfat
/// writes a renamed file's new entry without them, filling them in only when the inode
/// is written back: the folder's fsync then makes an empty file durable. Power cuts in
/// the guest (tests/vm/power-cut.sh --fs vfat) found photos fsynced before their rename,
/// and already deleted from the phone, empty in DEST after the cut.
fn sync_renamed(names: Names, target: &Target) -> io::Result<()> {
    if names != Names::Windows {
        return Ok(());
    }
    step("sync a renamed file")?;
    open_file_in(target.dir, target.name)?.sync_all()
}

/// Which names the filesystem under `root` takes: what is known without writing
/// ([`known_names`]), else by trying a name that only FAT-like filesystems refuse.
fn names_of(root: &Root, temps: &OwnedFd) -> Names {
    if let Some(names) = known_names(root.path()) {
        return names;
    }
    let probe = "probe-<>:\"|?*.";
    match rustix::fs::openat(
        temps,
        probe,
        OFlags::WRONLY | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        FileMode::from_raw_mode(0o600),
    ) {
        Ok(_) => {
            let _ = rustix::fs::unlinkat(temps, probe, AtFlags::empty());
            Names::Posix
        }
        Err(_) => Names::Windows,
    }
}

/// Which names a destination takes, as far as a dry run can tell without writing:
/// what is known ([`known_names`]) of it or, when it does not exist yet, of the
/// nearest folder above it; else any name (the real run's probe may find otherwise
/// on a filesystem that neither its type nor the mount table names).
pub(crate) fn names_without_writing(dest: &Path) -> Names {
    dest.ancestors()
        .find(|folder| folder.is_dir())
        .and_then(known_names)
        .unwrap_or(Names::Posix)
}

/// FAT and exFAT by their magic numbers, and through FUSE by the type the mount
/// table gives (`fuse.fusefat`, `fuseblk.exfat`); `None` for any other filesystem,
/// whose names only a try would tell.
fn known_names(folder: &Path) -> Option<Names> {
    const MSDOS_SUPER_MAGIC: u64 = 0x4d44;
    const EXFAT_SUPER_MAGIC: u64 = 0x2011_bab0;
    const FUSE_SUPER_MAGIC: u64 = 0x6573_5546;
    let stats = rustix::fs::statfs(folder).ok()?;
    match stats.f_type as u64 {
        MSDOS_SUPER_MAGIC | EXFAT_SUPER_MAGIC => Some(Names::Windows),
        FUSE_SUPER_MAGIC => {
            let mounts = fs::read_to_string("/proc/self/mountinfo").ok()?;
            let folder = fs::canonicalize(folder).ok()?;
            let fs_type = mount_type(&mounts, &folder)?;
            let subtype = fs_type.rsplit('.').next().unwrap_or(fs_type);
            ["fusefat", "exfat", "vfat", "msdos", "fat"]
                .contains(&subtype)
                .then_some(Names::Windows)
        }
        _ => None,
    }
}

/// The filesystem type of the mount holding `path` (canonical), from the text of
/// `/proc/self/mountinfo`: the deepest mount point above it.
fn mount_type<'a>(mountinfo: &'a str, path: &Path) -> Option<&'a str> {
    mountinfo
        .lines()
        .filter_map(|line| {
            let (mount, fs) = line.split_once(" - ")?;
            let point = unescape_mount_point(mount.split(' ').nth(4)?);
            let fs_type = fs.split(' ').next()?;
            path.starts_with(&point).then_some((point, fs_type))
        })
        .max_by_key(|(point, _)| point.components().count())
        .map(|(_, fs_type)| fs_type)
}

/// A mount point as the mount table writes it: space, tab, newline and backslash as
/// three octal digits after a backslash.
fn unescape_mount_point(field: &str) -> PathBuf {
    use std::os::unix::ffi::OsStringExt;
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match (bytes[i], octal) {
            (b'\\', Some(digits)) => {
                out.push(digits.iter().fold(0u8, |n, d| n.wrapping_mul(8) + (d - b'0')));
                i += 4;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    PathBuf::from(std::ffi::OsString::from_vec(out))
}

/// Splits a planned relative path into its folder and its file name, refusing
/// anything that is absolute, climbs (`..`), has no file name, or leads into
/// mtpull's own state folder.
fn target_of(planned: &Path) -> Result<(&Path, &str), SortError> {
    let unsafe_path = || SortError::UnsafePath(planned.to_owned());
    if !planned.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(unsafe_path());
    }
    if planned
        .components()
        .next()
        .is_some_and(|c| is_state_dir(c.as_os_str()))
    {
        return Err(unsafe_path());
    }
    let name = planned
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(unsafe_path)?;
    Ok((planned.parent().unwrap_or(Path::new("")), name))
}

/// The source's bytes into `temp`, with the source's mtime, on disk before returning.
fn copy_durably(src: &Path, mut temp: File) -> io::Result<()> {
    let mut source = File::open(src)?;
    step("write a copy")?;
    io::copy(&mut source, &mut temp)?;
    temp.set_times(FileTimes::new().set_modified(source.metadata()?.modified()?))?;
    step("sync a copy")?;
    temp.sync_all()
}

/// What sits at a candidate name.
enum Occupant {
    Vacant,
    /// A regular file, open for reading (for a dry run, the source that would have
    /// been filed there).
    File(File),
    /// A folder, link or device: never replaced, never a duplicate.
    Other,
}

enum Slot {
    /// Free, with the `-N` suffix it took (0 for none).
    Free(String, u32),
    /// Taken by identical content.
    Same(String),
}

/// The first of `name`, `name-1`, `name-2`… that is vacant or holds the same bytes as
/// `src`. On a filesystem that ignores case, `img_1.jpg` finds `IMG_1.JPG` there.
///
/// For a name planned with `{seq}`, `seq_stems` are the stems already numbered in `dir`
/// ([`seq_stems`]): a number is taken whatever the extension that bears it.
fn find_slot(
    dir: &Path,
    name: &str,
    src: &Path,
    seq_stems: Option<&HashSet<String>>,
    mut occupant: impl FnMut(&str) -> Result<Occupant, SortError>,
) -> Result<Slot, SortError> {
    for n in 0..=MAX_CLASH_SUFFIX {
        let candidate = numbered(name, n);
        match occupant(&candidate)? {
            Occupant::Vacant if seq_stems.is_some_and(|stems| stems.contains(&stem_key(&candidate))) => {}
            Occupant::Vacant => return Ok(Slot::Free(candidate, n)),
            Occupant::File(content) => {
                let source = File::open(src).map_err(SortError::io("open", src))?;
                let same =
                    same_files(source, content).map_err(SortError::io("compare", dir.join(&candidate)))?;
                if same {
                    return Ok(Slot::Same(candidate));
                }
            }
            Occupant::Other => {}
        }
    }
    Err(SortError::TooManyClashes { path: dir.join(name) })
}

/// What is at `name` in the open folder `dir`, following no link.
fn occupant_in(dir: &OwnedFd, name: &str, dir_path: &Path) -> Result<Occupant, SortError> {
    let look = || SortError::io("look at", dir_path.join(name));
    match kind_at(dir, name).map_err(look())? {
        None => Ok(Occupant::Vacant),
        Some(FileType::RegularFile) => Ok(Occupant::File(open_file_in(dir, name).map_err(look())?)),
        Some(_) => Ok(Occupant::Other),
    }
}

fn on_disk(path: &Path) -> Result<Occupant, SortError> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_file() => Ok(Occupant::File(
            File::open(path).map_err(SortError::io("open", path))?,
        )),
        Ok(_) => Ok(Occupant::Other),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Occupant::Vacant),
        Err(e) => Err(SortError::io("look at", path)(e)),
    }
}

/// For a name planned with `{seq}` ([`SEQ_MARK`]): the stems (lowercase) of the files
/// in `dir` and of `claimed` paths in it (a dry run's), else `None`. A number another
/// file bears under another extension is taken: `_0003.jpg` and `_0003.HEIC` would be
/// two shots under one number.
pub(crate) fn seq_stems<'a>(
    name: &str,
    dir: &Path,
    claimed: impl IntoIterator<Item = &'a Path>,
) -> Option<HashSet<String>> {
    if !name.contains(SEQ_MARK) {
        return None;
    }
    let mut stems: HashSet<String> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .map(|name| stem_key(&name))
        .collect();
    stems.extend(
        claimed
            .into_iter()
            .filter(|path| path.parent() == Some(dir))
            .filter_map(|path| path.file_name()?.to_str().map(stem_key)),
    );
    Some(stems)
}

/// A name's stem, lowercase (filesystems that ignore case see one name).
pub(crate) fn stem_key(name: &str) -> String {
    split_extension(name).0.to_lowercase()
}

/// `IMG_1.jpg` numbered 2 is `IMG_1-2.jpg`; 0 is the name itself. A name planned
/// with `{seq}` ([`SEQ_MARK`]) is numbered there instead, from 0001.
pub(crate) fn numbered(name: &str, n: u32) -> String {
    if name.contains(SEQ_MARK) {
        return name.replace(SEQ_MARK, &format!("{:04}", u64::from(n) + 1));
    }
    if n == 0 {
        return name.to_owned();
    }
    let (stem, extension) = split_extension(name);
    format!("{stem}-{n}{extension}")
}

/// Same size, then the same bytes. Compared directly rather than hashed: it stops at
/// the first difference and cannot collide.
pub(crate) fn same_content(a: &Path, b: &Path) -> Result<bool, SortError> {
    let file_a = File::open(a).map_err(SortError::io("open", a))?;
    let file_b = File::open(b).map_err(SortError::io("open", b))?;
    same_files(file_a, file_b).map_err(SortError::io("compare", a))
}

/// [`same_content`] for two open files.
pub(crate) fn same_files(mut file_a: File, mut file_b: File) -> io::Result<bool> {
    if file_a.metadata()?.len() != file_b.metadata()?.len() {
        return Ok(false);
    }
    let mut buf_a = vec![0; 64 * 1024];
    let mut buf_b = vec![0; 64 * 1024];
    loop {
        let n = fill(&mut file_a, &mut buf_a)?;
        let m = fill(&mut file_b, &mut buf_b)?;
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

/// What filing would do, writing nothing: each file it would place claims its name, so
/// later files in the same run see the clash exactly as a real run would. Names are
/// made safe for the destination's filesystem as the [`Filer`] makes them, and on
/// FAT-like ones two names that differ only in case are one.
#[derive(Debug)]
pub(crate) struct DryRun {
    root: PathBuf,
    names: Names,
    /// Each claimed path (by [`DryRun::key`]) → the path and the source that would be there.
    claims: HashMap<PathBuf, (PathBuf, PathBuf)>,
    /// The claimed paths by folder: a `{seq}` name looks at its folder's only.
    by_folder: HashMap<PathBuf, Vec<PathBuf>>,
}

impl DryRun {
    pub(crate) fn new(dest_root: impl Into<PathBuf>) -> DryRun {
        let root = dest_root.into();
        DryRun {
            names: names_without_writing(&root),
            root,
            claims: HashMap::new(),
            by_folder: HashMap::new(),
        }
    }

    /// Which names the destination takes, as this dry run sees it.
    pub(crate) fn names(&self) -> Names {
        self.names
    }

    /// A path as the destination's filesystem compares it.
    fn key(&self, path: &Path) -> PathBuf {
        self.names.key(path)
    }

    /// The source that this run would have put at `path` (absolute), if any.
    pub(crate) fn claimed_by(&self, path: &Path) -> Option<&Path> {
        self.claims.get(&self.key(path)).map(|(_, src)| src.as_path())
    }

    /// The paths in `folder` (absolute) this run would have filed files at.
    pub(crate) fn claimed_in(&self, folder: &Path) -> impl Iterator<Item = &Path> {
        self.by_folder
            .get(folder)
            .into_iter()
            .flatten()
            .map(PathBuf::as_path)
    }

    pub(crate) fn file(&mut self, planned: &Path, src: &Path) -> Result<Filed, SortError> {
        let (dir_rel, name) = target_of(planned)?;
        let name = safe_name_for(name, self.names);
        let dir = self.root.join(dir_rel);
        let stems = seq_stems(&name, &dir, self.claimed_in(&dir));
        let slot = find_slot(&dir, &name, src, stems.as_ref(), |candidate| {
            let path = dir.join(candidate);
            match self.claimed_by(&path) {
                Some(claimed_by) => Ok(Occupant::File(
                    File::open(claimed_by).map_err(SortError::io("open", claimed_by))?,
                )),
                None => on_disk(&path),
            }
        })?;
        Ok(match slot {
            Slot::Same(found) => Filed {
                path: dir.join(found),
                outcome: Outcome::Duplicate,
            },
            Slot::Free(free, n) => {
                let path = dir.join(free);
                self.claims
                    .insert(self.key(&path), (path.clone(), src.to_owned()));
                self.by_folder.entry(dir).or_default().push(path.clone());
                let outcome = Outcome::for_slot(&name, n);
                Filed { path, outcome }
            }
        })
    }
}

#[cfg(test)]
mod tests;
