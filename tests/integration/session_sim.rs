//! The session and listing layers against the simulated device: the real
//! codec both ways, transaction counts, fallbacks, big files, faults.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use mtpull::ptp::{EventCode, ObjectFormat, ObjectInfo, OperationCode, StorageId};
use mtpull::session::{Entry, ListingStrategy, ResolveError, Session, SessionError, StorageSelector};
use mtpull::sim::{Content, Fault, Profile, SimDevice, StorageSpec, generated_bytes};
use mtpull::transport::{Transport, TransportError};

const FOLDERS: usize = 200;
const FILES_PER_FOLDER: usize = 99;

fn phone(profile: Profile) -> (SimDevice, u32) {
    let phone = SimDevice::new(profile);
    let storage = phone.add_storage(StorageSpec::new("Internal shared storage"));
    (phone, storage)
}

/// 200 folders of 99 files under DCIM: 20,001 objects, 201 folders.
fn big_tree(profile: Profile) -> (SimDevice, u32) {
    let (phone, storage) = phone(profile);
    phone
        .add_generated_tree(storage, "DCIM", FOLDERS, FILES_PER_FOLDER)
        .unwrap();
    (phone, storage)
}

fn open(phone: &SimDevice) -> Session {
    Session::open(Box::new(phone.connect())).unwrap()
}

fn paths(entries: &[Entry]) -> BTreeSet<String> {
    entries.iter().map(|e| e.path().join("/")).collect()
}

fn when() -> chrono::NaiveDateTime {
    NaiveDate::from_ymd_opt(2024, 5, 26)
        .unwrap()
        .and_hms_opt(10, 15, 0)
        .unwrap()
}

#[test]
fn android_lists_20000_objects_in_at_most_folders_plus_10_transactions() {
    let (phone, storage) = big_tree(Profile::Android);
    let mut session = open(&phone);
    let entries = session.walk(StorageId(storage), None).unwrap();
    let folders = entries.iter().filter(|e| e.is_folder()).count();
    assert_eq!(entries.len(), 1 + FOLDERS + FOLDERS * FILES_PER_FOLDER);
    assert_eq!(folders, FOLDERS + 1);
    let total = session.stats().total();
    eprintln!(
        "android, whole storage: {} ({})",
        session.stats(),
        session.listing_strategy().unwrap()
    );
    assert!(total <= folders as u64 + 10, "{}", session.stats());
    assert_eq!(phone.stats().transactions, total, "the device counted the same");
    assert_eq!(session.listing_strategy(), Some(ListingStrategy::AllObjects));
}

#[test]
fn android_lists_a_subtree_with_one_request_per_folder() {
    let (phone, storage) = big_tree(Profile::Android);
    let mut session = open(&phone);
    let dcim = session.find(StorageId(storage), &["DCIM"]).unwrap().unwrap();
    let before = session.stats().total();
    let entries = session.walk(StorageId(storage), Some(&dcim)).unwrap();
    assert_eq!(entries.len(), FOLDERS + FOLDERS * FILES_PER_FOLDER);
    let used = session.stats().total() - before;
    eprintln!(
        "android, DCIM folder by folder: {used} transactions; session {}",
        session.stats()
    );
    assert_eq!(used, FOLDERS as u64 + 1, "DCIM and each of its folders once");
    assert!(session.stats().total() <= (FOLDERS + 1) as u64 + 10);
    assert_eq!(
        session.listing_strategy(),
        Some(ListingStrategy::PropListPerFolder)
    );
}

#[test]
fn the_camera_lists_the_same_tree_through_the_fallback() {
    let (android, storage) = big_tree(Profile::Android);
    let expected = paths(&open(&android).walk(StorageId(storage), None).unwrap());
    let (camera, storage) = big_tree(Profile::PtpCamera);
    let mut session = open(&camera);
    let entries = session.walk(StorageId(storage), None).unwrap();
    assert_eq!(paths(&entries), expected);
    assert_eq!(session.listing_strategy(), Some(ListingStrategy::HandlesAndInfo));
    eprintln!("ptp-camera: {}", session.stats());
    // One GetObjectHandles per folder (and the root), one GetObjectInfo per object, nothing else.
    assert_eq!(
        session.stats().count(OperationCode::GET_OBJECT_HANDLES),
        FOLDERS as u64 + 2
    );
    assert_eq!(
        session.stats().count(OperationCode::GET_OBJECT_INFO),
        entries.len() as u64
    );
    assert_eq!(session.stats().count(OperationCode::GET_OBJECT_PROP_LIST), 0);
}

