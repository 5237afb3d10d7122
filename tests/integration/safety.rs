//! The defects an adversarial run of backup, sort and --delete-after found (issue 12),
//! each as the situation that showed it: a copy hidden in a trash folder, a rerun after
//! a crash, a sidecar cut from its photo, leftovers, mtpull's own state sorted, a link
//! inside DEST, a full stderr, a damaged manifest, files deleted or edited in DEST.

use std::ffi::OsStr;
use std::fs;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::AtomicBool;

use mtpull::pull::{BackupOptions, Event, FileOutcome, Manifest, PullError};
use mtpull::sim::Profile;
use mtpull::sort::{Intent, IntentLog};

use crate::backup_util::{
    assert_all_backed_up, assert_consistent, at, backed_up, phone, phone_files, run_backup, run_backup_with,
    samples, tree,
};
use crate::util::{self, put};

fn delete_after() -> BackupOptions {
    BackupOptions {
        delete_after: true,
        ..BackupOptions::default()
    }
}

/// Every file deleted from the phone is in DEST, visible (no dot-name on its path).
fn assert_deleted_files_visible_in(dest: &Path, deleted: &[Vec<u8>]) {
    let visible = tree(dest);
    for bytes in deleted {
        let home = visible
            .iter()
            .find(|(path, content)| *content == bytes && !path.split('/').any(|l| l.starts_with('.')));
        assert!(home.is_some(), "a deleted phone file has no visible copy in DEST");
    }
}

#[test]
fn hidden_copies_never_count_as_the_backup() {
    let (phone, storage) = phone(Profile::Android);
    let dest = tempfile::tempdir().unwrap();
    let originals = phone_files(&phone, storage);
    // A removable drive's trash, and a copy an interrupted sort left, with phone bytes.
    let a = &samples()[0];
    let b = &samples()[1];
    put(
        &dest.path().join(".Trash-1000/files/IMG_A.jpg"),
        &a.bytes,
        1_700_000_000,
    );
    put(
        &dest.path().join("2023/12/24/.mtpull-77-1.tmp"),
        &b.bytes,
        1_700_000_000,
    );
    let options = BackupOptions {
        rescan: true,
        ..delete_after()
    };
    let (report, seen) = run_backup(&phone, dest.path(), &options);
    assert!(report.succeeded(), "{:?}", report.stopped);
    assert_eq!(
        report.rescan.as_ref().unwrap().files,
        0,
        "hidden files are not indexed"
    );
    assert_eq!(report.summary.copied, 5);
    assert_eq!(seen.deleted.len(), 5);
    let deleted: Vec<Vec<u8>> = seen
        .deleted
        .iter()
        .map(|path| samples().into_iter().find(|s| s.path == path).unwrap().bytes)
        .collect();
    assert_eq!(deleted.len(), originals.len() - 1, "all but the text file");
    assert_deleted_files_visible_in(dest.path(), &deleted);
    assert!(tree(dest.path()).contains_key(a.expected_dest));
    assert!(tree(dest.path()).contains_key(b.expected_dest));
}

#[test]
fn delete_after_checks_the_copy_again_right_before_deleting() {
    let (phone, storage) = phone(Profile::Android);
    let dest = tempfile::tempdir().unwrap();
    let dest_path = dest.path().to_owned();
    // The copy of IMG_A is damaged after filing, before its batch is committed.
    let (report, seen) = run_backup_with(
        &phone,
        dest.path(),
        &delete_after(),
        &AtomicBool::new(false),
        |event| {
            if let Event::Finished {
                file,
                outcome: FileOutcome::Copied { dest, .. },
            } = event
                && file.path.ends_with("IMG_A.jpg")
            {
                fs::write(dest_path.join(dest), b"damaged").unwrap();
            }
        },
    );
    assert!(report.stopped.is_none(), "{:?}", report.stopped);
    assert_eq!((report.summary.deleted, report.summary.delete_failed), (4, 1));
    assert!(!seen.deleted.iter().any(|p| p.ends_with("IMG_A.jpg")));
    assert!(phone_files(&phone, storage).contains_key("DCIM/Camera/IMG_A.jpg"));
}

#[test]
fn a_rerun_after_a_crash_indexes_what_it_finds_so_nothing_is_filed_twice() {
    let (phone, storage, dest) = backed_up(Profile::Android);
    // A crash before the first commit: files placed, nothing recorded. The manifest
    // stays, its tables empty (with no manifest at all the rerun would be a first
    // backup and index DEST for another reason).
    let manifest = rusqlite::Connection::open(dest.path().join(".mtpull/manifest.sqlite3")).unwrap();
    manifest
        .execute_batch("DELETE FROM files; DELETE FROM contents;")
        .unwrap();
    drop(manifest);
    let (rerun, _) = run_backup(&phone, dest.path(), &BackupOptions::default());
    assert!(rerun.succeeded(), "{:?}", rerun.stopped);
    assert_eq!((rerun.summary.copied, rerun.summary.duplicates), (0, 5));
    assert_consistent(&phone, storage, dest.path());
    // The same bytes arrive under another key: a duplicate, not a second copy.
    phone
        .add_file(
            storage,
            "WhatsApp/Media/IMG-fwd.jpg",
            samples()[0].bytes.clone(),
            at(2024, 2, 2, 2, 2, 2),
        )
        .unwrap();
    let (later, seen) = run_backup(&phone, dest.path(), &BackupOptions::default());
    assert_eq!(
        (later.summary.copied, later.summary.duplicates),
        (0, 1),
        "{seen:?}"
    );
    assert_eq!(tree(dest.path()).len(), 5);
    assert_consistent(&phone, storage, dest.path());
}

