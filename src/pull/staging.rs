//! Downloads made while another run holds DEST. Phones plugged in together take
//! turns at DEST ([`super::BackupOptions::wait_for_destination`]), but a run that
//! waits for its turn need not idle: it plans against the manifest as it stands
//! (read only) and downloads its new files meanwhile into a staging folder of its
//! own, `DEST/.mtpull/staging/<run>/`. Once it holds DEST it moves them into the
//! temp folder (`DEST/.mtpull/tmp/`), plans again against the manifest as the other
//! run left it, and files them as any download — so a picture the other phone filed
//! meanwhile is found in DEST by its content and recorded as a duplicate, never filed
//! twice. Only the transfers overlap: filing, recording and deleting from the phone
//! are the lock holder's alone, exactly as without staging.
//!
//! A staging folder is its run's alone: it is named after the run (process id and
//! clock), and the run holds a lock file beside it, `<run>.lock`, taken before the
//! folder is made and kept for as long as the run lives. Whoever holds DEST takes over
//! the staging folders whose lock is free (their run died or was stopped): their files
//! move into the temp folder as downloads cut short, checked against the phone when
//! they are resumed, like any other. A live run's folder is never touched.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use super::device::{Listing, device_instant};
use super::disk::{DestLock, check_space};
use super::error::PullError;
use super::hash::ContentHash;
use super::manifest::{Manifest, STATE_DIR};
use super::partial::{PartialFile, TempArea};
use super::plan::Plan;
use super::remote::FileKey;
use super::report::{Event, Observer, Summary};
use super::run::{BackupOptions, Planned, make_plan};
use super::transfer::{TransferError, download};
use crate::fault_points::step;
use crate::lock_file::LockFile;
use crate::session::Session;

const STAGING_DIR: &str = "staging";
const LOCK_SUFFIX: &str = ".lock";

/// The files a run downloaded whole while it waited, by key: their length and the
/// hash of their bytes as they arrived.
pub(super) type Staged = HashMap<FileKey, (u64, ContentHash)>;

/// A run's staging folder, its own while the run lives.
pub(super) struct Staging {
    area: TempArea,
    lock: LockFile,
    staged: Staged,
}

impl Staging {
    /// Makes this run's staging folder in `dest_root` (whose state folder exists).
    fn create(dest_root: &Path) -> io::Result<Staging> {
        let parent = staging_dir(dest_root);
        step("make the staging folder")?;
        fs::create_dir_all(&parent)?;
        let since = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        let name = format!("{}-{}", std::process::id(), since.as_nanos());
        // The lock before the folder: a folder seen without a held lock is a dead run's.
        let lock = LockFile::try_acquire(&parent.join(format!("{name}{LOCK_SUFFIX}")))?.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::AlreadyExists,
                "a staging folder of that name is in use",
            )
        })?;
        let dir = parent.join(&name);
        fs::create_dir(&dir)?;
        Ok(Staging {
            area: TempArea::in_folder(dir),
            lock,
            staged: Staged::new(),
        })
    }

    /// Under DEST's lock: moves this run's downloads into `temps` (a download whole
    /// replaces an older one cut short there; of two cut short the longer stays),
    /// removes the folder, and returns what was downloaded whole.
    pub(super) fn adopt(self, temps: &TempArea) -> io::Result<Staged> {
        let Staging { area, lock, staged } = self;
        for key in staged.keys() {
            step("adopt a staged download")?;
            fs::rename(area.path_for(key), temps.path_for(key))?;
        }
        take_over(area.dir(), temps)?;
        release(lock)?;
        Ok(staged)
    }

    /// Bytes downloaded whole so far.
    fn bytes(&self) -> u64 {
        self.staged.values().map(|(len, _)| len).sum()
    }
}

/// `DEST/.mtpull/staging`.
fn staging_dir(dest_root: &Path) -> PathBuf {
    dest_root.join(STATE_DIR).join(STAGING_DIR)
}

/// Under DEST's lock: takes over the staging folders of runs that are gone. Returns
/// how many downloads moved into `temps`.
pub(super) fn adopt_dead(dest_root: &Path, temps: &TempArea) -> io::Result<usize> {
    let parent = staging_dir(dest_root);
    let entries = match fs::read_dir(&parent) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(error) => return Err(error),
    };
    let mut moved = 0;
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let kind = entry.file_type()?;
        if kind.is_dir() {
            let lock_path = parent.join(format!("{name}{LOCK_SUFFIX}"));
            if let Some(lock) = LockFile::try_acquire(&lock_path)? {
                moved += take_over(&entry.path(), temps)?;
                release(lock)?;
            }
        } else if let Some(run) = name.strip_suffix(LOCK_SUFFIX)
            && kind.is_file()
            && !parent.join(run).exists()
        {
            // A run that died before it made its folder, or after it removed it.
            if let Some(lock) = LockFile::try_acquire(&entry.path())? {
                release(lock)?;
            }
        }
    }
    Ok(moved)
}

