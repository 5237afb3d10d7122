//! One backup run: list, plan, then for each new file download → verify →
//! fsync → file by date → record → (optionally) delete from the device.
//!
//! The order is what makes a run safe to cut anywhere: a file reaches its
//! final name only complete and fsynced (by an atomic rename), and the
//! manifest records it only after that. Whatever is cut short stays in
//! `DEST/.mtpull/tmp/` and the next run resumes it. The fsync runs on a
//! thread of its own while the next files download (see [`super::waiting`]):
//! a download is filed once its fsync is done, a few downloads later.
//!
//! Folder fsyncs, manifest commits and `--delete-after` deletions are done
//! per batch of files ([`BATCH_FILES`] or [`BATCH_TIME`]), keeping that order
//! for the batch: on a slow disk they cost more than the copy of a photo. A
//! crash before a batch is committed loses only its records: an undone rename
//! leaves the complete temp file to be filed again without a transfer, and a
//! kept one is found by the next run as a duplicate of itself.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::Local;

use super::choice::{Choice, ChoiceError};
use super::date_cache::{CacheError, DateCache, HeadPrint, Remembered};
use super::device::{Listing, device_instant, device_model, list_files};
use super::disk::{DestLock, check_space};
use super::error::PullError;
use super::hash::ContentHash;
use super::head::DeviceFileReader;
use super::manifest::{Manifest, Outcome, Record, RescanReport, STATE_DIR, is_visible, mtime_of};
use super::moved;
use super::partial::{PartialFile, TempArea};
use super::plan::Plan;
use super::predict::Predictor;
use super::remote::{FileKey, RemoteFile};
use super::report::{DryRunEntry, Event, FileOutcome, Observer, Summary};
use super::select::{Only, Selection};
use super::staging::{Staged, Turn, adopt_dead, take_turn};
use super::together::{Bursts, pair_by_content_identifier};
use super::transfer::{TransferError, download, partial_read_len};
use super::waiting::{Downloaded, Synced, Waiting};
use crate::fault_points::{self, step};
use crate::ptp::DeviceTime;
use crate::ptp::ObjectHandle;
use crate::ptp::{OperationCode, ResponseCode};
use crate::session::{Session, SessionError};
use crate::sort::beneath::Root;
use crate::sort::date::{ZoneHints, ZoneSource};
use crate::sort::dest::check_destination;
use crate::sort::file::{MAX_CLASH_SUFFIX, numbered, same_content, seq_stems, stem_key};
use crate::sort::{self, DateResolver, Dated, Filer, Follows, Mode, Moment, Template};

/// Files filed before their folders are fsynced and their records committed.
pub(super) const BATCH_FILES: usize = 64;
/// The longest a filed file waits for its batch to be committed.
pub(super) const BATCH_TIME: Duration = Duration::from_secs(2);

/// What a run does.
#[derive(Debug, Clone, Default)]
pub struct BackupOptions {
    /// Which files.
    pub selection: Selection,
    /// The dated folders' layout (default `%Y/%m/%d`).
    pub template: Template,
    /// Print the plan and destinations; write nothing to DEST.
    pub dry_run: bool,
    /// Where a dry run keeps the dates it read, so that the next one reads them
    /// from here instead of the phone ([`super::default_date_cache`]; `None`: nowhere).
    pub date_cache: Option<PathBuf>,
    /// Delete each file from the device once it is verified and recorded.
    pub delete_after: bool,
    /// Rebuild the manifest from DEST before planning.
    pub rescan: bool,
    /// How long to wait for a locked phone to be unlocked (zero: not at all).
    pub wait_for_unlock: Duration,
    /// Create DEST's missing parent folders (a configured destination);
    /// otherwise only DEST itself is created, and a missing parent is an error.
    pub create_parents: bool,
    /// A person's choice from the preview page: copy exactly its chosen
    /// files, and remember its rejected ones in the manifest.
    pub choice: Option<Choice>,
    /// Where the choice was read from (for messages).
    pub choice_path: Option<PathBuf>,
    /// Copy files rejected in earlier previews too.
    pub include_rejected: bool,
    /// The longest a batch of filed files stays uncommitted (`None`: [`BATCH_TIME`]).
    /// Tests that count batches set a long one, so that a loaded machine does not
    /// cut batches short.
    pub batch_time: Option<Duration>,
    /// While another run holds DEST, wait for it (until cancelled) instead of
    /// stopping: automatic backups of phones plugged in together take turns.
    pub wait_for_destination: bool,
}

/// How a run ended.
#[derive(Debug, Default)]
pub struct RunReport {
    /// The counts.
    pub summary: Summary,
    /// Why the run stopped early, if it did.
    pub stopped: Option<PullError>,
    /// What `--rescan` found, or the indexing of a DEST that held files
    /// but no manifest yet.
    pub rescan: Option<RescanReport>,
    /// Things a person should know about the run that are not errors
    /// (a pattern that matched nothing, a dry run's limits).
    pub notes: Vec<String>,
}

impl RunReport {
    /// Every planned file is backed up (or would be, in a dry run).
    pub fn succeeded(&self) -> bool {
        self.stopped.is_none() && self.summary.failed == 0 && !self.summary.storage_failed()
    }
}

/// Backs up the device behind `session` into `dest_root`.
///
/// `cancel` is checked between files and between pieces of large files; a
/// cancelled run stops with [`PullError::Interrupted`], keeping partial downloads.
pub fn backup(
    session: &mut Session,
    dest_root: &Path,
    options: &BackupOptions,
    cancel: &AtomicBool,
    observer: &mut dyn Observer,
) -> RunReport {
    let mut report = RunReport::default();
    let result = if options.dry_run {
        dry_run(session, dest_root, options, cancel, observer, &mut report)
    } else {
        real_run(session, dest_root, options, cancel, observer, &mut report)
    };
    report.stopped = result.err();
    report
}

/// Lists the chosen storages, after waiting for a locked phone.
pub(super) fn list(
    session: &mut Session,
    options: &BackupOptions,
    cancel: &AtomicBool,
    observer: &mut dyn Observer,
) -> Result<Listing, PullError> {
    let wait = options.wait_for_unlock;
    list_files(session, &options.selection, wait, cancel, |hint| {
        observer.event(&Event::Locked { wait, hint })
    })
}

