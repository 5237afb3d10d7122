//! What real phones and cameras do (issue 9), against the simulated device:
//! each test names the behaviour it shows.

use mtpull::ptp::{OperationCode, ResponseCode, StorageId};
use mtpull::pull::{BackupOptions, Event, Selection};
use std::time::Duration;

use mtpull::session::{ListingStrategy, Session, Timeouts};
use mtpull::sim::{Fault, Profile, SimConfig, SimDevice, StorageSpec, Timing};

use crate::backup_util::{STORAGE, phone, run_backup, run_backup_with, samples, tree};
use crate::run::mtpull;

fn device(profile: Profile) -> (SimDevice, u32) {
    let device = SimDevice::new(profile);
    let storage = device.add_storage(StorageSpec::new("Internal shared storage"));
    (device, storage)
}

/// Behaviour 1: GetDeviceInfo before OpenSession answered with Session Not
/// Open; the session is opened first, then DeviceInfo asked.
#[test]
fn opening_works_when_device_info_needs_a_session() {
    let (phone, storage) = device(Profile::Android);
    phone.arm(Fault::respond(
        OperationCode::GET_DEVICE_INFO,
        ResponseCode::SESSION_NOT_OPEN,
    ));
    let mut session = Session::open(Box::new(phone.connect())).unwrap();
    assert_eq!(session.device_info().serial_number, "SIM-ANDROID");
    assert_eq!(session.storage_ids().unwrap(), [StorageId(storage)]);
    assert_eq!(phone.transactions_of(OperationCode::GET_DEVICE_INFO), 2);
}

/// Behaviour 2: the whole-device GetObjectPropList (slow on Android 9+) is
/// sent once per session, not once per storage.
#[test]
fn the_all_objects_listing_is_sent_once_for_two_storages() {
    let (phone, internal) = device(Profile::Android);
    let card = phone.add_storage(StorageSpec::new("SD card"));
    let when = chrono::NaiveDate::from_ymd_opt(2024, 5, 26)
        .unwrap()
        .and_hms_opt(10, 0, 0)
        .unwrap();
    phone.add_file(internal, "DCIM/Camera/a.jpg", "a", when).unwrap();
    phone.add_file(card, "DCIM/b.jpg", "b", when).unwrap();
    let mut session = Session::open(Box::new(phone.connect())).unwrap();
    let first = session.walk(StorageId(internal), None).unwrap();
    let second = session.walk(StorageId(card), None).unwrap();
    assert_eq!(first.len(), 3, "DCIM, Camera, a.jpg");
    assert_eq!(second.len(), 2, "DCIM, b.jpg");
    assert_eq!(phone.transactions_of(OperationCode::GET_OBJECT_PROP_LIST), 1);
}

fn at(hour: u32) -> chrono::NaiveDateTime {
    chrono::NaiveDate::from_ymd_opt(2024, 5, 26)
        .unwrap()
        .and_hms_opt(hour, 0, 0)
        .unwrap()
}

/// Behaviour 7: Android's raw view holds its trash, files still being
/// written, thumbnails and app data: skipped and counted by default, copied
/// with `--include-junk`.
#[test]
fn android_trash_pending_thumbnails_and_app_data_are_skipped_and_counted() {
    let (phone, storage) = device(Profile::Android);
    let junk = [
        "DCIM/Camera/.trashed-1719000000-IMG_20240526_090000.jpg",
        "DCIM/Camera/.pending-1719000000-VID_20240526_100000.mp4",
        "DCIM/.thumbnails/1719000000.jpg",
        "Android/data/com.example.app/cache/preview.jpg",
        "Android/obb/com.example.game/splash.png",
    ];
    for (i, path) in junk.iter().enumerate() {
        phone
            .add_file(storage, path, format!("junk {i}").into_bytes(), at(9))
            .unwrap();
    }
    phone
        .add_file(storage, "DCIM/Camera/IMG_20240526_110000.jpg", "a photo", at(11))
        .unwrap();
    let dest = tempfile::tempdir().unwrap();
    let (report, seen) = run_backup(&phone, dest.path(), &BackupOptions::default());
    assert!(report.succeeded(), "{:?}", report.stopped);
    assert_eq!(report.summary.copied, 1);
    assert_eq!(report.summary.junk, junk.len() as u64);
    assert!(report.summary.to_string().contains("--include-junk"));
    assert_eq!(
        seen.outcomes.keys().collect::<Vec<_>>(),
        ["DCIM/Camera/IMG_20240526_110000.jpg"]
    );

    let options = BackupOptions {
        selection: Selection {
            include_junk: true,
            ..Selection::new()
        },
        ..BackupOptions::default()
    };
    let (again, seen) = run_backup(&phone, dest.path(), &options);
    assert!(again.succeeded(), "{:?}", again.stopped);
    assert_eq!(
        (
            again.summary.copied + again.summary.duplicates,
            again.summary.junk
        ),
        (junk.len() as u64, 0)
    );
    assert_eq!(seen.outcomes.len(), junk.len());
}

