//! `mtpull backup` on the simulated phone: what is copied, where it lands,
//! what a second run does, dry runs, --delete-after, and the command line.

use std::collections::BTreeMap;
use std::fs;

use mtpull::ptp::{OperationCode, ResponseCode};
use mtpull::pull::{BackupOptions, FileOutcome, Only, PullError, Selection, parse_since};
use mtpull::sim::{Content, Fault, Profile};

use crate::backup_util::{
    assert_all_backed_up, assert_consistent, at, backed_up, phone, phone_files, photo, run_backup, samples,
    tree,
};
use crate::run::mtpull;

const PROFILES: [Profile; 3] = [Profile::Android, Profile::Samsung, Profile::PtpCamera];

fn expected_tree() -> BTreeMap<String, Vec<u8>> {
    samples()
        .into_iter()
        .map(|s| (s.expected_dest.to_owned(), s.bytes))
        .collect()
}

#[test]
fn first_backup_files_everything_by_date_and_the_second_copies_nothing() {
    for profile in PROFILES {
        let (phone, storage) = phone(profile);
        let dest = tempfile::tempdir().unwrap();
        let options = BackupOptions::default();

        let (first, seen) = run_backup(&phone, dest.path(), &options);
        assert!(first.succeeded(), "{profile}: {:?}", first.stopped);
        assert_eq!(tree(dest.path()), expected_tree(), "{profile}");
        assert_eq!(first.summary.copied, 5, "{profile}");
        assert_eq!(
            first.summary.bytes_copied,
            samples().iter().map(|s| s.bytes.len() as u64).sum::<u64>()
        );
        assert!(
            seen.outcomes
                .values()
                .all(|o| matches!(o, FileOutcome::Copied { undated: false, .. }))
        );
        assert_consistent(&phone, storage, dest.path());
        // The pulled files carry the phone's date as their mtime.
        let edited = fs::metadata(dest.path().join("2022/08/09/edited.jpg")).unwrap();
        let local = chrono::DateTime::<chrono::Local>::from(edited.modified().unwrap()).naive_local();
        assert_eq!(local, at(2022, 8, 9, 10, 11, 12), "{profile}");

        let (second, seen) = run_backup(&phone, dest.path(), &options);
        assert!(second.succeeded(), "{profile}: {:?}", second.stopped);
        assert_eq!(
            (second.summary.copied, second.summary.already),
            (0, 5),
            "{profile}"
        );
        assert_eq!(second.summary.bytes_received, 0, "{profile}");
        assert!(seen.outcomes.is_empty());
        assert_eq!(tree(dest.path()), expected_tree(), "{profile}");
    }
}

#[test]
fn a_file_added_on_the_phone_is_the_only_one_copied_next() {
    for profile in PROFILES {
        let (phone, storage) = phone(profile);
        let dest = tempfile::tempdir().unwrap();
        let options = BackupOptions::default();
        assert!(run_backup(&phone, dest.path(), &options).0.succeeded());

        let new = Content::from(&b"a new photo, no EXIF"[..]);
        phone
            .add_file(
                storage,
                "DCIM/Camera/IMG_20240311_093000.jpg",
                new,
                at(2024, 3, 11, 9, 30, 5),
            )
            .unwrap();
        let (next, seen) = run_backup(&phone, dest.path(), &options);
        assert!(next.succeeded(), "{profile}: {:?}", next.stopped);
        assert_eq!((next.summary.copied, next.summary.already), (1, 5), "{profile}");
        assert_eq!(
            seen.outcomes.into_iter().collect::<Vec<_>>(),
            [(
                "DCIM/Camera/IMG_20240311_093000.jpg".to_owned(),
                FileOutcome::Copied {
                    dest: "2024/03/11/IMG_20240311_093000.jpg".into(),
                    bytes: 20,
                    undated: false
                }
            )],
            "{profile}"
        );
        assert_all_backed_up(&phone, storage, dest.path());
    }
}