/// What a run will do: its plan, the heads read for `--since`, and the
/// records whose file in DEST is gone or changed (which do not count).
pub(super) struct Planned {
    pub(super) plan: Plan,
    heads: Heads,
    pub(super) stale: Vec<FileKey>,
}

/// Plans the listed files against `manifest` (none: nothing backed up yet).
/// With `--since`, files are dated as they will be filed, and the heads read
/// from the device for that are kept for the dry run.
pub(super) fn make_plan(
    session: &mut Session,
    dest_root: &Path,
    options: &BackupOptions,
    manifest: Option<&Manifest>,
    listing: Listing,
    notes: &mut Vec<String>,
) -> Result<Planned, PullError> {
    let Listing {
        serial,
        files,
        skipped_storages,
        storage_names,
    } = listing;
    let (mut backed_up, stale) = match manifest {
        Some(manifest) => (
            manifest.keys_for(&serial)?,
            manifest.stale_keys(dest_root, &serial)?,
        ),
        None => Default::default(),
    };
    for key in &stale {
        backed_up.remove(key);
    }
    let (files, rejected) = chosen_files(&serial, files, options, manifest)?;
    let mut plan = Plan::new(&serial, files, &options.selection, &backed_up);
    plan.rejected = rejected
        .into_iter()
        .filter(|file| options.selection.wants(file))
        .collect();
    plan.skipped_storages = skipped_storages;
    // Before anything is dated: a renamed Live Photo's video goes by its photo.
    pair_by_content_identifier(session, &mut plan)?;
    for pattern in &plan.unmatched_patterns {
        notes.push(format!(
            "{pattern} matches no {} on the device",
            match options.selection.only {
                Only::Photos => "photo",
                Only::Videos => "video",
                Only::Media => "photo or video",
                Only::All => "file",
            }
        ));
    }
    let mut heads = Heads::new();
    if options.selection.since.is_some() {
        let resolver = DateResolver::system();
        // Dated in plan order, as the run and the dry run date them.
        let mut hints = ZoneHints::new();
        let mut bursts = Bursts::new(&plan);
        let to_copy = std::mem::take(&mut plan.to_copy);
        for file in to_copy {
            let on_device = date_on_device(session, &resolver, &file)?;
            let dated = with_zone_hints(&mut hints, on_device.dated);
            let dated = bursts.date(&file, dated, |first| {
                backed_up_date(session, dest_root, manifest, &serial, first, &resolver)
            })?;
            if options.selection.wants_date(dated.map(|d| d.time)) {
                heads.insert(file.handle, on_device);
                plan.to_copy.push(file);
            } else {
                plan.not_selected += 1;
            }
        }
        let already = std::mem::take(&mut plan.already);
        for file in already {
            let dated = backed_up_date(session, dest_root, manifest, &serial, &file, &resolver)?;
            if options.selection.wants_date(dated.map(|d| d.time)) {
                plan.already.push(file);
            } else {
                plan.not_selected += 1;
            }
        }
    }
    if let Some(manifest) = manifest {
        let current = storage_names.iter().map(String::as_str).collect();
        recognise_drifted(session, dest_root, manifest, &backed_up, &current, &mut plan)?;
        // What failed last time goes last: it may fail again.
        let failed = manifest.failed_for(&serial)?;
        plan.to_copy
            .sort_by_key(|file| failed.contains_key(&(file.path.clone(), file.size)));
    }
    Ok(Planned { plan, heads, stale })
}

/// Device files dated while planning, by object handle.
type Heads = HashMap<ObjectHandle, DatedOnDevice>;

/// A device file dated in place, as the real run dates its copy.
pub(super) struct DatedOnDevice {
    /// Its date, before the zone hints of the run are applied.
    pub(super) dated: Option<Dated>,
    /// Its first block's print (for a dry run's name-clash prediction).
    head: HeadPrint,
    /// Bytes read from the device to date it.
    read: u64,
}

/// Dates a device file from the bytes its date readers ask for, read in place
/// with partial reads (nothing when the device cannot read part of a file).
pub(super) fn date_on_device(
    session: &mut Session,
    resolver: &DateResolver<Local>,
    file: &RemoteFile,
) -> Result<DatedOnDevice, PullError> {
    let mut reader = DeviceFileReader::new(session, file);
    // The reader never fails a read: a device error ends the file early and is
    // reported below.
    let dated = resolver
        .resolve_reader(&mut reader, file.size, file.name(), device_moment(file))
        .unwrap_or(None);
    let read = reader.fetched();
    let head = reader.finish().map_err(|source| PullError::Device {
        context: format!("reading the start of {}", file.display_path()),
        source,
    })?;
    Ok(DatedOnDevice {
        dated,
        head: HeadPrint::of(&head),
        read,
    })
}

/// The capture date of a file backed up earlier: from its copy in DEST when
/// the manifest knows it (a local read), else from the device.
pub(super) fn backed_up_date(
    session: &mut Session,
    dest_root: &Path,
    manifest: Option<&Manifest>,
    serial: &str,
    file: &RemoteFile,
    resolver: &DateResolver<Local>,
) -> Result<Option<Dated>, PullError> {
    let fallback = file.modified.as_ref().map(moment);
    let record = manifest
        .map(|m| m.lookup(&file.key(serial)))
        .transpose()?
        .flatten();
    if let Some(Ok(dated)) = record.map(|r| resolver.resolve_path(&dest_root.join(&r.dest), fallback)) {
        return Ok(dated);
    }
    Ok(date_on_device(session, resolver, file)?.dated)
}

