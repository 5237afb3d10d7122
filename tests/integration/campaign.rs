//! The cut campaign: `backup` (with and without `--delete-after`), `sort`, `sort --move`
//! and `restore`, each cut at every point it passes, then checked, then run again and
//! checked again. The points are:
//! - every progress event (a piece received, a file filed, a file deleted): the run
//!   crashes there (it unwinds at that point, as a crash would cut it; mtpull has no
//!   destructor that cleans up, so unwinding leaves what a killed process leaves);
//! - every step that changes DEST, mtpull's state or the phone (`mtpull::fault_points`:
//!   a file created, written, fsynced, renamed, linked, removed, a folder made or
//!   fsynced, a manifest commit, an intent record, a deletion or upload on the phone),
//!   twice: once crashing there, once failing there as a failed system call or a
//!   refused transaction would, the run carrying on as it does.
//!
//! After each cut: every file under a final name is a whole source file, none twice,
//! every manifest record holds its bytes, nothing is deleted from the phone that DEST
//! does not hold visibly, nor before the fsyncs and the commit that make its copy
//! durable (in the order the steps were taken), nothing is written outside DEST,
//! nothing lost between SRC and DEST. After the rerun: every file exactly once, no temp file or intent left, manifest
//! rows = files (restore: every file on the phone once, whole, no upload pending).
//!
//! `cargo test` cuts at every event and at every 7th step, backups on three profiles;
//! `MTPULL_CAMPAIGN=full` cuts at every step, backups on five (the README gives the
//! command and its figures).

use std::collections::BTreeMap;
use std::fs;
use std::num::NonZeroUsize;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Once;
use std::sync::atomic::AtomicBool;

use mtpull::fault_points::{self, Action, Crash, Plan};
use mtpull::pull::{BackupOptions, Event, Manifest, Only};
use mtpull::restore::{self, DEFAULT_FOLDER, Journal, RestoreOptions};
use mtpull::session::Session;
use mtpull::sim::{Content, Profile, SimDevice, StorageSpec};
use mtpull::sort::{DateResolver, Mode, Template, TreeOptions, sort_tree};
use mtpull::sort::{DestLock, IntentLog};

use crate::backup_util::{
    STORAGE, assert_consistent_with, phone, phone_files, run_backup, run_backup_with, tree,
};
use crate::util::{self, put};

/// The payload of a crash at a progress event.
struct EventCut;

/// Keeps the panic hook quiet for cuts, loud for anything else.
fn quiet_cuts() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !info.payload().is::<EventCut>() && !info.payload().is::<Crash>() {
                default(info);
            }
        }));
    });
}

/// Where a run is cut.
#[derive(Debug, Clone, Copy)]
enum Point {
    /// At its n-th progress event (1-based).
    Event(u64),
    /// At its n-th step (1-based), crashing or failing there.
    Step(u64, Action),
}

/// What a cut run did: whether it reached the point, and the steps it took.
struct Reached {
    cut: bool,
    steps: u64,
    log: Vec<&'static str>,
}

/// Runs `run` (given the progress callback) cut at `point`. Any panic but a cut fails
/// the test.
fn cut(point: Point, run: impl FnOnce(&mut dyn FnMut())) -> Reached {
    quiet_cuts();
    let (plan, at_event) = match point {
        Point::Event(at) => (Plan::new(0, Action::Crash), at),
        Point::Step(at, action) => (Plan::new(at, action), 0),
    };
    let armed = fault_points::adopt(Some(plan.clone()));
    let mut events = 0;
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
        run(&mut || {
            events += 1;
            if events == at_event {
                panic::panic_any(EventCut);
            }
        })
    }));
    drop(armed);
    let cut = match outcome {
        Ok(()) => plan.hit().is_some(),
        Err(payload) if payload.is::<EventCut>() || payload.is::<Crash>() => true,
        Err(payload) => panic::resume_unwind(payload),
    };
    Reached {
        cut,
        steps: plan.steps(),
        log: plan.log(),
    }
}

/// How many cuts of each kind a campaign made.
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    events: u64,
    crashes: u64,
    failures: u64,
}

