//! `mtpull sort`: a messy folder in, a dated tree out, and nothing lost or overwritten.

use std::ffi::OsStr;
use std::fs;
use std::path::Path;

use serde_json::{Value, json};
use tempfile::TempDir;

use crate::testdata::*;
use crate::util::*;

/// Japan: UTC+9, no daylight saving, written as a POSIX rule so no tzdata is needed.
const JAPAN: &str = "JST-9";
const UTC: &str = "UTC0";

/// 2024-05-26 20:00:00 UTC: 2024-05-27 05:00 in Japan.
const EVENING_UTC: u64 = 1_716_753_600;
/// A plausible mtime for files dated by their content or name.
const SOME_MTIME: u64 = 1_700_000_000;

fn photo(date_time_original: &str) -> Vec<u8> {
    jpeg(&tiff(&[], &[(DATE_TIME_ORIGINAL, date_time_original)]))
}

fn video() -> Vec<u8> {
    mp4(&[time_box(b"mvhd", 0, since_1904(EVENING_UTC))], 1000, false)
}

fn long_name() -> String {
    format!("{}.jpg", "L".repeat(250))
}

/// A phone dump with a clash, a duplicate, sidecars, undated files, hostile names and a link.
fn messy_folder(src: &Path) {
    put(
        &src.join("Backup/IMG_1.jpg"),
        &photo("2024:05:26 09:00:00"),
        SOME_MTIME,
    );
    put(&src.join("Backup/IMG_1.xmp"), b"edits of the backup", SOME_MTIME);
    put(
        &src.join("DCIM/Camera/IMG_1.jpg"),
        &photo("2024:05:26 10:15:30"),
        SOME_MTIME,
    );
    put(
        &src.join("DCIM/Camera/IMG_1.xmp"),
        b"edits of the camera copy",
        SOME_MTIME,
    );
    put(
        &src.join("Old/IMG_1.jpg"),
        &photo("2024:05:26 10:15:30"),
        SOME_MTIME,
    );
    put(&src.join("clip.mp4"), &video(), SOME_MTIME);
    put(
        &src.join("PXL_20240526_201500123.MP.jpg"),
        &plain_jpeg(1),
        SOME_MTIME,
    );
    put(&src.join("IMG-20240101-WA0001.jpg"), &plain_jpeg(2), SOME_MTIME);
    // A zero mtime is no date: these three have nothing else either.
    put(&src.join("notes.txt"), b"no date here", 0);
    put(&src.join("bad\nname\u{1b}.jpg"), &plain_jpeg(3), 0);
    put(&src.join(long_name()), &plain_jpeg(4), 0);
    std::os::unix::fs::symlink("/etc/passwd", src.join("link")).unwrap();
}

fn expected_tree() -> Vec<(String, Vec<u8>)> {
    let cut_name = format!("{}.jpg", "L".repeat(236));
    let mut expected = vec![
        // Backup/ is walked first, so its photo keeps the plain name.
        ("2024/05/26/IMG_1.jpg".to_owned(), photo("2024:05:26 09:00:00")),
        ("2024/05/26/IMG_1.xmp".to_owned(), b"edits of the backup".to_vec()),
        ("2024/05/26/IMG_1-1.jpg".to_owned(), photo("2024:05:26 10:15:30")),
        (
            "2024/05/26/IMG_1-1.xmp".to_owned(),
            b"edits of the camera copy".to_vec(),
        ),
        ("2024/05/27/clip.mp4".to_owned(), video()),
        (
            "2024/05/27/PXL_20240526_201500123.MP.jpg".to_owned(),
            plain_jpeg(1),
        ),
        ("2024/01/01/IMG-20240101-WA0001.jpg".to_owned(), plain_jpeg(2)),
        ("undated/bad_name_.jpg".to_owned(), plain_jpeg(3)),
        (format!("undated/{cut_name}"), plain_jpeg(4)),
    ];
    expected.sort();
    expected
}

fn counts(filed: u64, renamed: u64, duplicates: u64, undated: u64, dry_run: bool) -> Value {
    json!({
        "filed": filed, "renamed": renamed, "duplicates": duplicates, "undated": undated,
        "skipped": 1, "ignored": 1, "errors": 0, "dry_run": dry_run,
    })
}

struct Dirs {
    _root: TempDir,
    src: std::path::PathBuf,
    dest: std::path::PathBuf,
}

fn messy() -> Dirs {
    let root = TempDir::new().unwrap();
    let src = root.path().join("src");
    let dest = root.path().join("dest");
    messy_folder(&src);
    Dirs {
        _root: root,
        src,
        dest,
    }
}