/// The listed files less those a person rejected (now or in an earlier
/// run), unless `--include-rejected`; with `--selection`, exactly the chosen.
/// Returns (kept, rejected).
fn chosen_files(
    serial: &str,
    files: Vec<RemoteFile>,
    options: &BackupOptions,
    manifest: Option<&Manifest>,
) -> Result<(Vec<RemoteFile>, Vec<RemoteFile>), PullError> {
    let choice = options.choice.as_ref();
    if let Some(choice) = choice.filter(|c| c.device != serial) {
        return Err(PullError::Choice(ChoiceError {
            path: options.choice_path.clone().unwrap_or_default(),
            what: format!(
                "it was made for the device {:?}, and this one is {serial:?}",
                choice.device
            ),
        }));
    }
    let mut rejected = match manifest {
        Some(manifest) if !options.include_rejected => manifest.rejected_for(serial)?,
        _ => Default::default(),
    };
    if let Some(choice) = choice {
        if !options.include_rejected {
            rejected.extend(choice.rejected.iter().cloned());
        }
        rejected.retain(|key| !choice.chosen.contains(key));
    }
    let (kept, dropped) = files.into_iter().partition(|file| {
        let key = file.key(serial);
        !rejected.contains(&key) && choice.is_none_or(|c| c.chosen.contains(&key))
    });
    let dropped: Vec<RemoteFile> = dropped;
    let rejected = dropped
        .into_iter()
        .filter(|file| rejected.contains(&file.key(serial)))
        .collect();
    Ok((kept, rejected))
}

/// Moves the files the manifest knows under a drifted key (a renamed storage,
/// a zone-shifted date: see [`super::moved`]) from "to copy" to "already
/// backed up", confirming by their first bytes where the key alone cannot tell.
fn recognise_drifted(
    session: &mut Session,
    dest_root: &Path,
    manifest: &Manifest,
    backed_up: &HashSet<FileKey>,
    current_storages: &HashSet<&str>,
    plan: &mut Plan,
) -> Result<(), PullError> {
    let mut known = HashSet::new();
    for candidate in moved::candidates(&plan.to_copy, backed_up, &plan.serial, current_storages) {
        let file = &plan.to_copy[candidate.index];
        let Some(record) = manifest.lookup(&candidate.recorded)? else {
            continue;
        };
        if candidate.confirm {
            let device_head = read_device_head(session, file, moved::CONFIRM_LEN)?;
            let copy = dest_root.join(&record.dest);
            let same = !device_head.is_empty()
                && read_head(&copy, moved::CONFIRM_LEN).is_ok_and(|head| head == device_head);
            if !same {
                continue;
            }
        }
        plan.recognised.push((file.key(&plan.serial), candidate.recorded));
        known.insert(candidate.index);
    }
    let (already, to_copy): (Vec<_>, Vec<_>) = std::mem::take(&mut plan.to_copy)
        .into_iter()
        .enumerate()
        .partition(|(index, _)| known.contains(index));
    plan.already.extend(already.into_iter().map(|(_, file)| file));
    plan.to_copy = to_copy.into_iter().map(|(_, file)| file).collect();
    Ok(())
}

fn announce(plan: &Plan, temps: &TempArea, observer: &mut dyn Observer, summary: &mut Summary) -> u64 {
    let resumable_bytes = plan
        .to_copy
        .iter()
        .map(|file| temps.resumable_len(&file.key(&plan.serial)))
        .fold(0, u64::saturating_add);
    summary.planned = plan.to_copy.len() as u64;
    summary.planned_bytes = plan.bytes_to_copy();
    summary.already = plan.already.len() as u64;
    summary.junk = plan.junk.len() as u64;
    summary.skipped_storages = plan.skipped_storages.clone();
    observer.event(&Event::Planned {
        plan,
        resumable_bytes,
    });
    resumable_bytes
}

fn real_run(
    session: &mut Session,
    dest_root: &Path,
    options: &BackupOptions,
    cancel: &AtomicBool,
    observer: &mut dyn Observer,
    report: &mut RunReport,
) -> Result<(), PullError> {
    check_destination(dest_root, options.create_parents)?;
    // Nothing is created in DEST before the phone has shown its files: a
    // locked phone leaves no trace.
    let listing = list(session, options, cancel, observer)?;
    let first_backup = !Manifest::exists(dest_root);
    // Creates DEST durably (its parent fsynced) before anything is filed into it.
    // A run that waits for DEST downloads meanwhile (see `staging`).
    let turn = if options.wait_for_destination {
        take_turn(
            session,
            dest_root,
            options,
            &listing,
            cancel,
            observer,
            &mut report.summary,
        )?
    } else {
        Turn {
            lock: DestLock::acquire(dest_root)?,
            staging: None,
            downloading: Duration::ZERO,
        }
    };
    let _lock = turn.lock;
    let mut manifest = match Manifest::open(dest_root) {
        Err(error) if options.rescan && error.is_damaged() => Manifest::replace_damaged(dest_root)?.0,
        opened => opened?,
    };
    // A first backup into a folder that already holds photos indexes them, so
    // that what is there under another name is not copied again.
    if options.rescan || (first_backup && holds_files(dest_root)?) {
        report.rescan = Some(manifest.rescan(dest_root)?);
    }
    let temps = TempArea::new(dest_root);
    temps.create().map_err(PullError::disk(temps.dir()))?;
    // What this run downloaded while it waited, and what runs that died left staged.
    let staged = match turn.staging {
        Some(staging) => staging.adopt(&temps).map_err(PullError::disk(temps.dir()))?,
        None => Staged::new(),
    };
    adopt_dead(dest_root, &temps).map_err(PullError::disk(temps.dir()))?;
    let Planned { plan, stale, .. } = make_plan(
        session,
        dest_root,
        options,
        Some(&manifest),
        listing,
        &mut report.notes,
    )?;
    // Deleted or edited in DEST since: copied again (an edited file keeps its name).
    manifest.forget(&stale)?;
    // Known under a drifted key: recorded under today's key too.
    manifest.record_aliases(&plan.recognised)?;
    if let Some(choice) = &options.choice {
        manifest.record_choice(&choice.chosen, &choice.rejected)?;
    }
    let resumable = announce(&plan, &temps, observer, &mut report.summary);
    check_space(dest_root, plan.bytes_to_copy().saturating_sub(resumable))?;

    let model = device_model(session);
    let mut run = Run {
        session,
        dest_root,
        options,
        cancel,
        observer,
        manifest: &mut manifest,
        temps: &temps,
        serial: &plan.serial,
        model,
        // Each temp file is fsynced before it is filed (by `waiting`'s thread).
        filer: Filer::new(dest_root, Mode::Move).settled_sources(),
        resolver: DateResolver::system(),
        zone_hints: ZoneHints::new(),
        bursts: Bursts::new(&plan),
        leads: Leads::new(&plan),
        summary: &mut report.summary,
        can_delete: options.delete_after,
        ambiguous: &plan.ambiguous,
        pending: Vec::new(),
        pending_contents: HashMap::new(),
        last_commit: Instant::now(),
        waiting: Waiting::default(),
        staged,
    };
    // The rate is the transfer's: not the wait for an unlock, nor the listing.
    let transfer_started = Instant::now();
    let copied = run.copy_all(&plan.to_copy);
    for twin in &plan.twins {
        let error = format!(
            "the device lists another file as {} with the same size and date: only one is \
             copied, and neither is deleted; rename one on the phone",
            twin.display_path()
        );
        let outcome = FileOutcome::Failed { error };
        run.summary.count(&outcome);
        run.observer.event(&Event::Finished {
            file: twin,
            outcome: &outcome,
        });
    }
    run.summary.elapsed = transfer_started.elapsed() + turn.downloading;
    // Whatever stopped the run, what was filed gets recorded.
    let committed = run.commit();
    copied.and(committed)?;
    if options.delete_after {
        for file in &plan.already {
            match run.manifest.lookup(&file.key(run.serial))? {
                Some(record) => run.delete_from_device(file, &record),
                None => run.refuse_delete(file, MISSING_COPY),
            }
        }
    }
    if run.summary.failed == 0 {
        // Downloads of files that changed or vanished on the phone can never finish.
        let keep = plan.to_copy.iter().map(|file| file.key(&plan.serial));
        temps
            .sweep(&plan.serial, keep)
            .map_err(PullError::disk(temps.dir()))?;
    }
    Ok(())
}

