//! `mtpull backup` as a new user meets it on the demo phone: patterns,
//! `--since`, destinations it cannot use, a folder of photos already there,
//! and a locked phone.

use std::fs;
use std::path::Path;

use crate::run::{Run, mtpull};
use crate::util;

/// A dry run of the demo phone into `dest` with `extra` options.
fn dry_run(dest: &Path, extra: &[&str]) -> Run {
    let dest = dest.to_str().unwrap();
    let mut args = vec!["--sim", "android", "backup", "--dry-run", dest];
    args.extend_from_slice(extra);
    mtpull(&args)
}

/// The device paths a dry run lists.
fn listed(run: &Run) -> Vec<&str> {
    run.stdout
        .lines()
        .filter(|line| line.contains("  -> "))
        .map(|line| line.split("  ").next().unwrap())
        .collect()
}

#[test]
fn patterns_without_a_slash_match_names_anywhere_and_folders_bring_their_contents() {
    let dest = tempfile::tempdir().unwrap();
    let videos = dry_run(dest.path(), &["--include", "*.mp4"]).expect_status(0);
    assert_eq!(
        listed(&videos),
        ["Internal shared storage/DCIM/Camera/VID_20240526_101630.mp4"]
    );
    for folder in ["DCIM", "DCIM/", "dcim/camera", "Internal shared storage/DCIM"] {
        let run = dry_run(dest.path(), &["--include", folder]).expect_status(0);
        let files = listed(&run);
        assert_eq!(files.len(), 32, "--include {folder}:\n{}", run.stdout);
        assert!(files.iter().all(|f| f.contains("/DCIM/Camera/")), "{files:?}");
    }
    let no_shots = dry_run(dest.path(), &["--exclude", "Screenshots"]).expect_status(0);
    assert!(!no_shots.stdout.contains("Screenshot_"), "{}", no_shots.stdout);
    assert_eq!(listed(&no_shots).len(), 36);
}