#[test]
fn a_messy_folder_becomes_the_expected_tree_and_a_second_run_files_nothing() {
    let dirs = messy();
    let before = tree(&dirs.src);

    let first = mtpull(sort_args(&dirs, &["--json"]), JAPAN);
    assert!(first.status.success(), "{first:?}");
    assert_eq!(summary(&first), counts(9, 1, 1, 2, false));
    assert_eq!(tree(&dirs.dest), expected_tree());
    assert_eq!(tree(&dirs.src), before, "a copy leaves the source as it was");

    let second = mtpull(sort_args(&dirs, &["--json"]), JAPAN);
    assert!(second.status.success(), "{second:?}");
    assert_eq!(summary(&second), counts(0, 0, 10, 2, false));
    assert_eq!(tree(&dirs.dest), expected_tree());
}

/// `backup`'s rule in `sort`: bytes DEST already holds under another name or in another
/// folder (a photo renamed after an earlier sort, an album) are not filed again, and
/// neither is a second copy in SRC under another name; the dry run says so too.
#[test]
fn a_photo_dest_holds_under_another_name_is_a_duplicate_not_filed_again() {
    let root = TempDir::new().unwrap();
    let (src, dest) = (root.path().join("src"), root.path().join("dest"));
    let (renamed, in_album, new, twice) = (
        photo("2024:05:26 09:00:00"),
        photo("2024:05:26 10:00:00"),
        photo("2024:05:26 11:00:00"),
        photo("2024:05:26 12:00:00"),
    );
    put(&dest.join("2024/05/26/breakfast.jpg"), &renamed, SOME_MTIME);
    put(&dest.join("Albums/best.jpg"), &in_album, SOME_MTIME);
    // In a hidden folder (a trash can): no backup, so no duplicate.
    put(&dest.join(".Trash-1000/files/IMG_3.jpg"), &new, SOME_MTIME);
    put(&src.join("DCIM/IMG_1.jpg"), &renamed, SOME_MTIME);
    put(&src.join("DCIM/IMG_1.xmp"), b"edits of IMG_1", SOME_MTIME);
    put(&src.join("DCIM/IMG_2.jpg"), &in_album, SOME_MTIME);
    put(&src.join("DCIM/IMG_3.jpg"), &new, SOME_MTIME);
    put(&src.join("DCIM/IMG_4.jpg"), &twice, SOME_MTIME);
    put(&src.join("Download/IMG_4 (1).jpg"), &twice, SOME_MTIME);
    let before = tree(&dest);
    let outcomes = |output: &std::process::Output| -> Vec<(String, String, String)> {
        assert!(output.status.success(), "{output:?}");
        let lines = json_lines(output);
        let (summary, files) = lines.split_last().unwrap();
        assert_eq!(summary["summary"]["duplicates"], 3, "{summary}");
        assert_eq!(summary["summary"]["filed"], 3, "{summary}");
        files
            .iter()
            .map(|line| {
                let source = line["source"].as_str().unwrap();
                let destination = line["destination"].as_str().unwrap();
                (
                    source.strip_prefix(src.to_str().unwrap()).unwrap().to_owned(),
                    line["outcome"].as_str().unwrap().to_owned(),
                    destination
                        .strip_prefix(dest.to_str().unwrap())
                        .unwrap()
                        .to_owned(),
                )
            })
            .collect()
    };
    let args = |extra: &[&str]| {
        let mut args = vec!["sort", src.to_str().unwrap(), dest.to_str().unwrap(), "--json"];
        args.extend(extra);
        args.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    let predicted = outcomes(&mtpull(args(&["--dry-run"]), UTC));
    assert_eq!(tree(&dest), before, "a dry run writes nothing");
    let filed = outcomes(&mtpull(args(&[]), UTC));
    assert_eq!(predicted, filed);
    let expected = [
        ("/DCIM/IMG_1.jpg", "duplicate", "/2024/05/26/breakfast.jpg"),
        // Its edits go beside the copy DEST holds, named after it.
        ("/DCIM/IMG_1.xmp", "filed", "/2024/05/26/breakfast.xmp"),
        ("/DCIM/IMG_2.jpg", "duplicate", "/Albums/best.jpg"),
        ("/DCIM/IMG_3.jpg", "filed", "/2024/05/26/IMG_3.jpg"),
        ("/DCIM/IMG_4.jpg", "filed", "/2024/05/26/IMG_4.jpg"),
        ("/Download/IMG_4 (1).jpg", "duplicate", "/2024/05/26/IMG_4.jpg"),
    ];
    let expected: Vec<(String, String, String)> = expected
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect();
    assert_eq!(filed, expected);
    assert_eq!(tree(&dest).len(), before.len() + 3);
    // A second run files nothing: everything is a duplicate of what is there.
    let again = mtpull(args(&[]), UTC);
    assert!(again.status.success(), "{again:?}");
    assert_eq!(summary(&again)["filed"], 0);
}

fn sort_args<'a>(dirs: &'a Dirs, extra: &[&'a str]) -> Vec<&'a OsStr> {
    let mut args = vec!["sort".as_ref(), dirs.src.as_os_str(), dirs.dest.as_os_str()];
    args.extend(extra.iter().map(|arg| OsStr::new(*arg)));
    args
}

#[test]
fn the_json_report_names_each_file_its_destination_and_date_source() {
    let dirs = messy();
    let output = mtpull(sort_args(&dirs, &["--json", "--dry-run"]), JAPAN);
    assert!(output.status.success(), "{output:?}");
    let lines = json_lines(&output);
    let line_for = |name: &str| -> &Value {
        lines
            .iter()
            .find(|l| l["source"].as_str().is_some_and(|s| s.ends_with(name)))
            .unwrap_or_else(|| panic!("no line for {name}"))
    };
    let dest = |rel: &str| dirs.dest.join(rel).to_string_lossy().into_owned();
    let clip = line_for("clip.mp4");
    assert_eq!(clip["destination"], dest("2024/05/27/clip.mp4"));
    assert_eq!(clip["date_source"], "mvhd");
    assert_eq!(clip["time"], "2024-05-27T05:00:00");
    assert_eq!(clip["offset"], "+09:00");
    assert_eq!(
        line_for("Camera/IMG_1.jpg")["date_source"],
        "exif_date_time_original"
    );
    assert_eq!(line_for("Camera/IMG_1.jpg")["outcome"], "renamed");
    assert_eq!(
        line_for("Camera/IMG_1.xmp")["sidecar_of"],
        dirs.src.join("DCIM/Camera/IMG_1.jpg").to_string_lossy().as_ref()
    );
    assert_eq!(line_for("Old/IMG_1.jpg")["outcome"], "duplicate");
    assert_eq!(line_for("MP.jpg")["date_source"], "file_name");
    assert_eq!(line_for("WA0001.jpg")["date_source"], "file_name_date");
    assert_eq!(line_for("notes.txt")["outcome"], "ignored");
    assert_eq!(line_for("link")["outcome"], "skipped");
    assert_eq!(summary(&output), counts(9, 1, 1, 2, true));
}

#[test]
fn a_dry_run_writes_nothing_and_prints_each_file_with_its_date_source() {
    let dirs = messy();
    let output = mtpull(sort_args(&dirs, &["--dry-run"]), JAPAN);
    assert!(output.status.success(), "{output:?}");
    assert!(!dirs.dest.exists(), "a dry run created the destination");
    let text = stdout(&output);
    let clip_line = text.lines().find(|l| l.contains("clip.mp4")).unwrap();
    assert!(
        clip_line.ends_with("2024/05/27/clip.mp4  [video mvhd (UTC), +09:00 by this computer's zone]"),
        "{clip_line}"
    );
    assert!(
        text.contains("bad\\nname\\u{1b}.jpg"),
        "control characters must be escaped:\n{text}"
    );
    assert!(!text.contains('\u{1b}'));
    assert!(
        text.ends_with(
            "would file 9 files (1 renamed), 1 duplicate, 2 undated, 1 skipped, 1 other file left alone, \
             0 errors (dry run: nothing was written)\n"
        ),
        "{text}"
    );
    assert!(!text.lines().any(|l| l.starts_with("filed")), "{text}");
}

#[test]
fn the_time_zone_decides_the_day_of_a_utc_video() {
    for (tz, day) in [
        (UTC, "2024/05/26"),
        (JAPAN, "2024/05/27"),
        ("EST5EDT,M3.2.0,M11.1.0", "2024/05/26"),
    ] {
        let root = TempDir::new().unwrap();
        let (src, dest) = (root.path().join("src"), root.path().join("dest"));
        put(&src.join("clip.mp4"), &video(), SOME_MTIME);
        let output = mtpull(["sort".as_ref(), src.as_os_str(), dest.as_os_str()], tz);
        assert!(output.status.success(), "{output:?}");
        assert_eq!(tree(&dest), vec![(format!("{day}/clip.mp4"), video())], "TZ={tz}");
    }
}

#[test]
fn move_takes_filed_files_away_and_leaves_duplicates() {
    let dirs = messy();
    let output = mtpull(sort_args(&dirs, &["--move", "--json"]), JAPAN);
    assert!(output.status.success(), "{output:?}");
    assert_eq!(tree(&dirs.dest), expected_tree());
    let left: Vec<String> = tree(&dirs.src).into_iter().map(|(path, _)| path).collect();
    assert_eq!(
        left,
        ["Old/IMG_1.jpg", "notes.txt"],
        "duplicates and documents stay"
    );
}

#[test]
fn per_file_errors_are_reported_and_the_run_goes_on() {
    let dirs = messy();
    // A file where the 2024 folder should be: every 2024 photo fails, the rest is filed.
    put(&dirs.dest.join("2024"), b"in the way", SOME_MTIME);
    let output = mtpull(sort_args(&dirs, &["--json"]), JAPAN);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let summary = summary(&output);
    assert_eq!(
        (summary["errors"].as_u64(), summary["filed"].as_u64()),
        (Some(8), Some(2))
    );
    let errors: Vec<Value> = json_lines(&output)
        .into_iter()
        .filter(|l| l["outcome"] == "error")
        .collect();
    for error in &errors {
        let message = error["error"].as_str().unwrap();
        let expected = if error["sidecar_of"].is_string() {
            "travels with"
        } else {
            "cannot create folder"
        };
        assert!(message.contains(expected), "{error}");
    }
    assert_eq!(tree(&dirs.dest).len(), 3, "two undated files and the obstacle");
}

#[test]
fn text_mode_sends_per_file_errors_to_stderr() {
    let dirs = messy();
    put(&dirs.dest.join("2024"), b"in the way", SOME_MTIME);
    let output = mtpull(sort_args(&dirs, &[]), JAPAN);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with("error") && l.contains("clip.mp4")),
        "{stderr}"
    );
}