/// Moves the downloads in a staging folder into `temps`, keeping the longer of two
/// for the same file (both are beginnings of it), then removes the folder. Returns
/// how many moved.
fn take_over(dir: &Path, temps: &TempArea) -> io::Result<usize> {
    let mut moved = 0;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let from = entry.path();
        let to = temps.dir().join(entry.file_name());
        let len = entry.metadata()?.len();
        let kept = fs::symlink_metadata(&to).ok().map(|meta| meta.len());
        // Only plain files are downloads; a link is never followed into place.
        if entry.file_type()?.is_file() && kept.is_none_or(|kept| kept < len) {
            step("adopt a staged download")?;
            fs::rename(&from, &to)?;
            moved += 1;
        } else {
            step("remove a staged download")?;
            fs::remove_file(&from)?;
        }
    }
    step("remove a staging folder")?;
    fs::remove_dir(dir)?;
    Ok(moved)
}

/// Removes a staging lock file while holding it (its folder is gone).
fn release(lock: LockFile) -> io::Result<()> {
    step("remove a staging lock")?;
    fs::remove_file(lock.path())
}

/// DEST's lock, and what the run downloaded while it waited for it.
pub(super) struct Turn {
    /// DEST's lock.
    pub(super) lock: DestLock,
    /// The run's staging folder, if it waited.
    pub(super) staging: Option<Staging>,
    /// How long it downloaded while it waited.
    pub(super) downloading: Duration,
}

/// Takes DEST's lock, downloading the run's new files while another run holds it;
/// waits (until `cancel`) once they are all downloaded.
pub(super) fn take_turn(
    session: &mut Session,
    dest_root: &Path,
    options: &BackupOptions,
    listing: &Listing,
    cancel: &AtomicBool,
    observer: &mut dyn Observer,
    summary: &mut Summary,
) -> Result<Turn, PullError> {
    if let Some(lock) = DestLock::try_acquire(dest_root)? {
        return Ok(Turn {
            lock,
            staging: None,
            downloading: Duration::ZERO,
        });
    }
    observer.event(&Event::WaitingForDestination);
    let started = Instant::now();
    // Staging is only a head start: when it cannot be planned (an unreadable manifest,
    // a device error) the run just waits, and its turn meets the problem again.
    let (mut staging, mut lock) = (None, None);
    if let Some((plan, mut folder)) = prepare(session, dest_root, options, listing) {
        let staged = stage(session, dest_root, &plan, &mut folder, cancel, observer, summary);
        staging = Some(folder);
        lock = staged?;
    }
    let downloading = started.elapsed();
    let lock = match lock {
        Some(lock) => lock,
        None => {
            let (files, bytes) = staging
                .as_ref()
                .map_or((0, 0), |staging| (staging.staged.len() as u64, staging.bytes()));
            observer.event(&Event::DownloadedWhileWaiting { files, bytes });
            DestLock::acquire_waiting(dest_root, cancel, || {})?.ok_or(PullError::Interrupted)?
        }
    };
    Ok(Turn {
        lock,
        staging,
        downloading,
    })
}

/// The plan made against the manifest as it stands, and a staging folder with room
/// for it; `None` when either cannot be had.
fn prepare(
    session: &mut Session,
    dest_root: &Path,
    options: &BackupOptions,
    listing: &Listing,
) -> Option<(Plan, Staging)> {
    let manifest = Manifest::open_read_only(dest_root).ok()?;
    let planned = make_plan(
        session,
        dest_root,
        options,
        manifest.as_ref(),
        listing.clone(),
        &mut Vec::new(),
    );
    drop(manifest);
    let Planned { plan, .. } = planned.ok()?;
    check_space(dest_root, plan.bytes_to_copy()).ok()?;
    let staging = Staging::create(dest_root).ok()?;
    Some((plan, staging))
}

