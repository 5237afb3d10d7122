//! Folder templates with tokens: `{device}`, `{folder}`, `{name}`, `{seq}`.

use std::str::FromStr;

use mtpull::pull::BackupOptions;
use mtpull::sim::{Profile, SimDevice, StorageSpec};
use mtpull::sort::Template;
use tempfile::TempDir;

use crate::backup_util::{at, photo, run_backup, tree};
use crate::testdata::*;
use crate::util::{mtpull, put, stdout};

const UTC: &str = "UTC0";

fn with_template(pattern: &str) -> BackupOptions {
    BackupOptions {
        template: Template::from_str(pattern).unwrap(),
        ..BackupOptions::default()
    }
}

/// A backup files by the phone's model and folder and numbers each day's files from
/// 0001, the dry run predicting the same names; a later run takes the next free
/// number; a Live Photo and its video share theirs.
#[test]
fn a_backup_files_by_device_folder_and_sequence() {
    let phone = SimDevice::new(Profile::Android);
    let storage = phone.add_storage(StorageSpec::new("Internal shared storage"));
    let mtime = at(2024, 6, 1, 12, 0, 0);
    let heic = heic(&tiff(&[], &[(DATE_TIME_ORIGINAL, "2024:05:26 12:00:00")]), 8);
    let live_video = video_at_utc(1_700_000_000, &[]);
    for (path, bytes) in [
        ("DCIM/Camera/IMG_A.jpg", photo(at(2024, 5, 26, 9, 0, 0), 10)),
        ("DCIM/Camera/IMG_B.jpg", photo(at(2024, 5, 26, 10, 0, 0), 20)),
        ("DCIM/Camera/IMG_C.HEIC", heic),
        ("DCIM/Camera/IMG_C.MOV", live_video.clone()),
        (
            "Pictures/Screenshots/shot.jpg",
            photo(at(2024, 5, 27, 8, 0, 0), 30),
        ),
    ] {
        phone.add_file(storage, path, bytes, mtime).unwrap();
    }
    let pattern = "{device}/%Y/{folder}/%Y%m%d_{seq}";
    let dest = TempDir::new().unwrap();
    let dry = BackupOptions {
        dry_run: true,
        ..with_template(pattern)
    };
    let (_, predicted) = run_backup(&phone, dest.path(), &dry);
    let (report, seen) = run_backup(&phone, dest.path(), &with_template(pattern));
    assert!(report.succeeded(), "{report:?}");
    let landed: Vec<String> = tree(dest.path()).into_keys().collect();
    let device = "Simulated Android phone";
    let expected: Vec<String> = [
        "2024/Camera/20240526_0001.jpg",
        "2024/Camera/20240526_0002.jpg",
        "2024/Camera/20240526_0003.HEIC",
        "2024/Camera/20240526_0003.MOV",
        "2024/Screenshots/20240527_0001.jpg",
    ]
    .iter()
    .map(|path| format!("{device}/{path}"))
    .collect();
    assert_eq!(landed, expected);
    assert_eq!(seen.outcomes.len(), 5);
    let mut predicted: Vec<String> = predicted.would_copy.into_values().collect();
    predicted.sort();
    assert_eq!(predicted, expected, "the dry run predicts the same names");
    assert_eq!(
        tree(dest.path())[&format!("{device}/2024/Camera/20240526_0003.MOV")],
        live_video
    );

    // Another photo of the same day, later: the next free number.
    phone
        .add_file(
            storage,
            "DCIM/Camera/IMG_D.jpg",
            photo(at(2024, 5, 26, 18, 0, 0), 40),
            mtime,
        )
        .unwrap();
    let (report, _) = run_backup(&phone, dest.path(), &with_template(pattern));
    assert!(report.succeeded(), "{report:?}");
    assert!(
        tree(dest.path()).contains_key(&format!("{device}/2024/Camera/20240526_0004.jpg")),
        "{:?}",
        tree(dest.path()).keys()
    );
}