impl Tally {
    fn total(self) -> u64 {
        self.events + self.crashes + self.failures
    }

    fn add(self, other: Tally) -> Tally {
        Tally {
            events: self.events + other.events,
            crashes: self.crashes + other.crashes,
            failures: self.failures + other.failures,
        }
    }
}

/// Whether this is the full run (`MTPULL_CAMPAIGN=full`).
fn full() -> bool {
    std::env::var("MTPULL_CAMPAIGN").as_deref() == Ok("full")
}

/// Every `stride`-th step is cut: all of them in the full run.
fn stride() -> u64 {
    if full() { 1 } else { 7 }
}

/// Cuts `one` at every event, then (its uncut run's step count known) at the sampled
/// steps, crashing and failing; `one` sets up afresh, cuts, checks, reruns, checks.
fn campaign(label: &str, one: impl Fn(Point) -> Reached) -> Tally {
    let mut tally = Tally::default();
    let steps = loop {
        let reached = one(Point::Event(tally.events + 1));
        if !reached.cut {
            break reached.steps;
        }
        tally.events += 1;
    };
    assert!(
        steps > 0,
        "{label}: no step seen: the fault points are not reached"
    );
    let stride = stride();
    for at in (1..=steps).filter(|at| (at - 1) % stride == 0 || *at == steps) {
        for action in [Action::Crash, Action::Fail] {
            let reached = one(Point::Step(at, action));
            assert!(reached.cut, "{label}: step {at} of {steps} not reached");
            match action {
                Action::Crash => tally.crashes += 1,
                Action::Kill => unreachable!("kills are campaign_kill.rs's"),
                Action::Fail => tally.failures += 1,
            }
        }
    }
    eprintln!(
        "campaign: {label}: {} cuts ({} at events, {} crashes and {} failures at {steps} steps, every {stride})",
        tally.total(),
        tally.events,
        tally.crashes,
        tally.failures,
    );
    tally
}

fn no_leftovers(dest: &Path) {
    let temps = dest.join(".mtpull/tmp");
    let left: Vec<_> = fs::read_dir(&temps).map(|d| d.count()).into_iter().collect();
    assert!(
        left.iter().all(|&n| n == 0),
        "temp files left in {}",
        temps.display()
    );
    assert_eq!(IntentLog::new(dest).pending().unwrap(), None, "an intent left");
    let staging = fs::read_dir(dest.join(".mtpull/staging")).map(|d| d.count());
    assert!(
        staging.is_err() || staging.is_ok_and(|n| n == 0),
        "staging left in DEST"
    );
    let hidden = tree(dest)
        .into_keys()
        .filter(|p| p.split('/').any(|l| l.starts_with('.')));
    assert_eq!(hidden.count(), 0, "hidden files left in DEST");
}

/// Nothing but `allowed` beside DEST (in a fresh temporary folder).
fn nothing_outside(root: &Path, allowed: &[&str], label: &str) {
    let beside: Vec<_> = fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| !allowed.contains(&name.as_str()))
        .collect();
    assert!(beside.is_empty(), "{label}: written outside DEST: {beside:?}");
}

// --- backup ---

/// The profiles a backup campaign runs on: three in `cargo test`, five in the full run
/// (QEMU's usb-mtp and the rule-breaking camera besides).
fn backup_profiles() -> Vec<Profile> {
    let mut profiles = vec![Profile::Android, Profile::Samsung, Profile::PtpCamera];
    if full() {
        profiles.extend([Profile::Qemu, Profile::CameraQuirky]);
    }
    profiles
}

fn backup_options(delete_after: bool) -> BackupOptions {
    BackupOptions {
        delete_after,
        // Batches cut by count only, so that every run takes the same steps.
        batch_time: Some(std::time::Duration::from_secs(3600)),
        ..BackupOptions::default()
    }
}

fn backup_campaign(delete_after: bool) -> Tally {
    let options = backup_options(delete_after);
    let name = if delete_after {
        "backup --delete-after"
    } else {
        "backup"
    };
    backup_profiles()
        .into_iter()
        .map(|profile| {
            campaign(&format!("{name} ({profile})"), |point| {
                backup_cut(profile, &options, point, false)
            })
        })
        .fold(Tally::default(), Tally::add)
}

