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