#[test]
fn samsung_lists_the_same_tree_as_android() {
    let (android, storage) = big_tree(Profile::Android);
    let expected = paths(&open(&android).walk(StorageId(storage), None).unwrap());
    let (samsung, storage) = big_tree(Profile::Samsung);
    let mut session = open(&samsung);
    assert_eq!(paths(&session.walk(StorageId(storage), None).unwrap()), expected);
    assert!(
        session.stats().total() <= (FOLDERS + 1) as u64 + 10,
        "{}",
        session.stats()
    );
}

#[test]
fn sizes_of_4_gib_and_more_come_from_the_64_bit_property() {
    for profile in [Profile::Android, Profile::Qemu] {
        let (phone, storage) = phone(profile);
        phone
            .add_file(storage, "Movies/long.mp4", Content::generated(5 << 30, 7), when())
            .unwrap();
        let mut session = open(&phone);
        let entries = session.walk(StorageId(storage), None).unwrap();
        let video = entries.iter().find(|e| e.name() == "long.mp4").unwrap();
        assert_eq!(video.size, 5 << 30, "{profile}");
    }
}

#[test]
fn get_object_streams_the_exact_bytes() {
    let (phone, storage) = phone(Profile::Android);
    let content = Content::generated(3 * 1024 * 1024 + 5, 11);
    phone
        .add_file(storage, "DCIM/a.jpg", content.clone(), when())
        .unwrap();
    let mut session = open(&phone);
    let file = session
        .find(StorageId(storage), &["DCIM", "a.jpg"])
        .unwrap()
        .unwrap();
    let mut received = Vec::new();
    assert_eq!(
        session.get_object(file.handle, &mut received).unwrap(),
        content.len()
    );
    assert!(content.matches(received.as_slice()).unwrap());
}

#[test]
fn partial_reads_beyond_4_gib_use_the_64_bit_operation() {
    let (phone, storage) = phone(Profile::Android);
    phone
        .add_file(storage, "big.bin", Content::generated(5 << 30, 3), when())
        .unwrap();
    let mut session = open(&phone);
    let file = session.find(StorageId(storage), &["big.bin"]).unwrap().unwrap();
    let offset = (4u64 << 30) + 12_345;
    let mut received = Vec::new();
    assert_eq!(
        session
            .get_partial_object(file.handle, offset, 100_000, &mut received)
            .unwrap(),
        100_000
    );
    let mut expected = vec![0; 100_000];
    generated_bytes(3, offset, &mut expected);
    assert_eq!(received, expected);
    assert_eq!(session.stats().count(OperationCode::GET_PARTIAL_OBJECT_64), 1);
    // At the end of the file the read is clipped.
    let tail = session
        .get_partial_object(file.handle, (5 << 30) - 10, 1000, &mut Vec::new())
        .unwrap();
    assert_eq!(tail, 10);
}

#[test]
fn an_upload_appears_on_the_phone_and_a_delete_removes_it() {
    let (phone, storage) = phone(Profile::Android);
    phone.add_folder(storage, "Download", when()).unwrap();
    let mut session = open(&phone);
    let folder = session.find(StorageId(storage), &["Download"]).unwrap().unwrap();
    let info = ObjectInfo {
        storage_id: storage,
        format: ObjectFormat::EXIF_JPEG,
        filename: "up.jpg".into(),
        ..ObjectInfo::default()
    };
    let bytes: Vec<u8> = (0..700_000u32).map(|i| (i % 251) as u8).collect();
    let handle = session
        .send_object(
            StorageId(storage),
            folder.handle,
            &info,
            &mut bytes.as_slice(),
            bytes.len() as u64,
        )
        .unwrap();
    let stored = phone.content(storage, "Download/up.jpg").expect("uploaded");
    assert!(stored.matches(bytes.as_slice()).unwrap());
    session.delete_object(handle).unwrap();
    assert!(phone.content(storage, "Download/up.jpg").is_none());
}