/// `held`: another run holds DEST until this one (waiting for it, as phones plugged
/// in together do) has downloaded its files while it waits.
fn backup_cut(profile: Profile, options: &BackupOptions, point: Point, held: bool) -> Reached {
    let (phone, storage) = phone(profile);
    let originals = phone_files(&phone, storage);
    let serial = phone.identity().serial;
    let root = tempfile::tempdir().unwrap();
    let dest = root.path().join("dest");
    let mut busy = held.then(|| DestLock::acquire(&dest).unwrap());
    let reached = cut(point, |progress| {
        run_backup_with(&phone, &dest, options, &AtomicBool::new(false), |event| {
            if matches!(event, Event::DownloadedWhileWaiting { .. }) {
                busy = None;
            }
            progress();
        });
    });
    drop(busy);
    phone.unplug();
    if !reached.cut {
        return reached;
    }
    let label = format!("{profile}, cut at {point:?}");
    deletions_follow_durable_copies(&reached.log, &label);
    assert_consistent_with(&originals, &serial, &dest);
    let in_dest = tree(&dest);
    for (path, content) in &originals {
        if !phone_files(&phone, storage).contains_key(path) {
            let kept = in_dest
                .iter()
                .any(|(name, bytes)| !name.starts_with('.') && content.matches(&bytes[..]).unwrap());
            assert!(kept, "{label}: {path} deleted from the phone but not in DEST");
        }
    }
    nothing_outside(root.path(), &["dest"], &label);

    let (rerun, _) = run_backup(&phone, &dest, options);
    assert!(rerun.succeeded(), "{label}: rerun {:?}", rerun.stopped);
    assert_consistent_with(&originals, &serial, &dest);
    let media = originals.keys().filter(|p| !p.ends_with(".txt")).count();
    assert_eq!(tree(&dest).len(), media, "{label}: every file exactly once");
    let manifest = Manifest::open_read_only(&dest).unwrap().unwrap();
    assert_eq!(
        manifest.keys_for(&serial).unwrap().len(),
        media,
        "{label}: manifest rows = files"
    );
    no_leftovers(&dest);
    reached
}

/// No file is deleted from the phone while a name placed in DEST (or a folder made)
/// waits for its folder's fsync, or a record for the manifest's commit: in the order
/// the run took its steps.
fn deletions_follow_durable_copies(log: &[&str], label: &str) {
    // DEST and each parent made for it are fsynced into their parent at once: nothing
    // filed later makes them durable (a later folder fsync is another folder's).
    for pair in log.windows(2) {
        if pair[0] == "make DEST or a parent" {
            assert_eq!(
                pair[1], "sync a folder",
                "{label}: DEST made without fsyncing its parent: {log:?}"
            );
        }
    }
    let (mut unsynced, mut uncommitted) = (false, false);
    for step in log {
        match *step {
            "rename into place" | "link into place" => (unsynced, uncommitted) = (true, true),
            "make a folder" | "make DEST or a parent" => unsynced = true,
            "sync a folder" => unsynced = false,
            "commit the manifest" => {
                assert!(
                    !unsynced,
                    "{label}: the manifest committed before the folders' fsync"
                );
                uncommitted = false;
            }
            "delete a file from the phone" => {
                assert!(
                    !unsynced && !uncommitted,
                    "{label}: a deletion before its copy is durable: {log:?}"
                );
            }
            _ => {}
        }
    }
}

#[test]
fn backup_cut_at_every_step_loses_nothing() {
    let tally = backup_campaign(false);
    assert!(tally.events >= 60 && tally.crashes >= 20, "{tally:?}");
}