#[test]
fn a_dry_run_writes_nothing_and_names_the_real_destinations() {
    for profile in PROFILES {
        let (phone, storage) = phone(profile);
        let dest = tempfile::tempdir().unwrap();
        // A different file already holds one planned name, so the real run
        // numbers its file: the dry run must say the same.
        fs::create_dir_all(dest.path().join("2023/03/04")).unwrap();
        fs::write(dest.path().join("2023/03/04/IMG_A.jpg"), b"another picture").unwrap();
        // Two phone files with one name on one day: the second is numbered too.
        let namesake = photo(at(2023, 3, 4, 18, 0, 0), 200);
        phone
            .add_file(storage, "Pictures/IMG_A.jpg", namesake, at(2024, 1, 1, 0, 0, 0))
            .unwrap();
        let before = tree(dest.path());
        let listing_before: Vec<_> = fs::read_dir(dest.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();

        let dry = BackupOptions {
            dry_run: true,
            ..BackupOptions::default()
        };
        let (report, predicted) = run_backup(&phone, dest.path(), &dry);
        assert!(report.succeeded(), "{profile}: {:?}", report.stopped);
        assert_eq!(tree(dest.path()), before, "{profile}: the dry run changed DEST");
        let listing_after: Vec<_> = fs::read_dir(dest.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            listing_after, listing_before,
            "{profile}: the dry run created {listing_after:?}"
        );
        assert_eq!(predicted.would_copy.len(), 6, "{profile}");
        assert_eq!(
            predicted.would_copy["DCIM/Camera/IMG_A.jpg"],
            "2023/03/04/IMG_A-1.jpg"
        );
        assert_eq!(
            predicted.would_copy["Pictures/IMG_A.jpg"],
            "2023/03/04/IMG_A-2.jpg"
        );

        let (real, done) = run_backup(&phone, dest.path(), &BackupOptions::default());
        assert!(real.succeeded(), "{profile}: {:?}", real.stopped);
        let actual: BTreeMap<String, String> = done
            .outcomes
            .into_iter()
            .map(|(path, outcome)| match outcome {
                FileOutcome::Copied { dest, .. } | FileOutcome::Duplicate { dest } => {
                    (path, dest.to_string_lossy().into_owned())
                }
                FileOutcome::Failed { error } => panic!("{path}: {error}"),
            })
            .collect();
        assert_eq!(actual, predicted.would_copy, "{profile}");
        fs::remove_file(dest.path().join("2023/03/04/IMG_A.jpg")).unwrap();
        assert_consistent(&phone, storage, dest.path());
    }
}

/// An MP4 whose `moov` (with its `mvhd` date) comes after `mdat_len` bytes of media
/// data, as many cameras write it.
fn mp4_with_moov_last(created_utc: chrono::NaiveDateTime, mdat_len: usize) -> Vec<u8> {
    let plain = mtpull::sim::media::mp4(created_utc, 1000);
    let mut boxes = BTreeMap::new();
    let mut at = 0;
    while at + 8 <= plain.len() {
        let len = u32::from_be_bytes(plain[at..at + 4].try_into().unwrap()) as usize;
        boxes.insert(plain[at + 4..at + 8].to_vec(), plain[at..at + len].to_vec());
        at += len;
    }
    let mut out = boxes[&b"ftyp"[..]].clone();
    out.extend(((8 + mdat_len) as u32).to_be_bytes());
    out.extend(b"mdat");
    out.extend(vec![0u8; mdat_len]);
    out.extend(&boxes[&b"moov"[..]]);
    out
}

#[test]
fn a_dry_run_reads_only_the_headers_dating_needs_and_dates_as_the_real_run() {
    let (phone, storage) = phone(Profile::Android);
    // A photo with 1 MiB of image data after its EXIF, and a video whose date is
    // only in a `moov` after 1 MiB of media data (its name and mtime say other days).
    let mut big_photo = photo(at(2022, 7, 8, 9, 10, 11), 90);
    big_photo.extend(vec![0x55; 1 << 20]);
    phone
        .add_file(storage, "DCIM/Camera/big.jpg", big_photo, at(2024, 1, 1, 0, 0, 0))
        .unwrap();
    let video = mp4_with_moov_last(at(2021, 6, 5, 12, 0, 0), 1 << 20);
    phone
        .add_file(storage, "DCIM/Camera/clip.mp4", video, at(2024, 1, 1, 0, 0, 0))
        .unwrap();
    let dest = tempfile::tempdir().unwrap();
    let dry = BackupOptions {
        dry_run: true,
        ..BackupOptions::default()
    };
    let mut read = BTreeMap::new();
    let (report, predicted) = crate::backup_util::run_backup_with(
        &phone,
        dest.path(),
        &dry,
        &std::sync::atomic::AtomicBool::new(false),
        |event| {
            if let mtpull::pull::Event::WouldCopy { file, entry } = event {
                read.insert(file.path.clone(), (entry.read_from_device, file.size));
            }
        },
    );
    assert!(report.succeeded(), "{:?}", report.stopped);
    assert_eq!(predicted.would_copy["DCIM/Camera/big.jpg"], "2022/07/08/big.jpg");
    assert_eq!(
        predicted.would_copy["DCIM/Camera/clip.mp4"],
        "2021/06/05/clip.mp4"
    );
    // The photo's EXIF is in its first 16 KiB: nothing more is read.
    let (photo_read, _) = read["DCIM/Camera/big.jpg"];
    assert!(photo_read <= 16 << 10, "read {photo_read} bytes of the photo");
    // The video: its first block, then the `moov` at its end, not the media data.
    let (video_read, video_size) = read["DCIM/Camera/clip.mp4"];
    assert!(
        video_read <= 64 << 10 && video_size > 1 << 20,
        "read {video_read} of {video_size} bytes"
    );
    for (path, (bytes, size)) in &read {
        assert!(bytes <= size, "{path}: read {bytes} of {size} bytes");
    }

    let (real, done) = run_backup(&phone, dest.path(), &BackupOptions::default());
    assert!(real.succeeded(), "{:?}", real.stopped);
    for path in ["DCIM/Camera/big.jpg", "DCIM/Camera/clip.mp4"] {
        let FileOutcome::Copied { dest: filed, .. } = &done.outcomes[path] else {
            panic!("{path}: {:?}", done.outcomes[path]);
        };
        assert_eq!(filed.to_string_lossy(), predicted.would_copy[path], "{path}");
    }
}

/// What a dry run said of each file: where, dated by what, a likely duplicate, bytes read.
type DryRunSaid = BTreeMap<String, (String, Option<String>, bool, u64)>;

/// Runs a dry run; returns what it said of each file and how many object reads
/// (GetObject, GetPartialObject, GetPartialObject64) the phone answered.
fn dry_run_counting_reads(
    phone: &mtpull::sim::SimDevice,
    dest: &std::path::Path,
    options: &BackupOptions,
) -> (DryRunSaid, u64) {
    phone.reset_stats();
    let mut said = BTreeMap::new();
    let (report, _) = crate::backup_util::run_backup_with(
        phone,
        dest,
        options,
        &std::sync::atomic::AtomicBool::new(false),
        |event| {
            if let mtpull::pull::Event::WouldCopy { file, entry } = event {
                let dest = entry.dest.to_string_lossy().into_owned();
                let what = (
                    dest,
                    entry.date_source.clone(),
                    entry.maybe_duplicate,
                    entry.read_from_device,
                );
                said.insert(file.path.clone(), what);
            }
        },
    );
    assert!(report.succeeded(), "{:?}", report.stopped);
    assert!(
        !report.notes.iter().any(|note| note.contains("next dry run")),
        "{:?}",
        report.notes
    );
    let stats = phone.stats();
    let reads = [
        OperationCode::GET_OBJECT,
        OperationCode::GET_PARTIAL_OBJECT,
        OperationCode::GET_PARTIAL_OBJECT_64,
    ]
    .iter()
    .map(|op| stats.by_operation.get(op).copied().unwrap_or(0))
    .sum();
    (said, reads)
}

#[test]
fn a_second_dry_run_reads_no_object_bytes_and_says_the_same() {
    let (phone, storage) = phone(Profile::Android);
    let video = mp4_with_moov_last(at(2021, 6, 5, 12, 0, 0), 1 << 20);
    phone
        .add_file(storage, "DCIM/Camera/late.mp4", video, at(2024, 1, 1, 0, 0, 0))
        .unwrap();
    // DEST already holds one photo's copy (a likely duplicate) and another file under
    // the next photo's name (a clash: numbered past it). Both need the file's head.
    let dest = tempfile::tempdir().unwrap();
    let samples = crate::backup_util::samples();
    for (sample, bytes) in [
        (&samples[0], samples[0].bytes.clone()),
        (&samples[1], b"other".to_vec()),
    ] {
        let at = dest.path().join(sample.expected_dest);
        fs::create_dir_all(at.parent().unwrap()).unwrap();
        fs::write(at, bytes).unwrap();
    }
    let before = tree(dest.path());
    let cache = tempfile::tempdir().unwrap();
    let dry = BackupOptions {
        dry_run: true,
        date_cache: Some(cache.path().join("mtpull/dry-run-dates.sqlite")),
        ..BackupOptions::default()
    };

    let (first, first_reads) = dry_run_counting_reads(&phone, dest.path(), &dry);
    assert!(first_reads > 0);
    assert!(first["DCIM/Camera/IMG_A.jpg"].2, "{first:?}");
    assert_eq!(first["DCIM/Camera/IMG_B.jpg"].0, "2023/12/24/IMG_B-1.jpg");
    assert_eq!(first["DCIM/Camera/late.mp4"].0, "2021/06/05/late.mp4");

    let (second, second_reads) = dry_run_counting_reads(&phone, dest.path(), &dry);
    assert_eq!(second_reads, 0, "the second dry run read object bytes");
    let without_reads = |said: &DryRunSaid| -> BTreeMap<String, (String, Option<String>, bool)> {
        said.iter()
            .map(|(path, (dest, source, duplicate, _))| {
                (path.clone(), (dest.clone(), source.clone(), *duplicate))
            })
            .collect()
    };
    assert_eq!(without_reads(&second), without_reads(&first));
    assert!(second.values().all(|(.., read)| *read == 0), "{second:?}");
    assert_eq!(tree(dest.path()), before, "a dry run wrote into DEST");

    // After a real backup and a new photo, a dry run reads only the new photo.
    let (real, _) = run_backup(&phone, dest.path(), &BackupOptions::default());
    assert!(real.succeeded(), "{:?}", real.stopped);
    phone
        .add_file(
            storage,
            "DCIM/Camera/IMG_C.jpg",
            photo(at(2024, 2, 3, 4, 5, 6), 70),
            at(2024, 3, 1, 0, 0, 0),
        )
        .unwrap();
    let (third, _) = dry_run_counting_reads(&phone, dest.path(), &dry);
    assert_eq!(third.keys().collect::<Vec<_>>(), ["DCIM/Camera/IMG_C.jpg"]);
    assert!(third["DCIM/Camera/IMG_C.jpg"].3 > 0);
    let (fourth, fourth_reads) = dry_run_counting_reads(&phone, dest.path(), &dry);
    assert_eq!(
        (fourth_reads, fourth["DCIM/Camera/IMG_C.jpg"].0.as_str()),
        (0, "2024/02/03/IMG_C.jpg")
    );
}

#[test]
fn a_dry_run_without_a_usable_cache_reads_the_phone_and_says_so() {
    let (phone, _) = phone(Profile::Android);
    let dest = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let not_a_cache = cache.path().join("dates.sqlite");
    fs::write(&not_a_cache, vec![b'x'; 4096]).unwrap();
    let dry = BackupOptions {
        dry_run: true,
        date_cache: Some(not_a_cache.clone()),
        ..BackupOptions::default()
    };
    let (report, seen) = run_backup(&phone, dest.path(), &dry);
    assert!(report.succeeded(), "{:?}", report.stopped);
    assert_eq!(seen.would_copy.len(), 5);
    assert!(
        report
            .notes
            .iter()
            .any(|note| note.contains("could not be kept for the next dry run")),
        "{:?}",
        report.notes
    );
    assert_eq!(fs::read(&not_a_cache).unwrap(), vec![b'x'; 4096]);
}

#[test]
fn delete_after_removes_only_verified_files() {
    let (phone, storage) = phone(Profile::Android);
    let dest = tempfile::tempdir().unwrap();
    // The first GetObject (DCIM/Camera/IMG_A.jpg, in path order) is refused.
    phone.arm(Fault::respond(
        OperationCode::GET_OBJECT,
        ResponseCode::ACCESS_DENIED,
    ));
    let options = BackupOptions {
        delete_after: true,
        ..BackupOptions::default()
    };
    let (report, seen) = run_backup(&phone, dest.path(), &options);
    assert_eq!(report.summary.failed, 1);
    assert!(!report.succeeded());
    assert!(matches!(
        seen.outcomes["DCIM/Camera/IMG_A.jpg"],
        FileOutcome::Failed { .. }
    ));
    let left: Vec<String> = phone_files(&phone, storage).into_keys().collect();
    assert_eq!(
        left,
        ["DCIM/Camera/IMG_A.jpg", "Documents/notes.txt"],
        "only the failed file and non-media stay"
    );
    assert_eq!(report.summary.deleted, 4);
    let freed: u64 = samples().iter().skip(1).map(|s| s.bytes.len() as u64).sum();
    assert_eq!(report.summary.bytes_freed, freed);
    assert!(
        report
            .summary
            .to_string()
            .contains("deleted 4 files from the device"),
        "{}",
        report.summary
    );
    assert_eq!(tree(dest.path()).len(), 4);
}

#[test]
fn delete_after_spares_files_whose_backup_copy_changed() {
    let (phone, storage, dest) = backed_up(Profile::Android);
    // Someone edits one backed-up file: its phone original must stay.
    fs::write(dest.path().join("2023/12/24/IMG_B.jpg"), b"edited in DEST").unwrap();
    let options = BackupOptions {
        delete_after: true,
        ..BackupOptions::default()
    };
    // The edit is noticed: the original is backed up again beside it, and only then deleted.
    let (report, seen) = run_backup(&phone, dest.path(), &options);
    assert_eq!(report.summary.copied, 1);
    assert_eq!(report.summary.deleted, 5);
    assert_eq!(report.summary.delete_failed, 0);
    assert_eq!(
        seen.outcomes["DCIM/Camera/IMG_B.jpg"],
        FileOutcome::Copied {
            dest: "2023/12/24/IMG_B-1.jpg".into(),
            bytes: samples()[1].bytes.len() as u64,
            undated: false
        }
    );
    let left: Vec<String> = phone_files(&phone, storage).into_keys().collect();
    assert_eq!(left, ["Documents/notes.txt"]);
    let files = tree(dest.path());
    assert_eq!(files["2023/12/24/IMG_B.jpg"], b"edited in DEST");
    assert_eq!(files["2023/12/24/IMG_B-1.jpg"], samples()[1].bytes);
}

#[test]
fn the_same_bytes_twice_on_the_phone_are_filed_once() {
    let (phone, storage) = phone(Profile::Android);
    let copy = samples()[0].bytes.clone();
    phone
        .add_file(
            storage,
            "WhatsApp/Media/forwarded.jpg",
            copy,
            at(2024, 2, 2, 2, 2, 2),
        )
        .unwrap();
    let dest = tempfile::tempdir().unwrap();
    let (report, seen) = run_backup(&phone, dest.path(), &BackupOptions::default());
    assert!(report.succeeded(), "{:?}", report.stopped);
    assert_eq!((report.summary.copied, report.summary.duplicates), (5, 1));
    assert_eq!(
        seen.outcomes["WhatsApp/Media/forwarded.jpg"],
        FileOutcome::Duplicate {
            dest: "2023/03/04/IMG_A.jpg".into()
        }
    );
    assert_eq!(tree(dest.path()), expected_tree());
    // Recorded: the next run skips it.
    let (again, _) = run_backup(&phone, dest.path(), &BackupOptions::default());
    assert_eq!((again.summary.copied, again.summary.already), (0, 6));
}

#[test]
fn a_lost_manifest_is_rebuilt_by_rescan_and_nothing_is_filed_twice() {
    let (phone, storage, dest) = backed_up(Profile::Android);
    fs::remove_dir_all(dest.path().join(".mtpull")).unwrap();

    let options = BackupOptions {
        rescan: true,
        ..BackupOptions::default()
    };
    let (report, _) = run_backup(&phone, dest.path(), &options);
    assert!(report.succeeded(), "{:?}", report.stopped);
    let rescan = report.rescan.as_ref().unwrap();
    assert_eq!((rescan.files, rescan.records_kept), (5, 0));
    assert_eq!((report.summary.copied, report.summary.duplicates), (0, 5));
    assert_eq!(tree(dest.path()), expected_tree());
    assert_consistent(&phone, storage, dest.path());
    let (again, _) = run_backup(&phone, dest.path(), &BackupOptions::default());
    assert_eq!((again.summary.already, again.summary.bytes_received), (5, 0));
}

#[test]
fn files_filed_but_not_recorded_are_found_again_not_filed_twice() {
    // As after a crash between the rename into DEST and the manifest's commit.
    let (phone, storage, dest) = backed_up(Profile::Android);
    fs::remove_dir_all(dest.path().join(".mtpull")).unwrap();
    let (report, _) = run_backup(&phone, dest.path(), &BackupOptions::default());
    assert!(report.succeeded(), "{:?}", report.stopped);
    assert_eq!((report.summary.copied, report.summary.duplicates), (0, 5));
    assert_eq!(tree(dest.path()), expected_tree());
    assert_consistent(&phone, storage, dest.path());
}

#[test]
fn selection_narrows_what_is_copied() {
    let (phone, _) = phone(Profile::Android);
    let cases: [(Selection, &[&str]); 4] = [
        (
            Selection {
                only: Only::Videos,
                ..Selection::new()
            },
            &["DCIM/Camera/clip.mp4"],
        ),
        (
            Selection::new().include(&["Pictures/**".into()]).unwrap(),
            &["Pictures/Screenshots/Screenshot_20240102-101500.png"],
        ),
        (
            Selection::new().exclude(&["DCIM/**".into()]).unwrap(),
            &["Pictures/Screenshots/Screenshot_20240102-101500.png"],
        ),
        (
            // By capture date (the phone's dates are all later): IMG_A (March
            // 2023) and the edited photo (2022) are older.
            Selection {
                since: Some(parse_since("2023-07-01").unwrap()),
                ..Selection::new()
            }
            .exclude(&["**/*.png".into()])
            .unwrap(),
            &["DCIM/Camera/IMG_B.jpg", "DCIM/Camera/clip.mp4"],
        ),
    ];
    for (selection, expected) in cases {
        let dest = tempfile::tempdir().unwrap();
        let options = BackupOptions {
            selection,
            ..BackupOptions::default()
        };
        let (report, seen) = run_backup(&phone, dest.path(), &options);
        assert!(report.succeeded());
        assert_eq!(
            seen.outcomes.keys().map(String::as_str).collect::<Vec<_>>(),
            expected
        );
    }
    let all = BackupOptions {
        selection: Selection {
            only: Only::All,
            ..Selection::new()
        },
        ..Default::default()
    };
    let dest = tempfile::tempdir().unwrap();
    let (report, _) = run_backup(&phone, dest.path(), &all);
    assert_eq!(report.summary.copied, 6, "--only all takes the text file too");
}

#[test]
fn a_plan_larger_than_the_free_space_stops_before_copying() {
    let (phone, storage) = phone(Profile::Android);
    // A petabyte video (generated on demand, never stored).
    phone
        .add_file(
            storage,
            "DCIM/Camera/huge.mp4",
            Content::generated(1 << 50, 7),
            at(2024, 1, 1, 0, 0, 0),
        )
        .unwrap();
    let dest = tempfile::tempdir().unwrap();
    let (report, seen) = run_backup(&phone, dest.path(), &BackupOptions::default());
    assert!(
        matches!(report.stopped, Some(PullError::NotEnoughSpace { .. })),
        "{:?}",
        report.stopped
    );
    assert!(report.stopped.unwrap().to_string().contains("not enough space"));
    assert!(seen.outcomes.is_empty());
    assert!(tree(dest.path()).is_empty());
}

#[test]
fn a_locked_phone_is_reported_with_the_fix() {
    let (phone, _) = phone(Profile::Locked);
    let dest = tempfile::tempdir().unwrap();
    let (report, _) = run_backup(&phone, dest.path(), &BackupOptions::default());
    let error = report.stopped.expect("a locked phone stops the run");
    assert!(error.to_string().contains("unlock it"), "{error}");
}

// The command line, on the simulator behind the hidden --sim flag and --demo.

#[test]
fn cli_backup_twice_copies_nothing_the_second_time() {
    let dest = tempfile::tempdir().unwrap();
    let dest_arg = dest.path().to_str().unwrap();
    let first = mtpull(&["--sim", "android", "backup", dest_arg]).expect_status(0);
    assert!(first.stdout.contains("0 failed"), "{}", first.stdout);
    // Not a terminal: one log line per file on stderr.
    assert!(
        first
            .stderr
            .lines()
            .any(|l| l.starts_with("copied Internal shared storage/DCIM/Camera/")),
        "{}",
        first.stderr
    );
    let files = tree(dest.path());
    assert!(files.len() > 20, "{files:?}");
    let second = mtpull(&["--sim", "android", "backup", dest_arg]).expect_status(0);
    assert!(
        second.stdout.starts_with("copied 0 files (0 B)"),
        "{}",
        second.stdout
    );
    assert_eq!(tree(dest.path()), files);
}

#[test]
fn cli_dry_run_lists_destinations_and_writes_nothing() {
    let dest = tempfile::tempdir().unwrap();
    let target = dest.path().join("backup");
    let target_arg = target.to_str().unwrap();
    let dry = mtpull(&[
        "--sim",
        "android",
        "backup",
        "--dry-run",
        "--include",
        "DCIM/**",
        target_arg,
    ])
    .expect_status(0);
    assert!(!target.exists(), "the dry run created DEST");
    let lines: Vec<&str> = dry.stdout.lines().filter(|l| l.contains(" -> ")).collect();
    assert!(!lines.is_empty(), "{}", dry.stdout);
    assert!(
        lines
            .iter()
            .all(|l| l.starts_with("Internal shared storage/DCIM/")),
        "{lines:?}"
    );
    assert!(dry.stdout.contains("nothing was written"), "{}", dry.stdout);

    mtpull(&["--sim", "android", "backup", "--include", "DCIM/**", target_arg]).expect_status(0);
    let real: Vec<String> = tree(&target)
        .into_keys()
        .map(|p| format!("{target_arg}/{p}"))
        .collect();
    let mut predicted: Vec<String> = lines
        .iter()
        .map(|l| {
            l.split(" -> ")
                .nth(1)
                .unwrap()
                .split("  (")
                .next()
                .unwrap()
                .to_owned()
        })
        .collect();
    predicted.sort();
    assert_eq!(predicted, real);
}

#[test]
fn cli_delete_after_with_dry_run_lists_what_would_be_deleted() {
    let dest = tempfile::tempdir().unwrap();
    let dest_arg = dest.path().to_str().unwrap();
    let camera = ["--include", "DCIM/Camera/**"];
    let first = [&["--sim", "android", "backup"][..], &camera, &[dest_arg]].concat();
    mtpull(&first).expect_status(0);
    let before = tree(dest.path());
    let dry = [
        &["--sim", "android", "backup", "--dry-run", "--delete-after"][..],
        &["--include", "**"],
        &[dest_arg],
    ]
    .concat();
    let run = mtpull(&dry).expect_status(0);
    let lines: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("would delete from the phone: "))
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("/DCIM/Camera/") && l.ends_with("(backed up already)")),
        "{}",
        run.stdout
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("/Pictures/") && l.ends_with("(once its copy is verified)")),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("nothing was written"), "{}", run.stdout);
    assert_eq!(tree(dest.path()), before, "the dry run changed DEST");
}

