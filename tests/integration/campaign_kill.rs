//! The campaign's kill mode: the mtpull binary itself is killed mid-run. With
//! `MTPULL_FAULT_KILL_AT=N` it sends itself SIGKILL at its n-th step (`fault_points`),
//! so nothing runs after the cut — no destructor, no SQLite rollback, no temp cleanup,
//! unlike the in-process campaign (`campaign.rs`), whose crashes unwind. The phone is a
//! folder the simulated device serves and writes through (`MTPULL_SIM_FOLDER`): its
//! deletions and uploads outlive the killed process, as a real phone's do.
//!
//! `backup`, `backup --delete-after`, `sort`, `sort --move` and `restore` are each
//! killed at every `stride`-th step until a run passes its last step unkilled, and after
//! each kill: every file under a final name in DEST is a whole source file, none twice;
//! every manifest record names a file holding its bytes; nothing is gone from the phone
//! (or SRC) that DEST does not hold visibly; nothing is written beside DEST. Then the same
//! command runs again, unkilled, and must succeed: every file exactly once, manifest rows
//! = files, no temp file, hidden file or intent left (restore: every file on the phone
//! once, whole, no upload pending).
//!
//! `cargo test` kills at every 3rd step on small trees; `MTPULL_CAMPAIGN=full` at every
//! step. The big tree (`--include-ignored`: thousands of files and two over 64 MiB, so
//! that a killed download resumes past the first 64 MiB piece, across the overlap check)
//! is killed at `BIG_CUTS` points spread over the run and as many spread over the large
//! files' writes (found by counting the steps of the same run in-process first).

use std::collections::{BTreeMap, HashMap};
use std::ffi::{OsStr, OsString};
use std::fs;
use std::hash::{DefaultHasher, Hasher};
use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use chrono::NaiveDateTime;
use std::num::NonZeroUsize;
use std::sync::atomic::AtomicBool;

use mtpull::fault_points::{self, Action, KILL_AT_VAR, Plan, TRACE_VAR};
use mtpull::pull::{BackupOptions, Manifest, Only};
use mtpull::restore::{DEFAULT_FOLDER, Journal};
use mtpull::sim::Profile;
use mtpull::sim::demo;
use mtpull::sort::IntentLog;
use mtpull::sort::{DateResolver, Mode, Template, TreeOptions, sort_tree};
use walkdir::WalkDir;

use crate::backup_util::{run_backup, samples};

/// The serial of the folder-served phone (the demo phone's identity).
fn serial() -> String {
    demo::identity().serial
}

/// Whether this is the full run (`MTPULL_CAMPAIGN=full`).
fn full() -> bool {
    std::env::var("MTPULL_CAMPAIGN").as_deref() == Ok("full")
}

/// Which tree a campaign runs on.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Tree {
    /// A few files: killed at every (3rd) step.
    Small,
    /// Thousands of files and two over 64 MiB: killed at spread points.
    Big,
}

/// How many kills a campaign on the big tree makes spread over the whole run, and
/// again over the large files' writes.
const BIG_CUTS: usize = 8;

/// Files in the big tree besides the samples.
const BIG_FILES: usize = 2000;

/// Sizes of the big tree's large videos: over one 64 MiB piece, so that a download
/// killed in the first piece resumes into the second with the overlap check.
const LARGE: [u64; 2] = [(64 << 20) + 5_000_000, (64 << 20) + 123];

// --- contents ---

/// A file's fingerprint: its length and a hash of its bytes.
type Print = (u64, u64);

fn print_of_file(path: &Path) -> Print {
    let mut file = fs::File::open(path).unwrap();
    let mut hasher = DefaultHasher::new();
    let mut buf = vec![0; 1 << 20];
    let mut len = 0;
    loop {
        let n = file.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        hasher.write(&buf[..n]);
        len += n as u64;
    }
    (len, hasher.finish())
}