#[test]
fn a_destination_inside_the_source_is_not_sorted_again() {
    let root = TempDir::new().unwrap();
    let src = root.path().join("phone");
    put(&src.join("IMG_20240526_101500.jpg"), &plain_jpeg(1), SOME_MTIME);
    let dest = src.join("sorted");
    for run in 0..2 {
        let output = mtpull(
            [
                "sort".as_ref(),
                src.as_os_str(),
                dest.as_os_str(),
                "--json".as_ref(),
            ],
            UTC,
        );
        let expected = if run == 0 { (1, 0) } else { (0, 1) };
        let summary = summary(&output);
        assert_eq!(
            (
                summary["filed"].as_u64().unwrap(),
                summary["duplicates"].as_u64().unwrap()
            ),
            expected,
            "run {run}"
        );
    }
    assert_eq!(tree(&dest).len(), 1);
}

#[test]
fn a_custom_template_shapes_the_folders() {
    let root = TempDir::new().unwrap();
    let (src, dest) = (root.path().join("src"), root.path().join("dest"));
    put(&src.join("IMG_20240526_101500.jpg"), &plain_jpeg(1), SOME_MTIME);
    let output = mtpull(
        [
            "sort".as_ref(),
            src.as_os_str(),
            dest.as_os_str(),
            "--template=%Y/%Y-%m".as_ref(),
        ],
        UTC,
    );
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        tree(&dest),
        vec![("2024/2024-05/IMG_20240526_101500.jpg".to_owned(), plain_jpeg(1))]
    );
}