/// Why `--delete-after` keeps a file whose copy is not as recorded.
const MISSING_COPY: &str = "not deleted: its backup copy is missing or changed; run with --rescan";
/// Why `--delete-after` keeps a file listed twice.
const TWIN: &str = "not deleted: the device lists another file under the same name, size and \
     date, and which of them was copied cannot be told; rename one on the phone";

/// A file failed (the run goes on) or the run must stop.
enum Failure {
    File(String),
    Run(PullError),
}

impl From<PullError> for Failure {
    fn from(error: PullError) -> Self {
        Failure::Run(error)
    }
}

struct Run<'a> {
    session: &'a mut Session,
    dest_root: &'a Path,
    options: &'a BackupOptions,
    cancel: &'a AtomicBool,
    observer: &'a mut dyn Observer,
    manifest: &'a mut Manifest,
    temps: &'a TempArea,
    serial: &'a str,
    /// The device's model, for `{device}` in the template.
    model: String,
    filer: Filer,
    resolver: DateResolver<Local>,
    /// Offsets recorded by the photos dated so far, for videos with only UTC times.
    zone_hints: ZoneHints,
    /// The date of each burst's first shot, for the others.
    bursts: Bursts,
    /// Where each file that others travel with landed (relative to DEST).
    leads: Leads<'a>,
    summary: &'a mut Summary,
    /// Cleared when the device refuses DeleteObject altogether.
    can_delete: bool,
    /// Keys the device lists more than once: never deleted.
    ambiguous: &'a HashSet<FileKey>,
    /// Filed files whose folders and records are not yet durable.
    pending: Vec<(&'a RemoteFile, Record)>,
    /// Where the pending files' bytes are, for duplicates within a batch.
    pending_contents: HashMap<(ContentHash, u64), String>,
    last_commit: Instant,
    /// Finished downloads whose fsync runs while the next files download.
    waiting: Waiting<'a>,
    /// Files downloaded whole while the run waited for DEST, now in the temp folder.
    staged: Staged,
}

impl<'a> Run<'a> {
    /// Downloads and files `files`; whatever stops the downloads, the finished ones
    /// are still filed (a failure to file them leaves them whole for the next run).
    fn copy_all(&mut self, files: &'a [RemoteFile]) -> Result<(), PullError> {
        let downloaded = self.download_all(files);
        let filed = self.file_waiting();
        downloaded.and(filed)
    }

    fn download_all(&mut self, files: &'a [RemoteFile]) -> Result<(), PullError> {
        for file in files {
            if self.cancel.load(Ordering::Relaxed) {
                return Err(PullError::Interrupted);
            }
            match self.copy(file) {
                Ok(Some(synced)) => self.file_synced(synced)?,
                Ok(None) => {}
                Err(Failure::File(error)) => {
                    self.manifest
                        .record_failed(self.serial, &file.path, file.size, &error)?;
                    self.finished(file, FileOutcome::Failed { error })?;
                }
                Err(Failure::Run(error)) => return Err(error),
            }
        }
        Ok(())
    }

    /// Files every download still waiting, oldest first.
    fn file_waiting(&mut self) -> Result<(), PullError> {
        while let Some(synced) = self.waiting.pop() {
            self.file_synced(synced)?;
        }
        Ok(())
    }

    /// Files a download whose fsync is done.
    fn file_synced(&mut self, (downloaded, synced): Synced<'a>) -> Result<(), PullError> {
        synced.map_err(PullError::disk(&downloaded.path))?;
        let file = downloaded.file;
        let outcome = self.file(downloaded)?;
        self.finished(file, outcome)
    }

    /// Counts and reports a file done with, and commits the batch when it is due.
    fn finished(&mut self, file: &RemoteFile, outcome: FileOutcome) -> Result<(), PullError> {
        self.summary.count(&outcome);
        self.observer.event(&Event::Finished {
            file,
            outcome: &outcome,
        });
        if self.pending.len() >= BATCH_FILES
            || self.last_commit.elapsed() >= self.options.batch_time.unwrap_or(BATCH_TIME)
        {
            self.commit()?;
        }
        Ok(())
    }

