//! `mtpull ls` against each simulator profile.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::run::mtpull;

const STORAGE: &str = "Internal shared storage";

fn json_rows(args: &[&str]) -> Vec<Value> {
    let run = mtpull(args).expect_status(0);
    let parsed: Value = serde_json::from_str(&run.stdout).expect("--json output parses");
    parsed.as_array().expect("a JSON array").clone()
}

fn paths(rows: &[Value]) -> BTreeSet<String> {
    rows.iter()
        .map(|row| row["path"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn without_a_path_the_storages_are_listed() {
    let run = mtpull(&["--demo", "ls"]).expect_status(0);
    assert_eq!(run.stdout, format!("{STORAGE}/\n"));
}

#[test]
fn a_folder_is_listed_by_name() {
    let run = mtpull(&["--demo", "ls", &format!("{STORAGE}/DCIM")]).expect_status(0);
    assert!(run.stdout.lines().any(|l| l == "Camera/"), "{}", run.stdout);
}

#[test]
fn recursive_long_listing_shows_kinds_sizes_and_dates() {
    let run = mtpull(&["--demo", "ls", "-r", "-l"]).expect_status(0);
    let camera = format!("{STORAGE}/DCIM/Camera/");
    assert!(
        run.stdout
            .lines()
            .any(|l| l.starts_with('d') && l.ends_with(&camera)),
        "{}",
        run.stdout
    );
    let photo = run
        .stdout
        .lines()
        .find(|l| l.contains(&format!("{camera}IMG_")) && l.ends_with(".jpg"))
        .expect("a camera photo");
    // The demo phone's photos are 2–5 MB, as a phone's are.
    assert!(photo.starts_with('-') && photo.contains(" MB  20"), "{photo}");
}

#[test]
fn json_output_parses_and_describes_each_object() {
    let rows = json_rows(&["--demo", "ls", "-r", "--json"]);
    assert!(rows.len() > 30, "{} rows", rows.len());
    let photo = rows
        .iter()
        .find(|r| {
            r["path"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{STORAGE}/DCIM/Camera/"))
        })
        .expect("a camera photo");
    assert_eq!(photo["storage"], STORAGE);
    assert_eq!(photo["storage_id"], "0x00010001");
    assert_eq!(photo["folder"], false);
    assert!(photo["size"].as_u64().unwrap() > 0);
    assert!(photo["modified"].as_str().unwrap().starts_with("20"));
    assert_eq!(paths(&rows).len(), rows.len(), "each path once");
}

#[test]
fn every_profile_lists_the_same_tree() {
    let android = paths(&json_rows(&["--sim", "android", "ls", "-r", "--json"]));
    for profile in ["samsung", "ptp-camera", "qemu"] {
        let other = paths(&json_rows(&["--sim", profile, "ls", "-r", "--json"]));
        assert_eq!(other, android, "{profile}");
    }
}

#[test]
fn verbose_names_the_strategy_each_profile_needs() {
    let android = mtpull(&["--sim", "android", "-v", "ls", "-r"]).expect_status(0);
    assert!(
        android
            .stderr
            .contains("listing: one GetObjectPropList for all objects"),
        "{}",
        android.stderr
    );
    let camera = mtpull(&["--sim", "ptp-camera", "-v", "ls", "-r"]).expect_status(0);
    assert!(
        camera
            .stderr
            .contains("listing: GetObjectHandles per folder and GetObjectInfo per object"),
        "{}",
        camera.stderr
    );
    assert!(camera.stderr.contains("GetObjectInfo "), "{}", camera.stderr);
}

#[test]
fn a_locked_phone_is_reported_not_listed_as_empty() {
    let run = mtpull(&["--sim", "locked", "ls", "-r", "--wait", "0"]).expect_status(3);
    assert_eq!(run.stdout, "");
    assert!(
        run.stderr
            .contains("phone is locked or not in File transfer mode"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_phone_unlocked_while_waiting_is_listed() {
    let unlocked = mtpull(&[
        "--sim",
        "locked",
        "--sim-unlock-after",
        "300",
        "ls",
        "-r",
        "--wait",
        "20",
    ])
    .expect_status(0);
    assert!(
        unlocked.stderr.contains("Waiting up to 20s"),
        "{}",
        unlocked.stderr
    );
    let android = mtpull(&["--sim", "android", "ls", "-r"]).expect_status(0);
    assert_eq!(unlocked.stdout, android.stdout);
}

#[test]
fn a_missing_path_or_storage_is_an_error() {
    let run = mtpull(&["--demo", "ls", &format!("{STORAGE}/Nope")]).expect_status(2);
    assert!(
        run.stderr.contains("Nope: no such file or folder"),
        "{}",
        run.stderr
    );
    let run = mtpull(&["--demo", "ls", "SD card"]).expect_status(2);
    assert!(
        run.stderr.contains("no storage named \"SD card\""),
        "{}",
        run.stderr
    );
    let run = mtpull(&["--demo", "ls", "--storage", "0x00020001"]).expect_status(2);
    assert!(run.stderr.contains("no storage 0x00020001"), "{}", run.stderr);
}

#[test]
fn a_storage_chosen_by_id_takes_a_path_inside_it() {
    let by_id = mtpull(&["--demo", "ls", "--storage", "0x00010001", "DCIM"]).expect_status(0);
    let by_name = mtpull(&["--demo", "ls", &format!("{STORAGE}/DCIM")]).expect_status(0);
    assert_eq!(by_id.stdout, by_name.stdout);
}