/// Sets the peak RSS (VmHWM) back to the current RSS (Linux 4.0 and later).
fn reset_peak_rss() {
    fs::write("/proc/self/clear_refs", "5").expect("resetting the peak RSS through /proc/self/clear_refs");
}

/// Peak resident memory of this process so far (VmHWM), in KiB.
fn peak_rss_kib() -> u64 {
    fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// A 5 GiB object, generated as it is read (never stored on the phone side),
/// pulled and verified byte for byte, with peak memory growing by a few MiB
/// at most: in 64 MiB GetPartialObject64 pieces (android) and in one GetObject
/// whose container length says 0xFFFFFFFF (ptp-camera). The peak is reset
/// before each profile, so each is measured from its own start, not from the
/// high-water mark the one before left. It writes and reads
/// back 10 GiB, so it is left out of `cargo test`; bench/transfer/run.sh runs
/// it in release: `cargo test --release --test integration -- --ignored --nocapture five_gib`.
#[test]
#[ignore = "writes 10 GiB: run in release with -- --ignored (bench/transfer/run.sh does)"]
fn five_gib_objects_are_pulled_and_verified_with_flat_memory() {
    let size = (5 << 30) + 4099;
    let dest = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    for profile in [Profile::Android, Profile::PtpCamera] {
        let phone = mtpull::sim::SimDevice::new(profile);
        let storage = phone.add_storage(mtpull::sim::StorageSpec::new("Internal shared storage"));
        phone
            .add_file(
                storage,
                "DCIM/Camera/VID_5GiB.mp4",
                Content::generated(size, 5),
                at(2024, 5, 26, 10, 0, 0),
            )
            .unwrap();
        reset_peak_rss();
        let before = peak_rss_kib();
        let started = std::time::Instant::now();
        let (report, _) = run_backup(&phone, dest.path(), &BackupOptions::default());
        let elapsed = started.elapsed();
        let after = peak_rss_kib();
        assert!(report.succeeded(), "{profile}: {:?}", report.stopped);
        assert_eq!(report.summary.bytes_copied, size);
        let pulled = dest.path().join("2024/05/26/VID_5GiB.mp4");
        assert_eq!(fs::metadata(&pulled).unwrap().len(), size);
        assert!(
            Content::generated(size, 5)
                .matches(fs::File::open(&pulled).unwrap())
                .unwrap(),
            "{profile}: bytes differ"
        );
        println!(
            "{profile}: 5 GiB pulled in {:.1} s ({:.0} MB/s), verified; peak RSS {before} KiB before, {after} KiB after",
            elapsed.as_secs_f64(),
            size as f64 / 1e6 / elapsed.as_secs_f64()
        );
        assert!(
            after - before < 32 << 10,
            "{profile}: peak RSS grew from {before} to {after} KiB"
        );
        fs::remove_file(pulled).unwrap();
    }
}

#[test]
fn cli_waits_for_a_locked_phone_then_backs_it_up() {
    let dest = tempfile::tempdir().unwrap();
    let dest_arg = dest.path().to_str().unwrap();
    let run = mtpull(&["--sim", "locked", "--sim-unlock-after", "300", "backup", dest_arg]).expect_status(0);
    assert!(run.stderr.contains("Waiting up to 30s"), "{}", run.stderr);
    assert!(tree(dest.path()).len() > 20);
    let locked = mtpull(&["--sim", "locked", "backup", "--wait", "0", dest_arg]).expect_status(3);
    assert!(locked.stderr.contains("unlock it"), "{}", locked.stderr);
    assert!(
        locked.stdout.is_empty(),
        "no summary for a run that never started: {}",
        locked.stdout
    );
}