/// A backup that waits for DEST (held by another run) and downloads meanwhile into
/// its staging folder, with `--delete-after`: cut in its downloads while it waits, in
/// moving them into the temp folder, in filing them; the rerun takes over what the
/// cut run left staged.
#[test]
fn a_waiting_backup_cut_at_every_step_loses_nothing() {
    let options = BackupOptions {
        wait_for_destination: true,
        ..backup_options(true)
    };
    let profile = Profile::Android;
    let uncut = backup_cut(profile, &options, Point::Event(u64::MAX), true);
    for step in [
        "make the staging folder",
        "adopt a staged download",
        "remove a staging folder",
    ] {
        assert!(uncut.log.contains(&step), "{step:?} not taken: {:?}", uncut.log);
    }
    let tally = campaign("backup waiting for DEST, --delete-after", |point| {
        backup_cut(profile, &options, point, true)
    });
    assert!(tally.events >= 20 && tally.crashes >= 10, "{tally:?}");
}

#[test]
fn backup_delete_after_cut_at_every_step_loses_nothing() {
    let tally = backup_campaign(true);
    assert!(tally.events >= 60 && tally.crashes >= 20, "{tally:?}");
}

// --- sort ---

/// Distinct photos dated by name, a sidecar, and an undated file.
fn sort_source(src: &Path) -> Vec<Vec<u8>> {
    let mut contents = Vec::new();
    for i in 0..40u8 {
        let bytes = vec![i; 1000 + usize::from(i) * 37];
        put(
            &src.join(format!("d{}/IMG_2024050{}_10150{i:x}.jpg", i % 3, 1 + i % 5)),
            &bytes,
            1_700_000_000,
        );
        contents.push(bytes);
    }
    put(&src.join("d0/IMG_20240501_101500.xmp"), b"edits", 1_700_000_000);
    contents.push(b"edits".to_vec());
    put(&src.join("notes.txt"), b"undated", 0);
    contents.push(b"undated".to_vec());
    contents
}

fn sort_cut(mode: Mode, point: Point) -> Reached {
    let options = TreeOptions {
        template: Template::default(),
        mode,
        dry_run: false,
        jobs: NonZeroUsize::MIN,
        // The campaign's source has a document too: every file is sorted.
        only: Only::All,
    };
    let resolver = DateResolver::system();
    let never = AtomicBool::new(false);
    let root = tempfile::tempdir().unwrap();
    let (src, dest) = (root.path().join("src"), root.path().join("dest"));
    let contents = sort_source(&src);
    let reached = cut(point, |progress| {
        let _ = sort_tree(&src, &dest, &options, &resolver, &never, |_| progress());
    });
    if !reached.cut {
        return reached;
    }
    let label = format!("{mode:?} cut at {point:?}");
    // Nothing half-made or twice in DEST; nothing lost between SRC and DEST.
    let in_dest = util::tree(&dest);
    let in_src = util::tree(&src);
    for (name, bytes) in &in_dest {
        assert!(contents.contains(bytes), "{label}: {name} is no source file");
        assert_eq!(
            in_dest.iter().filter(|(_, b)| b == bytes).count(),
            1,
            "{label}: {name} twice"
        );
    }
    for bytes in &contents {
        let somewhere = in_dest.iter().chain(&in_src).any(|(_, b)| b == bytes);
        assert!(somewhere, "{label}: a file was lost");
    }
    nothing_outside(root.path(), &["src", "dest"], &label);
    sort_tree(&src, &dest, &options, &resolver, &never, |_| {}).unwrap();
    let in_dest = util::tree(&dest);
    for bytes in &contents {
        let copies = in_dest.iter().filter(|(_, b)| b == bytes).count();
        let left = util::tree(&src).iter().any(|(_, b)| b == bytes);
        // A sidecar whose photo moved in the cut run stays in SRC, by design.
        let sidecar_stayed = mode == Mode::Move && bytes == b"edits" && left;
        assert!(
            copies == 1 || sidecar_stayed,
            "{label}: {copies} copies after the rerun"
        );
        if mode == Mode::Move && !sidecar_stayed {
            assert!(!left, "{label}: a moved file is still in SRC");
        }
    }
    no_leftovers(&dest);
    reached
}

#[test]
fn sort_cut_at_every_step_loses_nothing() {
    let tally = campaign("sort", |point| sort_cut(Mode::Copy, point));
    assert!(tally.events >= 42 && tally.crashes >= 15, "{tally:?}");
}

