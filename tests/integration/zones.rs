//! Videos shot abroad land on the day where they were shot, whatever the computer's zone.
//!
//! The corpus: videos shot in Sydney (UTC+10 in May) and Los Angeles (UTC-7), each with
//! one kind of evidence — an offset in the file, a GPS position (Android `©xyz`, iPhone
//! `keys`), a photo from the same camera roll with an offset — and one with none, all
//! sorted with the computer in Paris (UTC+2 in May).

use std::path::Path;

use serde_json::Value;
use tempfile::TempDir;

use crate::testdata::*;
use crate::util::*;

/// Europe/Paris as a POSIX rule, so no tzdata is needed.
pub const PARIS: &str = "CET-1CEST,M3.5.0,M10.5.0/3";
/// 2024-05-26 14:30 UTC: 00:30 on the 27th in Sydney, 16:30 on the 26th in Paris.
pub const SYDNEY_EVENING_UTC: u64 = 1_716_733_800;
/// 2024-05-26 05:00 UTC: 22:00 on the 25th in Los Angeles, 07:00 on the 26th in Paris.
pub const LA_EVENING_UTC: u64 = 1_716_699_600;
/// 2024-05-26 22:30 UTC: 00:30 on the 27th in Paris.
pub const PARIS_NIGHT_UTC: u64 = 1_716_762_600;
const SOME_MTIME: u64 = 1_700_000_000;

pub fn photo_with_offset(wall_clock: &str, offset: &str) -> Vec<u8> {
    jpeg(&tiff(
        &[],
        &[(DATE_TIME_ORIGINAL, wall_clock), (OFFSET_TIME_ORIGINAL, offset)],
    ))
}

pub fn iphone_location(iso6709: &str) -> Vec<u8> {
    quicktime_keys(&[
        ("com.apple.quicktime.make", "Apple"),
        ("com.apple.quicktime.location.ISO6709", iso6709),
    ])
}

/// (path in SRC, content, expected path in DEST, expected zone source).
pub fn trip() -> Vec<(&'static str, Vec<u8>, &'static str, &'static str)> {
    vec![
        (
            "Sydney/IMG_0001.MOV",
            video_at_utc(
                SYDNEY_EVENING_UTC,
                &[quicktime_creationdate("2024-05-27T00:30:00+1000")],
            ),
            "2024/05/27/IMG_0001.MOV",
            "file_offset",
        ),
        (
            "Sydney/clip_android.mp4",
            video_at_utc(SYDNEY_EVENING_UTC, &[android_position("-33.8688+151.2093/")]),
            "2024/05/27/clip_android.mp4",
            "gps",
        ),
        (
            "LA/IMG_0002.MOV",
            video_at_utc(LA_EVENING_UTC, &[iphone_location("+34.0522-118.2437+089.000/")]),
            "2024/05/25/IMG_0002.MOV",
            "gps",
        ),
        (
            "LA/clip_android.mp4",
            video_at_utc(LA_EVENING_UTC, &[android_position("+34.0522-118.2437/")]),
            "2024/05/25/clip_android.mp4",
            "gps",
        ),
        (
            "SydneyRoll/IMG_1.jpg",
            photo_with_offset("2024:05:27 01:10:00", "+10:00"),
            "2024/05/27/IMG_1.jpg",
            "file_offset",
        ),
        (
            "SydneyRoll/clip_plain.mp4",
            video_at_utc(SYDNEY_EVENING_UTC, &[]),
            "2024/05/27/clip_plain.mp4",
            "nearby_photo",
        ),
        (
            "LARoll/IMG_2.jpg",
            photo_with_offset("2024:05:25 20:00:00", "-07:00"),
            "2024/05/25/IMG_2.jpg",
            "file_offset",
        ),
        (
            "LARoll/clip_plain2.mp4",
            video_at_utc(LA_EVENING_UTC, &[]),
            "2024/05/25/clip_plain2.mp4",
            "nearby_photo",
        ),
        (
            "Home/clip_home.mp4",
            video_at_utc(PARIS_NIGHT_UTC, &[]),
            "2024/05/27/clip_home.mp4",
            "computer",
        ),
    ]
}

