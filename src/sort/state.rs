//! mtpull's own folder inside a destination (`DEST/.mtpull/`): the lock that makes a
//! run the only writer, the temp folder, and the one-line intent record that lets the
//! next run finish or undo a step a crash cut in half.
//!
//! Nothing here is ever filed, indexed or counted as a backup.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::beneath::{self, Root};
use crate::fault_points::step;
use crate::lock_file::LockFile;

/// The folder inside DEST that holds mtpull's own state.
pub const STATE_DIR: &str = ".mtpull";
/// Temp files: downloads in progress and copies on their way into place.
pub(crate) const TEMP_DIR: &str = "tmp";
const LOCK_FILE: &str = "lock";
const INTENT_FILE: &str = "intent";

/// How long to wait for DEST's lock before saying another run holds it.
const LOCK_PATIENCE: Duration = Duration::from_secs(2);
/// How often a lock held by another run is tried again.
const LOCK_POLL: Duration = Duration::from_millis(50);

/// Why DEST could not be held.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another mtpull holds it.
    #[error("another mtpull is writing into {}; wait for it to finish", .0.display())]
    Busy(PathBuf),
    /// The state folder or lock file could not be made.
    #[error("cannot lock the destination {}: {source}", path.display())]
    Io {
        /// The lock file or folder.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: io::Error,
    },
}

/// Whether a name (any level inside DEST) is mtpull's state folder. Compared without
/// case: on FAT and exFAT `.MTPULL` is the same folder.
pub(crate) fn is_state_dir(name: &std::ffi::OsStr) -> bool {
    name.as_bytes().eq_ignore_ascii_case(STATE_DIR.as_bytes())
}

/// Holds DEST for one run: a second mtpull into the same DEST is refused instead of
/// racing it for names and temp files. Released when dropped (or the process dies).
#[derive(Debug)]
pub struct DestLock {
    _lock: LockFile,
}

impl DestLock {
    /// Creates DEST durably if needed, then takes the lock, or says who has it.
    pub fn acquire(dest_root: &Path) -> Result<DestLock, LockError> {
        let deadline = Instant::now() + LOCK_PATIENCE;
        let lock = Self::take(dest_root, &mut || Instant::now() < deadline)?;
        lock.ok_or_else(|| LockError::Busy(dest_root.to_owned()))
    }

    /// One try: the lock if DEST is free right now, else `Ok(None)` (a run that has
    /// something else to do meanwhile asks again later).
    pub fn try_acquire(dest_root: &Path) -> Result<Option<DestLock>, LockError> {
        Self::take(dest_root, &mut || false)
    }

    /// Like [`DestLock::acquire`], but waits for as long as another run holds
    /// DEST (a backup of another phone plugged in at the same time), calling
    /// `waiting` once when it starts to wait. `Ok(None)`: `cancel` was raised.
    pub fn acquire_waiting(
        dest_root: &Path,
        cancel: &AtomicBool,
        waiting: impl FnOnce(),
    ) -> Result<Option<DestLock>, LockError> {
        let patient_until = Instant::now() + LOCK_PATIENCE;
        let mut waiting = Some(waiting);
        Self::take(dest_root, &mut || {
            if Instant::now() >= patient_until
                && let Some(waiting) = waiting.take()
            {
                waiting();
            }
            !cancel.load(Ordering::Relaxed)
        })
    }

    /// Takes the lock, asking `keep_trying` after each refusal; `Ok(None)`
    /// once it says no.
    fn take(dest_root: &Path, keep_trying: &mut dyn FnMut() -> bool) -> Result<Option<DestLock>, LockError> {
        let state = dest_root.join(STATE_DIR);
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| LockError::Io { path, source }
        };
        refuse_link(&state).map_err(io(&state))?;
        beneath::create_durably(&state).map_err(io(&state))?;
        let path = state.join(LOCK_FILE);
        // A process forked (by anyone in this process) while an earlier lock
        // was held keeps it until it execs: the first moments of a wait are that.
        loop {
            match LockFile::try_acquire(&path).map_err(io(&path))? {
                Some(lock) => return Ok(Some(DestLock { _lock: lock })),
                None if keep_trying() => std::thread::sleep(LOCK_POLL),
                None => return Ok(None),
            }
        }
    }
}