#[test]
fn fatal_problems_exit_with_2() {
    let root = TempDir::new().unwrap();
    let missing = root.path().join("missing");
    let file = root.path().join("file");
    fs::write(&file, b"x").unwrap();
    let cases: [Vec<&OsStr>; 5] = [
        vec!["sort".as_ref(), missing.as_os_str(), root.path().as_os_str()],
        vec!["sort".as_ref(), root.path().as_os_str(), file.as_os_str()],
        vec![
            "sort".as_ref(),
            root.path().as_os_str(),
            missing.as_os_str(),
            "--template=%Y/%Q".as_ref(),
        ],
        vec![
            "--device".as_ref(),
            "ABC".as_ref(),
            "sort".as_ref(),
            root.path().as_os_str(),
            missing.as_os_str(),
        ],
        vec!["sort".as_ref()],
    ];
    for args in cases {
        let output = mtpull(&args, UTC);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {output:?}");
        assert!(!output.stderr.is_empty(), "{args:?} said nothing");
    }
    assert!(!missing.exists());
}

/// A phone dump with what is not a photo: documents, system files, hidden thumbnails.
fn with_clutter(src: &Path) {
    put(
        &src.join("DCIM/IMG_20240526_101500.jpg"),
        &plain_jpeg(1),
        SOME_MTIME,
    );
    put(&src.join("DCIM/clip.mp4"), &video(), SOME_MTIME);
    put(
        &src.join("DCIM/.thumbnails/IMG_20240526_101500.jpg"),
        &plain_jpeg(2),
        SOME_MTIME,
    );
    for name in [
        ".DS_Store",
        ".nomedia",
        "Thumbs.db",
        "boarding-pass.pdf",
        "readme.txt",
    ] {
        put(&src.join("DCIM").join(name), name.as_bytes(), SOME_MTIME);
    }
}