#[test]
fn storages_are_named_by_description_then_label_and_paths_resolve_through_them() {
    let (phone, internal) = phone(Profile::Android);
    let card = phone.add_storage(StorageSpec {
        volume_label: "CARD".into(),
        ..StorageSpec::new("")
    });
    phone
        .add_file(card, "DCIM/a.jpg", Content::generated(10, 1), when())
        .unwrap();
    let mut session = open(&phone);
    let storages = session
        .storages(Duration::ZERO, &AtomicBool::new(false), |_| panic!("not locked"))
        .unwrap();
    let named: Vec<(StorageId, &str)> = storages.iter().map(|s| (s.id, s.name.as_str())).collect();
    assert_eq!(
        named,
        [
            (StorageId(internal), "Internal shared storage"),
            (StorageId(card), "CARD")
        ]
    );
    // The label names the storage in a path, in any case, as --storage does.
    let place = session.resolve(&storages, "card/DCIM/a.jpg").unwrap();
    assert_eq!(place.storage.id, StorageId(card));
    assert_eq!(place.object.unwrap().path(), ["DCIM", "a.jpg"]);
    let by_id = session
        .resolve(&storages, &format!("{}/DCIM", StorageId(card)))
        .unwrap();
    assert_eq!(by_id.object.unwrap().name(), "DCIM");
    let chosen = StorageSelector::new("CARD").pick(&storages).unwrap();
    assert_eq!(session.resolve_in(chosen, "/").unwrap().object, None);
    let missing = session.resolve(&storages, "CARD/DCIM/b.jpg").unwrap_err();
    assert_eq!(missing.to_string(), "CARD/DCIM/b.jpg: no such file or folder");
    let no_storage = session.resolve(&storages, "SD card/DCIM").unwrap_err();
    assert!(
        matches!(no_storage, ResolveError::NoSuchStorage { .. }),
        "{no_storage}"
    );
}

#[test]
fn waiting_for_a_locked_phone_ends_when_it_is_unlocked_or_cancelled() {
    let (phone, storage) = phone(Profile::Locked);
    let mut session = open(&phone);
    let cancel = AtomicBool::new(true);
    let started = Instant::now();
    let mut told = 0;
    let storages = session
        .storages(Duration::from_secs(30), &cancel, |_| told += 1)
        .unwrap();
    assert!(storages.is_empty());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(told, 1);

    let unlocker = phone.clone();
    let thread = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        unlocker.unlock();
    });
    cancel.store(false, Ordering::Relaxed);
    let storages = session
        .storages(Duration::from_secs(30), &cancel, |_| {})
        .unwrap();
    thread.join().unwrap();
    assert_eq!(storages.len(), 1);
    assert_eq!(storages[0].id, StorageId(storage));
    assert_eq!(storages[0].info.description, "Internal shared storage");
}

#[test]
fn a_locked_phone_says_so_and_is_waited_for() {
    let (phone, storage) = phone(Profile::Locked);
    let mut session = open(&phone);
    assert!(session.storage_ids().unwrap().is_empty());
    let err = session
        .object_handles(StorageId(storage), None, mtpull::session::ROOT)
        .unwrap_err();
    assert!(err.is_locked(), "{err}");
    assert!(err.to_string().contains("unlock it"), "{err}");
    let unlocker = phone.clone();
    let thread = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        unlocker.unlock();
    });
    assert_eq!(
        session.wait_for_storages(Duration::from_secs(10)).unwrap(),
        [StorageId(storage)]
    );
    thread.join().unwrap();
    assert!(session.walk(StorageId(storage), None).is_ok());
}

#[test]
fn store_added_arrives_as_an_event() {
    let (phone, _storage) = phone(Profile::Locked);
    let mut session = open(&phone);
    assert_eq!(session.next_event(Duration::from_millis(10)).unwrap(), None);
    phone.unlock();
    let event = session
        .next_event(Duration::from_secs(5))
        .unwrap()
        .expect("an event");
    assert_eq!(event.code, EventCode::STORE_ADDED);
}