fn sorted_trip(extra: &[&str]) -> (TempDir, std::process::Output) {
    let root = TempDir::new().unwrap();
    let (src, dest) = (root.path().join("src"), root.path().join("dest"));
    for (path, bytes, _, _) in trip() {
        put(&src.join(path), &bytes, SOME_MTIME);
    }
    let mut args = vec!["sort".to_owned(), path_arg(&src), path_arg(&dest)];
    args.extend(extra.iter().map(|a| a.to_string()));
    let output = mtpull(args, PARIS);
    (root, output)
}

fn path_arg(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

#[test]
fn videos_shot_in_sydney_and_los_angeles_land_on_their_local_days_sorted_in_paris() {
    let (root, output) = sorted_trip(&[]);
    assert!(output.status.success(), "{output:?}");
    let expected: Vec<(String, Vec<u8>)> = {
        let mut files: Vec<_> = trip()
            .into_iter()
            .map(|(_, bytes, dest, _)| (dest.to_owned(), bytes))
            .collect();
        files.sort();
        files
    };
    assert_eq!(tree(&root.path().join("dest")), expected);
}

#[test]
fn the_dry_run_names_each_files_zone_and_its_evidence() {
    let (_root, output) = sorted_trip(&["--dry-run", "--json"]);
    assert!(output.status.success(), "{output:?}");
    let lines = json_lines(&output);
    for (path, _, dest, zone_source) in trip() {
        let line = lines
            .iter()
            .find(|l| l["source"].as_str().is_some_and(|s| s.ends_with(path)))
            .unwrap_or_else(|| panic!("no line for {path}"));
        assert!(
            line["destination"].as_str().unwrap().ends_with(dest),
            "{path}: {line}"
        );
        assert_eq!(line["zone_source"], zone_source, "{path}: {line}");
    }
    let zone_of = |path: &str| -> Value {
        lines
            .iter()
            .find(|l| l["source"].as_str().is_some_and(|s| s.ends_with(path)))
            .unwrap()["zone"]
            .clone()
    };
    assert_eq!(zone_of("Sydney/clip_android.mp4"), "Australia/Sydney");
    assert_eq!(zone_of("LA/IMG_0002.MOV"), "America/Los_Angeles");

    let (_root, output) = sorted_trip(&["--dry-run"]);
    let text = stdout(&output);
    let line = |name: &str| text.lines().find(|l| l.contains(name)).unwrap().to_owned();
    assert!(
        line("Sydney/clip_android.mp4").ends_with("[video mvhd (UTC), +10:00 by GPS: Australia/Sydney]"),
        "{text}"
    );
    assert!(
        line("clip_plain2.mp4").ends_with("[video mvhd (UTC), -07:00 by nearest photo's offset]"),
        "{text}"
    );
    assert!(
        line("clip_home.mp4").ends_with("[video mvhd (UTC), +02:00 by this computer's zone]"),
        "{text}"
    );
}

/// The same trip on a phone: `backup` and `backup --dry-run` file each video on its
/// local day and say which evidence placed it. (The process's own zone is the
/// computer's here, so the one video with no evidence is checked against it.)
#[test]
fn a_backup_files_videos_shot_abroad_on_their_local_days() {
    use chrono::{DateTime, Local};
    use mtpull::pull::{BackupOptions, Event};
    use mtpull::sim::{Profile, SimDevice, StorageSpec};
    use std::sync::atomic::AtomicBool;

    use crate::backup_util::{at, run_backup, run_backup_with, tree};

    let home_day = DateTime::from_timestamp(PARIS_NIGHT_UTC as i64, 0)
        .unwrap()
        .with_timezone(&Local)
        .format("%Y/%m/%d")
        .to_string();
    let on_phone = [
        ("DCIM/Camera/IMG_0001.MOV", 0, "2024/05/27", "offset in the file"),
        (
            "DCIM/Camera/VID_android.mp4",
            1,
            "2024/05/27",
            "GPS: Australia/Sydney",
        ),
        (
            "DCIM/Camera/IMG_0002.MOV",
            2,
            "2024/05/25",
            "GPS: America/Los_Angeles",
        ),
        ("DCIM/Camera/IMG_1.jpg", 4, "2024/05/27", "offset in the file"),
        (
            "DCIM/Camera/VID_plain.mp4",
            5,
            "2024/05/27",
            "nearest photo's offset",
        ),
        ("DCIM/Camera/IMG_2.jpg", 6, "2024/05/25", "offset in the file"),
        (
            "DCIM/Camera/VID_plain2.mp4",
            7,
            "2024/05/25",
            "nearest photo's offset",
        ),
        (
            "DCIM/Camera/VID_home.mp4",
            8,
            home_day.as_str(),
            "this computer's zone",
        ),
    ];
    let corpus = trip();
    let phone = SimDevice::new(Profile::Android);
    let storage = phone.add_storage(StorageSpec::new("Internal shared storage"));
    for (path, index, _, _) in on_phone {
        let bytes = corpus[index].1.clone();
        phone
            .add_file(storage, path, bytes, at(2024, 6, 1, 12, 0, 0))
            .unwrap();
    }
    let dest = TempDir::new().unwrap();

    let dry = BackupOptions {
        dry_run: true,
        ..BackupOptions::default()
    };
    let mut why = std::collections::BTreeMap::new();
    let (report, seen) = run_backup_with(&phone, dest.path(), &dry, &AtomicBool::new(false), |event| {
        if let Event::WouldCopy { file, entry } = event {
            why.insert(file.path.clone(), entry.date_source.clone().unwrap_or_default());
        }
    });
    assert!(report.succeeded(), "{report:?}");
    for (path, _, day, zone) in on_phone {
        let name = path.rsplit('/').next().unwrap();
        assert_eq!(seen.would_copy[path], format!("{day}/{name}"), "{path}");
        assert!(
            why[path].ends_with(&format!("by {zone}")),
            "{path}: {}",
            why[path]
        );
    }

    let (report, _) = run_backup(&phone, dest.path(), &BackupOptions::default());
    assert!(report.succeeded(), "{report:?}");
    let landed: Vec<String> = tree(dest.path()).into_keys().collect();
    let mut expected: Vec<String> = on_phone
        .iter()
        .map(|(path, _, day, _)| format!("{day}/{}", path.rsplit('/').next().unwrap()))
        .collect();
    expected.sort();
    assert_eq!(landed, expected);
}

/// `.aae` edits and `.xmp` sidecars arrive with their photo, and a Live Photo's video
/// stays beside it — through a clash with a file already in DEST, and in a run after
/// the photo itself was backed up.
#[test]
fn a_backup_brings_sidecars_and_live_videos_beside_their_photo() {
    use mtpull::pull::{BackupOptions, Only, Selection};
    use mtpull::sim::{Profile, SimDevice, StorageSpec};

    use crate::backup_util::{at, run_backup, tree};

    let heic = |when: &str| heic(&tiff(&[], &[(DATE_TIME_ORIGINAL, when)]), 8);
    let photo = heic("2024:05:26 10:00:00");
    // The video's own UTC date is another day: it follows the photo.
    let video = video_at_utc(1_700_000_000, &[]);
    let phone = SimDevice::new(Profile::Android);
    let storage = phone.add_storage(StorageSpec::new("Internal shared storage"));
    let mtime = at(2024, 6, 1, 12, 0, 0);
    for (path, bytes) in [
        ("DCIM/100APPLE/IMG_0001.HEIC", photo.clone()),
        ("DCIM/100APPLE/IMG_0001.AAE", b"<plist>edits</plist>".to_vec()),
        ("DCIM/100APPLE/IMG_0001.MOV", video.clone()),
        ("DCIM/100APPLE/IMG_0003.xmp", b"<x:xmpmeta/>".to_vec()),
        ("Download/stray.xmp", b"no photo here".to_vec()),
    ] {
        phone.add_file(storage, path, bytes, mtime).unwrap();
    }
    let dest = TempDir::new().unwrap();
    put(
        &dest.path().join("2024/05/26/IMG_0001.HEIC"),
        b"someone else's",
        SOME_MTIME,
    );
    let photos_only = BackupOptions {
        selection: Selection {
            only: Only::Photos,
            ..Selection::new()
        },
        ..BackupOptions::default()
    };

    // Photos only: the video stays on the phone, the edits come with the photo.
    let (report, _) = run_backup(&phone, dest.path(), &photos_only);
    assert!(report.succeeded(), "{report:?}");
    let landed: Vec<String> = tree(dest.path()).into_keys().collect();
    assert_eq!(
        landed,
        [
            "2024/05/26/IMG_0001-1.AAE",
            "2024/05/26/IMG_0001-1.HEIC",
            "2024/05/26/IMG_0001.HEIC",
        ]
    );

    // Later, everything: the video joins its photo, already backed up, under its name.
    phone
        .add_file(
            storage,
            "DCIM/100APPLE/IMG_0003.HEIC",
            heic("2024:05:27 09:00:00"),
            mtime,
        )
        .unwrap();
    let everything = BackupOptions::default();
    let dry = BackupOptions {
        dry_run: true,
        ..BackupOptions::default()
    };
    let (_, predicted) = run_backup(&phone, dest.path(), &dry);
    let (report, _) = run_backup(&phone, dest.path(), &everything);
    assert!(report.succeeded(), "{report:?}");
    let files = tree(dest.path());
    assert_eq!(files["2024/05/26/IMG_0001-1.MOV"], video);
    assert_eq!(files["2024/05/26/IMG_0001-1.AAE"], b"<plist>edits</plist>");
    assert_eq!(files["2024/05/27/IMG_0003.xmp"], b"<x:xmpmeta/>");
    assert!(!files.keys().any(|k| k.contains("stray")), "{files:?}");
    assert_eq!(
        predicted
            .would_copy
            .get("DCIM/100APPLE/IMG_0001.MOV")
            .map(String::as_str),
        Some("2024/05/26/IMG_0001-1.MOV")
    );
    assert_eq!(
        predicted
            .would_copy
            .get("DCIM/100APPLE/IMG_0003.xmp")
            .map(String::as_str),
        Some("2024/05/27/IMG_0003.xmp")
    );
}

/// `mtpull verify` re-reads DEST against the manifest: a flipped byte and a deleted file
/// are reported (text and JSON), nothing is copied over them, and a clean DEST passes.
#[test]
fn verify_reports_a_flipped_byte_and_a_deleted_file_and_repairs_nothing() {
    use mtpull::pull::BackupOptions;
    use mtpull::sim::Profile;

    use crate::backup_util::{phone, run_backup};

    let (phone, _) = phone(Profile::Android);
    let dest = TempDir::new().unwrap();
    let (report, _) = run_backup(&phone, dest.path(), &BackupOptions::default());
    assert!(report.succeeded(), "{report:?}");
    let dest_arg = path_arg(dest.path());

    let clean = mtpull(["verify", dest_arg.as_str(), "--json"], PARIS);
    assert_eq!(clean.status.code(), Some(0), "{clean:?}");
    let clean: Value = serde_json::from_str(&stdout(&clean)).unwrap();
    assert_eq!(clean["checked"], 5);
    assert_eq!(clean["intact"], 5);
    assert_eq!(clean["problems"], serde_json::json!([]));

    let flipped = dest.path().join("2023/03/04/IMG_A.jpg");
    let mut bytes = std::fs::read(&flipped).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&flipped, &bytes).unwrap();
    std::fs::remove_file(dest.path().join("2023/07/14/clip.mp4")).unwrap();

    let damaged = mtpull(["verify", dest_arg.as_str(), "--json"], PARIS);
    assert_eq!(damaged.status.code(), Some(1), "{damaged:?}");
    let report: Value = serde_json::from_str(&stdout(&damaged)).unwrap();
    assert_eq!(report["checked"], 5);
    assert_eq!(report["intact"], 3);
    assert_eq!(
        report["problems"],
        serde_json::json!([
            {"path": "2023/03/04/IMG_A.jpg", "problem": "changed", "recorded_bytes": bytes.len(),
             "found_bytes": bytes.len(), "error": null},
            {"path": "2023/07/14/clip.mp4", "problem": "missing", "recorded_bytes": null,
             "found_bytes": null, "error": null},
        ])
    );
    assert!(String::from_utf8_lossy(&damaged.stderr).contains("verified 5 of 5 files"));
    // Reported, not repaired: the flipped byte is still flipped, the video still gone.
    assert_eq!(std::fs::read(&flipped).unwrap(), bytes);
    assert!(!dest.path().join("2023/07/14/clip.mp4").exists());

    let text = mtpull(["verify", dest_arg.as_str()], PARIS);
    assert_eq!(text.status.code(), Some(1));
    let text = stdout(&text);
    assert!(
        text.contains("changed    2023/03/04/IMG_A.jpg  [same size"),
        "{text}"
    );
    assert!(text.contains("missing    2023/07/14/clip.mp4"), "{text}");
    assert!(
        text.ends_with("5 files checked: 3 intact, 2 missing or changed (nothing was copied or repaired)\n"),
        "{text}"
    );

    let empty = TempDir::new().unwrap();
    let none = mtpull(["verify", path_arg(empty.path()).as_str()], PARIS);
    assert_eq!(none.status.code(), Some(2), "{none:?}");
}