#[test]
fn sort_move_cut_at_every_step_loses_nothing() {
    let tally = campaign("sort --move", |point| sort_cut(Mode::Move, point));
    assert!(tally.events >= 42 && tally.crashes >= 10, "{tally:?}");
}

// --- restore ---

/// Local files to restore: a few photos, one of several pieces.
fn restore_source(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for i in 0..6u32 {
        let len = if i == 0 {
            2_500_000
        } else {
            1000 + i as usize * 333
        };
        let bytes: Vec<u8> = (0..len).map(|b| (b as u32 * (i + 3) % 251) as u8).collect();
        let name = format!("IMG_2024060{}_120000.jpg", i + 1);
        fs::write(dir.join(&name), &bytes).unwrap();
        files.insert(name, bytes);
    }
    files
}

fn restore_once(
    phone: &SimDevice,
    storage: u32,
    sources: &[PathBuf],
    journal: &Path,
    progress: &mut dyn FnMut(),
) {
    let scanned = restore::scan(sources).unwrap();
    let Ok(mut session) = Session::open(Box::new(phone.connect())) else {
        return;
    };
    let Ok(mut journal) = Journal::open(journal) else {
        return;
    };
    let options = RestoreOptions {
        storage: mtpull::ptp::StorageId(storage),
        folder: DEFAULT_FOLDER.split('/').map(String::from).collect(),
        dry_run: false,
    };
    let _ = restore::restore(
        &mut session,
        &scanned.files,
        &options,
        &mut journal,
        &AtomicBool::new(false),
        &mut |_: &restore::Event<'_>| progress(),
    );
}

fn restore_cut(point: Point) -> Reached {
    let local = tempfile::tempdir().unwrap();
    let files = restore_source(local.path());
    let phone = SimDevice::new(Profile::Android);
    let storage = phone.add_storage(StorageSpec::new(STORAGE));
    let state = tempfile::tempdir().unwrap();
    let journal = state.path().join("uploads.json");
    let sources = [local.path().to_owned()];
    let reached = cut(point, |progress| {
        restore_once(&phone, storage, &sources, &journal, progress);
    });
    phone.unplug();
    if !reached.cut {
        return reached;
    }
    let label = format!("restore cut at {point:?}");
    // After the cut: what the phone holds whole is a source file; a short one is an
    // upload the journal names, for the next run to delete.
    let pending: Vec<String> = Journal::open(&journal)
        .map(|j| j.pending_for("SIM-ANDROID").into_iter().map(|p| p.path).collect())
        .unwrap_or_default();
    for (path, content) in phone_files(&phone, storage) {
        let whole = files.values().any(|bytes| content.matches(&bytes[..]).unwrap());
        assert!(
            whole || pending.contains(&path),
            "{label}: {path} is a half upload no journal names"
        );
    }
    assert_eq!(
        fs::read_dir(local.path()).unwrap().count(),
        files.len(),
        "{label}: the source changed"
    );
    restore_once(&phone, storage, &sources, &journal, &mut || {});
    phone.unplug();
    let on_phone = phone_files(&phone, storage);
    assert_eq!(on_phone.len(), files.len(), "{label}: {:?}", on_phone.keys());
    for (name, bytes) in &files {
        let content: &Content = &on_phone[&format!("{DEFAULT_FOLDER}/{name}")];
        assert!(
            content.matches(&bytes[..]).unwrap(),
            "{label}: {name} differs on the phone"
        );
    }
    let left = Journal::open(&journal).unwrap().pending_for("SIM-ANDROID");
    assert!(
        left.is_empty(),
        "{label}: uploads pending after the rerun: {left:?}"
    );
    reached
}

#[test]
fn restore_cut_at_every_step_loses_nothing() {
    let tally = campaign("restore", restore_cut);
    assert!(tally.events >= 6 && tally.crashes >= 3, "{tally:?}");
}

#[test]
#[should_panic(expected = "a deletion before its copy is durable")]
fn the_durability_check_sees_a_deletion_before_the_commit() {
    let log = [
        "rename into place",
        "sync a folder",
        "delete a file from the phone",
    ];
    deletions_follow_durable_copies(&log, "a run that forgot the commit");
}
