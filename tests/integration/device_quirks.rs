//! What real devices do at the USB and MTP level (issue 9's behaviours 3, 4,
//! 5, 6, 12, 13, 15 and 16), shown on the simulator's honest profiles: each
//! test fails without mtpull's handling of it.

use chrono::NaiveDate;
use mtpull::ptp::{ObjectHandle, StorageId};
use mtpull::session::{Entry, Session};
use mtpull::sim::{Content, Profile, Quirks, SimConfig, SimDevice, StorageSpec, generated_bytes};

fn when() -> chrono::NaiveDateTime {
    NaiveDate::from_ymd_opt(2024, 5, 26)
        .unwrap()
        .and_hms_opt(10, 15, 0)
        .unwrap()
}

/// A device of `profile` with `quirks` changed, holding `files` (path, size, seed).
fn device(profile: Profile, quirks: impl FnOnce(&mut Quirks), files: &[(&str, u64, u64)]) -> (SimDevice, u32) {
    let mut changed = profile.quirks();
    quirks(&mut changed);
    let phone = SimConfig::new(profile).quirks(changed).build();
    let storage = phone.add_storage(StorageSpec::new("Internal shared storage"));
    for &(path, size, seed) in files {
        phone
            .add_file(storage, path, Content::generated(size, seed), when())
            .unwrap();
    }
    (phone, storage)
}

fn expected(seed: u64, offset: u64, len: usize) -> Vec<u8> {
    let mut bytes = vec![0; len];
    generated_bytes(seed, offset, &mut bytes);
    bytes
}

/// The entry of `name` in a walk of the storage.
fn entry(session: &mut Session, storage: u32, name: &str) -> Entry {
    let entries = session.walk(StorageId(storage), None).unwrap();
    entries
        .into_iter()
        .find(|e| e.name() == name)
        .unwrap_or_else(|| panic!("{name} not listed"))
}

fn get_object(session: &mut Session, handle: ObjectHandle) -> Vec<u8> {
    let mut bytes = Vec::new();
    session.get_object(handle, &mut bytes).unwrap();
    bytes
}

#[test]
fn a_data_header_sent_as_its_own_short_transfer_is_read_to_the_containers_length() {
    // Behaviour 4: iPhones converting HEIC, Garmin, old Android.
    let sizes = [1u64, 500, 3000, 1 << 20];
    let files: Vec<(String, u64, u64)> = sizes
        .iter()
        .enumerate()
        .map(|(i, &size)| (format!("DCIM/IMG_{i}.JPG"), size, i as u64))
        .collect();
    let files: Vec<(&str, u64, u64)> = files.iter().map(|(p, s, d)| (p.as_str(), *s, *d)).collect();
    let (phone, storage) = device(Profile::Android, |q| q.split_header = true, &files);
    let mut session = Session::open(Box::new(phone.connect())).unwrap();
    for (i, &size) in sizes.iter().enumerate() {
        let file = entry(&mut session, storage, &format!("IMG_{i}.JPG"));
        assert_eq!(file.size, size);
        let bytes = get_object(&mut session, file.handle);
        assert!(bytes == expected(i as u64, 0, size as usize), "IMG_{i}.JPG");
        let mut part = Vec::new();
        let sent = session.get_partial_object(file.handle, 0, 100, &mut part).unwrap();
        assert_eq!(sent, size.min(100));
    }
}