#[test]
fn only_photos_and_videos_are_sorted_unless_asked_and_the_rest_stays() {
    let root = TempDir::new().unwrap();
    let (src, dest) = (root.path().join("src"), root.path().join("dest"));
    with_clutter(&src);
    let moved = mtpull(
        [
            "sort".as_ref(),
            src.as_os_str(),
            dest.as_os_str(),
            "--move".as_ref(),
        ],
        UTC,
    );
    assert!(moved.status.success(), "{moved:?}");
    let filed: Vec<String> = tree(&dest).into_iter().map(|(path, _)| path).collect();
    assert_eq!(
        filed,
        ["2024/05/26/IMG_20240526_101500.jpg", "2024/05/26/clip.mp4"]
    );
    let left: Vec<String> = tree(&src).into_iter().map(|(path, _)| path).collect();
    assert_eq!(
        left,
        [
            "DCIM/.DS_Store",
            "DCIM/.nomedia",
            "DCIM/.thumbnails/IMG_20240526_101500.jpg",
            "DCIM/Thumbs.db",
            "DCIM/boarding-pass.pdf",
            "DCIM/readme.txt"
        ]
    );
    assert!(
        stdout(&moved).contains("6 other files left alone"),
        "{}",
        stdout(&moved)
    );

    let dest_all = root.path().join("all");
    let all = mtpull(
        [
            "sort".as_ref(),
            src.as_os_str(),
            dest_all.as_os_str(),
            "--only=all".as_ref(),
            "--json".as_ref(),
        ],
        UTC,
    );
    assert!(all.status.success(), "{all:?}");
    assert_eq!(summary(&all)["ignored"], 0);
    assert_eq!(tree(&dest_all).len(), 6);

    let photos = mtpull(
        [
            "sort".as_ref(),
            src.as_os_str(),
            root.path().join("none").as_os_str(),
            "--only=videos".as_ref(),
            "--json".as_ref(),
        ],
        UTC,
    );
    assert_eq!(summary(&photos)["filed"], 0, "{photos:?}");
}

#[test]
fn an_unwritable_destination_is_one_error_and_exit_2() {
    let root = TempDir::new().unwrap();
    let (src, dest) = (root.path().join("src"), root.path().join("dest"));
    with_clutter(&src);
    fs::create_dir(&dest).unwrap();
    for dry in [false, true] {
        let mut args = vec!["sort", src.to_str().unwrap(), dest.to_str().unwrap()];
        if dry {
            args.push("--dry-run");
        }
        let output = as_unprivileged_user(root.path(), &args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains("cannot write into"), "{stderr}");
    }
}

/// Defect 12: a disk that fills up stops the sort at the first file that does not fit
/// (one error naming the cause, exit 2), leaves no partial or staged copy, loses no
/// source, and the same command files the rest once there is room.
#[test]
fn a_full_disk_stops_the_sort_with_one_error_and_the_rerun_files_the_rest() {
    for mode in ["--copy", "--move"] {
        let Some(disk) = SmallDisk::mount(1 << 20) else {
            return;
        };
        let src = TempDir::new().unwrap();
        // Ten photos of 200 KB: twice what the disk holds.
        let photos: Vec<Vec<u8>> = (0..10u8)
            .map(|i| {
                let mut bytes = photo(&format!("2024:05:{:02} 09:00:00", 10 + i));
                bytes.resize(200_000, i);
                put(&src.path().join(format!("IMG_{i}.jpg")), &bytes, SOME_MTIME);
                bytes
            })
            .collect();
        let dest = disk.path().join("sorted");
        let mut args = vec!["sort", src.path().to_str().unwrap(), dest.to_str().unwrap()];
        if mode == "--move" {
            args.push(mode);
        }
        let output = mtpull(&args, UTC);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{mode}: {stderr}");
        assert_eq!(
            stderr.lines().count(),
            1,
            "{mode}: one error, not one per file: {stderr}"
        );
        assert!(stderr.contains("No space left on device"), "{mode}: {stderr}");
        assert!(stderr.contains("is full"), "{mode}: {stderr}");
        let filed = tree(&dest);
        assert!(
            !filed.is_empty() && filed.len() < photos.len(),
            "{mode}: {}",
            filed.len()
        );
        for (path, bytes) in &filed {
            assert!(photos.contains(bytes), "{mode}: {path} is whole");
        }
        let staged: Vec<_> = fs::read_dir(dest.join(".mtpull/tmp")).unwrap().collect();
        assert!(staged.is_empty(), "{mode}: {staged:?}");
        let left = tree(src.path()).len();
        match mode {
            "--copy" => assert_eq!(left, photos.len(), "the sources stay"),
            _ => assert_eq!(left + filed.len(), photos.len(), "every photo is somewhere"),
        }

        disk.resize(8 << 20);
        let output = mtpull(&args, UTC);
        assert!(output.status.success(), "{mode}: {output:?}");
        let mut filed: Vec<Vec<u8>> = tree(&dest).into_iter().map(|(_, bytes)| bytes).collect();
        filed.sort();
        let mut expected = photos.clone();
        expected.sort();
        assert_eq!(filed, expected, "{mode}: each photo once");
    }
}