#[test]
fn a_file_deleted_or_edited_in_dest_is_noticed_without_rescan() {
    let (phone, _, dest) = backed_up(Profile::Android);
    let [a, b] = [&samples()[0], &samples()[1]];
    fs::remove_file(dest.path().join(a.expected_dest)).unwrap();
    // Edited in place, same size: only the mtime tells.
    let edited = vec![0x42; b.bytes.len()];
    std::thread::sleep(std::time::Duration::from_millis(20));
    fs::write(dest.path().join(b.expected_dest), &edited).unwrap();

    let (report, seen) = run_backup(&phone, dest.path(), &BackupOptions::default());
    assert!(report.succeeded(), "{:?}", report.stopped);
    assert_eq!(
        (report.summary.copied, report.summary.already),
        (2, 3),
        "{seen:?}"
    );
    let files = tree(dest.path());
    assert_eq!(files[a.expected_dest], a.bytes);
    assert_eq!(files[b.expected_dest], edited, "the edit is kept");
    assert_eq!(
        files["2023/12/24/IMG_B-1.jpg"], b.bytes,
        "and the original is backed up again"
    );
    let manifest = Manifest::open_read_only(dest.path()).unwrap().unwrap();
    let keys = manifest.keys_for(&phone.identity().serial).unwrap();
    let key = keys.iter().find(|k| k.path == "DCIM/Camera/IMG_B.jpg").unwrap();
    assert_eq!(
        manifest.lookup(key).unwrap().unwrap().dest,
        "2023/12/24/IMG_B-1.jpg"
    );
}