/// `sort` fills `{folder}` and `{name}` from the source tree, refuses `{device}` (it
/// has no device), and every command refuses a template that escapes DEST or hides.
#[test]
fn sort_fills_folder_and_name_and_bad_templates_are_refused_up_front() {
    let src = TempDir::new().unwrap();
    let dest = TempDir::new().unwrap();
    let exif = |when| jpeg(&tiff(&[], &[(DATE_TIME_ORIGINAL, when)]));
    put(
        &src.path().join("Trip/IMG_1.jpg"),
        &exif("2024:05:26 10:00:00"),
        1_700_000_000,
    );
    put(
        &src.path().join("Home/IMG_1.jpg"),
        &exif("2024:05:27 10:00:00"),
        1_700_000_000,
    );
    let (src_arg, dest_arg) = (src.path().to_str().unwrap(), dest.path().to_str().unwrap());
    let sorted = mtpull(
        ["sort", src_arg, dest_arg, "--template", "%Y/{folder}/%m%d-{name}"],
        UTC,
    );
    assert_eq!(sorted.status.code(), Some(0), "{sorted:?}");
    let landed: Vec<String> = tree(dest.path()).into_keys().collect();
    assert_eq!(landed, ["2024/Home/0527-IMG_1.jpg", "2024/Trip/0526-IMG_1.jpg"]);

    let device = mtpull(["sort", src_arg, dest_arg, "--template", "{device}/%Y"], UTC);
    assert_eq!(device.status.code(), Some(2), "{device:?}");
    assert!(
        String::from_utf8_lossy(&device.stderr).contains("sort has no device"),
        "{device:?}"
    );
    for (pattern, why) in [
        ("../%Y", "starts with a dot"),
        ("%Y/.hidden", "starts with a dot"),
        (".mtpull/%Y", "state folder"),
        ("%Y/{model}", "does not know"),
        ("{name}/%Y", "last level only"),
    ] {
        for command in [
            vec!["sort", src_arg, dest_arg, "--template", pattern],
            vec!["--sim", "android", "backup", dest_arg, "--template", pattern],
        ] {
            let refused = mtpull(&command, UTC);
            assert_eq!(refused.status.code(), Some(2), "{command:?}");
            let stderr = String::from_utf8_lossy(&refused.stderr);
            assert!(stderr.contains(why), "{command:?}: {stderr}");
        }
    }
    // Nothing was written by the refused runs.
    assert_eq!(tree(dest.path()).len(), 2);
    assert!(stdout(&sorted).contains("2024/Trip/0526-IMG_1.jpg"));
}

/// `sort --template '%Y/%m%d_{seq}'`: each day numbered from 0001 whatever the
/// extension, a Live Photo pair under one number, a later run after the last number,
/// and the dry run saying the same.
#[test]
fn sort_numbers_each_days_files_and_a_pair_shares_its_number() {
    use serde_json::Value;

    use crate::util::json_lines;

    let root = TempDir::new().unwrap();
    let (src, dest) = (root.path().join("src"), root.path().join("dest"));
    let exif = |when| jpeg(&tiff(&[], &[(DATE_TIME_ORIGINAL, when)]));
    let heic = heic(&tiff(&[], &[(DATE_TIME_ORIGINAL, "2024:05:26 11:00:00")]), 8);
    put(
        &src.join("a/IMG_1.jpg"),
        &exif("2024:05:26 09:00:00"),
        1_700_000_000,
    );
    put(&src.join("a/IMG_2.HEIC"), &heic, 1_700_000_000);
    put(
        &src.join("a/IMG_2.MOV"),
        &video_at_utc(1_716_000_000, &[]),
        1_700_000_000,
    );
    put(
        &src.join("a/IMG_3.jpg"),
        &exif("2024:05:27 09:00:00"),
        1_700_000_000,
    );
    let args = |extra: &[&str]| -> Vec<String> {
        let mut args = vec![
            "sort".to_owned(),
            src.to_str().unwrap().to_owned(),
            dest.to_str().unwrap().to_owned(),
            "--template".to_owned(),
            "%Y/%m%d_{seq}".to_owned(),
            "--json".to_owned(),
        ];
        args.extend(extra.iter().map(|a| a.to_string()));
        args
    };
    let destinations = |output: &std::process::Output| -> Vec<Value> {
        let mut lines: Vec<Value> = json_lines(output)
            .into_iter()
            .filter(|l| l["source"].is_string())
            .map(|l| l["destination"].clone())
            .collect();
        lines.sort_by_key(|l| l.to_string());
        lines
    };
    let dry = mtpull(args(&["--dry-run"]), UTC);
    assert_eq!(dry.status.code(), Some(0), "{dry:?}");
    let real = mtpull(args(&[]), UTC);
    assert_eq!(real.status.code(), Some(0), "{real:?}");
    assert_eq!(destinations(&dry), destinations(&real));
    // A number is no rename.
    assert_eq!(crate::util::summary(&real)["renamed"], 0);
    let landed: Vec<String> = tree(&dest).into_keys().collect();
    // IMG_1 and the pair share a day: two numbers, the pair under one.
    assert!(
        landed
            == [
                "2024/0526_0001.jpg",
                "2024/0526_0002.HEIC",
                "2024/0526_0002.MOV",
                "2024/0527_0001.jpg"
            ]
            || landed
                == [
                    "2024/0526_0001.HEIC",
                    "2024/0526_0001.MOV",
                    "2024/0526_0002.jpg",
                    "2024/0527_0001.jpg"
                ],
        "{landed:?}"
    );

    // A new file of the 26th, sorted later: the next number, not a -1 suffix.
    let later = root.path().join("later");
    put(
        &later.join("IMG_9.jpg"),
        &exif("2024:05:26 20:00:00"),
        1_700_000_000,
    );
    let more = mtpull(
        [
            "sort",
            later.to_str().unwrap(),
            dest.to_str().unwrap(),
            "--template",
            "%Y/%m%d_{seq}",
        ],
        UTC,
    );
    assert_eq!(more.status.code(), Some(0), "{more:?}");
    assert_eq!(tree(&dest)["2024/0526_0003.jpg"], exif("2024:05:26 20:00:00"));
}