#[test]
fn names_that_are_not_utf8_stay_distinct_in_text_and_json() {
    use std::os::unix::ffi::OsStrExt;
    let root = TempDir::new().unwrap();
    let (src, dest) = (root.path().join("src"), root.path().join("dest"));
    for (byte, n) in [(0xff, 1), (0xfe, 2)] {
        let name = [b'x', byte, b'.', b'j', b'p', b'g'];
        put(&src.join(OsStr::from_bytes(&name)), &plain_jpeg(n), SOME_MTIME);
    }
    let text = stdout(&mtpull(
        [
            "sort".as_ref(),
            src.as_os_str(),
            dest.as_os_str(),
            "--dry-run".as_ref(),
        ],
        UTC,
    ));
    assert!(
        text.contains("x\\xff.jpg") && text.contains("x\\xfe.jpg"),
        "{text}"
    );
    assert!(!text.contains('\u{fffd}'), "{text}");
    let json = mtpull(
        [
            "sort".as_ref(),
            src.as_os_str(),
            dest.as_os_str(),
            "--json".as_ref(),
        ],
        UTC,
    );
    let sources: Vec<String> = json_lines(&json)
        .iter()
        .filter_map(|line| line["source"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(sources.len(), 2, "{json:?}");
    assert_ne!(sources[0], sources[1]);
    let mut written: Vec<String> = tree(&dest).into_iter().map(|(path, _)| path).collect();
    written.sort();
    assert_eq!(written, ["2023/11/14/x%FE.jpg", "2023/11/14/x%FF.jpg"]);
}

#[test]
fn ctrl_c_stops_between_files_leaves_no_temp_file_and_says_so() {
    use std::process::{Command, Stdio};
    let root = TempDir::new().unwrap();
    let (src, dest) = (root.path().join("src"), root.path().join("dest"));
    // Enough big files that the run is surely still copying when interrupted.
    let big = vec![7u8; 8 << 20];
    for n in 0..30 {
        let mut photo = plain_jpeg(n);
        photo.extend_from_slice(&big);
        put(
            &src.join(format!("IMG_20240526_1015{n:02}.jpg")),
            &photo,
            SOME_MTIME,
        );
    }
    let child = Command::new(env!("CARGO_BIN_EXE_mtpull"))
        .args(["sort".as_ref(), src.as_os_str(), dest.as_os_str()])
        .env("TZ", "UTC")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the copying to start, then press Ctrl-C.
    let day = dest.join("2024/05/26");
    let staged = dest.join(".mtpull/tmp");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let count = |dir: &Path| fs::read_dir(dir).map_or(0, |d| d.count());
    // Copies are staged in batches, then filed: wait for the first staged copy.
    while count(&staged) + count(&day) < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the sort never started filing"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    use rustix::process::{Pid, Signal, kill_process};
    kill_process(Pid::from_child(&child), Signal::INT).unwrap();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    let text = stdout(&output);
    assert!(text.lines().last().unwrap().starts_with("filed "), "{text}");
    let names: Vec<String> = fs::read_dir(&day)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");
    let temps = fs::read_dir(dest.join(".mtpull/tmp")).map_or(0, |d| d.count());
    assert_eq!(temps, 0, "a copy was left in DEST/.mtpull/tmp");
    assert!(names.len() < 30, "the run was not interrupted: {names:?}");
}

#[test]
fn a_killed_runs_temp_file_is_removed_by_the_next_run() {
    let root = TempDir::new().unwrap();
    let (src, dest) = (root.path().join("src"), root.path().join("dest"));
    put(&src.join("IMG_20240526_101500.jpg"), &plain_jpeg(1), SOME_MTIME);
    // What a SIGKILLed run leaves: a copy on its way into place.
    let temps = dest.join(".mtpull/tmp");
    fs::create_dir_all(&temps).unwrap();
    let stale = temps.join("copy-7.tmp");
    fs::write(&stale, vec![0u8; 4096]).unwrap();
    let output = mtpull(["sort".as_ref(), src.as_os_str(), dest.as_os_str()], UTC);
    assert!(output.status.success(), "{output:?}");
    assert!(!stale.exists());
    assert_eq!(tree(&dest).len(), 1);
}

#[test]
fn copies_are_made_durable_in_batches_and_a_cut_runs_staged_copies_are_removed() {
    let root = TempDir::new().unwrap();
    let (src, dest) = (root.path().join("src"), root.path().join("dest"));
    // More than two batches of 64, and a sidecar riding along in each.
    for i in 0..150u32 {
        let day = i % 28 + 1;
        put(
            &src.join(format!("DCIM/IMG_{i:03}.jpg")),
            &photo(&format!("2024:05:{day:02} 10:00:{:02}", i % 60)),
            SOME_MTIME,
        );
        put(
            &src.join(format!("DCIM/IMG_{i:03}.xmp")),
            format!("edit {i}").as_bytes(),
            SOME_MTIME,
        );
    }
    // What a run cut between its copy and its rename leaves.
    let staged = dest.join(".mtpull/tmp/sort-copy-1-1.tmp");
    put(&staged, b"half a photo", SOME_MTIME);

    let output = mtpull(["sort".as_ref(), src.as_os_str(), dest.as_os_str()], UTC);
    assert!(output.status.success(), "{output:?}");
    let filed = tree(&dest);
    assert_eq!(filed.len(), 300, "every photo and sidecar, nothing staged left");
    assert!(filed.iter().all(|(path, _)| path.starts_with("2024/05/")));
    assert!(filed.contains(&("2024/05/02/IMG_001.xmp".to_owned(), b"edit 1".to_vec())));
    assert!(!staged.exists());
    assert_eq!(tree(&src).len(), 300, "a copy leaves the source alone");
}

/// Live Photos and motion photos with their side videos, two of each with the same
/// names, and a destination where one video's name is already taken.
fn pairs_folder(src: &Path, dest: &Path) -> Vec<(String, Vec<u8>)> {
    let live = |shade: &str| heic(&tiff(&[], &[(DATE_TIME_ORIGINAL, shade)]), 16);
    // The videos' own (UTC) dates say another day: the pair is dated by its photo.
    let side_video = |seed: u64| video_at_utc(1_700_000_000 + seed, &[]);
    let files = [
        ("A/IMG_0001.HEIC", live("2024:05:26 10:00:00")),
        ("A/IMG_0001.MOV", side_video(1)),
        ("A/IMG_0001.AAE", b"edits A".to_vec()),
        ("B/IMG_0001.HEIC", live("2024:05:26 11:00:00")),
        ("B/IMG_0001.MOV", side_video(2)),
        ("B/IMG_0001.AAE", b"edits B".to_vec()),
        ("A/MVIMG_20240526_120000.jpg", photo("2024:05:26 12:00:00")),
        ("A/MVIMG_20240526_120000.mp4", side_video(3)),
        ("B/MVIMG_20240526_120000.jpg", photo("2024:05:26 12:30:00")),
        ("B/MVIMG_20240526_120000.mp4", side_video(4)),
        ("A/PXL_20240526_100000000.MP.jpg", photo("2024:05:26 13:00:00")),
    ];
    for (path, bytes) in &files {
        put(&src.join(path), bytes, SOME_MTIME);
    }
    // Someone else's video holds the name the first Live Photo's video would take.
    put(&dest.join("2024/05/26/IMG_0002.MOV"), b"not ours", SOME_MTIME);
    put(
        &src.join("C/IMG_0002.HEIC"),
        &live("2024:05:26 14:00:00"),
        SOME_MTIME,
    );
    put(&src.join("C/IMG_0002.MOV"), &side_video(5), SOME_MTIME);
    let content = |path: &str| fs::read(src.join(path)).unwrap();
    let mut expected: Vec<(String, Vec<u8>)> = [
        ("IMG_0001.HEIC", "A/IMG_0001.HEIC"),
        ("IMG_0001.MOV", "A/IMG_0001.MOV"),
        ("IMG_0001.AAE", "A/IMG_0001.AAE"),
        ("IMG_0001-1.HEIC", "B/IMG_0001.HEIC"),
        ("IMG_0001-1.MOV", "B/IMG_0001.MOV"),
        ("IMG_0001-1.AAE", "B/IMG_0001.AAE"),
        ("MVIMG_20240526_120000.jpg", "A/MVIMG_20240526_120000.jpg"),
        ("MVIMG_20240526_120000.mp4", "A/MVIMG_20240526_120000.mp4"),
        ("MVIMG_20240526_120000-1.jpg", "B/MVIMG_20240526_120000.jpg"),
        ("MVIMG_20240526_120000-1.mp4", "B/MVIMG_20240526_120000.mp4"),
        ("PXL_20240526_100000000.MP.jpg", "A/PXL_20240526_100000000.MP.jpg"),
        ("IMG_0002-1.HEIC", "C/IMG_0002.HEIC"),
        ("IMG_0002-1.MOV", "C/IMG_0002.MOV"),
    ]
    .iter()
    .map(|(name, from)| (format!("2024/05/26/{name}"), content(from)))
    .collect();
    expected.push(("2024/05/26/IMG_0002.MOV".to_owned(), b"not ours".to_vec()));
    expected.sort();
    expected
}

#[test]
fn live_and_motion_photo_pairs_stay_together_through_a_name_clash() {
    for mode in [None, Some("--move")] {
        let root = TempDir::new().unwrap();
        let (src, dest) = (root.path().join("src"), root.path().join("dest"));
        let expected = pairs_folder(&src, &dest);
        let mut args = vec![
            "sort".as_ref(),
            src.as_os_str(),
            dest.as_os_str(),
            "--json".as_ref(),
        ];
        let dry_args: Vec<&OsStr> = args.iter().copied().chain([OsStr::new("--dry-run")]).collect();
        let dry = mtpull(&dry_args, UTC);
        assert!(dry.status.success(), "{dry:?}");
        args.extend(mode.map(OsStr::new));
        let output = mtpull(&args, UTC);
        assert!(output.status.success(), "{output:?}");
        assert_eq!(tree(&dest), expected, "{mode:?}");
        // The dry run said so, file by file.
        let destinations = |output| -> Vec<Value> {
            json_lines(output)
                .into_iter()
                .filter(|l| l["source"].is_string())
                .map(|l| json!([l["source"], l["destination"], l["outcome"]]))
                .collect()
        };
        assert_eq!(destinations(&dry), destinations(&output));
    }
}

#[test]
fn quiet_sorts_without_a_word_and_still_reports_errors() {
    let root = TempDir::new().unwrap();
    let (src, dest) = (root.path().join("src"), root.path().join("dest"));
    put(&src.join("IMG_20240526_101500.jpg"), &plain_jpeg(1), SOME_MTIME);
    put(&src.join("IMG_20240526_101501.jpg"), &plain_jpeg(2), SOME_MTIME);
    let output = mtpull(
        ["-q".as_ref(), "sort".as_ref(), src.as_os_str(), dest.as_os_str()],
        UTC,
    );
    assert!(output.status.success(), "{output:?}");
    assert!(output.stdout.is_empty() && output.stderr.is_empty(), "{output:?}");
    assert_eq!(tree(&dest).len(), 2);
    // An unreadable file is still an error worth a word, and exit 1.
    use std::os::unix::fs::PermissionsExt;
    let locked = src.join("IMG_20240526_101502.jpg");
    put(&locked, &plain_jpeg(3), SOME_MTIME);
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o000)).unwrap();
    let open_dest = root.path().join("dest2");
    fs::create_dir(&open_dest).unwrap();
    fs::set_permissions(&open_dest, fs::Permissions::from_mode(0o777)).unwrap();
    let args = ["-q", "sort", src.to_str().unwrap(), open_dest.to_str().unwrap()];
    let output = as_unprivileged_user(root.path(), &args);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(output.stdout.is_empty(), "{output:?}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("IMG_20240526_101502.jpg"), "{stderr}");
}

#[test]
fn options_that_cannot_work_say_why_in_words() {
    let root = TempDir::new().unwrap();
    let (src, dest) = (root.path().join("src"), root.path().join("dest"));
    fs::create_dir(&src).unwrap();
    let run = |extra: &[&str]| {
        let mut args: Vec<&OsStr> = vec!["sort".as_ref(), src.as_os_str(), dest.as_os_str()];
        args.extend(extra.iter().map(OsStr::new));
        let output = mtpull(args, UTC);
        assert_eq!(output.status.code(), Some(2), "{extra:?}: {output:?}");
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let stderr = run(&["-j", "0"]);
    assert!(stderr.contains("at least one thread"), "{stderr}");
    let stderr = run(&["--template", "%Y/%Q"]);
    assert!(stderr.contains("does not know %Q"), "{stderr}");
    assert!(!dest.exists());
}
