//! What real phones and cameras do (issue 9), against the simulated device:
//! each test names the behaviour it shows.

use mtpull::ptp::{OperationCode, ResponseCode, StorageId};
use mtpull::session::Session;
use mtpull::sim::{Fault, Profile, SimDevice, StorageSpec};

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