/// Behaviour 10: a storage the device says is not available is skipped and
/// reported; the others are backed up, and the run says it was partial.
#[test]
fn an_unavailable_storage_is_reported_and_the_others_backed_up() {
    let (phone, internal) = device(Profile::Android);
    let card = phone.add_storage(StorageSpec::new("SD card"));
    phone
        .add_file(internal, "DCIM/Camera/IMG_20240526_110000.jpg", "one", at(11))
        .unwrap();
    phone
        .add_file(card, "DCIM/Camera/IMG_20240526_120000.jpg", "two", at(12))
        .unwrap();
    // The first storage asked about (the internal one) is not available.
    phone.arm(Fault::respond(
        OperationCode::GET_STORAGE_INFO,
        ResponseCode::STORE_NOT_AVAILABLE,
    ));
    let dest = tempfile::tempdir().unwrap();
    let (report, seen) = run_backup(&phone, dest.path(), &BackupOptions::default());
    assert!(report.stopped.is_none(), "{:?}", report.stopped);
    assert_eq!(
        seen.outcomes.keys().collect::<Vec<_>>(),
        ["DCIM/Camera/IMG_20240526_120000.jpg"]
    );
    assert_eq!(report.summary.skipped_storages.len(), 1);
    assert_eq!(report.summary.skipped_storages[0].id, StorageId(internal));
    assert!(!report.succeeded(), "a storage was not read");
    assert!(
        report
            .summary
            .to_string()
            .contains("not read: storage 0x00010001"),
        "{}",
        report.summary
    );
}

/// Behaviour 9: an untrusted iPhone lists only its placeholder storage
/// 0xFEEDFACE; the backup waits as for a locked phone, saying to tap Trust,
/// and goes on once StoreRemoved + StoreAdded arrive.
#[test]
fn an_untrusted_iphone_is_waited_for_until_trust_then_backed_up() {
    let phone = mtpull::sim::demo::device_with(Profile::IPhone);
    let dest = tempfile::tempdir().unwrap();
    // The user taps Trust once the backup says it is waiting, however slowly
    // this machine gets there (a timer could fire before the session is open).
    let (waiting, asked_to_trust) = std::sync::mpsc::channel();
    let truster = {
        let phone = phone.clone();
        std::thread::spawn(move || {
            asked_to_trust
                .recv_timeout(std::time::Duration::from_secs(20))
                .expect("the backup never said it was waiting for Trust");
            phone.trust();
        })
    };
    let options = BackupOptions {
        wait_for_unlock: std::time::Duration::from_secs(20),
        ..BackupOptions::default()
    };
    let mut hints = Vec::new();
    let (report, seen) = run_backup_with(
        &phone,
        dest.path(),
        &options,
        &std::sync::atomic::AtomicBool::new(false),
        |event| {
            if let Event::Locked { hint, .. } = event {
                hints.push(*hint);
                let _ = waiting.send(());
            }
        },
    );
    truster.join().unwrap();
    assert!(report.succeeded(), "{:?}", report.stopped);
    assert_eq!(hints.len(), 1);
    assert!(hints[0].contains("tap Trust on the iPhone"), "{}", hints[0]);
    let copied: Vec<&String> = seen.outcomes.keys().collect();
    assert_eq!(
        copied,
        [
            // The photo's edits (.AAE) come with it.
            "DCIM/100APPLE/IMG_0001.AAE",
            "DCIM/100APPLE/IMG_0001.HEIC",
            "DCIM/100APPLE/IMG_0002.MOV",
            "DCIM/101APPLE/IMG_0003.HEIC"
        ]
    );
    assert!(tree(dest.path()).contains_key("2024/07/02/IMG_0001.AAE"));
    // Every data phase came with its header as a short transfer of its own.
    assert!(tree(dest.path()).contains_key("2024/07/02/IMG_0001.HEIC"));
}