#[test]
fn a_damaged_manifest_names_the_destination_and_rescan_rebuilds_it() {
    let (phone, storage, dest) = backed_up(Profile::Android);
    let database = dest.path().join(".mtpull/manifest.sqlite3");
    fs::write(&database, vec![0x5a; 8192]).unwrap();

    let (refused, _) = run_backup(&phone, dest.path(), &BackupOptions::default());
    let error = refused
        .stopped
        .expect("a damaged manifest stops a plain run")
        .to_string();
    assert!(error.contains("the destination's backup manifest"), "{error}");
    assert!(error.contains("--rescan"), "{error}");

    let options = BackupOptions {
        rescan: true,
        ..BackupOptions::default()
    };
    let (rebuilt, _) = run_backup(&phone, dest.path(), &options);
    assert!(rebuilt.succeeded(), "{:?}", rebuilt.stopped);
    assert_eq!((rebuilt.summary.copied, rebuilt.summary.duplicates), (0, 5));
    let aside: Vec<String> = fs::read_dir(dest.path().join(".mtpull"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.contains("damaged"))
        .collect();
    assert_eq!(aside.len(), 1, "the damaged manifest is set aside, not deleted");
    assert_all_backed_up(&phone, storage, dest.path());
}

#[test]
fn a_link_inside_dest_takes_no_file_outside() {
    let (phone, _) = phone(Profile::Android);
    let dest = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(outside.path(), dest.path().join("2023")).unwrap();
    let (report, _) = run_backup(&phone, dest.path(), &BackupOptions::default());
    let stopped = report.stopped.expect("filing through a link stops the run");
    assert!(matches!(stopped, PullError::Sort(_)), "{stopped}");
    assert!(stopped.to_string().contains("follows no link"), "{stopped}");
    assert_eq!(
        fs::read_dir(outside.path()).unwrap().count(),
        0,
        "nothing written outside DEST"
    );

    let src = tempfile::tempdir().unwrap();
    put(
        &src.path().join("IMG_20230102_101500.jpg"),
        b"photo",
        1_700_000_000,
    );
    let output = util::mtpull(
        ["sort".as_ref(), src.path().as_os_str(), dest.path().as_os_str()],
        "UTC",
    );
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert_eq!(
        fs::read_dir(outside.path()).unwrap().count(),
        0,
        "nothing written outside DEST"
    );
}

#[test]
fn a_full_or_closed_stderr_never_panics_a_backup() {
    let dest = tempfile::tempdir().unwrap();
    let full = fs::File::options().write(true).open("/dev/full").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_mtpull"))
        .args(["--sim", "android", "backup"])
        .arg(dest.path())
        .stderr(full)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    // A reader that quits at once.
    let dest = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mtpull"))
        .args(["--sim", "android", "backup"])
        .arg(dest.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stderr.take());
    let status = child.wait().unwrap();
    assert_ne!(status.code(), Some(101), "panicked on a closed stderr");
    assert!(status.code().is_some(), "killed by a signal: {status:?}");
}

#[test]
fn sort_leaves_mtpull_state_alone() {
    let (phone, _, dest) = backed_up(Profile::Android);
    let state_before: Vec<String> = fs::read_dir(dest.path().join(".mtpull"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    let d = dest.path().as_os_str();
    // Every kind of file, so that hidden ones are not passed over for their kind alone.
    let output = sort_moving(dest.path(), dest.path(), &["--only", "all"]);
    assert!(output.status.success(), "{output:?}");
    assert!(dest.path().join(".mtpull/manifest.sqlite3").is_file());
    for name in state_before {
        assert!(dest.path().join(".mtpull").join(&name).exists(), "{name} moved");
    }
    let (again, _) = run_backup(&phone, dest.path(), &BackupOptions::default());
    assert_eq!((again.summary.copied, again.summary.already), (0, 5));

    let bad = util::mtpull(
        [
            "sort".as_ref(),
            d,
            d,
            "--template".as_ref(),
            ".mtpull/%Y".as_ref(),
        ],
        "UTC",
    );
    assert_eq!(bad.status.code(), Some(2), "{bad:?}");
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("state folder"),
        "{bad:?}"
    );
}

#[test]
fn a_sidecar_cut_from_its_photo_stays_where_it_is() {
    let root = tempfile::tempdir().unwrap();
    let (src, dest) = (root.path().join("src"), root.path().join("dest"));
    // As a --move cut between the photo and its sidecar left them: the photo is
    // filed, the sidecar (its mtime another day) still in SRC.
    put(
        &dest.join("2024/05/26/IMG_20240526_101500.jpg"),
        b"photo",
        1_716_718_500,
    );
    put(&src.join("IMG_20240526_101500.xmp"), b"edits", 1_600_000_000);
    put(&src.join("other.xmp"), b"lonely", 1_600_000_000);
    let output = sort_moving(&src, &dest, &["--json"]);
    assert!(output.status.success(), "{output:?}");
    assert!(src.join("IMG_20240526_101500.xmp").exists(), "the sidecar stays");
    let filed: Vec<String> = util::tree(&dest).into_iter().map(|(p, _)| p).collect();
    assert_eq!(filed, ["2024/05/26/IMG_20240526_101500.jpg"]);
    assert_eq!(util::summary(&output)["skipped"], 2);
}

#[test]
fn a_cut_cross_filesystem_move_is_finished_by_the_next_run() {
    let root = tempfile::tempdir().unwrap();
    let (src, dest) = (root.path().join("src"), root.path().join("dest"));
    // The copy reached DEST, the source was not yet removed, the intent was recorded.
    put(&src.join("IMG_20240526_101500.jpg"), b"photo", 1_716_718_500);
    put(
        &dest.join("2024/05/26/IMG_20240526_101500.jpg"),
        b"photo",
        1_716_718_500,
    );
    fs::create_dir_all(dest.join(".mtpull")).unwrap();
    IntentLog::new(&dest)
        .begin(&Intent {
            from: src.join("IMG_20240526_101500.jpg"),
            to: "2024/05/26/IMG_20240526_101500.jpg".into(),
        })
        .unwrap();
    let output = sort_moving(&src, &dest, &[]);
    assert!(output.status.success(), "{output:?}");
    assert!(
        !src.join("IMG_20240526_101500.jpg").exists(),
        "the move was finished"
    );
    assert_eq!(IntentLog::new(&dest).pending().unwrap(), None);
    assert_eq!(
        fs::read(dest.join("2024/05/26/IMG_20240526_101500.jpg")).unwrap(),
        b"photo"
    );
}

/// A move across filesystems copies into DEST's temp folder first; a cut mid-copy leaves
/// that copy, which the next run removes before filing anything (the source is still in
/// SRC, so nothing is lost with it).
#[test]
fn a_copy_a_cut_cross_filesystem_move_left_is_removed_by_the_next_run() {
    let root = tempfile::tempdir().unwrap();
    let (src, dest) = (root.path().join("src"), root.path().join("dest"));
    put(&src.join("IMG_20240526_101500.jpg"), b"photo", 1_716_718_500);
    let temps = dest.join(".mtpull/tmp");
    fs::create_dir_all(&temps).unwrap();
    fs::write(temps.join("copy-4242-7.tmp"), b"pho").unwrap();
    let output = sort_moving(&src, &dest, &[]);
    assert!(output.status.success(), "{output:?}");
    let left: Vec<_> = fs::read_dir(&temps)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "left in DEST's temp folder: {left:?}");
    assert_eq!(
        fs::read(dest.join("2024/05/26/IMG_20240526_101500.jpg")).unwrap(),
        b"photo"
    );
}

/// `mtpull sort SRC DEST --move` with `more` arguments, in UTC.
fn sort_moving(src: &Path, dest: &Path, more: &[&str]) -> Output {
    let moving = [
        "sort".as_ref(),
        src.as_os_str(),
        dest.as_os_str(),
        "--move".as_ref(),
    ];
    util::mtpull(moving.into_iter().chain(more.iter().map(OsStr::new)), "UTC")
}