    /// Makes the pending batch durable — folders fsynced, then records
    /// committed in one transaction — then deletes it from the device if asked.
    fn commit(&mut self) -> Result<(), PullError> {
        self.last_commit = Instant::now();
        if self.pending.is_empty() {
            return Ok(());
        }
        self.filer.sync()?;
        let records: Vec<Record> = self.pending.iter().map(|(_, record)| record.clone()).collect();
        self.manifest.record_all(&records)?;
        self.pending_contents.clear();
        for (file, record) in std::mem::take(&mut self.pending) {
            self.delete_from_device(file, &record);
        }
        Ok(())
    }

    /// Downloads and verifies `file`, then leaves it waiting for its fsync. Returns
    /// the download that has waited longest, to be filed, once enough wait.
    fn copy(&mut self, file: &'a RemoteFile) -> Result<Option<Synced<'a>>, Failure> {
        let key = file.key(self.serial);
        let temp_path = self.temps.path_for(&key);
        let mut part =
            PartialFile::open(&temp_path, file.exact_size()).map_err(PullError::disk(&temp_path))?;
        // Downloaded whole while the run waited for DEST: not asked of the phone again
        // if the bytes read back are those that arrived (else downloaded again).
        let staged = match self.staged.remove(&key) {
            Some(arrived) if part.holds(arrived) => true,
            Some(_) => {
                part.restart().map_err(PullError::disk(&temp_path))?;
                false
            }
            None => false,
        };
        let resume_from = part.len();
        if resume_from > 0 && !staged {
            self.summary.resumed += 1;
        }
        self.observer.event(&Event::Started { file, resume_from });
        let mut transferred = if staged {
            Ok(None)
        } else {
            self.download(file, &mut part)
        };
        if let Err(TransferError::Session(error)) = &transferred {
            match self.take_up_again(file, error) {
                Ok(true) => transferred = self.download(file, &mut part),
                Ok(false) => {}
                Err(failure) => {
                    let _ = part.suspend();
                    return Err(failure);
                }
            }
        }
        match transferred {
            Ok(Some(note)) => self.observer.event(&Event::Note { file, note: &note }),
            Ok(None) => {}
            Err(error) => return Err(self.transfer_failed(file, part, error)),
        }
        let finished = part
            .finish(file.modified.as_ref().and_then(device_instant))
            .map_err(PullError::disk(&temp_path))?;
        Ok(self.waiting.push(file, finished))
    }

    /// Files a download whose fsync is done and queues its record for the batch.
    fn file(&mut self, downloaded: Downloaded<'a>) -> Result<FileOutcome, PullError> {
        let Downloaded {
            file,
            path: temp_path,
            len: bytes,
            hash,
        } = downloaded;
        let (dest, outcome, dated) = self.file_by_date(file, &temp_path, bytes, &hash)?;
        self.pending_contents.insert((hash, bytes), dest.clone());
        let dest_path = self.dest_root.join(&dest);
        let dest_meta = fs::symlink_metadata(&dest_path).map_err(PullError::disk(&dest_path))?;
        let record = Record {
            key: file.key(self.serial),
            dest: dest.clone(),
            bytes,
            hash,
            outcome,
            copied_at: Local::now(),
            dest_mtime: Some(mtime_of(&dest_meta)),
        };
        self.pending.push((file, record));
        Ok(match outcome {
            Outcome::Copied => FileOutcome::Copied {
                dest: dest.into(),
                bytes,
                undated: dated.is_none(),
            },
            Outcome::Duplicate => FileOutcome::Duplicate { dest: dest.into() },
        })
    }

    /// Moves `file`'s bytes into `part`, from where it stopped.
    fn download(
        &mut self,
        file: &RemoteFile,
        part: &mut PartialFile,
    ) -> Result<Option<String>, TransferError> {
        let (observer, summary) = (&mut *self.observer, &mut *self.summary);
        download(self.session, file, part, self.cancel, &mut |bytes| {
            summary.bytes_received += bytes;
            observer.event(&Event::Received { bytes });
        })
    }

    /// After a download broke off below the protocol with the phone still
    /// there: whether to take it up again, once, from where it stopped.
    ///
    /// A stall the phone reports as its own (it could not read the file:
    /// Get Device Status says Transaction Cancelled) is a failed file, tried
    /// again by the next run. Any other stall, a timeout or a garbled answer
    /// is given up (Cancel, drain, clear halts) with the session kept, so
    /// the handles still name the same files and the download goes on with a
    /// partial read; if giving it up fails, the run stops as before.
    fn take_up_again(&mut self, file: &RemoteFile, error: &SessionError) -> Result<bool, Failure> {
        if error.is_stall() {
            match self.session.recover_from_device_cancel() {
                Ok(true) => {
                    return Err(Failure::File(format!(
                        "the phone could not read this file: it stopped the transfer and \
                         reported an error of its own ({error}); the next backup tries it \
                         again, last"
                    )));
                }
                Ok(false) => {}
                Err(source) => {
                    return Err(Failure::Run(PullError::Device {
                        context: format!("recovering after {}", file.display_path()),
                        source,
                    }));
                }
            }
        }
        if !error.broke_off() {
            return Ok(false);
        }
        let (SessionError::Transport { op, .. } | SessionError::Protocol { op, .. }) = error else {
            return Ok(false);
        };
        Ok(self.session.abandon_transaction(*op).is_ok())
    }

    /// What a failed download means for the run; the temp file is kept for a
    /// resume unless its bytes cannot be a prefix of the file.
    fn transfer_failed(&mut self, file: &RemoteFile, part: PartialFile, error: TransferError) -> Failure {
        let path = part.path().to_owned();
        match error {
            TransferError::Mismatch(reason) => {
                drop(part);
                let _ = fs::remove_file(&path);
                Failure::File(format!(
                    "{reason}; it may have changed on the phone (list it again)"
                ))
            }
            TransferError::Local(source) => Failure::Run(PullError::Disk { path, source }),
            TransferError::Cancelled => {
                let _ = part.suspend();
                Failure::Run(PullError::Interrupted)
            }
            TransferError::Session(source) => {
                let kept = part.suspend();
                if let SessionError::Locked { hint, .. } = source {
                    // Locked mid-run: the screen lock hid the storages.
                    return Failure::Run(PullError::Locked { hint });
                }
                if source.needs_recovery() {
                    match kept {
                        Ok(kept) => Failure::Run(PullError::Connection {
                            file: file.display_path(),
                            kept,
                            size: file.size,
                            source,
                        }),
                        Err(disk) => Failure::Run(PullError::Disk { path, source: disk }),
                    }
                } else {
                    Failure::File(source.to_string())
                }
            }
        }
    }

    /// Files a complete, fsynced temp file: a duplicate of something DEST
    /// holds is recorded against that; otherwise it is renamed into its dated folder.
    fn file_by_date(
        &mut self,
        file: &RemoteFile,
        temp_path: &Path,
        bytes: u64,
        hash: &ContentHash,
    ) -> Result<(String, Outcome, Option<Dated>), PullError> {
        let known = match self.pending_contents.get(&(*hash, bytes)) {
            Some(dest) => Some(dest.clone()),
            None => self.manifest.find_content(self.dest_root, hash, bytes)?,
        };
        if let Some(existing) = known {
            // The hash found a candidate; only the same bytes make a duplicate.
            if same_content(temp_path, &self.dest_root.join(&existing))? {
                step("remove a duplicate download")
                    .and_then(|()| fs::remove_file(temp_path))
                    .map_err(PullError::disk(temp_path))?;
                self.leads.landed(&file.key(self.serial), existing.clone());
                return Ok((existing, Outcome::Duplicate, None));
            }
        }
        let copy = File::open(temp_path).map_err(PullError::disk(temp_path))?;
        let dated = self
            .resolver
            .resolve_reader(copy, bytes, file.name(), device_moment(file))
            .map_err(PullError::disk(temp_path))?;
        let dated = with_zone_hints(&mut self.zone_hints, dated);
        let (session, manifest) = (&mut *self.session, &*self.manifest);
        let dated = self.bursts.date(file, dated, |first| {
            backed_up_date(
                session,
                self.dest_root,
                Some(manifest),
                self.serial,
                first,
                &self.resolver,
            )
        })?;
        let key = file.key(self.serial);
        let planned = match self.leads.beside_lead(&key, Some(self.manifest))? {
            Some(beside) => beside,
            None => {
                let planned = sort::plan(&self.options.template, dated.as_ref(), &file.origin(&self.model));
                let root = self.dest_root;
                let dir = root.join(planned.parent().unwrap_or(Path::new("")));
                let vacant = |path: &Path| {
                    fs::symlink_metadata(root.join(path)).is_err_and(|e| e.kind() == io::ErrorKind::NotFound)
                };
                let fits =
                    |path: &Path| vacant(path) || same_content(temp_path, &root.join(path)).unwrap_or(false);
                self.leads
                    .room_for_group(&key, planned, (&dir, Vec::new()), fits, vacant)
            }
        };
        let filed = self.filer.file(&planned, temp_path)?;
        self.leads.landed(&key, relative(self.dest_root, &filed.path));
        let outcome = if filed.outcome == sort::Outcome::Duplicate {
            step("remove a duplicate download")
                .and_then(|()| fs::remove_file(temp_path))
                .map_err(PullError::disk(temp_path))?;
            Outcome::Duplicate
        } else {
            Outcome::Copied
        };
        Ok((relative(self.dest_root, &filed.path), outcome, dated))
    }

    /// Whether DEST holds `record`'s bytes right now, in a visible file reached
    /// without following links: read back and hashed, just before a deletion.
    fn backup_verified(&self, record: &Record) -> bool {
        if !is_visible(&record.dest) {
            return false;
        }
        let Ok(root) = Root::open(self.dest_root) else {
            return false;
        };
        let Ok(file) = root.open_file(Path::new(&record.dest)) else {
            return false;
        };
        file.metadata().is_ok_and(|meta| meta.len() == record.bytes)
            && ContentHash::of_reader(file).is_ok_and(|hash| hash == record.hash)
    }

    /// Reports a file kept on the device because its backup copy is not as recorded.
    fn refuse_delete(&mut self, file: &RemoteFile, why: &str) {
        self.observer.event(&Event::Deleted {
            file,
            error: Some(why.to_owned()),
        });
        self.summary.delete_failed += 1;
    }

    /// `--delete-after`: deletes a recorded file from the device once its copy is
    /// checked again, byte for byte.
    fn delete_from_device(&mut self, file: &RemoteFile, record: &Record) {
        if !self.can_delete {
            return;
        }
        if self.ambiguous.contains(&record.key) {
            return self.refuse_delete(file, TWIN);
        }
        if !self.backup_verified(record) {
            return self.refuse_delete(file, MISSING_COPY);
        }
        let result = fault_points::step("delete a file from the phone")
            .map_err(|_| SessionError::Device {
                code: ResponseCode::GENERAL_ERROR,
                op: OperationCode::DELETE_OBJECT,
            })
            .and_then(|()| self.session.delete_object(file.handle));
        let error = match result {
            Ok(()) => {
                self.summary.deleted += 1;
                self.summary.bytes_freed = self.summary.bytes_freed.saturating_add(file.size);
                None
            }
            Err(error) => {
                self.summary.delete_failed += 1;
                // A device without DeleteObject, or one no longer there, refuses them all.
                if matches!(error, SessionError::Unsupported { .. }) || error.needs_recovery() {
                    self.can_delete = false;
                }
                Some(error.to_string())
            }
        };
        self.observer.event(&Event::Deleted { file, error });
    }
}

fn dry_run(
    session: &mut Session,
    dest_root: &Path,
    options: &BackupOptions,
    cancel: &AtomicBool,
    observer: &mut dyn Observer,
    report: &mut RunReport,
) -> Result<(), PullError> {
    check_destination(dest_root, options.create_parents)?;
    let listing = list(session, options, cancel, observer)?;
    let manifest = Manifest::open_read_only(dest_root)?;
    if manifest.is_none() && holds_files(dest_root)? {
        report.notes.push(format!(
            "{} holds files but no backup manifest: the real run first indexes them, so that \
             photos already there under another name are not copied again; this dry run can \
             only spot those under the same name",
            dest_root.display()
        ));
    }
    let Planned { plan, mut heads, .. } = make_plan(
        session,
        dest_root,
        options,
        manifest.as_ref(),
        listing,
        &mut report.notes,
    )?;
    let temps = TempArea::new(dest_root);
    announce(&plan, &temps, observer, &mut report.summary);
    let mut cache = Recall::open(options.date_cache.as_deref(), &plan.serial);
    let placed = predict_all(
        session,
        (dest_root, manifest.as_ref()),
        options,
        &plan,
        &mut heads,
        &mut cache,
        observer,
    );
    cache.finish(placed.is_ok(), &mut report.notes);
    placed?;
    if options.delete_after {
        for file in &plan.already {
            let recorded = match &manifest {
                Some(manifest) => manifest.lookup(&file.key(&plan.serial))?.is_some(),
                None => false,
            };
            if recorded {
                observer.event(&Event::WouldDelete {
                    file,
                    after_copy: false,
                });
            }
        }
        for file in &plan.to_copy {
            observer.event(&Event::WouldDelete {
                file,
                after_copy: true,
            });
        }
    }
    Ok(())
}

/// Where each file to copy would land, each reported as it is placed: dated from
/// `--since`'s reading, from the cache, or by reading its headers on the phone.
fn predict_all(
    session: &mut Session,
    (dest_root, manifest): (&Path, Option<&Manifest>),
    options: &BackupOptions,
    plan: &Plan,
    heads: &mut Heads,
    cache: &mut Recall,
    observer: &mut dyn Observer,
) -> Result<(), PullError> {
    let resolver = DateResolver::system();
    let mut hints = ZoneHints::new();
    let mut bursts = Bursts::new(plan);
    let mut leads = Leads::new(plan);
    let mut predictor = Predictor::new(dest_root);
    let model = device_model(session);
    for file in &plan.to_copy {
        let key = file.key(&plan.serial);
        let on_device = match heads.remove(&file.handle) {
            Some(on_device) => on_device,
            None => match cache.get(&key) {
                Some(remembered) => DatedOnDevice {
                    dated: remembered.dated.map(|dated| resolver.recall(dated)),
                    head: remembered.head,
                    read: 0,
                },
                None => date_on_device(session, &resolver, file)?,
            },
        };
        cache.remember(
            &key,
            &Remembered {
                dated: on_device.dated,
                head: on_device.head,
            },
        );
        let dated = with_zone_hints(&mut hints, on_device.dated);
        let dated = bursts.date(file, dated, |first| {
            backed_up_date(session, dest_root, manifest, &plan.serial, first, &resolver)
        })?;
        let (head, read_from_device) = (on_device.head, on_device.read);
        let planned = match leads.beside_lead(&key, manifest)? {
            Some(beside) => beside,
            None => {
                let planned = sort::plan(&options.template, dated.as_ref(), &file.origin(&model));
                let planned = predictor.safe(&planned);
                let dir = dest_root.join(planned.parent().unwrap_or(Path::new("")));
                let fits = |path: &Path| predictor.would_take(path, file.size, head);
                let vacant = |path: &Path| predictor.is_vacant(path);
                // Gone through only for a group planned with `{seq}`: a dry run of
                // 100,000 files must not copy every claim for each file.
                leads.room_for_group(&key, planned, (&dir, predictor.claimed()), fits, vacant)
            }
        };
        let predicted = predictor.predict(&planned, file.size, head);
        leads.landed(&key, relative(dest_root, &predicted.path));
        let entry = DryRunEntry {
            dest: relative(dest_root, &predicted.path).into(),
            date_source: dated.map(|dated| dated.why()),
            maybe_duplicate: predicted.maybe_duplicate,
            read_from_device,
        };
        observer.event(&Event::WouldCopy { file, entry: &entry });
    }
    Ok(())
}

/// The dry run's cache of dates read from the phone, while it works. A problem with
/// it turns it off and becomes a note: the phone is then read as without it.
struct Recall {
    cache: Option<DateCache>,
    problem: Option<String>,
}

impl Recall {
    fn open(path: Option<&Path>, serial: &str) -> Recall {
        let (cache, problem) = match path.map(|path| (path, DateCache::open(path, serial))) {
            None => (None, None),
            Some((_, Ok(cache))) => (Some(cache), None),
            Some((path, Err(error))) => (None, Some(format!("{}: {error}", path.display()))),
        };
        Recall { cache, problem }
    }