#[test]
fn a_stall_mid_transfer_is_recovered_with_a_new_session() {
    let (phone, storage) = phone(Profile::Android);
    phone
        .add_file(storage, "a.bin", Content::generated(2 << 20, 1), when())
        .unwrap();
    let mut session = open(&phone);
    let file = session.find(StorageId(storage), &["a.bin"]).unwrap().unwrap();
    phone.arm(Fault::stall_after(100_000).during(OperationCode::GET_OBJECT));
    let err = session.get_object(file.handle, &mut Vec::new()).unwrap_err();
    assert!(matches!(err, SessionError::Transport { .. }), "{err}");
    assert!(err.needs_recovery());
    session.recover().unwrap();
    // Handles may change in a new session: look the file up again.
    let file = session.find(StorageId(storage), &["a.bin"]).unwrap().unwrap();
    let mut received = Vec::new();
    assert_eq!(session.get_object(file.handle, &mut received).unwrap(), 2 << 20);
}

#[test]
fn a_stall_mid_transfer_can_be_given_up_keeping_the_session_and_its_handles() {
    let (phone, storage) = phone(Profile::Android);
    let size: u32 = 2 << 20;
    phone
        .add_file(storage, "a.bin", Content::generated(size.into(), 1), when())
        .unwrap();
    let mut session = open(&phone);
    let file = session.find(StorageId(storage), &["a.bin"]).unwrap().unwrap();
    phone.arm(Fault::stall_after(100_000).during(OperationCode::GET_OBJECT));
    let mut received = Vec::new();
    let err = session.get_object(file.handle, &mut received).unwrap_err();
    assert!(err.is_stall() && err.broke_off(), "{err}");
    session.abandon_transaction(OperationCode::GET_OBJECT).unwrap();
    // The same handle, from where the stall cut it.
    let offset = received.len() as u32;
    assert!(offset > 0 && offset < size, "{offset}");
    let sent = session
        .get_partial_object(file.handle, offset.into(), size - offset, &mut received)
        .unwrap();
    assert_eq!(sent, u64::from(size - offset));
    let mut expected = vec![0; size as usize];
    generated_bytes(1, 0, &mut expected);
    assert!(received == expected, "the pieces do not make the file");
}

#[test]
fn a_device_error_names_the_operation_and_keeps_the_session() {
    let (phone, storage) = phone(Profile::Android);
    phone
        .add_file(storage, "a.bin", Content::generated(10, 1), when())
        .unwrap();
    let mut session = open(&phone);
    let file = session.find(StorageId(storage), &["a.bin"]).unwrap().unwrap();
    phone.arm(Fault::respond(
        OperationCode::GET_OBJECT,
        mtpull::ptp::ResponseCode::DEVICE_BUSY,
    ));
    let err = session.get_object(file.handle, &mut Vec::new()).unwrap_err();
    assert!(
        err.to_string().contains("GetObject") && err.to_string().contains("busy"),
        "{err}"
    );
    assert!(!err.needs_recovery());
    assert_eq!(session.get_object(file.handle, &mut Vec::new()).unwrap(), 10);
}

/// A transport that passes the simulator's bytes through but rewrites one
/// IN phase: a device that lies, over the real codec.
struct Lying {
    inner: Box<dyn Transport>,
    /// Which IN phase to rewrite (counted from 0 over the connection).
    target: usize,
    rewrite: fn(&mut Vec<u8>),
    phases_seen: usize,
    /// The rewritten phase being served, and how much of it is served.
    serving: Option<(Vec<u8>, usize)>,
}

impl Lying {
    fn new(phone: &SimDevice, target: usize, rewrite: fn(&mut Vec<u8>)) -> Lying {
        Lying {
            inner: Box::new(phone.connect()),
            target,
            rewrite,
            phases_seen: 0,
            serving: None,
        }
    }
}