/// `DEST/.mtpull` must be a real folder: through a link, state and temp files would
/// be written outside DEST.
fn refuse_link(state: &Path) -> io::Result<()> {
    match fs::symlink_metadata(state) {
        Ok(meta) if meta.file_type().is_symlink() => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "it is a symbolic link; mtpull follows no link inside the destination: remove it",
        )),
        _ => Ok(()),
    }
}

/// A step that is not atomic on this destination, recorded before it starts:
/// `from` (an absolute path) is being put at `to` (relative to DEST) by a copy then
/// an unlink, or by a rename the filesystem may carry out as a copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intent {
    /// The file being put in place (absolute).
    pub from: PathBuf,
    /// Where it goes (relative to DEST).
    pub to: PathBuf,
}

/// The intent record of one destination (only the lock holder touches it).
#[derive(Debug)]
pub struct IntentLog {
    path: PathBuf,
}

impl IntentLog {
    /// The intent record of `dest_root`.
    pub fn new(dest_root: &Path) -> IntentLog {
        IntentLog {
            path: dest_root.join(STATE_DIR).join(INTENT_FILE),
        }
    }

    /// Records `intent` durably before the step starts.
    pub fn begin(&self, intent: &Intent) -> io::Result<()> {
        let from = std::path::absolute(&intent.from)?;
        let mut record = from.as_os_str().as_bytes().to_vec();
        record.push(0);
        record.extend_from_slice(intent.to.as_os_str().as_bytes());
        record.push(0);
        step("record an intent")?;
        let mut file = self.file()?;
        file.set_len(0)?;
        file.write_all(&record)?;
        step("sync the intent")?;
        file.sync_all()
    }

