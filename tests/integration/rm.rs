//! `mtpull rm` against the simulated phone: it deletes exactly what it was
//! named, asks first on a terminal, and deletes nothing without a yes.
//! (That the objects are really gone from a device is checked over USB, in
//! the QEMU guest: tests/vm/guest/restore-checks.sh.)

use std::io::Write;
use std::process::{Command, Stdio};

use crate::run::mtpull;

const STORAGE: &str = "Internal shared storage";
const PHOTO: &str = "Internal shared storage/DCIM/Camera/IMG_20230304_080000.jpg";
const FOLDER: &str = "Internal shared storage/Android/media/com.whatsapp";

#[test]
fn rm_with_yes_deletes_exactly_the_named_files_and_folders() {
    let run = mtpull(&["--sim", "android", "rm", "--yes", PHOTO, FOLDER]).expect_status(0);
    let deleted: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(
        deleted,
        [
            format!("deleted {PHOTO}"),
            format!("deleted {FOLDER}/ (and everything in it)"),
        ],
        "{}",
        run.stderr
    );
}

#[test]
fn rm_without_a_terminal_or_yes_deletes_nothing() {
    // Output() gives the child no stdin, so no terminal.
    let run = mtpull(&["--sim", "android", "rm", PHOTO]).expect_status(2);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert!(
        run.stderr.contains("not deleting without a confirmation") && run.stderr.contains("--yes"),
        "{}",
        run.stderr
    );
}

#[test]
fn rm_refuses_a_missing_path_or_a_whole_storage_before_deleting_anything() {
    let run = mtpull(&[
        "--sim",
        "android",
        "rm",
        "--yes",
        PHOTO,
        "Internal shared storage/DCIM/Camera/nope.jpg",
    ]);
    assert_ne!(run.status, Some(0));
    assert!(!run.stdout.contains("deleted"), "{}", run.stdout);
    assert!(run.stderr.contains("nope.jpg"), "{}", run.stderr);

    let run = mtpull(&["--sim", "android", "rm", "--yes", STORAGE]);
    assert_ne!(run.status, Some(0));
    assert!(!run.stdout.contains("deleted"), "{}", run.stdout);
    assert!(run.stderr.contains("is a whole storage"), "{}", run.stderr);
}

/// Runs `mtpull ARGS` on a terminal (util-linux `script` gives it one) and
/// types `answer` at it; returns everything the terminal showed.
fn on_a_terminal(args: &[&str], answer: &str) -> (Option<i32>, String) {
    let command = std::iter::once(env!("CARGO_BIN_EXE_mtpull"))
        .chain(args.iter().copied())
        .map(|arg| format!("'{}'", arg.replace('\'', r"'\''")))
        .collect::<Vec<_>>()
        .join(" ");
    let mut child = Command::new("script")
        .args(["--quiet", "--return", "--command", &command, "/dev/null"])
        .env("TZ", "UTC")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("util-linux script(1) runs mtpull on a terminal");
    child.stdin.take().unwrap().write_all(answer.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    let shown = String::from_utf8_lossy(&output.stdout).replace('\r', "");
    (output.status.code(), shown)
}

#[test]
fn rm_on_a_terminal_lists_what_it_would_delete_and_deletes_only_on_yes() {
    let (status, shown) = on_a_terminal(&["--sim", "android", "rm", PHOTO], "n\n");
    assert_ne!(status, Some(0), "{shown}");
    assert!(shown.contains(&format!("  {PHOTO}")), "{shown}");
    assert!(shown.contains("Delete these 1 from the phone?"), "{shown}");
    assert!(shown.contains("nothing deleted"), "{shown}");
    assert!(!shown.contains("deleted Internal"), "{shown}");

    let (status, shown) = on_a_terminal(&["--sim", "android", "rm", PHOTO], "y\n");
    assert_eq!(status, Some(0), "{shown}");
    assert!(shown.contains(&format!("deleted {PHOTO}")), "{shown}");
}