/// In `backup`, a name clash on a Live Photo's video renames the pair together: the
/// photo's name is free but the video's is taken, so both take `-1` (never
/// `IMG_0001.HEIC` beside `IMG_0001-1.MOV`), as the dry run says first; an `.AAE`
/// follows them.
#[test]
fn a_backup_renames_a_live_pair_together_when_only_the_videos_name_is_taken() {
    use mtpull::pull::BackupOptions;
    use mtpull::sim::{Profile, SimDevice, StorageSpec};

    use crate::backup_util::{at, run_backup, tree};

    let photo = heic(&tiff(&[], &[(DATE_TIME_ORIGINAL, "2024:05:26 10:00:00")]), 8);
    let video = video_at_utc(1_700_000_000, &[]);
    let phone = SimDevice::new(Profile::Android);
    let storage = phone.add_storage(StorageSpec::new("Internal shared storage"));
    for (path, bytes) in [
        ("DCIM/100APPLE/IMG_0001.HEIC", photo.clone()),
        ("DCIM/100APPLE/IMG_0001.MOV", video.clone()),
        ("DCIM/100APPLE/IMG_0001.AAE", b"<plist>edits</plist>".to_vec()),
    ] {
        phone
            .add_file(storage, path, bytes, at(2024, 6, 1, 12, 0, 0))
            .unwrap();
    }
    let dest = TempDir::new().unwrap();
    put(
        &dest.path().join("2024/05/26/IMG_0001.MOV"),
        b"another phone's video",
        SOME_MTIME,
    );
    let dry = BackupOptions {
        dry_run: true,
        ..BackupOptions::default()
    };
    let (_, predicted) = run_backup(&phone, dest.path(), &dry);
    let mut predicted: Vec<String> = predicted.would_copy.into_values().collect();
    predicted.sort();
    let expected = [
        "2024/05/26/IMG_0001-1.AAE",
        "2024/05/26/IMG_0001-1.HEIC",
        "2024/05/26/IMG_0001-1.MOV",
    ];
    assert_eq!(predicted, expected);
    let (report, _) = run_backup(&phone, dest.path(), &BackupOptions::default());
    assert!(report.succeeded(), "{report:?}");
    let files = tree(dest.path());
    assert_eq!(files["2024/05/26/IMG_0001-1.HEIC"], photo);
    assert_eq!(files["2024/05/26/IMG_0001-1.MOV"], video);
    assert_eq!(files["2024/05/26/IMG_0001.MOV"], b"another phone's video");
    assert_eq!(files.len(), 4, "{:?}", files.keys());
    // A second run copies nothing and moves nothing.
    let (again, _) = run_backup(&phone, dest.path(), &BackupOptions::default());
    assert_eq!((again.summary.copied, again.summary.already), (0, 3));
    assert_eq!(tree(dest.path()).len(), 4);
}