/// Every file below `root` (relative `/`-separated path → print), `.mtpull/` left out.
fn prints(root: &Path) -> BTreeMap<String, Print> {
    if !root.exists() {
        return BTreeMap::new();
    }
    WalkDir::new(root)
        .min_depth(1)
        .into_iter()
        .filter_entry(|e| e.depth() != 1 || e.file_name() != ".mtpull")
        .map(Result::unwrap)
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let relative = e.path().strip_prefix(root).unwrap().to_str().unwrap().to_owned();
            (relative, print_of_file(e.path()))
        })
        .collect()
}

/// Whether a path has a hidden component (a temp file, not under a final name).
fn hidden(path: &str) -> bool {
    path.split('/').any(|part| part.starts_with('.'))
}

/// Bytes made from a seed, distinct for each seed.
fn bytes_for(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = seed.to_le_bytes().to_vec();
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len.max(8));
    out
}

/// A file of `len` bytes from a seed, written in pieces (the large ones are 64+ MiB).
fn write_generated(path: &Path, seed: u64, len: u64, mtime: NaiveDateTime) {
    use std::io::Write;
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut file = fs::File::create(path).unwrap();
    let mut written = 0;
    let mut piece = 0;
    while written < len {
        let n = (len - written).min(1 << 20);
        let chunk = bytes_for(seed.wrapping_mul(1_000_003).wrapping_add(piece), n as usize);
        file.write_all(&chunk[..n as usize]).unwrap();
        written += n;
        piece += 1;
    }
    set_mtime(&file, mtime);
}

fn set_mtime(file: &fs::File, mtime: NaiveDateTime) {
    file.set_modified(mtime.and_utc().into()).unwrap();
}

fn write_file(path: &Path, bytes: &[u8], mtime: NaiveDateTime) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, bytes).unwrap();
    set_mtime(&fs::File::options().write(true).open(path).unwrap(), mtime);
}

/// The phone's files, written into `root`: the backup samples and a document, and in
/// the big tree thousands of camera photos dated by name and two large videos.
fn furnish_phone(root: &Path, tree: Tree) {
    for sample in samples() {
        write_file(&root.join(sample.path), &sample.bytes, sample.mtime);
    }
    let when = crate::backup_util::at(2024, 1, 1, 9, 0, 0);
    write_file(&root.join("Documents/notes.txt"), b"not a photo", when);
    if tree == Tree::Big {
        furnish_big(root, "DCIM/Camera");
    }
}

/// Thousands of small photos (dated by name, 1-9 KiB, all distinct) over many
/// days, and the large videos.
fn furnish_big(root: &Path, folder: &str) {
    let when = crate::backup_util::at(2024, 6, 1, 20, 0, 0);
    for i in 0..BIG_FILES {
        let (month, day, second) = (1 + i % 12, 1 + i % 28, i % 60);
        let name = format!("{folder}/IMG_2023{month:02}{day:02}_1015{second:02}_{i}.jpg");
        write_file(
            &root.join(name),
            &bytes_for(i as u64, 1024 + (i * 131) % 8192),
            when,
        );
    }
    for (n, len) in LARGE.into_iter().enumerate() {
        let name = format!("{folder}/VID_2023080{}_120000.mp4", n + 1);
        write_generated(&root.join(name), 1_000_000 + n as u64, len, when);
    }
}

/// A copy of `template` in `to` made of hard links: a deletion there (an unlink) leaves
/// the template whole, and nothing writes into a file the phone holds.
fn link_tree(template: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in WalkDir::new(template).min_depth(1) {
        let entry = entry.unwrap();
        let target = to.join(entry.path().strip_prefix(template).unwrap());
        if entry.file_type().is_dir() {
            fs::create_dir_all(&target).unwrap();
        } else {
            fs::hard_link(entry.path(), &target).unwrap();
        }
    }
}

// --- running mtpull ---

/// How one run ended.
enum Ended {
    /// Killed by its own SIGKILL at the step asked for.
    Killed,
    /// Ran to its end without reaching that step.
    Finished(Output),
}

/// A scene: a fresh folder holding the phone, SRC, DEST and mtpull's state.
struct Scene {
    root: tempfile::TempDir,
}