#[test]
fn a_pattern_that_matches_nothing_is_reported() {
    let dest = tempfile::tempdir().unwrap();
    let run = dry_run(dest.path(), &["--include", "DCIM", "--include", "*.mp3"]).expect_status(0);
    assert_eq!(listed(&run).len(), 32);
    assert!(
        run.stderr
            .contains("--include \"*.mp3\" matches no photo or video on the device"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("\"DCIM\""), "{}", run.stderr);
}

#[test]
fn a_bad_pattern_is_named_once_with_its_option() {
    let dest = tempfile::tempdir().unwrap();
    let run = dry_run(dest.path(), &["--exclude", "DCIM/["]).expect_status(2);
    assert_eq!(run.stderr.matches("DCIM/[").count(), 1, "{}", run.stderr);
    assert!(run.stderr.contains("--exclude \"DCIM/[\""), "{}", run.stderr);
}

#[test]
fn since_keeps_files_captured_from_that_day_as_they_are_filed() {
    let dest = tempfile::tempdir().unwrap();
    let run = dry_run(dest.path(), &["--since", "2024-05-01"]).expect_status(0);
    let destinations: Vec<&str> = run
        .stdout
        .lines()
        .filter_map(|line| line.split("  -> ").nth(1))
        .collect();
    // The demo phone dates some 2023 photos in 2024 (edited or copied later):
    // they are filed under 2023 and must not be listed.
    assert_eq!(destinations.len(), 3, "{}", run.stdout);
    let dest_text = dest.path().to_str().unwrap();
    for line in destinations {
        let folder = line.strip_prefix(dest_text).unwrap();
        assert!(
            folder.starts_with("/2024/05/") || folder.starts_with("/2024/07/"),
            "{line}"
        );
    }
    // The real run copies what the dry run listed.
    let real = mtpull(&["--sim", "android", "backup", dest_text, "--since", "2024-05-01"]).expect_status(0);
    assert!(real.stdout.starts_with("copied 3 files"), "{}", real.stdout);
}

#[test]
fn a_destination_that_cannot_be_used_fails_the_dry_run_as_the_real_run() {
    let root = tempfile::tempdir().unwrap();
    let file = root.path().join("file");
    fs::write(&file, b"x").unwrap();
    let orphan = root.path().join("missing/parent/dest");
    for (dest, says) in [(&file, "is a file"), (&orphan, "does not exist")] {
        let dest = dest.to_str().unwrap();
        for dry in [true, false] {
            let mut args = vec!["--sim", "android", "backup", dest];
            if dry {
                args.push("--dry-run");
            }
            let run = mtpull(&args).expect_status(2);
            assert!(run.stderr.contains(says), "{args:?}: {}", run.stderr);
            assert!(!run.stdout.contains("would copy"), "{args:?}: {}", run.stdout);
        }
    }
    assert!(
        !root.path().join("missing").exists(),
        "a missing parent chain was created"
    );
}

#[test]
fn a_destination_this_user_cannot_write_fails_before_anything_is_copied() {
    let root = tempfile::tempdir().unwrap();
    let dest = root.path().join("dest");
    fs::create_dir(&dest).unwrap();
    let dest_text = dest.to_str().unwrap();
    for dry in [true, false] {
        let mut args = vec!["--sim", "android", "backup", dest_text];
        if dry {
            args.push("--dry-run");
        }
        let output = util::as_unprivileged_user(root.path(), &args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("cannot write into"), "{stderr}");
    }
    assert_eq!(fs::read_dir(&dest).unwrap().count(), 0);
}

#[test]
fn a_first_backup_into_a_folder_of_photos_indexes_it_instead_of_copying_again() {
    let earlier = tempfile::tempdir().unwrap();
    mtpull(&["--sim", "android", "backup", earlier.path().to_str().unwrap()]).expect_status(0);
    // The same photos, renamed by hand in another folder, without a manifest.
    let dest = tempfile::tempdir().unwrap();
    let mut placed = 0;
    for (name, bytes) in util::tree(earlier.path()) {
        if name.starts_with("2024/") {
            fs::write(dest.path().join(format!("kept-{placed}.jpg")), bytes).unwrap();
            placed += 1;
        }
    }
    assert!(placed >= 5);
    let dest_text = dest.path().to_str().unwrap();
    let dry = dry_run(dest.path(), &[]).expect_status(0);
    assert!(dry.stderr.contains("first indexes them"), "{}", dry.stderr);
    let run = mtpull(&["--sim", "android", "backup", dest_text]).expect_status(0);
    assert!(
        run.stdout.contains(&format!("indexed {placed} files")),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(&format!("{placed} duplicates")),
        "{}",
        run.stdout
    );
    let filed_2024 = util::tree(dest.path())
        .into_iter()
        .filter(|(name, _)| name.starts_with("2024/"))
        .count();
    assert_eq!(filed_2024, 0, "photos DEST held were copied again");
}

#[test]
fn a_locked_phone_leaves_no_trace_and_gives_the_hint_once() {
    let root = tempfile::tempdir().unwrap();
    let dest = root.path().join("dest");
    let run = mtpull(&["--sim", "locked", "backup", "--wait", "1", dest.to_str().unwrap()]).expect_status(3);
    assert_eq!(
        run.stderr.matches("File transfer\" in the USB").count(),
        1,
        "{}",
        run.stderr
    );
    assert!(!dest.exists(), "a locked phone created {}", dest.display());
}

#[test]
fn an_unknown_storage_names_the_storages_there_are_and_exits_2() {
    let root = tempfile::tempdir().unwrap();
    let dest = root.path().join("dest");
    let dest_text = dest.to_str().unwrap();
    for dry in [false, true] {
        let mut args = vec!["--sim", "android", "backup", dest_text, "--storage", "SD card"];
        if dry {
            args.push("--dry-run");
        }
        let run = mtpull(&args).expect_status(2);
        assert!(
            run.stderr
                .contains("no storage named \"SD card\"; it has \"Internal shared storage\""),
            "{args:?}: {}",
            run.stderr
        );
        assert!(!run.stdout.contains("copied"), "{}", run.stdout);
    }
    assert!(!dest.exists(), "a run that could do nothing created DEST");
    // One known storage among the ones asked for is not enough: each must exist.
    let run = mtpull(&[
        "--sim",
        "android",
        "backup",
        "--dry-run",
        dest_text,
        "--storage",
        "internal shared storage",
        "--storage",
        "0x00020001",
    ])
    .expect_status(2);
    assert!(run.stderr.contains("no storage 0x00020001"), "{}", run.stderr);
}

#[test]
fn a_truncated_manifest_stops_the_run_with_the_fix_and_rescan_rebuilds_it() {
    let dest = tempfile::tempdir().unwrap();
    let dest_text = dest.path().to_str().unwrap();
    mtpull(&["--sim", "android", "backup", dest_text]).expect_status(0);
    let database = dest.path().join(".mtpull/manifest.sqlite3");
    let half = fs::metadata(&database).unwrap().len() / 2;
    fs::File::options()
        .write(true)
        .open(&database)
        .unwrap()
        .set_len(half)
        .unwrap();
    let refused = mtpull(&["--sim", "android", "backup", dest_text]).expect_status(2);
    assert!(refused.stderr.contains("--rescan"), "{}", refused.stderr);
    let rebuilt = mtpull(&["--sim", "android", "backup", "--rescan", dest_text]).expect_status(0);
    assert!(rebuilt.stdout.contains(" 0 failed"), "{}", rebuilt.stdout);
    assert!(
        rebuilt.stdout.starts_with("indexed 39 files"),
        "{}",
        rebuilt.stdout
    );
    let again = mtpull(&["--sim", "android", "backup", dest_text]).expect_status(0);
    assert!(
        again
            .stdout
            .starts_with("copied 0 files (0 B), 39 already backed up"),
        "{}",
        again.stdout
    );
}

#[test]
fn ctrl_c_while_waiting_for_a_locked_phone_stops_at_once_with_130() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    use rustix::process::{Pid, Signal, kill_process};

    let root = tempfile::tempdir().unwrap();
    let dest = root.path().join("dest");
    // A wait far longer than any test run: exit 3 would mean Ctrl-C was ignored.
    let mut child = Command::new(env!("CARGO_BIN_EXE_mtpull"))
        .args(["--sim", "locked", "backup", "--wait", "3600"])
        .arg(&dest)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut said = String::new();
    stderr.read_line(&mut said).unwrap();
    assert!(said.contains("Waiting up to 3600s"), "{said}");
    kill_process(Pid::from_child(&child), Signal::INT).unwrap();
    let status = child.wait().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    assert_eq!(status.code(), Some(130), "{said}{rest}");
    assert!(rest.contains("interrupted"), "{rest}");
    assert!(!dest.exists(), "an interrupted wait created DEST");
}