#[test]
fn an_iphone_that_stays_untrusted_says_to_tap_trust() {
    let dest = tempfile::tempdir().unwrap();
    let out = mtpull(&[
        "--sim",
        "iphone",
        "backup",
        dest.path().to_str().unwrap(),
        "--wait",
        "0",
    ])
    .expect_status(3);
    assert!(out.stderr.contains("tap Trust on the iPhone"), "{}", out.stderr);
}

/// A quirky camera's card with two folders.
fn quirky_camera() -> (SimDevice, u32) {
    let (camera, storage) = device(Profile::CameraQuirky);
    for (i, path) in [
        "DCIM/100FUJI/DSCF0001.JPG",
        "DCIM/100FUJI/DSCF0002.JPG",
        "DCIM/101FUJI/DSCF0003.JPG",
    ]
    .into_iter()
    .enumerate()
    {
        let content = format!("camera photo {i}").into_bytes();
        camera
            .add_file(storage, path, content, at(10 + i as u32))
            .unwrap();
    }
    (camera, storage)
}

/// Behaviours 11 and 1: a camera that ignores the parent filter for the root
/// (every object), lists each folder inside itself, and answers DeviceInfo
/// only in a session is listed exactly, one GetObjectInfo per object.
#[test]
fn a_camera_ignoring_the_parent_filter_is_listed_exactly_once_per_object() {
    let (camera, storage) = quirky_camera();
    let mut session = Session::open(Box::new(camera.connect())).unwrap();
    assert_eq!(session.device_info().serial_number, "SIM-CAMERA-QUIRKY");
    let entries = session.walk(StorageId(storage), None).unwrap();
    let mut paths: Vec<String> = entries.iter().map(|e| e.path().join("/")).collect();
    paths.sort();
    assert_eq!(
        paths,
        [
            "DCIM",
            "DCIM/100FUJI",
            "DCIM/100FUJI/DSCF0001.JPG",
            "DCIM/100FUJI/DSCF0002.JPG",
            "DCIM/101FUJI",
            "DCIM/101FUJI/DSCF0003.JPG"
        ]
    );
    assert_eq!(
        session.stats().count(OperationCode::GET_OBJECT_INFO),
        6,
        "{}",
        session.stats()
    );
}

/// Behaviours 10, 11 and 1 in a backup: the empty card slot is reported (not
/// a failure), every photo is copied once.
#[test]
fn a_quirky_camera_is_backed_up_and_its_empty_slot_reported() {
    let (camera, _) = quirky_camera();
    let dest = tempfile::tempdir().unwrap();
    let (report, seen) = run_backup(&camera, dest.path(), &BackupOptions::default());
    assert!(report.succeeded(), "{:?}", report.stopped);
    assert_eq!(seen.outcomes.len(), 3);
    assert_eq!(report.summary.copied, 3);
    let slots: Vec<String> = report
        .summary
        .skipped_storages
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(slots, ["storage 0x00020000: an empty card slot"]);
}

/// The sample phone again, as Android shows it after a trip (every date
/// shifted by the zone change) and a language change (the storage renamed).
fn phone_after(shift_hours: i64, storage_name: &str) -> (SimDevice, u32) {
    let phone = SimDevice::new(Profile::Android);
    let storage = phone.add_storage(StorageSpec::new(storage_name));
    for sample in samples() {
        let shifted = sample.mtime + chrono::Duration::hours(shift_hours);
        phone
            .add_file(storage, sample.path, sample.bytes, shifted)
            .unwrap();
    }
    (phone, storage)
}