impl Scene {
    fn new() -> Scene {
        Scene {
            root: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.root.path().join(name)
    }

    /// Runs mtpull with `args`, killed at step `kill_at` when given, against the phone
    /// folder (`phone`), with its state and settings inside the scene.
    fn run(&self, args: &[&OsStr], kill_at: Option<u64>) -> Ended {
        self.run_traced(args, kill_at, None)
    }

    /// [`Scene::run`], tracing every step to `trace` when given.
    fn run_traced(&self, args: &[&OsStr], kill_at: Option<u64>, trace: Option<&Path>) -> Ended {
        let mut command = Command::new(env!("CARGO_BIN_EXE_mtpull"));
        command
            .args(args)
            .env("TZ", "UTC")
            .env("HOME", self.path("home"))
            .env("XDG_STATE_HOME", self.path("state"))
            .env("XDG_CONFIG_HOME", self.path("config"))
            .env("MTPULL_SIM_FOLDER", self.path("phone"))
            .env_remove(KILL_AT_VAR)
            .env_remove(TRACE_VAR)
            .stdin(Stdio::null());
        if let Some(at) = kill_at {
            command.env(KILL_AT_VAR, at.to_string());
        }
        if let Some(trace) = trace {
            command.env(TRACE_VAR, trace);
        }
        let output = command.output().expect("cannot run mtpull");
        match output.status.signal() {
            Some(9) if kill_at.is_some() => Ended::Killed,
            Some(signal) => panic!(
                "mtpull died of signal {signal} (kill at {kill_at:?}): {}",
                String::from_utf8_lossy(&output.stderr)
            ),
            None => Ended::Finished(output),
        }
    }

    /// Runs to the end, unkilled, and must succeed.
    fn run_to_end(&self, args: &[&OsStr], label: &str) {
        let Ended::Finished(output) = self.run(args, None) else {
            unreachable!("not asked to be killed")
        };
        assert!(
            output.status.success(),
            "{label}: rerun failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Nothing but `allowed` beside DEST.
    fn nothing_outside(&self, allowed: &[&str], label: &str) {
        let beside: Vec<_> = fs::read_dir(self.root.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|name| !allowed.contains(&name.as_str()))
            .collect();
        assert!(beside.is_empty(), "{label}: written outside DEST: {beside:?}");
    }
}

/// Where a campaign kills.
enum Points {
    /// At steps 1, 1 + n, 1 + 2n, … until a run finishes unkilled.
    Every(u64),
    /// At these steps (a run that finishes unkilled ends the list early).
    At(Vec<u64>),
}

/// The small trees' points: every step in the full run, every 3rd in `cargo test`.
fn every_step() -> Points {
    Points::Every(if full() { 1 } else { 3 })
}

/// The big tree's points, from the steps an unkilled run takes (`log`, in order):
/// `BIG_CUTS` spread over the whole run, and as many over the writes of the files
/// named `write_step` that come after the first `skip_writes` (the large files').
fn spread(log: &[&str], write_step: &str, skip_writes: usize) -> Points {
    let steps = log.len() as u64;
    let mut points: Vec<u64> = (0..BIG_CUTS as u64)
        .map(|i| 1 + i * steps / BIG_CUTS as u64)
        .collect();
    let writes: Vec<u64> = (1..=steps)
        .filter(|&n| log[n as usize - 1] == write_step)
        .skip(skip_writes)
        .collect();
    if !writes.is_empty() {
        points.extend((0..BIG_CUTS).map(|i| writes[i * writes.len() / BIG_CUTS]));
    }
    points.sort_unstable();
    points.dedup();
    Points::At(points)
}

/// What one killed run left for the next: its work half done (some files filed and
/// some not, temp files, hidden files, an intent or a half upload), or nothing yet or
/// everything (a kill before the first or after the last change).
#[derive(PartialEq)]
enum Killed {
    Midway,
    BeforeOrAfter,
}

/// Kills `one` at `points`; `one` sets up afresh, runs killed, checks, reruns, checks,
/// and says what the kill left (`None`: the run finished unkilled). Returns the number
/// of kills.
fn kill_campaign(label: &str, points: Points, one: impl Fn(u64) -> Option<Killed>) -> u64 {
    let (mut kills, mut midway, mut at) = (0, 0, 0);
    let next: Box<dyn Iterator<Item = u64>> = match points {
        Points::Every(stride) => Box::new((0..).map(move |i| 1 + i * stride)),
        Points::At(list) => Box::new(list.into_iter()),
    };
    for step in next {
        at = step;
        let Some(killed) = one(step) else { break };
        kills += 1;
        midway += u64::from(killed == Killed::Midway);
    }
    assert!(
        kills > 0,
        "{label}: never killed: the fault points are not reached"
    );
    assert!(midway > 0, "{label}: no kill cut the work midway");
    eprintln!("campaign (killed process): {label}: {kills} kills ({midway} midway), up to step {at}");
    kills
}

/// Whether a killed run left its work half done: temp files, hidden files or an intent
/// in DEST, some but not all of the `total` files filed, or a file both in DEST and in
/// `src` (a move cut between its link and its unlink).
fn left_in(dest: &Path, src: Option<&Path>, total: usize) -> Killed {
    let temps = fs::read_dir(dest.join(".mtpull/tmp"))
        .map(|d| d.count())
        .unwrap_or(0);
    let in_src: Vec<Print> = src
        .map(|src| prints(src).into_values().collect())
        .unwrap_or_default();
    let in_dest = prints(dest);
    let filed = in_dest.keys().filter(|p| !hidden(p)).count();
    if temps > 0
        || IntentLog::new(dest).pending().unwrap().is_some()
        || in_dest.keys().any(|p| hidden(p))
        || (filed > 0 && filed < total)
        || in_dest.values().any(|print| in_src.contains(print))
    {
        Killed::Midway
    } else {
        Killed::BeforeOrAfter
    }
}

/// The steps (in order) of an unkilled run of `run`, counted in-process.
fn steps_of(run: impl FnOnce()) -> Vec<&'static str> {
    let plan = Plan::new(0, Action::Crash);
    let armed = fault_points::adopt(Some(plan.clone()));
    run();
    drop(armed);
    plan.log()
}

fn phone_template(tree: Tree) -> (tempfile::TempDir, BTreeMap<String, Print>) {
    let template = tempfile::tempdir().unwrap();
    furnish_phone(template.path(), tree);
    let originals = prints(template.path());
    (template, originals)
}

fn is_media(path: &str) -> bool {
    !path.ends_with(".txt")
}

/// Every visible file in DEST is a whole original, none twice; returns them by print.
fn whole_and_once(dest: &Path, originals: &HashMap<Print, String>, label: &str) -> BTreeMap<Print, String> {
    let mut seen = BTreeMap::new();
    for (name, print) in prints(dest) {
        if hidden(&name) {
            continue;
        }
        assert!(
            originals.contains_key(&print),
            "{label}: {name} ({} bytes) is no source file: a half file?",
            print.0
        );
        if let Some(earlier) = seen.insert(print, name.clone()) {
            panic!("{label}: the same file twice in DEST: {earlier} and {name}");
        }
    }
    seen
}

/// No temp file, hidden file or intent left in DEST.
fn no_leftovers(dest: &Path, label: &str) {
    let temps = dest.join(".mtpull/tmp");
    let left = fs::read_dir(&temps).map(|d| d.count()).unwrap_or(0);
    assert_eq!(left, 0, "{label}: temp files left in {}", temps.display());
    assert_eq!(
        IntentLog::new(dest).pending().unwrap(),
        None,
        "{label}: an intent left"
    );
    let hidden_left: Vec<_> = prints(dest).into_keys().filter(|p| hidden(p)).collect();
    assert!(
        hidden_left.is_empty(),
        "{label}: hidden files left: {hidden_left:?}"
    );
}

/// Every manifest record names a file holding its phone file's bytes; returns the rows.
fn manifest_true(dest: &Path, originals: &BTreeMap<String, Print>, label: &str) -> usize {
    let Some(manifest) = Manifest::open_read_only(dest).unwrap() else {
        return 0;
    };
    let keys = manifest.keys_for(&serial()).unwrap();
    for key in &keys {
        let record = manifest.lookup(key).unwrap().unwrap();
        let path = dest.join(&record.dest);
        assert!(
            path.is_file(),
            "{label}: {} recorded at {}, which is missing",
            key.path,
            record.dest
        );
        assert_eq!(
            print_of_file(&path),
            originals[&key.path],
            "{label}: {} recorded with other bytes",
            key.path
        );
    }
    keys.len()
}

// --- backup ---

/// Where a backup campaign kills.
#[derive(Clone, Copy, PartialEq)]
enum Aim {
    /// Anywhere: every (3rd) step of the small tree, spread points on the big one.
    Anywhere,
    /// While finished downloads wait for their fsync and filing.
    WhileDownloadsWait,
}

/// What a backup campaign did.
struct BackupKills {
    kills: u64,
    /// Kills that found a whole download waiting in the temp folder, not yet filed.
    while_waiting: u64,
}

fn backup_kills(delete_after: bool, tree: Tree) -> u64 {
    backup_campaign(delete_after, tree, Aim::Anywhere).kills
}

/// The steps at which downloads wait to be filed: after a download's fsync was
/// started ("sync a finished download") and before it is renamed into place (or,
/// as a duplicate, removed), in the steps of an unkilled run.
fn while_downloads_wait(log: &[&str]) -> Points {
    let mut waiting = 0usize;
    let mut points = Vec::new();
    for (n, step) in log.iter().enumerate() {
        if waiting > 0 {
            points.push(n as u64 + 1);
        }
        match *step {
            "sync a finished download" => waiting += 1,
            "rename into place" | "remove a duplicate download" => waiting = waiting.saturating_sub(1),
            _ => {}
        }
    }
    Points::At(points)
}

/// Whether a whole download waits in DEST's temp folder that is not yet under a
/// final name (`filed`: the visible files by print).
fn a_whole_download_waits(
    dest: &Path,
    by_print: &HashMap<Print, String>,
    filed: &BTreeMap<Print, String>,
) -> bool {
    let Ok(temps) = fs::read_dir(dest.join(".mtpull/tmp")) else {
        return false;
    };
    temps
        .map(|entry| print_of_file(&entry.unwrap().path()))
        .any(|print| by_print.contains_key(&print) && !filed.contains_key(&print))
}

fn backup_campaign(delete_after: bool, tree: Tree, aim: Aim) -> BackupKills {
    let (template, originals) = phone_template(tree);
    let by_print: HashMap<Print, String> = originals.iter().map(|(p, print)| (*print, p.clone())).collect();
    let media = originals.keys().filter(|p| is_media(p)).count();
    let name = &format!(
        "{}{} ({tree:?} tree)",
        "backup",
        if delete_after { " --delete-after" } else { "" }
    );
    let points = match (tree, aim) {
        (Tree::Small, Aim::Anywhere) => every_step(),
        _ => {
            let scene = Scene::new();
            link_tree(template.path(), &scene.path("phone"));
            let phone = demo::device_serving(Profile::Android, &scene.path("phone")).unwrap();
            let options = BackupOptions {
                delete_after,
                ..BackupOptions::default()
            };
            let log = steps_of(|| {
                run_backup(&phone, &scene.path("dest"), &options);
            });
            match aim {
                // The large videos sort last: the writes after the small files' are theirs.
                Aim::Anywhere => spread(&log, "write a download", BIG_FILES + samples().len()),
                Aim::WhileDownloadsWait => while_downloads_wait(&log),
            }
        }
    };
    let while_waiting = std::cell::Cell::new(0);
    let kills = kill_campaign(name, points, |at| {
        let scene = Scene::new();
        link_tree(template.path(), &scene.path("phone"));
        let dest = scene.path("dest");
        let mut args: Vec<OsString> = vec![
            "--sim".into(),
            "android".into(),
            "backup".into(),
            dest.clone().into(),
        ];
        if delete_after {
            args.push("--delete-after".into());
        }
        let args: Vec<&OsStr> = args.iter().map(OsString::as_os_str).collect();
        if let Ended::Finished(output) = scene.run(&args, Some(at)) {
            assert!(
                output.status.success(),
                "{name}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            return None;
        }
        let label = format!("{name} killed at step {at}");
        let in_dest = whole_and_once(&dest, &by_print, &label);
        if a_whole_download_waits(&dest, &by_print, &in_dest) {
            while_waiting.set(while_waiting.get() + 1);
        }
        manifest_true(&dest, &originals, &label);
        let on_phone = prints(&scene.path("phone"));
        for (path, print) in &originals {
            if !on_phone.contains_key(path) {
                assert!(
                    in_dest.contains_key(print),
                    "{label}: {path} deleted from the phone but not in DEST"
                );
            }
        }
        scene.nothing_outside(&["phone", "dest", "state", "home", "config"], &label);
        let left = left_in(&dest, None, media);

        scene.run_to_end(&args, &label);
        let in_dest = whole_and_once(&dest, &by_print, &label);
        for (path, print) in originals.iter().filter(|(p, _)| is_media(p)) {
            assert!(
                in_dest.contains_key(print),
                "{label}: {path} not in DEST after the rerun"
            );
        }
        assert_eq!(in_dest.len(), media, "{label}: every file exactly once");
        assert_eq!(
            manifest_true(&dest, &originals, &label),
            media,
            "{label}: manifest rows = files"
        );
        if delete_after {
            let left: Vec<_> = prints(&scene.path("phone"))
                .into_keys()
                .filter(|p| is_media(p))
                .collect();
            assert!(
                left.is_empty(),
                "{label}: still on the phone after the rerun: {left:?}"
            );
        }
        no_leftovers(&dest, &label);
        Some(left)
    });
    BackupKills {
        kills,
        while_waiting: while_waiting.get(),
    }
}

/// The steps a trace lists, in order, each checked to carry the next number.
fn traced_steps(trace: &Path) -> Vec<String> {
    let text = fs::read_to_string(trace).unwrap();
    text.lines()
        .enumerate()
        .map(|(i, line)| {
            let (n, what) = line
                .split_once('\t')
                .unwrap_or_else(|| panic!("not a step: {line:?}"));
            assert_eq!(n, (i + 1).to_string(), "steps numbered in order: {text}");
            what.to_owned()
        })
        .collect()
}

/// The power-cut test follows a backup's progress by its trace (`MTPULL_FAULT_TRACE`):
/// a step is traced before it is done, so a process killed at step N has traced exactly
/// N steps, the last the one it was killed at.
#[test]
fn a_traced_backup_lists_every_step_up_to_where_it_was_killed() {
    let (template, _) = phone_template(Tree::Small);
    let run = |kill_at: Option<u64>| {
        let scene = Scene::new();
        link_tree(template.path(), &scene.path("phone"));
        let dest = scene.path("dest");
        let args: Vec<&OsStr> = vec![
            "--sim".as_ref(),
            "android".as_ref(),
            "backup".as_ref(),
            dest.as_os_str(),
            "--delete-after".as_ref(),
        ];
        let trace = scene.path("trace");
        let ended = scene.run_traced(&args, kill_at, Some(&trace));
        (ended, traced_steps(&trace))
    };
    let (ended, whole) = run(None);
    assert!(matches!(ended, Ended::Finished(output) if output.status.success()));
    for kind in [
        "write a download",
        "rename into place",
        "commit the manifest",
        "delete a file from the phone",
    ] {
        assert!(
            whole.iter().any(|s| s == kind),
            "no {kind:?} in the trace: {whole:?}"
        );
    }
    let middle = whole.len() as u64 / 2;
    let (ended, cut) = run(Some(middle));
    assert!(matches!(ended, Ended::Killed));
    assert_eq!(cut.len() as u64, middle, "killed at step {middle}: {cut:?}");
    assert_eq!(cut[..], whole[..cut.len()], "the same run, cut short");
}

#[test]
fn backup_killed_at_every_step_loses_nothing() {
    assert!(backup_kills(false, Tree::Small) >= 10);
}

#[test]
fn backup_delete_after_killed_at_every_step_loses_nothing() {
    assert!(backup_kills(true, Tree::Small) >= 10);
}

/// Killed while finished downloads wait for their fsync (which runs while the next
/// files download) and their filing: each waiting file is left whole in the temp folder
/// and filed by the rerun without a transfer; with `--delete-after`, none of them is gone
/// from the phone.
#[test]
fn backup_killed_while_downloads_wait_for_their_fsync_loses_nothing() {
    for delete_after in [false, true] {
        let done = backup_campaign(delete_after, Tree::Small, Aim::WhileDownloadsWait);
        assert!(done.kills >= 5, "only {} kills", done.kills);
        assert!(
            done.while_waiting > 0,
            "no kill found a whole download waiting to be filed ({} kills)",
            done.kills
        );
    }
}

#[test]
#[ignore = "the big tree (minutes): run with --include-ignored, as the full campaign does"]
fn backup_of_a_big_tree_killed_loses_nothing() {
    assert!(backup_kills(false, Tree::Big) >= BIG_CUTS as u64);
}

#[test]
#[ignore = "the big tree (minutes): run with --include-ignored, as the full campaign does"]
fn backup_delete_after_of_a_big_tree_killed_loses_nothing() {
    assert!(backup_kills(true, Tree::Big) >= BIG_CUTS as u64);
}

// --- sort ---

/// SRC for sort: distinct photos dated by name, a sidecar, a document; in the big
/// tree also thousands of photos and the large videos.
fn furnish_src(root: &Path, tree: Tree) {
    let when = crate::backup_util::at(2023, 11, 14, 22, 13, 20);
    for i in 0..40u8 {
        let bytes = vec![i; 1000 + usize::from(i) * 37];
        let name = format!("d{}/IMG_2024050{}_10150{i:x}.jpg", i % 3, 1 + i % 5);
        write_file(&root.join(name), &bytes, when);
    }
    write_file(&root.join("d0/IMG_20240501_101500.xmp"), b"edits", when);
    write_file(&root.join("notes.txt"), b"undated", when);
    if tree == Tree::Big {
        furnish_big(root, "big");
    }
}

fn sort_kills(move_files: bool, tree: Tree) -> u64 {
    let template = tempfile::tempdir().unwrap();
    furnish_src(template.path(), tree);
    let originals = prints(template.path());
    let by_print: HashMap<Print, String> = originals.iter().map(|(p, print)| (*print, p.clone())).collect();
    let name = &format!("sort{} ({tree:?} tree)", if move_files { " --move" } else { "" });
    let points = match tree {
        Tree::Small => every_step(),
        Tree::Big => {
            let scene = Scene::new();
            link_tree(template.path(), &scene.path("src"));
            let options = TreeOptions {
                template: Template::default(),
                mode: if move_files { Mode::Move } else { Mode::Copy },
                dry_run: false,
                jobs: NonZeroUsize::MIN,
                only: Only::All,
            };
            let (src, dest) = (scene.path("src"), scene.path("dest"));
            let log = steps_of(|| {
                let resolver = DateResolver::system();
                sort_tree(&src, &dest, &options, &resolver, &AtomicBool::new(false), |_| {}).unwrap();
            });
            spread(&log, "write a copy", 0)
        }
    };
    kill_campaign(name, points, |at| {
        let scene = Scene::new();
        let (src, dest) = (scene.path("src"), scene.path("dest"));
        link_tree(template.path(), &src);
        let mut args = vec![
            "sort".into(),
            src.clone().into_os_string(),
            dest.clone().into_os_string(),
            "--only".into(),
            "all".into(),
            "--json".into(),
        ];
        if move_files {
            args.push("--move".into());
        }
        let args: Vec<&OsStr> = args.iter().map(OsString::as_os_str).collect();
        if let Ended::Finished(output) = scene.run(&args, Some(at)) {
            assert!(
                output.status.success(),
                "{name}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            return None;
        }
        let label = format!("{name} killed at step {at}");
        whole_and_once(&dest, &by_print, &label);
        let in_src = prints(&src);
        let anywhere: Vec<Print> = prints(&dest).into_values().chain(in_src.into_values()).collect();
        for (path, print) in &originals {
            assert!(anywhere.contains(print), "{label}: {path} lost");
        }
        scene.nothing_outside(&["src", "dest", "state", "home", "config"], &label);
        let left = left_in(&dest, move_files.then_some(src.as_path()), originals.len());

        scene.run_to_end(&args, &label);
        let in_dest = whole_and_once(&dest, &by_print, &label);
        let in_src: Vec<Print> = prints(&src).into_values().collect();
        for (path, print) in &originals {
            // A sidecar whose photo moved in the killed run stays in SRC, by design.
            let sidecar_stayed = move_files && path.ends_with(".xmp") && in_src.contains(print);
            assert!(
                in_dest.contains_key(print) || sidecar_stayed,
                "{label}: {path} not in DEST after the rerun"
            );
            if move_files && !sidecar_stayed {
                assert!(!in_src.contains(print), "{label}: {path} moved but still in SRC");
            }
        }
        no_leftovers(&dest, &label);
        Some(left)
    })
}

#[test]
fn sort_killed_at_every_step_loses_nothing() {
    assert!(sort_kills(false, Tree::Small) >= 10);
}

#[test]
fn sort_move_killed_at_every_step_loses_nothing() {
    assert!(sort_kills(true, Tree::Small) >= 10);
}

#[test]
#[ignore = "the big tree (minutes): run with --include-ignored, as the full campaign does"]
fn sort_of_a_big_tree_killed_loses_nothing() {
    assert!(sort_kills(false, Tree::Big) >= BIG_CUTS as u64);
}

#[test]
#[ignore = "the big tree (minutes): run with --include-ignored, as the full campaign does"]
fn sort_move_of_a_big_tree_killed_loses_nothing() {
    assert!(sort_kills(true, Tree::Big) >= BIG_CUTS as u64);
}

// --- restore ---

#[test]
fn restore_killed_at_every_step_loses_nothing() {
    let template = tempfile::tempdir().unwrap();
    let when = crate::backup_util::at(2024, 6, 1, 12, 0, 0);
    for i in 0..6u64 {
        let len = if i == 0 {
            2_500_000
        } else {
            1000 + i as usize * 333
        };
        write_file(
            &template.path().join(format!("IMG_2024060{}_120000.jpg", i + 1)),
            &bytes_for(i, len),
            when,
        );
    }
    let originals = prints(template.path());
    let kills = kill_campaign("restore", every_step(), |at| {
        let scene = Scene::new();
        let src = scene.path("src");
        link_tree(template.path(), &src);
        fs::create_dir_all(scene.path("phone")).unwrap();
        let args = [
            "--sim".into(),
            "android".into(),
            "restore".into(),
            src.clone().into_os_string(),
        ];
        let args: Vec<&OsStr> = args.iter().map(OsString::as_os_str).collect();
        if let Ended::Finished(output) = scene.run(&args, Some(at)) {
            assert!(
                output.status.success(),
                "restore: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            return None;
        }
        let label = format!("restore killed at step {at}");
        let journal = scene.path("state/mtpull/uploads.json");
        let pending: Vec<String> = Journal::open(&journal)
            .map(|j| j.pending_for(&serial()).into_iter().map(|p| p.path).collect())
            .unwrap_or_default();
        let whole: Vec<&Print> = originals.values().collect();
        let on_phone = prints(&scene.path("phone"));
        let mut left = if !pending.is_empty() || (1..originals.len()).contains(&on_phone.len()) {
            Killed::Midway
        } else {
            Killed::BeforeOrAfter
        };
        for (path, print) in on_phone {
            assert!(
                whole.contains(&&print) || pending.contains(&path),
                "{label}: {path} is a half upload no journal names"
            );
            if !whole.contains(&&print) {
                left = Killed::Midway;
            }
        }
        assert_eq!(prints(&src), originals, "{label}: the source changed");

        scene.run_to_end(&args, &label);
        let on_phone = prints(&scene.path("phone"));
        assert_eq!(on_phone.len(), originals.len(), "{label}: {:?}", on_phone.keys());
        for (name, print) in &originals {
            assert_eq!(
                on_phone.get(&format!("{DEFAULT_FOLDER}/{name}")),
                Some(print),
                "{label}: {name} differs on the phone"
            );
        }
        let left_over = Journal::open(&journal).unwrap().pending_for(&serial());
        assert!(
            left_over.is_empty(),
            "{label}: uploads pending after the rerun: {left_over:?}"
        );
        Some(left)
    });
    assert!(kills >= 5);
}