    fn get(&mut self, key: &FileKey) -> Option<Remembered> {
        let found = self.cache.as_ref()?.get(key);
        self.check(found).flatten()
    }

    fn remember(&mut self, key: &FileKey, remembered: &Remembered) {
        if let Some(cache) = &self.cache {
            let kept = cache.remember(key, remembered);
            self.check(kept);
        }
    }

    fn check<T>(&mut self, result: Result<T, CacheError>) -> Option<T> {
        result
            .map_err(|error| {
                self.cache = None;
                self.problem = Some(error.to_string());
            })
            .ok()
    }

    /// Commits what was learned (`complete`: the run reached every file).
    fn finish(self, complete: bool, notes: &mut Vec<String>) {
        let problem = match self.cache.map(|cache| cache.finish(complete)) {
            Some(Err(error)) => Some(error.to_string()),
            _ => self.problem,
        };
        if let Some(problem) = problem {
            notes.push(format!(
                "the dates read could not be kept for the next dry run ({problem}); it will \
                 read them from the phone again"
            ));
        }
    }
}

/// Whether DEST holds anything besides mtpull's own state (a missing DEST holds nothing).
fn holds_files(dest_root: &Path) -> Result<bool, PullError> {
    let entries = match fs::read_dir(dest_root) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(error) => return Err(PullError::disk(dest_root)(error)),
    };
    for entry in entries {
        let entry = entry.map_err(PullError::disk(dest_root))?;
        if entry.file_name() != STATE_DIR {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Where the files that others travel with landed, so that a sidecar or a Live
/// Photo's video is filed beside its photo, under the photo's final base name.
struct Leads<'p> {
    plan: &'p Plan,
    /// Files others travel with, and (once known) where they landed.
    landed: HashMap<&'p FileKey, Option<String>>,
    /// For each file, how the files this run copies with it are named beside it.
    companions: HashMap<&'p FileKey, Vec<&'p Follows>>,
}

impl<'p> Leads<'p> {
    fn new(plan: &'p Plan) -> Self {
        let landed = plan.travels_with.values().map(|(lead, _)| (lead, None)).collect();
        let mut companions: HashMap<&FileKey, Vec<&Follows>> = HashMap::new();
        for file in &plan.to_copy {
            if let Some((lead, follows)) = plan.travels_with.get(&file.key(&plan.serial)) {
                companions.entry(lead).or_default().push(follows);
            }
        }
        Leads {
            plan,
            landed,
            companions,
        }
    }

    /// Where a file that others travel with goes so that they all find room beside
    /// it: `planned`, numbered by the first `-N` (or `{seq}` number) under which its
    /// own name `fits` and its companions' names are `vacant`, so that a clash renames
    /// the pair together (`IMG_1-1.HEIC` with `IMG_1-1.MOV`, never `IMG_1.HEIC` beside
    /// `IMG_1-1.MOV`). Unchanged for a file that travels alone.
    fn room_for_group<'c>(
        &self,
        key: &FileKey,
        planned: PathBuf,
        (dir_in_dest, claimed): (&Path, impl IntoIterator<Item = &'c Path>),
        mut fits: impl FnMut(&Path) -> bool,
        vacant: impl Fn(&Path) -> bool,
    ) -> PathBuf {
        let Some(companions) = self.companions.get(key) else {
            return planned;
        };
        let name = planned
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let stems = seq_stems(&name, dir_in_dest, claimed);
        (0..=MAX_CLASH_SUFFIX)
            .map(|n| planned.with_file_name(numbered(&name, n)))
            .find(|candidate| {
                let own = candidate.file_name().unwrap_or_default().to_string_lossy();
                let numbered_elsewhere = stems
                    .as_ref()
                    .is_some_and(|stems| stems.contains(&stem_key(&own)))
                    && vacant(candidate);
                !numbered_elsewhere
                    && fits(candidate)
                    && companions
                        .iter()
                        .all(|follows| vacant(&candidate.with_file_name(follows.name_beside(&own))))
            })
            .unwrap_or(planned)
    }

    /// Notes where a file landed (relative to DEST), if others travel with it.
    fn landed(&mut self, key: &FileKey, dest: String) {
        if let Some(landed) = self.landed.get_mut(key) {
            *landed = Some(dest);
        }
    }

    /// The planned path of a file that travels with another: beside where that one
    /// landed in this run, or in an earlier one (the manifest). `None`: it goes by its
    /// own date (it travels with nothing, or its photo failed).
    fn beside_lead(&self, key: &FileKey, manifest: Option<&Manifest>) -> Result<Option<PathBuf>, PullError> {
        let Some((lead, follows)) = self.plan.travels_with.get(key) else {
            return Ok(None);
        };
        let lead_dest = match self.landed.get(lead) {
            Some(Some(dest)) => Some(dest.clone()),
            _ => match manifest {
                Some(manifest) => manifest.lookup(lead)?.map(|record| record.dest),
                None => None,
            },
        };
        Ok(lead_dest.map(|dest| {
            let dest = Path::new(&dest);
            let lead_name = dest.file_name().unwrap_or_default().to_string_lossy();
            dest.with_file_name(follows.name_beside(&lead_name))
        }))
    }
}

/// The device's date for a file, as the dating's last resort.
fn device_moment(file: &RemoteFile) -> Option<Moment> {
    file.modified.as_ref().map(moment)
}

/// A UTC time that nothing in the file places takes the offset of the nearest photo
/// in time dated so far in this run (the plan goes in path order, so `IMG_…` photos
/// come before the `VID_…` videos of their folder).
fn with_zone_hints(hints: &mut ZoneHints, dated: Option<Dated>) -> Option<Dated> {
    let dated = dated?;
    if let Some(offset) = dated.photo_offset() {
        hints.add(dated.time, offset);
    }
    match dated.instant.filter(|_| dated.zone_unknown()) {
        Some(instant) => Some(match hints.offset_near(instant) {
            Some(offset) => dated.rezoned(offset, ZoneSource::NearbyPhoto),
            None => dated,
        }),
        None => Some(dated),
    }
}

/// The first `len` bytes of a device file by a partial read, or nothing when
/// the device cannot read part of a file.
fn read_device_head(session: &mut Session, file: &RemoteFile, len: usize) -> Result<Vec<u8>, PullError> {
    let mut head = Vec::with_capacity(len.min(file.size as usize));
    if file.size == 0 || !session.can_read_partially(0) {
        return Ok(head);
    }
    let want = partial_read_len(file.size, 0, len as u64) as u32;
    session
        .get_partial_object(file.handle, 0, want, &mut head)
        .map_err(|source| PullError::Device {
            context: format!("reading the start of {}", file.display_path()),
            source,
        })?;
    Ok(head)
}

/// The first `len` bytes of a local file (the bytes [`read_device_head`] reads from the device).
fn read_head(path: &Path, len: usize) -> std::io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(len);
    File::open(path)?.take(len as u64).read_to_end(&mut head)?;
    Ok(head)
}

/// The device date as the sorter's last-resort date.
fn moment(time: &DeviceTime) -> Moment {
    match time.offset {
        Some(offset) => match time.local.and_local_timezone(offset).single() {
            Some(instant) => Moment::Instant(instant.to_utc()),
            None => Moment::WallClock(time.local),
        },
        None => Moment::WallClock(time.local),
    }
}

/// `path` inside DEST as the manifest stores it: relative, `/`-separated.
fn relative(dest_root: &Path, path: &Path) -> String {
    let inside: PathBuf = path.strip_prefix(dest_root).unwrap_or(path).to_owned();
    inside.to_string_lossy().replace(std::path::MAIN_SEPARATOR, "/")
}