impl Transport for Lying {
    fn max_packet_size(&self) -> usize {
        self.inner.max_packet_size()
    }
    fn write_phase(&mut self, data: &[u8]) -> Result<(), TransportError> {
        self.inner.write_phase(data)
    }
    fn end_write_phase(&mut self) -> Result<(), TransportError> {
        self.inner.end_write_phase()
    }
    fn read_phase(&mut self, buf: &mut [u8]) -> Result<usize, TransportError> {
        if self.serving.is_none() && self.phases_seen == self.target {
            let mut phase = Vec::new();
            let mut chunk = vec![0; 1 << 16];
            loop {
                let n = self.inner.read_phase(&mut chunk)?;
                if n == 0 {
                    break;
                }
                phase.extend_from_slice(&chunk[..n]);
            }
            (self.rewrite)(&mut phase);
            self.serving = Some((phase, 0));
        }
        if let Some((phase, served)) = &mut self.serving {
            let n = (phase.len() - *served).min(buf.len());
            buf[..n].copy_from_slice(&phase[*served..*served + n]);
            *served += n;
            if n == 0 {
                self.serving = None;
                self.phases_seen += 1;
                self.target = usize::MAX;
            }
            return Ok(n);
        }
        let n = self.inner.read_phase(buf)?;
        if n == 0 {
            self.phases_seen += 1;
        }
        Ok(n)
    }
    fn read_event(&mut self, buf: &mut [u8], timeout: Duration) -> Result<Option<usize>, TransportError> {
        self.inner.read_event(buf, timeout)
    }
    fn clear_halt(&mut self) -> Result<(), TransportError> {
        self.inner.clear_halt()
    }
    fn set_timeout(&mut self, timeout: Duration) {
        self.inner.set_timeout(timeout)
    }
}

/// IN phases on a fresh connection: GetDeviceInfo data (0) and response (1),
/// OpenSession's response (2), then the first operation's data (3) and response (4).
const FIRST_OP_DATA: usize = 3;
const FIRST_OP_RESPONSE: usize = 4;

fn lying_session(target: usize, rewrite: fn(&mut Vec<u8>)) -> Session {
    let (phone, _storage) = phone(Profile::Android);
    Session::open(Box::new(Lying::new(&phone, target, rewrite))).unwrap()
}

#[test]
fn a_lying_device_gets_a_clear_error_not_a_panic() {
    // A response for another transaction.
    let mut session = lying_session(FIRST_OP_RESPONSE, |phase| phase[8] ^= 0x40);
    let err = session.storage_ids().unwrap_err();
    assert!(
        err.to_string()
            .contains("answered transaction 65 while 1 was under way"),
        "{err}"
    );
    assert!(err.needs_recovery());

    // A StorageInfo dataset cut short, its length field cut to match.
    let mut session = lying_session(FIRST_OP_DATA, |phase| {
        phase.truncate(20);
        phase[..4].copy_from_slice(&20u32.to_le_bytes());
    });
    let err = session.storage_info(StorageId(0x10001)).unwrap_err();
    assert!(matches!(err, SessionError::Dataset { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("GetStorageInfo returned a malformed dataset: truncated"),
        "{err}"
    );

    // A data phase that stops before the length its header announced.
    let mut session = lying_session(FIRST_OP_DATA, |phase| phase.truncate(20));
    let err = session.storage_info(StorageId(0x10001)).unwrap_err();
    assert!(
        err.to_string().contains("carried 8 bytes, its header announced"),
        "{err}"
    );

    // An event container where the data was due, and an unknown container type.
    let mut session = lying_session(FIRST_OP_DATA, |phase| phase[4] = 4);
    let err = session.storage_ids().unwrap_err();
    assert!(
        err.to_string()
            .contains("Event container where the response was due"),
        "{err}"
    );
    let mut session = lying_session(FIRST_OP_DATA, |phase| phase[4] = 7);
    let err = session.storage_ids().unwrap_err();
    assert!(
        err.to_string()
            .contains("unreadable container header (invalid container type: 7)"),
        "{err}"
    );
}

#[test]
fn after_a_protocol_error_recover_gives_a_working_session() {
    let (phone, storage) = phone(Profile::Android);
    phone
        .add_file(storage, "a.jpg", Content::generated(10, 1), when())
        .unwrap();
    let mut session = Session::open(Box::new(Lying::new(&phone, FIRST_OP_RESPONSE, |p| p[8] ^= 1))).unwrap();
    assert!(session.storage_ids().unwrap_err().needs_recovery());
    session.recover().unwrap();
    assert_eq!(session.storage_ids().unwrap(), [StorageId(storage)]);
}
