//! `mtpull status`: what of the phone is backed up, what is not and why.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use mtpull::ptp::{OperationCode, ResponseCode};
use mtpull::pull::{BackupOptions, Manifest, Selection};
use mtpull::pull::{Missing, Status, status};
use mtpull::session::Session;
use mtpull::sim::{Fault, Profile, SimDevice};
use serde_json::Value;
use tempfile::TempDir;

use crate::backup_util::{at, phone, photo, run_backup};
use crate::util::{mtpull, stdout};

const PARIS: &str = "CET-1CEST,M3.5.0,M10.5.0/3";

fn status_of(phone: &SimDevice, dest: &Path) -> Status {
    let mut session = Session::open(Box::new(phone.connect())).expect("session opens");
    let found = status(
        &mut session,
        dest,
        &Selection::new(),
        Duration::ZERO,
        &AtomicBool::new(false),
        &mut |_: &mtpull::pull::Event<'_>| {},
    );
    phone.unplug();
    found.expect("status is read")
}

fn reasons(found: &Status) -> Vec<(String, Missing)> {
    found
        .missing
        .iter()
        .map(|(file, why)| (file.path.clone(), why.clone()))
        .collect()
}

/// Every reason a phone file is not in DEST, each from the event that causes it:
/// a failed copy, a copy deleted from DEST, a file that arrived on the phone after
/// the backup (only on the phone), one rejected in a preview, one in Android's trash.
#[test]
fn status_says_which_files_are_not_backed_up_and_why() {
    let (phone, storage) = phone(Profile::Android);
    let dest = TempDir::new().unwrap();

    // Nothing backed up yet: every photo and video is new.
    let before = status_of(&phone, dest.path());
    assert!(!before.has_manifest);
    assert_eq!((before.photos.on_phone, before.photos.in_dest), (4, 0));
    assert_eq!((before.videos.on_phone, before.videos.in_dest), (1, 0));
    assert!(before.missing.iter().all(|(_, why)| *why == Missing::New));
    assert_eq!(before.backed_up_through, None);
    assert!(!before.is_complete());

    // The first file read fails; the others are copied.
    phone.arm(Fault::respond(
        OperationCode::GET_OBJECT,
        ResponseCode::GENERAL_ERROR,
    ));
    let (first, _) = run_backup(&phone, dest.path(), &BackupOptions::default());
    assert_eq!((first.summary.copied, first.summary.failed), (4, 1));
    let failed_path = reasons(&status_of(&phone, dest.path()))
        .into_iter()
        .find(|(_, why)| matches!(why, Missing::Failed(_)))
        .expect("the failed file is reported as failed")
        .0;

    std::fs::remove_file(dest.path().join("2023/07/14/clip.mp4")).unwrap();
    for (name, day, shade) in [
        ("IMG_new.jpg", 2, 12),
        ("IMG_blurry.jpg", 3, 13),
        (".trashed-1717000000-IMG_old.jpg", 4, 14),
    ] {
        let taken = at(2024, 6, day, 9, 0, 0);
        let path = format!("DCIM/Camera/{name}");
        phone
            .add_file(storage, &path, photo(taken, shade), at(2024, 6, day, 9, 0, 1))
            .unwrap();
    }
    let blurry = status_of(&phone, dest.path())
        .missing
        .into_iter()
        .find(|(file, _)| file.path.ends_with("IMG_blurry.jpg"))
        .unwrap()
        .0
        .key(&phone.identity().serial);
    Manifest::open(dest.path())
        .unwrap()
        .record_choice([], [&blurry])
        .unwrap();

    let found = status_of(&phone, dest.path());
    assert!(found.has_manifest);
    let mut expected = vec![
        (
            "DCIM/Camera/.trashed-1717000000-IMG_old.jpg".to_owned(),
            Missing::Junk,
        ),
        ("DCIM/Camera/IMG_blurry.jpg".to_owned(), Missing::Rejected),
        ("DCIM/Camera/IMG_new.jpg".to_owned(), Missing::New),
        ("DCIM/Camera/clip.mp4".to_owned(), Missing::GoneFromDest),
    ];
    let failed = reasons(&found)
        .into_iter()
        .find(|(path, _)| *path == failed_path)
        .unwrap();
    assert!(
        matches!(&failed.1, Missing::Failed(error) if !error.is_empty()),
        "{failed:?}"
    );
    expected.push(failed);
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(reasons(&found), expected);
    // 4 photos of the samples, the new one, the rejected one, the trashed one.
    assert_eq!(found.photos.on_phone, 7);
    assert_eq!(
        found.videos,
        mtpull::pull::Count {
            on_phone: 1,
            in_dest: 0
        }
    );
    assert_eq!(found.photos.in_dest + found.videos.in_dest, 3);
    assert_eq!(found.pending(), 3);
    // The files pending (the failed one, the deleted video, the new one) were captured
    // in 2023 and 2024: the only file captured before them all is the edit without
    // EXIF, which the phone dates 2022-08-09.
    assert_eq!(found.backed_up_through, Some(at(2022, 8, 9, 10, 11, 12)));

    // After a backup, only what was left out on purpose is not in DEST.
    let (second, _) = run_backup(&phone, dest.path(), &BackupOptions::default());
    assert!(second.succeeded(), "{second:?}");
    let after = status_of(&phone, dest.path());
    assert_eq!(
        reasons(&after),
        [
            (
                "DCIM/Camera/.trashed-1717000000-IMG_old.jpg".to_owned(),
                Missing::Junk
            ),
            ("DCIM/Camera/IMG_blurry.jpg".to_owned(), Missing::Rejected),
        ]
    );
    assert!(after.is_complete());
    // The newest capture: IMG_new's EXIF (the phone dates it a second later).
    assert_eq!(after.backed_up_through, Some(at(2024, 6, 2, 9, 0, 0)));
}

