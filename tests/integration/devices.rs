//! What real phones and cameras do (issue 9), against the simulated device:
//! each test names the behaviour it shows.

use mtpull::ptp::{OperationCode, ResponseCode, StorageId};
use mtpull::pull::{BackupOptions, Selection};
use mtpull::session::Session;
use mtpull::sim::{Fault, Profile, SimDevice, StorageSpec};

use crate::backup_util::run_backup;

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