#[test]
fn quiet_says_nothing_but_errors() {
    let dest = tempfile::tempdir().unwrap();
    let dest_text = dest.path().to_str().unwrap();
    let run = mtpull(&["-q", "--sim", "android", "backup", dest_text]).expect_status(0);
    assert_eq!((run.stdout.as_str(), run.stderr.as_str()), ("", ""));
    let filed = util::tree(dest.path())
        .into_iter()
        .filter(|(name, _)| !name.starts_with(".mtpull"))
        .count();
    assert_eq!(filed, 39);
    let dry = mtpull(&["--quiet", "--sim", "android", "backup", "-n", dest_text]).expect_status(0);
    assert_eq!((dry.stdout.as_str(), dry.stderr.as_str()), ("", ""));
    let failed =
        mtpull(&["-q", "--sim", "android", "backup", dest_text, "--storage", "card"]).expect_status(2);
    assert!(failed.stdout.is_empty(), "{}", failed.stdout);
    assert!(
        failed.stderr.contains("no storage named \"card\""),
        "{}",
        failed.stderr
    );
    mtpull(&["-q", "-v", "--demo", "devices"]).expect_status(2);
}

#[test]
fn json_is_one_object_per_file_then_a_summary() {
    let dest = tempfile::tempdir().unwrap();
    let dest_text = dest.path().to_str().unwrap();
    let lines = |run: &Run| -> Vec<serde_json::Value> {
        run.stdout
            .lines()
            .map(|line| serde_json::from_str(line).expect("a JSON line"))
            .collect()
    };
    let dry = mtpull(&["--sim", "android", "backup", "--json", "--dry-run", dest_text]).expect_status(0);
    let dry = lines(&dry);
    let (summary, files) = dry.split_last().unwrap();
    assert_eq!(files.len(), 39);
    assert!(files.iter().all(|f| f["event"] == "would_copy"), "{files:?}");
    assert_eq!(summary["summary"]["planned"], 39);
    assert_eq!(summary["summary"]["dry_run"], true);

    let run = mtpull(&["--sim", "android", "backup", "--json", dest_text]).expect_status(0);
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    let real = lines(&run);
    let (summary, files) = real.split_last().unwrap();
    assert_eq!(files.len(), 39);
    for (planned, done) in dry.iter().zip(files) {
        assert_eq!(done["event"], "copied", "{done}");
        assert_eq!(done["source"], planned["source"]);
        assert_eq!(
            done["destination"], planned["destination"],
            "the dry run predicts the run"
        );
        let copy = Path::new(done["destination"].as_str().unwrap());
        assert_eq!(fs::metadata(copy).unwrap().len(), done["size"].as_u64().unwrap());
    }
    let summary = &summary["summary"];
    assert_eq!(
        (summary["copied"].as_u64(), summary["failed"].as_u64()),
        (Some(39), Some(0))
    );
    assert_eq!(summary["stopped"], serde_json::Value::Null);

    let again = mtpull(&["--sim", "android", "backup", "--json", dest_text]).expect_status(0);
    let again = lines(&again);
    assert_eq!(again.len(), 1, "{again:?}");
    assert_eq!(again[0]["summary"]["already"], 39);

    let stopped = mtpull(&[
        "--sim",
        "android",
        "backup",
        "--json",
        dest_text,
        "--storage",
        "card",
    ])
    .expect_status(2);
    let stopped = lines(&stopped);
    assert!(
        stopped[0]["summary"]["stopped"]
            .as_str()
            .unwrap()
            .contains("no storage named"),
        "{stopped:?}"
    );
}