/// A Live Photo whose halves were renamed apart (`IMG_1234.HEIC`, `IMG_5678.MOV`) is
/// still one pair in `sort`: Apple's identifier in the photo's maker note and in the
/// video's `content.identifier` key matches them; the video is dated by the photo and
/// named after it. A MOV with another identifier, and one with none, stay alone.
#[test]
fn sort_pairs_a_live_photo_renamed_apart_by_its_content_identifier() {
    let root = TempDir::new().unwrap();
    let (src, dest) = (root.path().join("src"), root.path().join("dest"));
    let id = "8A5B4E5C-1F3D-4A7B-9C2E-0123456789AB";
    let photo = heic(
        &tiff_with_maker_note(
            &[(DATE_TIME_ORIGINAL, "2024:05:26 23:50:00")],
            &apple_maker_note(id),
        ),
        8,
    );
    let keys = |id: &str| quicktime_keys(&[("com.apple.quicktime.content.identifier", id)]);
    // The video's own UTC time is the next day everywhere near Paris: it follows the photo.
    let video = video_at_utc(PARIS_NIGHT_UTC + 86_400, &[keys(id)]);
    let stranger = video_at_utc(PARIS_NIGHT_UTC + 86_400, &[keys("another-id")]);
    let plain = video_at_utc(PARIS_NIGHT_UTC + 86_400, &[]);
    put(&src.join("IMG_1234.HEIC"), &photo, SOME_MTIME);
    put(&src.join("IMG_5678.MOV"), &video, SOME_MTIME);
    put(&src.join("IMG_9999.MOV"), &stranger, SOME_MTIME);
    put(&src.join("clip.MOV"), &plain, SOME_MTIME);
    let output = mtpull(["sort", &path_arg(&src), &path_arg(&dest)], PARIS);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let files = crate::backup_util::tree(&dest);
    assert_eq!(files["2024/05/26/IMG_1234.HEIC"], photo);
    assert_eq!(files["2024/05/26/IMG_1234.MOV"], video);
    assert_eq!(files["2024/05/28/IMG_9999.MOV"], stranger);
    assert_eq!(files["2024/05/28/clip.MOV"], plain);
    assert_eq!(files.len(), 4, "{:?}", files.keys());
}