/// The command: text and JSON, a file only on the phone, and the exit statuses.
#[test]
fn status_command_reports_a_file_only_on_the_phone_in_text_and_json() {
    let dest = TempDir::new().unwrap();
    let dest_arg = dest.path().to_str().unwrap().to_owned();
    let sim = ["--sim", "android"];
    let backup = mtpull(
        [&sim[..], &["backup", &dest_arg, "--exclude", "**/VID_*"]].concat(),
        PARIS,
    );
    assert_eq!(backup.status.code(), Some(0), "{backup:?}");

    let json = mtpull([&sim[..], &["status", &dest_arg, "--json"]].concat(), PARIS);
    assert_eq!(json.status.code(), Some(1), "{json:?}");
    let report: Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert_eq!(report["complete"], false);
    assert_eq!(report["to_copy"], 1);
    let missing = report["missing"].as_array().unwrap();
    assert_eq!(missing.len(), 1, "{report}");
    assert_eq!(missing[0]["path"], "DCIM/Camera/VID_20240526_101630.mp4");
    assert_eq!(missing[0]["reason"], "new");
    assert_eq!(missing[0]["device_date"], "2024-05-26T10:16:35");
    assert_eq!(report["videos"]["in_dest"], 0);
    let photos = &report["photos"];
    assert!(photos["on_phone"].as_u64().unwrap() > 0);
    assert_eq!(photos["on_phone"], photos["in_dest"]);
    let through = report["backed_up_through"].as_str().unwrap();
    assert!(through < "2024-05-26T10:16:35", "{through}");

    let text = mtpull([&sim[..], &["status", &dest_arg]].concat(), PARIS);
    assert_eq!(text.status.code(), Some(1));
    let text = stdout(&text);
    assert!(
        text.contains("not copied yet  Internal shared storage/DCIM/Camera/VID_20240526_101630.mp4"),
        "{text}"
    );
    assert!(text.contains("1 file to copy"), "{text}");

    let rest = mtpull([&sim[..], &["backup", &dest_arg]].concat(), PARIS);
    assert_eq!(rest.status.code(), Some(0), "{rest:?}");
    let done = mtpull([&sim[..], &["status", &dest_arg]].concat(), PARIS);
    assert_eq!(done.status.code(), Some(0), "{done:?}");
    assert!(
        stdout(&done).contains("everything is backed up (backed up through"),
        "{}",
        stdout(&done)
    );
}

/// "Backed up through" goes by capture dates, not by the phone's dates for its files: a
/// photo captured in February but saved on the phone in June (received, restored, edited)
/// that is not backed up holds the date back to before February, whatever the phone's
/// dates of the files backed up say.
#[test]
fn backed_up_through_goes_by_capture_dates() {
    use mtpull::sim::StorageSpec;

    let phone = SimDevice::new(Profile::Android);
    let storage = phone.add_storage(StorageSpec::new("Internal shared storage"));
    let add = |name: &str, taken, saved, shade| {
        let path = format!("DCIM/Camera/{name}");
        phone
            .add_file(storage, &path, photo(taken, shade), saved)
            .unwrap();
    };
    add("IMG_a.jpg", at(2024, 1, 1, 9, 0, 0), at(2024, 6, 10, 9, 0, 0), 1);
    add("IMG_b.jpg", at(2024, 3, 1, 9, 0, 0), at(2024, 3, 1, 9, 0, 0), 2);
    let dest = TempDir::new().unwrap();
    let (first, _) = run_backup(&phone, dest.path(), &BackupOptions::default());
    assert!(first.succeeded(), "{first:?}");
    assert_eq!(
        status_of(&phone, dest.path()).backed_up_through,
        Some(at(2024, 3, 1, 9, 0, 0))
    );
    add("IMG_c.jpg", at(2024, 2, 1, 9, 0, 0), at(2024, 6, 15, 9, 0, 0), 3);
    let found = status_of(&phone, dest.path());
    assert_eq!(found.pending(), 1);
    // By the phone's dates it would be 2024-06-10, after a photo still missing.
    assert_eq!(found.backed_up_through, Some(at(2024, 1, 1, 9, 0, 0)));
    let (file, _) = &found.missing[0];
    assert_eq!(found.captured[&file.handle], Some(at(2024, 2, 1, 9, 0, 0)));
}