    /// The step is done (its result durable): forget it. The file stays, emptied: a
    /// name made and removed for every file is churn some FUSE filesystems choke on.
    /// Not fsynced: a record that outlives its step finds nothing to do.
    pub fn end(&self) -> io::Result<()> {
        step("clear the intent")?;
        match OpenOptions::new().write(true).open(&self.path) {
            Ok(file) => file.set_len(0),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn file(&self) -> io::Result<File> {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&self.path)
    }

    /// The step a crash left unfinished, if any. A record cut short was never acted on.
    pub fn pending(&self) -> io::Result<Option<Intent>> {
        let mut bytes = Vec::new();
        match File::open(&self.path) {
            Ok(mut file) => file.read_to_end(&mut bytes)?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut fields = bytes.split(|&b| b == 0);
        let (Some(from), Some(to), Some(rest)) = (fields.next(), fields.next(), fields.next()) else {
            return Ok(None);
        };
        if from.is_empty() || to.is_empty() || !rest.is_empty() || fields.next().is_some() {
            return Ok(None);
        }
        Ok(Some(Intent {
            from: PathBuf::from(std::ffi::OsString::from_vec(from.to_vec())),
            to: PathBuf::from(std::ffi::OsString::from_vec(to.to_vec())),
        }))
    }

    /// Finishes or undoes what a crash left: when both ends exist, the same bytes
    /// at `to` mean the step got that far, so `from` goes (the move completes);
    /// other bytes at `to` are the step's own half-made file (the name was free when
    /// it started), so `to` goes. Returns what was removed.
    pub fn recover(&self, root: &Root) -> io::Result<Option<PathBuf>> {
        let Some(intent) = self.pending()? else {
            return self.end().map(|()| None);
        };
        let removed = match (File::open(&intent.from), root.open_file(&intent.to)) {
            (Ok(from), Ok(to)) => {
                let parent = intent.to.parent().unwrap_or(Path::new(""));
                if super::file::same_files(from, to)? {
                    step("finish a cut move")?;
                    fs::remove_file(&intent.from)?;
                    sync_parent(&intent.from)?;
                    Some(intent.from.clone())
                } else {
                    let dir = root.dir(parent, false, &mut |_| {})?;
                    let name = intent.to.file_name().unwrap_or_default();
                    step("undo a half-made file")?;
                    rustix::fs::unlinkat(&dir, name, rustix::fs::AtFlags::empty())?;
                    step("sync a folder")?;
                    rustix::fs::fsync(&dir)?;
                    Some(intent.to.clone())
                }
            }
            _ => None,
        };
        self.end()?;
        Ok(removed)
    }
}

fn sync_parent(path: &Path) -> io::Result<()> {
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
    beneath::sync_dir_at(rustix::fs::CWD, parent.unwrap_or(Path::new(".")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_run_per_destination() {
        let dir = tempfile::tempdir().unwrap();
        let held = DestLock::acquire(dir.path()).unwrap();
        assert!(matches!(DestLock::acquire(dir.path()), Err(LockError::Busy(_))));
        drop(held);
        assert!(DestLock::acquire(dir.path()).is_ok());
    }

    #[test]
    fn a_waiting_run_gets_the_destination_when_the_holder_ends_or_gives_up_when_cancelled() {
        let dir = tempfile::tempdir().unwrap();
        let held = DestLock::acquire(dir.path()).unwrap();
        let cancel = AtomicBool::new(false);
        std::thread::scope(|scope| {
            let (told, heard) = std::sync::mpsc::channel();
            let waiter = scope
                .spawn(|| DestLock::acquire_waiting(dir.path(), &cancel, move || told.send(()).unwrap()));
            // The holder lets go only once the waiter has said it waits.
            heard.recv().unwrap();
            assert!(!waiter.is_finished());
            drop(held);
            assert!(waiter.join().unwrap().unwrap().is_some());
        });
        let held = DestLock::acquire(dir.path()).unwrap();
        assert!(DestLock::try_acquire(dir.path()).unwrap().is_none());
        cancel.store(true, Ordering::Relaxed);
        let given_up = DestLock::acquire_waiting(dir.path(), &cancel, || {}).unwrap();
        assert!(given_up.is_none());
        drop(held);
        assert!(DestLock::try_acquire(dir.path()).unwrap().is_some());
    }

    #[test]
    fn a_linked_state_folder_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(elsewhere.path(), dir.path().join(STATE_DIR)).unwrap();
        let error = DestLock::acquire(dir.path()).unwrap_err();
        assert!(error.to_string().contains("no link"), "{error}");
        assert_eq!(fs::read_dir(elsewhere.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_cut_move_is_finished_and_a_half_file_undone() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("dest");
        let _lock = DestLock::acquire(&dest).unwrap();
        let root = Root::open(&dest).unwrap();
        let log = IntentLog::new(&dest);
        let src = dir.path().join("IMG_1.jpg");
        fs::write(&src, b"photo").unwrap();
        fs::create_dir_all(dest.join("2024")).unwrap();

        // Copied whole, the source not yet removed: the move completes.
        fs::write(dest.join("2024/IMG_1.jpg"), b"photo").unwrap();
        let intent = Intent {
            from: src.clone(),
            to: "2024/IMG_1.jpg".into(),
        };
        log.begin(&intent).unwrap();
        assert_eq!(log.pending().unwrap(), Some(intent.clone()));
        assert_eq!(log.recover(&root).unwrap(), Some(src.clone()));
        assert!(!src.exists());
        assert_eq!(log.pending().unwrap(), None);

        // Half made: the half goes, the source stays.
        fs::write(&src, b"photo").unwrap();
        fs::write(dest.join("2024/IMG_1.jpg"), b"pho").unwrap();
        log.begin(&intent).unwrap();
        assert_eq!(log.recover(&root).unwrap(), Some(PathBuf::from("2024/IMG_1.jpg")));
        assert!(src.exists() && !dest.join("2024/IMG_1.jpg").exists());

        // A torn record was never acted on.
        fs::write(dest.join(STATE_DIR).join(INTENT_FILE), b"/some/where\0").unwrap();
        assert_eq!(log.pending().unwrap(), None);
        assert_eq!(log.recover(&root).unwrap(), None);
    }
}