/// Downloads `plan`'s files into `staging` until DEST is free (returns its lock) or
/// every file is downloaded (`None`). A download that fails ends the staging, kept
/// for the run's turn, which takes it up again as a download cut short.
fn stage(
    session: &mut Session,
    dest_root: &Path,
    plan: &Plan,
    staging: &mut Staging,
    cancel: &AtomicBool,
    observer: &mut dyn Observer,
    summary: &mut Summary,
) -> Result<Option<DestLock>, PullError> {
    for file in &plan.to_copy {
        if cancel.load(Ordering::Relaxed) {
            return Err(PullError::Interrupted);
        }
        if let Some(lock) = DestLock::try_acquire(dest_root)? {
            return Ok(Some(lock));
        }
        let key = file.key(&plan.serial);
        let path = staging.area.path_for(&key);
        let mut part = PartialFile::open(&path, file.exact_size()).map_err(PullError::disk(&path))?;
        observer.event(&Event::Started { file, resume_from: 0 });
        let received = &mut |bytes| {
            summary.bytes_received += bytes;
            observer.event(&Event::Received { bytes });
        };
        match download(session, file, &mut part, cancel, received) {
            Ok(note) => {
                if let Some(note) = note {
                    observer.event(&Event::Note { file, note: &note });
                }
                let done = part
                    .finish(file.modified.as_ref().and_then(device_instant))
                    .map_err(PullError::disk(&path))?;
                done.file.sync_all().map_err(PullError::disk(&path))?;
                staging.staged.insert(key, (done.len, done.hash));
            }
            Err(TransferError::Cancelled) => {
                let _ = part.suspend();
                return Err(PullError::Interrupted);
            }
            Err(_) => {
                let _ = part.suspend();
                break;
            }
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pull::remote::tests::file;

    fn key(path: &str) -> FileKey {
        file(path, 10, "2024-05-26 10:00:00").key("PHONE")
    }

    #[test]
    fn a_live_runs_staging_is_left_alone_and_a_dead_ones_taken_over() {
        let dest = tempfile::tempdir().unwrap();
        fs::create_dir_all(dest.path().join(STATE_DIR)).unwrap();
        let temps = TempArea::new(dest.path());
        temps.create().unwrap();
        let (a, b, c) = (key("DCIM/a.jpg"), key("DCIM/b.jpg"), key("DCIM/c.jpg"));

        let mut live = Staging::create(dest.path()).unwrap();
        fs::write(live.area.path_for(&a), b"0123456789").unwrap();
        live.staged.insert(
            a.clone(),
            (10, ContentHash::of_reader(&b"0123456789"[..]).unwrap()),
        );
        let dead = Staging::create(dest.path()).unwrap();
        // Two downloads cut short: the longer one wins, wherever it is.
        fs::write(dead.area.path_for(&b), b"0123").unwrap();
        fs::write(temps.path_for(&b), b"01").unwrap();
        fs::write(dead.area.path_for(&c), b"0").unwrap();
        fs::write(temps.path_for(&c), b"012").unwrap();
        let dead_dir = dead.area.dir().to_owned();
        // The run dies: its lock goes with it, its files stay.
        drop(dead);

        assert_eq!(adopt_dead(dest.path(), &temps).unwrap(), 1);
        assert!(!dead_dir.exists());
        assert_eq!(fs::read(temps.path_for(&b)).unwrap(), b"0123");
        assert_eq!(fs::read(temps.path_for(&c)).unwrap(), b"012");
        assert!(
            live.area.path_for(&a).exists(),
            "a live run's download is never touched"
        );
        assert!(!temps.path_for(&a).exists());

        // Its turn: its own downloads move in and its folder goes.
        fs::write(temps.path_for(&a), b"01234").unwrap();
        let staged = live.adopt(&temps).unwrap();
        assert_eq!(staged.len(), 1);
        assert_eq!(fs::read(temps.path_for(&a)).unwrap(), b"0123456789");
        assert_eq!(
            fs::read_dir(staging_dir(dest.path())).unwrap().count(),
            0,
            "no staging folder or lock left"
        );
    }

    #[test]
    fn a_lock_left_without_its_folder_is_removed_unless_held() {
        let dest = tempfile::tempdir().unwrap();
        let parent = staging_dir(dest.path());
        fs::create_dir_all(&parent).unwrap();
        let temps = TempArea::new(dest.path());
        temps.create().unwrap();
        fs::write(parent.join("1-2.lock"), b"").unwrap();
        let held = LockFile::try_acquire(&parent.join("3-4.lock")).unwrap().unwrap();
        assert_eq!(adopt_dead(dest.path(), &temps).unwrap(), 0);
        assert!(!parent.join("1-2.lock").exists());
        assert!(
            held.path().exists(),
            "a run about to make its folder keeps its lock"
        );
    }
}