/// Behaviour 8: a trip (dates shifted by 7 hours) and a language change
/// (storage renamed) download nothing again; the next run matches exactly.
#[test]
fn shifted_dates_and_a_renamed_storage_are_still_backed_up() {
    let (home, _) = phone(Profile::Android);
    let dest = tempfile::tempdir().unwrap();
    let (first, _) = run_backup(&home, dest.path(), &BackupOptions::default());
    assert!(first.succeeded(), "{:?}", first.stopped);
    let files = first.summary.copied;
    let before = tree(dest.path());

    for (shift, name) in [
        (7, STORAGE),
        (0, "Interner gemeinsamer Speicher"),
        (-5, "Interner gemeinsamer Speicher"),
    ] {
        let (abroad, _) = phone_after(shift, name);
        let (report, seen) = run_backup(&abroad, dest.path(), &BackupOptions::default());
        assert!(report.succeeded(), "{shift} h, {name}: {:?}", report.stopped);
        assert_eq!(
            (report.summary.copied, report.summary.already),
            (0, files),
            "{shift} h, {name}: {seen:?}"
        );
        assert!(
            report.summary.bytes_received == 0,
            "{shift} h, {name}: nothing downloaded"
        );
        assert_eq!(tree(dest.path()), before, "{shift} h, {name}");
        // Recorded under the new key: the next run needs no byte compared.
        abroad.reset_stats();
        let (again, _) = run_backup(&abroad, dest.path(), &BackupOptions::default());
        assert_eq!(again.summary.already, files);
        assert_eq!(
            abroad.transactions_of(OperationCode::GET_PARTIAL_OBJECT_64),
            0,
            "{shift} h, {name}"
        );
    }
}

/// Behaviour 8's guard: the same path and size under a shifted date but with
/// other bytes is a different file, and is copied.
#[test]
fn a_shifted_date_with_other_bytes_is_copied() {
    let (home, storage) = phone(Profile::Android);
    let dest = tempfile::tempdir().unwrap();
    assert!(
        run_backup(&home, dest.path(), &BackupOptions::default())
            .0
            .succeeded()
    );
    let sample = &samples()[0];
    let mut other = sample.bytes.clone();
    let middle = other.len() / 2;
    other[20] ^= 0xFF;
    other[middle] ^= 0xFF;
    home.add_file(
        storage,
        sample.path,
        other,
        sample.mtime + chrono::Duration::hours(3),
    )
    .unwrap();
    let (report, seen) = run_backup(&home, dest.path(), &BackupOptions::default());
    assert!(report.succeeded(), "{:?}", report.stopped);
    assert_eq!(report.summary.copied, 1, "{seen:?}");
}

/// Behaviour 2: a whole-device listing that outlasts the listing timeout (the
/// phone walking its filesystem first) is cancelled without leaving the phone
/// wedged, and the walk goes on folder by folder.
#[test]
fn a_slow_all_objects_listing_is_cancelled_and_the_walk_goes_folder_by_folder() {
    let phone = SimConfig::new(Profile::Android)
        .timing(Timing {
            per_transaction: Duration::ZERO,
            per_object: Duration::from_millis(40),
            scale: 1.0,
        })
        .build();
    let storage = phone.add_storage(StorageSpec::new("Internal shared storage"));
    // 25 objects: the whole-device answer takes 1 s, a folder's at most 0.2 s.
    phone.add_generated_tree(storage, "DCIM", 4, 5).unwrap();
    let mut session = Session::open(Box::new(phone.connect())).unwrap();
    session.set_timeouts(Timeouts {
        listing: Duration::from_millis(500),
        ..Timeouts::default()
    });
    let entries = session.walk(StorageId(storage), None).unwrap();
    assert_eq!(entries.len(), 25);
    assert_eq!(
        session.listing_strategy(),
        Some(ListingStrategy::PropListPerFolder)
    );
    assert_eq!(phone.stats().cancels, 1, "the timed-out query was cancelled");
    // The phone answers the next command: not wedged.
    assert_eq!(session.storage_ids().unwrap(), [StorageId(storage)]);
}