/// A burst that runs over midnight stays in one folder, dated by its first shot: an
/// Android burst by its names (`…_BURST000_COVER`, `…_BURST001`), an iPhone burst by
/// the BurstUUID in its maker notes. A photo of the next day outside the burst is not
/// pulled in.
#[test]
fn sort_keeps_a_burst_over_midnight_in_one_folder() {
    let root = TempDir::new().unwrap();
    let (src, dest) = (root.path().join("src"), root.path().join("dest"));
    for (path, bytes) in bursts_over_midnight() {
        put(&src.join(path), &bytes, SOME_MTIME);
    }
    let output = mtpull(["sort", &path_arg(&src), &path_arg(&dest)], PARIS);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let landed: Vec<String> = crate::backup_util::tree(&dest).into_keys().collect();
    assert_eq!(landed, BURSTS_FILED);
}

/// Two bursts over midnight: an Android one named `…_BURST000_COVER`, `…_BURST001` (and
/// a photo of the next day after it, no shot of it), an iPhone one sharing a BurstUUID
/// (and a shot of another burst).
fn bursts_over_midnight() -> Vec<(&'static str, Vec<u8>)> {
    const BURST_UUID: u16 = 0x000b;
    let exif = |when| jpeg(&tiff(&[], &[(DATE_TIME_ORIGINAL, when)]));
    let apple = |when, burst: &str| {
        jpeg(&tiff_with_maker_note(
            &[(DATE_TIME_ORIGINAL, when)],
            &apple_maker_note_with(BURST_UUID, burst),
        ))
    };
    vec![
        (
            "DCIM/Camera/IMG20240526235959_BURST000_COVER.jpg",
            exif("2024:05:26 23:59:59"),
        ),
        (
            "DCIM/Camera/IMG20240526235959_BURST001.jpg",
            exif("2024:05:27 00:00:00"),
        ),
        ("DCIM/Camera/IMG20240527000001.jpg", exif("2024:05:27 00:00:01")),
        (
            "DCIM/100APPLE/IMG_0001.JPG",
            apple("2024:05:26 23:59:59", "BURST-A"),
        ),
        (
            "DCIM/100APPLE/IMG_0002.JPG",
            apple("2024:05:27 00:00:00", "BURST-A"),
        ),
        (
            "DCIM/100APPLE/IMG_0003.JPG",
            apple("2024:05:27 00:00:00", "BURST-B"),
        ),
    ]
}

/// Where [`bursts_over_midnight`] lands: each burst on the day of its first shot.
const BURSTS_FILED: [&str; 6] = [
    "2024/05/26/IMG20240526235959_BURST000_COVER.jpg",
    "2024/05/26/IMG20240526235959_BURST001.jpg",
    "2024/05/26/IMG_0001.JPG",
    "2024/05/26/IMG_0002.JPG",
    "2024/05/27/IMG20240527000001.jpg",
    "2024/05/27/IMG_0003.JPG",
];

/// `sort`'s pairing by content in `backup`: a Live Photo whose halves were renamed apart
/// on the phone (`IMG_1234.HEIC`, `IMG_5678.MOV`) is one pair — the video is dated by the
/// photo and filed beside it under its name, in the dry run too; a video whose photo was
/// backed up in an earlier run joins that copy; a MOV with another identifier, and one
/// with none, go by their own dates.
#[test]
fn a_backup_pairs_a_live_photo_renamed_apart_by_its_content_identifier() {
    use mtpull::pull::BackupOptions;
    use mtpull::sim::Profile;

    use crate::backup_util::{at, empty_phone, run_backup, tree};

    let photo = |when: &str, id: &str| {
        heic(
            &tiff_with_maker_note(&[(DATE_TIME_ORIGINAL, when)], &apple_maker_note(id)),
            8,
        )
    };
    let keys = |id: &str| quicktime_keys(&[("com.apple.quicktime.content.identifier", id)]);
    // 2024-05-28 12:00 UTC: the 28th in any zone; the photos are of the 26th.
    let later = 1_716_897_600;
    let (first_id, second_id) = (
        "8A5B4E5C-1F3D-4A7B-9C2E-0123456789AB",
        "1C9D2E3F-4A5B-4C6D-8E7F-FEDCBA987654",
    );
    let (phone, storage) = empty_phone(Profile::Android);
    let add = |path: &str, bytes: &[u8]| {
        phone
            .add_file(storage, path, bytes.to_vec(), at(2024, 6, 1, 12, 0, 0))
            .unwrap()
    };
    let dry = dry_run();
    let dest = TempDir::new().unwrap();
    add(
        "DCIM/100APPLE/IMG_1234.HEIC",
        &photo("2024:05:26 23:50:00", first_id),
    );
    add(
        "DCIM/100APPLE/IMG_5678.MOV",
        &video_at_utc(later, &[keys(first_id)]),
    );
    add(
        "DCIM/100APPLE/IMG_9999.MOV",
        &video_at_utc(later, &[keys("another-id")]),
    );
    add("DCIM/100APPLE/clip.MOV", &video_at_utc(later, &[]));
    add(
        "DCIM/100APPLE/IMG_2000.HEIC",
        &photo("2024:05:26 08:00:00", second_id),
    );
    let (predicted, landed) = dry_run_then_backup(&phone, dest.path());
    assert_eq!(
        landed,
        [
            "2024/05/26/IMG_1234.HEIC",
            "2024/05/26/IMG_1234.MOV",
            "2024/05/26/IMG_2000.HEIC",
            "2024/05/28/IMG_9999.MOV",
            "2024/05/28/clip.MOV",
        ]
    );
    assert_eq!(predicted, landed, "the dry run predicts it");

    // Later, the video of a photo backed up before arrives, renamed: it joins that copy.
    add(
        "DCIM/100APPLE/IMG_7000.MOV",
        &video_at_utc(later, &[keys(second_id)]),
    );
    let (_, predicted) = run_backup(&phone, dest.path(), &dry);
    assert_eq!(
        predicted
            .would_copy
            .get("DCIM/100APPLE/IMG_7000.MOV")
            .map(String::as_str),
        Some("2024/05/26/IMG_2000.MOV")
    );
    let (report, _) = run_backup(&phone, dest.path(), &BackupOptions::default());
    assert!(report.succeeded(), "{report:?}");
    assert_eq!((report.summary.copied, report.summary.already), (1, 5));
    assert!(tree(dest.path()).contains_key("2024/05/26/IMG_2000.MOV"));
}

/// `sort`'s bursts in `backup`: a burst over midnight stays in one folder, dated by its
/// first shot — an Android burst by its names, an iPhone burst by the BurstUUID in its
/// maker notes — in the dry run too; a shot that arrives after its burst's first was
/// backed up still joins it.
#[test]
fn a_backup_keeps_a_burst_over_midnight_in_one_folder() {
    use mtpull::pull::BackupOptions;
    use mtpull::sim::Profile;

    use crate::backup_util::{at, empty_phone, run_backup, tree};

    let (phone, storage) = empty_phone(Profile::Android);
    let add = |path: &str, bytes: Vec<u8>| {
        phone
            .add_file(storage, path, bytes, at(2024, 6, 1, 12, 0, 0))
            .unwrap()
    };
    for (path, bytes) in bursts_over_midnight() {
        add(path, bytes);
    }
    let dest = TempDir::new().unwrap();
    let dry = dry_run();
    let (predicted, landed) = dry_run_then_backup(&phone, dest.path());
    assert_eq!(landed, BURSTS_FILED);
    assert_eq!(predicted, landed, "the dry run predicts it");

    // A shot of the burst that reaches the phone's listing only now.
    let shot = jpeg(&tiff(&[], &[(DATE_TIME_ORIGINAL, "2024:05:27 00:00:02")]));
    add("DCIM/Camera/IMG20240526235959_BURST002.jpg", shot);
    let (_, predicted) = run_backup(&phone, dest.path(), &dry);
    let (report, _) = run_backup(&phone, dest.path(), &BackupOptions::default());
    assert!(report.succeeded(), "{report:?}");
    let joined = "2024/05/26/IMG20240526235959_BURST002.jpg";
    assert!(
        tree(dest.path()).contains_key(joined),
        "{:?}",
        tree(dest.path()).keys()
    );
    assert_eq!(predicted.would_copy.values().collect::<Vec<_>>(), [joined]);
}

fn dry_run() -> mtpull::pull::BackupOptions {
    mtpull::pull::BackupOptions {
        dry_run: true,
        ..Default::default()
    }
}

/// A dry run, then a backup that succeeds: where the dry run said the files would go,
/// and every file DEST then holds, each in path order.
fn dry_run_then_backup(phone: &mtpull::sim::SimDevice, dest: &Path) -> (Vec<String>, Vec<String>) {
    use crate::backup_util::{run_backup, tree};
    let (_, predicted) = run_backup(phone, dest, &dry_run());
    let (report, seen) = run_backup(phone, dest, &Default::default());
    assert!(report.succeeded(), "{report:?} {seen:?}");
    let mut predicted: Vec<String> = predicted.would_copy.into_values().collect();
    predicted.sort();
    (predicted, tree(dest).into_keys().collect())
}
