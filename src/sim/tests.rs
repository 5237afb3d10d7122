//! Protocol tests: the responder driven through raw bytes over the
//! [`Transport`] trait, commands encoded and answers decoded with `ptp`.

use std::time::{Duration, Instant};

use chrono::NaiveDateTime;

use super::*;
use crate::ptp::{
    Codec, ContainerKind, DeviceInfo, EventCode, Header, Message, ObjectFormat, ObjectInfo, ObjectPropList,
    OperationCode as Op, PropertyCode as Prop, Reader, ResponseCode as Rc, StorageInfo,
};
use crate::transport::{Transport, TransportError};

const ALL: u32 = 0xFFFF_FFFF;

fn t(day: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2024, 5, day)
        .unwrap()
        .and_hms_opt(10, 15, 0)
        .unwrap()
}

/// Reads one IN phase to its end (the `Ok(0)`).
fn read_phase(t: &mut SimTransport) -> Result<Vec<u8>, TransportError> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match t.read_phase(&mut buf)? {
            0 => return Ok(out),
            n => out.extend_from_slice(&buf[..n]),
        }
    }
}

/// The initiator's side of one connection, reduced to what tests need.
struct Host {
    t: SimTransport,
    tid: u32,
}

impl Host {
    fn connect(device: &SimDevice) -> Host {
        Host {
            t: device.connect(),
            tid: 0,
        }
    }

    /// Connects and opens session 1.
    fn session(device: &SimDevice) -> Host {
        let mut host = Host::connect(device);
        host.ok(Op::OPEN_SESSION, &[1]);
        host
    }

    fn send(&mut self, bytes: &[u8]) -> Result<(), TransportError> {
        self.t.write_phase(bytes)?;
        self.t.end_write_phase()
    }

    /// One transaction: command, optional OUT data, then the IN data phase
    /// (if any) and the response.
    fn transact(&mut self, op: Op, params: &[u32], out: Option<&[u8]>) -> (Option<Vec<u8>>, Message) {
        self.try_transact(op, params, out).unwrap()
    }

    fn try_transact(
        &mut self,
        op: Op,
        params: &[u32],
        out: Option<&[u8]>,
    ) -> Result<(Option<Vec<u8>>, Message), TransportError> {
        self.tid += 1;
        self.send(&Message::command(op.0, self.tid, params).encode())?;
        if let Some(payload) = out {
            let mut container = Vec::new();
            Header::for_data(op.0, self.tid, payload.len() as u64).encode(&mut container);
            container.extend_from_slice(payload);
            self.send(&container)?;
        }
        let first = read_phase(&mut self.t)?;
        let header = Header::decode(&first).unwrap();
        let (data, response) = if header.kind == ContainerKind::Data {
            assert_eq!(header.transaction_id, self.tid);
            (Some(first[12..].to_vec()), read_phase(&mut self.t)?)
        } else {
            (None, first)
        };
        let response = Message::decode(&response).unwrap();
        assert_eq!(response.transaction_id, self.tid);
        Ok((data, response))
    }

    fn code(&mut self, op: Op, params: &[u32]) -> Rc {
        Rc(self.transact(op, params, None).1.code)
    }

    /// A transaction that must succeed; its data (empty when none).
    fn ok(&mut self, op: Op, params: &[u32]) -> Vec<u8> {
        let (data, response) = self.transact(op, params, None);
        assert_eq!(Rc(response.code), Rc::OK, "{op} {params:x?}");
        data.unwrap_or_default()
    }

    fn handles(&mut self, storage: u32, format: u32, parent: u32) -> Vec<u32> {
        let data = self.ok(Op::GET_OBJECT_HANDLES, &[storage, format, parent]);
        Reader::new(&data).u32_array("handles").unwrap()
    }

    fn info(&mut self, handle: u32) -> ObjectInfo {
        ObjectInfo::decode(&self.ok(Op::GET_OBJECT_INFO, &[handle])).unwrap()
    }

    fn names(&mut self, handles: &[u32]) -> Vec<String> {
        handles.iter().map(|&h| self.info(h).filename).collect()
    }

    /// The handle of the object at `path` on `storage`, found by listing.
    fn find(&mut self, storage: u32, path: &str) -> u32 {
        let mut parent = ALL;
        for name in path.split('/') {
            let children = self.handles(storage, 0, parent);
            parent = *children
                .iter()
                .find(|&&h| self.info(h).filename == name)
                .unwrap_or_else(|| panic!("{name} not found"));
        }
        parent
    }

    fn prop_list(&mut self, params: [u32; 5]) -> Result<ObjectPropList, Rc> {
        let (data, response) = self.transact(Op::GET_OBJECT_PROP_LIST, &params, None);
        match Rc(response.code) {
            Rc::OK => Ok(ObjectPropList::decode(&data.unwrap()).unwrap()),
            code => Err(code),
        }
    }
}

/// A phone with a small tree: DCIM/Camera/{IMG_1.jpg, IMG_2.jpg, VID_1.mp4},
/// Documents/notes.txt and an empty Music folder.
fn phone(profile: Profile) -> (SimDevice, u32) {
    let device = SimDevice::new(profile);
    let s = device.add_storage(StorageSpec::new("Internal shared storage"));
    device
        .add_file(s, "DCIM/Camera/IMG_1.jpg", media::jpeg(None, 1), t(1))
        .unwrap();
    device
        .add_file(s, "DCIM/Camera/IMG_2.jpg", Content::generated(5000, 2), t(2))
        .unwrap();
    device
        .add_file(s, "DCIM/Camera/VID_1.mp4", Content::generated(1 << 20, 3), t(3))
        .unwrap();
    device.add_file(s, "Documents/notes.txt", "hello", t(4)).unwrap();
    device.add_folder(s, "Music", t(5)).unwrap();
    (device, s)
}

fn generated(seed: u64, offset: u64, len: usize) -> Vec<u8> {
    let mut out = vec![0; len];
    generated_bytes(seed, offset, &mut out);
    out
}

#[test]
fn android_device_info_names_the_android_extension() {
    let (device, _) = phone(Profile::Android);
    let mut host = Host::connect(&device);
    let info = DeviceInfo::decode(&host.ok(Op::GET_DEVICE_INFO, &[])).unwrap();
    assert_eq!(info.vendor_extension_id, 6);
    assert_eq!(
        info.vendor_extension_desc,
        "microsoft.com: 1.0; android.com: 1.0;"
    );
    assert!(info.is_android());
    assert!(info.supports(Op::GET_OBJECT_PROP_LIST));
    assert!(info.supports(Op::GET_PARTIAL_OBJECT_64));
    assert_eq!(info.serial_number, "SIM-ANDROID");
}

#[test]
fn sessions_must_be_opened_once() {
    let (device, _) = phone(Profile::Android);
    let mut host = Host::connect(&device);
    assert_eq!(host.code(Op::GET_STORAGE_IDS, &[]), Rc::SESSION_NOT_OPEN);
    assert_eq!(host.code(Op::OPEN_SESSION, &[0]), Rc::INVALID_PARAMETER);
    host.ok(Op::OPEN_SESSION, &[7]);
    let (_, again) = host.transact(Op::OPEN_SESSION, &[8], None);
    assert_eq!(
        (Rc(again.code), again.params),
        (Rc::SESSION_ALREADY_OPEN, vec![7])
    );
    host.ok(Op::CLOSE_SESSION, &[]);
    assert_eq!(host.code(Op::GET_STORAGE_IDS, &[]), Rc::SESSION_NOT_OPEN);
    assert_eq!(host.code(Op::CLOSE_SESSION, &[]), Rc::SESSION_NOT_OPEN);
    assert_eq!(host.code(Op(0x9999), &[]), Rc::OPERATION_NOT_SUPPORTED);
}

#[test]
fn storages_are_listed_with_their_space() {
    let (device, s) = phone(Profile::Android);
    let mut host = Host::session(&device);
    let ids = Reader::new(&host.ok(Op::GET_STORAGE_IDS, &[]))
        .u32_array("ids")
        .unwrap();
    assert_eq!(ids, [0x0001_0001]);
    assert_eq!(s, 0x0001_0001);
    let info = StorageInfo::decode(&host.ok(Op::GET_STORAGE_INFO, &[s])).unwrap();
    assert_eq!(info.description, "Internal shared storage");
    assert_eq!(
        info.max_capacity - info.free_space_bytes,
        5 + 5000 + (1 << 20) + media::jpeg(None, 1).len() as u64
    );
    assert_eq!(
        host.code(Op::GET_STORAGE_INFO, &[0x0002_0001]),
        Rc::INVALID_STORAGE_ID
    );
}

#[test]
fn handles_are_assigned_as_folders_are_listed() {
    let (device, s) = phone(Profile::Android);
    let mut host = Host::session(&device);
    let root = host.handles(s, 0, ALL);
    assert_eq!(host.names(&root), ["DCIM", "Documents", "Music"]);
    assert_eq!(root, [1, 2, 3]);
    let camera = host.handles(s, 0, root[0]);
    assert_eq!(camera, [4]);
    let files = host.handles(s, 0, camera[0]);
    assert_eq!(files, [5, 6, 7]);
    assert_eq!(host.names(&files), ["IMG_1.jpg", "IMG_2.jpg", "VID_1.mp4"]);
    let jpegs = host.handles(ALL, ObjectFormat::EXIF_JPEG.0.into(), camera[0]);
    assert_eq!(jpegs, [5, 6]);
    // Parent 0: every object, parents before children.
    let everything = host.handles(s, 0, 0);
    assert_eq!(everything.len(), 8);
    let data = host.ok(Op::GET_NUM_OBJECTS, &[s, 0, 0]);
    assert!(data.is_empty());
    let (_, count) = host.transact(Op::GET_NUM_OBJECTS, &[s, 0, root[0]], None);
    assert_eq!(count.params, [1]);
    assert_eq!(
        host.code(Op::GET_OBJECT_HANDLES, &[s, 0, 999]),
        Rc::INVALID_OBJECT_HANDLE
    );
    assert_eq!(
        host.code(Op::GET_OBJECT_HANDLES, &[s, 0, files[0]]),
        Rc::INVALID_PARENT_OBJECT
    );
    assert_eq!(
        host.code(Op::GET_OBJECT_HANDLES, &[0x0009_0001, 0, ALL]),
        Rc::INVALID_STORAGE_ID
    );
}

#[test]
fn object_info_follows_android() {
    let (device, s) = phone(Profile::Android);
    let mut host = Host::session(&device);
    let camera = host.find(s, "DCIM/Camera");
    let image = host.find(s, "DCIM/Camera/IMG_2.jpg");
    let info = host.info(image);
    assert_eq!(info.storage_id, s);
    assert_eq!(info.format, ObjectFormat::EXIF_JPEG);
    assert_eq!(info.compressed_size, 5000);
    assert_eq!(info.parent, camera);
    assert_eq!(info.date_created, "20240502T101500");
    assert_eq!(info.date_modified, info.date_created);
    assert_eq!(info.thumb_format, ObjectFormat::EXIF_JPEG);
    let dcim = host.find(s, "DCIM");
    let folder = host.info(dcim);
    assert_eq!(
        (folder.format, folder.association_type, folder.parent),
        (ObjectFormat::ASSOCIATION, 1, 0)
    );
    assert_eq!(
        host.code(Op::GET_OBJECT_INFO, &[12345]),
        Rc::INVALID_OBJECT_HANDLE
    );
}

#[test]
fn get_object_streams_the_content() {
    let (device, s) = phone(Profile::Android);
    let mut host = Host::session(&device);
    let video = host.find(s, "DCIM/Camera/VID_1.mp4");
    assert_eq!(host.ok(Op::GET_OBJECT, &[video]), generated(3, 0, 1 << 20));
    let notes = host.find(s, "Documents/notes.txt");
    assert_eq!(host.ok(Op::GET_OBJECT, &[notes]), b"hello");
    let folder = host.find(s, "Music");
    assert_eq!(host.code(Op::GET_OBJECT, &[folder]), Rc::INVALID_OBJECT_HANDLE);
}

#[test]
fn partial_reads_clip_at_the_end_and_report_the_count() {
    let (device, s) = phone(Profile::Android);
    let mut host = Host::session(&device);
    let image = host.find(s, "DCIM/Camera/IMG_2.jpg");
    let (data, response) = host.transact(Op::GET_PARTIAL_OBJECT, &[image, 4000, 2000], None);
    assert_eq!(data.unwrap(), generated(2, 4000, 1000));
    assert_eq!(response.params, [1000]);
    let (data, response) = host.transact(Op::GET_PARTIAL_OBJECT_64, &[image, 10, 0, 20], None);
    assert_eq!(data.unwrap(), generated(2, 10, 20));
    assert_eq!(response.params, [20]);
    let (data, response) = host.transact(Op::GET_PARTIAL_OBJECT, &[image, 5000, 10], None);
    assert_eq!((data.unwrap().len(), response.params), (0, vec![0]));
    assert_eq!(
        host.code(Op::GET_PARTIAL_OBJECT, &[image, 5001, 10]),
        Rc::INVALID_PARAMETER
    );
}

#[test]
fn prop_list_depth_one_gives_the_children_then_the_folder() {
    let (device, s) = phone(Profile::Android);
    let mut host = Host::session(&device);
    let camera = host.find(s, "DCIM/Camera");
    let list = host.prop_list([camera, 0, ALL, 0, 1]).unwrap();
    let props = Profile::Android.object_props().len();
    assert_eq!(list.entries.len(), 4 * props);
    let handles: Vec<u32> = list.entries.iter().step_by(props).map(|e| e.handle).collect();
    assert_eq!(
        *handles.last().unwrap(),
        camera,
        "Android appends the folder itself"
    );
    let value = |handle: u32, prop: Prop| {
        list.entries
            .iter()
            .find(|e| e.handle == handle && e.property == prop)
            .map(|e| e.value.clone())
            .unwrap()
    };
    let image = handles[1];
    assert_eq!(value(image, Prop::OBJECT_FILE_NAME).as_str(), Some("IMG_2.jpg"));
    assert_eq!(value(image, Prop::OBJECT_SIZE).as_u64(), Some(5000));
    assert_eq!(
        value(image, Prop::OBJECT_SIZE).data_type(),
        crate::ptp::DataType::UINT64
    );
    assert_eq!(value(image, Prop::PARENT_OBJECT).as_u64(), Some(camera.into()));
    assert!(
        !list.entries.iter().any(|e| e.property == Prop::DATE_CREATED),
        "AOSP's MtpDatabase has no DateCreated"
    );
    assert!(value(image, Prop::DATE_MODIFIED).as_str().is_some());
    // The handles are real: GetObjectInfo agrees.
    assert_eq!(host.info(image).filename, "IMG_2.jpg");
}

#[test]
fn prop_list_follows_androids_rules() {
    let (device, s) = phone(Profile::Android);
    let mut host = Host::session(&device);
    let camera = host.find(s, "DCIM/Camera");
    let one = host.prop_list([camera, 0, ALL, 0, 0]).unwrap();
    assert!(one.entries.iter().all(|e| e.handle == camera));
    let names = host
        .prop_list([camera, 0, Prop::OBJECT_FILE_NAME.0.into(), 0, 1])
        .unwrap();
    assert_eq!(names.entries.len(), 4);
    let jpegs = host
        .prop_list([camera, ObjectFormat::EXIF_JPEG.0.into(), ALL, 0, 1])
        .unwrap();
    assert_eq!(jpegs.entries.len(), 2 * Profile::Android.object_props().len());
    let root = host
        .prop_list([0, 0, Prop::OBJECT_FILE_NAME.0.into(), 0, 0])
        .unwrap();
    let root_names: Vec<_> = root
        .entries
        .iter()
        .map(|e| e.value.as_str().unwrap().to_string())
        .collect();
    assert_eq!(root_names, ["DCIM", "Documents", "Music"]);
    for everything in [
        [ALL, 0, Prop::OBJECT_SIZE.0.into(), 0, ALL],
        [0, 0, Prop::OBJECT_SIZE.0.into(), 0, ALL],
    ] {
        assert_eq!(host.prop_list(everything).unwrap().entries.len(), 8);
    }
    assert_eq!(
        host.prop_list([camera, 0, ALL, 0, ALL]),
        Err(Rc::SPECIFICATION_BY_DEPTH_UNSUPPORTED)
    );
    assert_eq!(
        host.prop_list([camera, 0, ALL, 0, 2]),
        Err(Rc::SPECIFICATION_BY_DEPTH_UNSUPPORTED)
    );
    assert_eq!(
        host.prop_list([camera, 0, 0, 0, 1]),
        Err(Rc::PARAMETER_NOT_SUPPORTED)
    );
    assert_eq!(
        host.prop_list([camera, 0, 0, 1, 1]),
        Err(Rc::SPECIFICATION_BY_GROUP_UNSUPPORTED)
    );
    assert_eq!(
        host.prop_list([camera, 0, 0xDC99, 0, 1]),
        Err(Rc::OBJECT_PROP_NOT_SUPPORTED)
    );
    assert_eq!(
        host.prop_list([999, 0, ALL, 0, 0]),
        Err(Rc::INVALID_OBJECT_HANDLE)
    );
}

#[test]
fn single_properties_and_their_descriptions() {
    let (device, s) = phone(Profile::Android);
    let mut host = Host::session(&device);
    let supported = Reader::new(&host.ok(Op::GET_OBJECT_PROPS_SUPPORTED, &[0x3801]))
        .u16_array("props")
        .unwrap();
    assert!(supported.contains(&Prop::OBJECT_SIZE.0));
    let desc =
        crate::ptp::ObjectPropDesc::decode(&host.ok(Op::GET_OBJECT_PROP_DESC, &[0xDC04, 0x3801])).unwrap();
    assert_eq!(desc.data_type, crate::ptp::DataType::UINT64);
    let video = host.find(s, "DCIM/Camera/VID_1.mp4");
    let size = host.ok(Op::GET_OBJECT_PROP_VALUE, &[video, 0xDC04]);
    assert_eq!(size, (1u64 << 20).to_le_bytes());
    let name = Reader::new(&host.ok(Op::GET_OBJECT_PROP_VALUE, &[video, 0xDC07]))
        .string("name")
        .unwrap();
    assert_eq!(name, "VID_1.mp4");
    assert_eq!(
        host.code(Op::GET_OBJECT_PROP_VALUE, &[video, 0xDC99]),
        Rc::OBJECT_PROP_NOT_SUPPORTED
    );
    assert_eq!(
        host.code(Op::GET_OBJECT_PROP_DESC, &[0xDC99, 0]),
        Rc::OBJECT_PROP_NOT_SUPPORTED
    );
}

/// Reads one IN phase with reads of exactly `chunk` bytes, returning the
/// length of each read up to and including the final 0.
fn read_sizes(t: &mut SimTransport, chunk: usize) -> Vec<usize> {
    let mut buf = vec![0u8; chunk];
    let mut sizes = Vec::new();
    loop {
        let n = t.read_phase(&mut buf).unwrap();
        sizes.push(n);
        if n == 0 {
            return sizes;
        }
    }
}

#[test]
fn a_phase_that_fills_its_last_packet_ends_with_a_zero_length_packet() {
    let device = SimDevice::new(Profile::Android);
    let s = device.add_storage(StorageSpec::new("x"));
    // 500 + 12 = 512 and 1012 + 12 = 1024 fill their last packet; 499 + 12 does not.
    for (name, size) in [("a", 500), ("b", 1012), ("c", 499)] {
        device
            .add_file(s, name, Content::generated(size, 1), t(1))
            .unwrap();
    }
    let mut host = Host::session(&device);
    let handles = host.handles(s, 0, ALL);
    for (handle, phase_len, zlp) in [(handles[0], 512, 1), (handles[1], 1024, 1), (handles[2], 511, 0)] {
        let before = device.stats().zero_length_packets;
        host.tid += 1;
        host.send(&Message::command(Op::GET_OBJECT.0, host.tid, &[handle]).encode())
            .unwrap();
        let sizes = read_sizes(&mut host.t, 512);
        assert_eq!(sizes.iter().sum::<usize>(), phase_len);
        assert_eq!(
            sizes.last(),
            Some(&0),
            "the data phase ends with exactly one Ok(0)"
        );
        let response = Message::decode(&read_phase(&mut host.t).unwrap()).unwrap();
        assert_eq!(Rc(response.code), Rc::OK);
        assert_eq!(
            device.stats().zero_length_packets - before,
            zlp,
            "phase of {phase_len}"
        );
    }
}

#[test]
fn objects_of_4_gib_and_more_have_an_unknown_length_field() {
    let device = SimDevice::new(Profile::Android);
    let s = device.add_storage(StorageSpec::new("x").capacity(1 << 40));
    let big = 5u64 << 30;
    device
        .add_file(s, "big.mp4", Content::generated(big, 9), t(1))
        .unwrap();
    let mut host = Host::session(&device);
    let handle = host.handles(s, 0, ALL)[0];
    assert_eq!(host.info(handle).compressed_size, 0xFFFF_FFFF);
    assert_eq!(
        host.ok(Op::GET_OBJECT_PROP_VALUE, &[handle, 0xDC04]),
        big.to_le_bytes()
    );
    // The end of the file, through a 64-bit offset (low word, then high word).
    let offset = big - 100;
    let (data, response) = host.transact(
        Op::GET_PARTIAL_OBJECT_64,
        &[handle, offset as u32, (offset >> 32) as u32, 4096],
        None,
    );
    assert_eq!(data.unwrap(), generated(9, offset, 100));
    assert_eq!(response.params, [100]);
    // GetObject: the header says "unknown", the data starts right after it.
    host.tid += 1;
    host.send(&Message::command(Op::GET_OBJECT.0, host.tid, &[handle]).encode())
        .unwrap();
    let mut first = vec![0u8; 1 << 20];
    let n = host.t.read_phase(&mut first).unwrap();
    assert_eq!(n, 12, "the first read stops at the header");
    let n = 12 + host.t.read_phase(&mut first[12..]).unwrap();
    let header = Header::decode(&first).unwrap();
    assert_eq!(header.length, crate::ptp::LENGTH_UNKNOWN);
    assert!(first[12..n] == generated(9, 0, n - 12));
    // Abandon the transfer the way an initiator recovers from Android's wedge.
    host.t.cancel_transaction(host.tid).unwrap();
    assert_eq!(
        Rc(Message::decode(&read_phase(&mut host.t).unwrap()).unwrap().code),
        Rc::TRANSACTION_CANCELLED
    );
    assert_eq!(host.code(Op::GET_STORAGE_IDS, &[]), Rc::OK);
}

#[test]
fn handles_are_renumbered_per_session_unless_configured_stable() {
    let (device, s) = phone(Profile::Android);
    let mut host = Host::session(&device);
    let first = host.find(s, "DCIM/Camera/IMG_1.jpg");
    drop(host);
    let mut host = Host::session(&device);
    assert_eq!(
        host.code(Op::GET_OBJECT_INFO, &[first]),
        Rc::INVALID_OBJECT_HANDLE
    );
    let second = host.find(s, "DCIM/Camera/IMG_1.jpg");
    assert_ne!(first, second);
    // A new session on the same connection renumbers too.
    host.ok(Op::CLOSE_SESSION, &[]);
    host.ok(Op::OPEN_SESSION, &[2]);
    assert_eq!(
        host.code(Op::GET_OBJECT_INFO, &[second]),
        Rc::INVALID_OBJECT_HANDLE
    );

    let stable = SimConfig::new(Profile::Android).stable_handles().build();
    let s = stable.add_storage(StorageSpec::new("x"));
    stable.add_file(s, "a/b.jpg", "b", t(1)).unwrap();
    let mut host = Host::session(&stable);
    let kept = host.find(s, "a/b.jpg");
    drop(host);
    let mut host = Host::session(&stable);
    assert_eq!(host.info(kept).filename, "b.jpg");
}

#[test]
fn each_connection_is_a_fresh_link_to_the_same_device() {
    let (device, s) = phone(Profile::Android);
    let mut old = Host::session(&device);
    let mut new = Host::connect(&device);
    assert!(matches!(
        old.try_transact(Op::GET_STORAGE_IDS, &[], None),
        Err(TransportError::Disconnected)
    ));
    assert_eq!(new.code(Op::GET_STORAGE_IDS, &[]), Rc::SESSION_NOT_OPEN);
    new.ok(Op::OPEN_SESSION, &[1]);
    assert_eq!(new.handles(s, 0, ALL).len(), 3);
    device.unplug();
    assert!(!device.is_connected());
    assert!(matches!(
        new.t.read_phase(&mut [0; 16]),
        Err(TransportError::Disconnected)
    ));
    assert_eq!(device.stats().connections, 2);
}

#[test]
fn out_of_order_phases_time_out_like_a_device_that_is_not_listening() {
    let (device, _) = phone(Profile::Android);
    let mut host = Host::session(&device);
    assert!(matches!(
        host.t.read_phase(&mut [0; 512]),
        Err(TransportError::Timeout(_))
    ));
    host.send(&Message::command(Op::GET_STORAGE_IDS.0, 9, &[]).encode())
        .unwrap();
    // The answer has not been read: the device does not take a new command.
    let next = Message::command(Op::GET_STORAGE_IDS.0, 10, &[]).encode();
    assert!(matches!(host.send(&next), Err(TransportError::Timeout(_))));
    assert!(matches!(
        host.t.read_phase(&mut []),
        Err(TransportError::Other(_))
    ));
    // Garbage is ignored: no answer comes.
    let before = device.transactions();
    host.t.cancel_transaction(9).unwrap();
    host.send(&[1, 2, 3]).unwrap();
    assert!(matches!(
        host.t.read_phase(&mut [0; 512]),
        Err(TransportError::Timeout(_))
    ));
    assert_eq!(device.transactions(), before);
}

#[test]
fn transactions_are_counted_per_operation() {
    let (device, s) = phone(Profile::Android);
    let mut host = Host::session(&device);
    device.reset_stats();
    let root = host.handles(s, 0, ALL);
    host.info(root[0]);
    host.info(root[1]);
    assert_eq!(device.transactions(), 3);
    assert_eq!(device.transactions_of(Op::GET_OBJECT_INFO), 2);
    assert_eq!(device.transactions_of(Op::GET_OBJECT), 0);
}

#[test]
fn a_generated_tree_of_20000_files_lists_in_one_transaction_per_folder() {
    let device = SimDevice::new(Profile::Android);
    let s = device.add_storage(StorageSpec::new("x"));
    assert_eq!(device.add_generated_tree(s, "DCIM", 200, 100).unwrap(), 20_000);
    let mut host = Host::session(&device);
    device.reset_stats();
    let dcim = host.handles(s, 0, ALL)[0];
    let folders = host.prop_list([dcim, 0, ALL, 0, 1]).unwrap();
    let props = Profile::Android.object_props().len();
    let folder_handles: Vec<u32> = folders.entries.iter().step_by(props).map(|e| e.handle).collect();
    let mut files = 0;
    for &folder in folder_handles.iter().filter(|&&h| h != dcim) {
        files += host.prop_list([folder, 0, ALL, 0, 1]).unwrap().entries.len() / props - 1;
    }
    assert_eq!(files, 20_000);
    assert_eq!(device.transactions(), 2 + 200);
    // The whole device in one transaction.
    let all = host
        .prop_list([ALL, 0, Prop::OBJECT_FILE_NAME.0.into(), 0, ALL])
        .unwrap();
    assert_eq!(all.entries.len(), 20_201);
}

#[test]
fn samsung_refuses_the_roots_property_list_only() {
    let (device, s) = phone(Profile::Samsung);
    let mut host = Host::session(&device);
    assert_eq!(
        host.prop_list([0, 0, ALL, 0, 1]).unwrap_err(),
        Rc::INVALID_OBJECT_HANDLE
    );
    let dcim = host.find(s, "DCIM");
    let children = host.prop_list([dcim, 0, ALL, 0, 1]).unwrap();
    assert!(!children.entries.is_empty(), "folders work");
    // The recursive handle listing and the whole-device list are answered.
    assert_eq!(host.handles(s, 0, 0).len(), 8);
    let all = host
        .prop_list([ALL, 0, Prop::OBJECT_FILE_NAME.0.into(), 0, ALL])
        .unwrap();
    assert_eq!(all.entries.len(), 8);
    let info = DeviceInfo::decode(&host.ok(Op::GET_DEVICE_INFO, &[])).unwrap();
    assert!(info.is_android());
}

#[test]
fn a_ptp_camera_lists_through_handles_and_object_info_only() {
    let device = SimDevice::new(Profile::PtpCamera);
    let s = device.add_storage(StorageSpec::memory_card("SD"));
    device
        .add_file(s, "DCIM/100MTPUL/IMG_0001.JPG", media::jpeg(None, 5), t(1))
        .unwrap();
    let mut host = Host::session(&device);
    let info = DeviceInfo::decode(&host.ok(Op::GET_DEVICE_INFO, &[])).unwrap();
    assert_eq!((info.vendor_extension_id, info.is_android()), (0, false));
    for op in [
        Op::GET_OBJECT_PROP_LIST,
        Op::GET_OBJECT_PROPS_SUPPORTED,
        Op::GET_PARTIAL_OBJECT_64,
        Op::SEND_OBJECT_INFO,
    ] {
        assert!(!info.supports(op), "{op}");
        assert_eq!(
            host.code(op, &[ALL, 0, ALL, 0, 1]),
            Rc::OPERATION_NOT_SUPPORTED,
            "{op}"
        );
    }
    let storage = StorageInfo::decode(&host.ok(Op::GET_STORAGE_INFO, &[s])).unwrap();
    assert_eq!(storage.filesystem_type, 3, "DCF");
    let photo = host.find(s, "DCIM/100MTPUL/IMG_0001.JPG");
    assert_eq!(host.info(photo).format, ObjectFormat::EXIF_JPEG);
    assert_eq!(host.ok(Op::GET_OBJECT, &[photo]), media::jpeg(None, 5));
    let thumb = host.ok(Op::GET_THUMB, &[photo]);
    assert_eq!(thumb[..2], [0xFF, 0xD8]);
}

#[test]
fn qemu_calls_every_file_undefined_and_has_no_file_name_property() {
    let (device, s) = phone(Profile::Qemu);
    let mut host = Host::session(&device);
    let info = DeviceInfo::decode(&host.ok(Op::GET_DEVICE_INFO, &[])).unwrap();
    assert_eq!(info.vendor_extension_desc, "");
    assert!(!info.supports(Op::GET_OBJECT_PROP_LIST) && !info.supports(Op::GET_THUMB));
    let image = host.find(s, "DCIM/Camera/IMG_1.jpg");
    assert_eq!(host.info(image).format, ObjectFormat::UNDEFINED);
    assert_eq!(
        host.code(Op::GET_OBJECT_PROP_VALUE, &[image, 0xDC07]),
        Rc::OBJECT_PROP_NOT_SUPPORTED
    );
    assert_eq!(host.ok(Op::GET_OBJECT_PROP_VALUE, &[image, 0xDC04]).len(), 8);
    assert_eq!(host.code(Op::GET_THUMB, &[image]), Rc::OPERATION_NOT_SUPPORTED);
}

#[test]
fn thumbnails_exist_for_images_only() {
    let (device, s) = phone(Profile::Android);
    let mut host = Host::session(&device);
    let image = host.find(s, "DCIM/Camera/IMG_1.jpg");
    let thumb = host.ok(Op::GET_THUMB, &[image]);
    assert_eq!(thumb.len() as u32, host.info(image).thumb_compressed_size);
    assert_eq!(thumb[..2], [0xFF, 0xD8]);
    let notes = host.find(s, "Documents/notes.txt");
    assert_eq!(host.code(Op::GET_THUMB, &[notes]), Rc::NO_THUMBNAIL_PRESENT);
    assert_eq!(host.info(notes).thumb_compressed_size, 0);
}

/// Waits for one event on the interrupt endpoint.
fn event(t: &mut SimTransport, wait: Duration) -> Option<Message> {
    let mut buf = [0u8; 28]; // Android's interrupt packets are at most 28 bytes
    let n = t.read_event(&mut buf, wait).unwrap()?;
    Some(Message::decode(&buf[..n]).unwrap())
}

#[test]
fn a_locked_phone_shows_no_storage_until_unlocked() {
    let (device, s) = phone(Profile::Locked);
    let mut host = Host::session(&device);
    assert!(device.is_locked());
    let ids = Reader::new(&host.ok(Op::GET_STORAGE_IDS, &[]))
        .u32_array("ids")
        .unwrap();
    assert!(ids.is_empty());
    assert_eq!(host.code(Op::GET_STORAGE_INFO, &[s]), Rc::INVALID_STORAGE_ID);
    assert_eq!(
        host.code(Op::GET_OBJECT_HANDLES, &[ALL, 0, ALL]),
        Rc::INVALID_STORAGE_ID
    );
    assert_eq!(
        host.code(Op::GET_OBJECT_HANDLES, &[s, 0, ALL]),
        Rc::INVALID_STORAGE_ID
    );
    assert_eq!(host.code(Op::GET_OBJECT_INFO, &[1]), Rc::INVALID_OBJECT_HANDLE);
    assert_eq!(
        host.prop_list([ALL, 0, ALL, 0, ALL]),
        Err(Rc::INVALID_OBJECT_HANDLE)
    );
    assert_eq!(event(&mut host.t, Duration::ZERO), None);
    // The user unlocks while the initiator waits on the interrupt endpoint.
    let unlocker = device.clone();
    let thread = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        unlocker.unlock();
    });
    let added = event(&mut host.t, Duration::from_secs(10)).expect("StoreAdded");
    thread.join().unwrap();
    assert_eq!(
        (added.kind, EventCode(added.code), added.params.clone()),
        (ContainerKind::Event, EventCode::STORE_ADDED, vec![s])
    );
    assert_eq!(host.handles(s, 0, ALL).len(), 3);
}

#[test]
fn unlocking_without_a_session_sends_no_event() {
    let (device, s) = phone(Profile::Locked);
    let mut host = Host::connect(&device);
    device.unlock();
    host.ok(Op::OPEN_SESSION, &[1]);
    assert_eq!(event(&mut host.t, Duration::ZERO), None);
    assert_eq!(host.handles(s, 0, ALL).len(), 3);
}

#[test]
fn files_added_on_the_phone_are_announced_with_usable_handles() {
    let (device, s) = phone(Profile::Android);
    let mut host = Host::session(&device);
    device.add_file(s, "DCIM/Camera/IMG_3.jpg", "new", t(9)).unwrap();
    let added = event(&mut host.t, Duration::ZERO).expect("ObjectAdded");
    assert_eq!(EventCode(added.code), EventCode::OBJECT_ADDED);
    assert_eq!(host.info(added.params[0]).filename, "IMG_3.jpg");
    // New folders are announced before the file in them.
    device.add_file(s, "Pictures/new.png", "png", t(9)).unwrap();
    let folder = event(&mut host.t, Duration::ZERO).unwrap();
    let file = event(&mut host.t, Duration::ZERO).unwrap();
    assert_eq!(host.info(folder.params[0]).filename, "Pictures");
    assert_eq!(host.info(file.params[0]).parent, folder.params[0]);
    device.remove(s, "Pictures").unwrap();
    let removed = event(&mut host.t, Duration::ZERO).unwrap();
    assert_eq!(
        (EventCode(removed.code), removed.params[0]),
        (EventCode::OBJECT_REMOVED, folder.params[0])
    );
    assert_eq!(
        host.code(Op::GET_OBJECT_INFO, &[file.params[0]]),
        Rc::INVALID_OBJECT_HANDLE
    );
    // Replacing a file changes its info; re-adding a folder changes nothing.
    let image = host.find(s, "DCIM/Camera/IMG_1.jpg");
    device
        .add_file(s, "DCIM/Camera/IMG_1.jpg", "edited", t(10))
        .unwrap();
    device.add_folder(s, "DCIM", t(10)).unwrap();
    let changed = event(&mut host.t, Duration::ZERO).unwrap();
    assert_eq!(
        (EventCode(changed.code), changed.params[0]),
        (EventCode::OBJECT_INFO_CHANGED, image)
    );
    assert_eq!(event(&mut host.t, Duration::ZERO), None);
    assert_eq!(host.info(image).compressed_size, 6);
    // A short buffer cannot hold an event packet.
    device.add_file(s, "x.txt", "x", t(9)).unwrap();
    assert!(matches!(
        host.t.read_event(&mut [0; 8], Duration::ZERO),
        Err(TransportError::Other(_))
    ));
}

/// Starts GetObject and reads until the transport fails; returns the bytes
/// read and the error.
fn pull_until_error(host: &mut Host, handle: u32, chunk: usize) -> (Vec<u8>, TransportError) {
    host.tid += 1;
    host.send(&Message::command(Op::GET_OBJECT.0, host.tid, &[handle]).encode())
        .unwrap();
    let mut buf = vec![0u8; chunk];
    let mut got = Vec::new();
    loop {
        match host.t.read_phase(&mut buf) {
            Ok(0) => panic!("the phase ended without the fault firing"),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => return (got, e),
        }
    }
}

#[test]
fn a_disconnect_after_n_bytes_cuts_exactly_there_and_a_replug_works() {
    let (device, s) = phone(Profile::Android);
    let mut host = Host::session(&device);
    let video = host.find(s, "DCIM/Camera/VID_1.mp4");
    // Listing data does not count: only GetObject's data phase.
    device.arm(Fault::disconnect_after(100_000).during(Op::GET_OBJECT));
    host.handles(s, 0, ALL);
    let (got, error) = pull_until_error(&mut host, video, 4096);
    assert!(matches!(error, TransportError::Disconnected));
    assert_eq!(got.len(), 100_000);
    assert_eq!(got[12..], generated(3, 0, 100_000 - 12));
    assert_eq!(device.armed_faults(), 0);
    assert!(matches!(host.send(&[0; 12]), Err(TransportError::Disconnected)));
    assert!(matches!(host.t.clear_halt(), Err(TransportError::Disconnected)));
    assert!(!device.is_connected());
    // Replug: a new session, new handles, the same files.
    let mut host = Host::session(&device);
    let video = host.find(s, "DCIM/Camera/VID_1.mp4");
    let (data, _) = host.transact(Op::GET_PARTIAL_OBJECT_64, &[video, 99_988, 0, 1 << 20], None);
    assert_eq!(data.unwrap(), generated(3, 99_988, (1 << 20) - 99_988));
}

#[test]
fn a_stall_lasts_until_clear_halt_and_the_session_survives() {
    let (device, s) = phone(Profile::Android);
    let mut host = Host::session(&device);
    let video = host.find(s, "DCIM/Camera/VID_1.mp4");
    device.arm(Fault::stall_after(5000));
    let (got, error) = pull_until_error(&mut host, video, 1024);
    assert_eq!(got.len(), 5000);
    assert!(matches!(error, TransportError::Stall));
    assert!(matches!(
        host.t.read_phase(&mut [0; 512]),
        Err(TransportError::Stall)
    ));
    assert!(matches!(host.send(&[0; 12]), Err(TransportError::Stall)));
    host.t.clear_halt().unwrap();
    // The transaction is gone; the device takes a new one, in the same session.
    assert_eq!(host.code(Op::OPEN_SESSION, &[1]), Rc::SESSION_ALREADY_OPEN);
    assert_eq!(host.ok(Op::GET_OBJECT, &[video]), generated(3, 0, 1 << 20));
}

#[test]
fn a_timeout_fires_once_and_loses_no_data() {
    let (device, s) = phone(Profile::Android);
    let mut host = Host::session(&device);
    let video = host.find(s, "DCIM/Camera/VID_1.mp4");
    host.t.set_timeout(Duration::from_millis(1234));
    device.arm(Fault::timeout_after(777));
    let (mut got, error) = pull_until_error(&mut host, video, 500);
    assert!(matches!(error, TransportError::Timeout(d) if d == Duration::from_millis(1234)));
    assert_eq!(got.len(), 777);
    got.extend(read_phase(&mut host.t).unwrap());
    assert_eq!(got.len(), 12 + (1 << 20));
    assert!(got[12..] == generated(3, 0, 1 << 20));
    assert_eq!(
        Rc(Message::decode(&read_phase(&mut host.t).unwrap()).unwrap().code),
        Rc::OK
    );
}

#[test]
fn operations_can_be_answered_with_an_error_once_or_always() {
    let (device, s) = phone(Profile::Android);
    let mut host = Host::session(&device);
    let video = host.find(s, "DCIM/Camera/VID_1.mp4");
    device.arm(Fault::respond(Op::GET_OBJECT, Rc::DEVICE_BUSY));
    let (data, response) = host.transact(Op::GET_OBJECT, &[video], None);
    assert_eq!((data, Rc(response.code)), (None, Rc::DEVICE_BUSY));
    assert_eq!(host.ok(Op::GET_OBJECT, &[video]).len(), 1 << 20);
    device.arm(Fault::respond(Op::GET_OBJECT_INFO, Rc::GENERAL_ERROR).always());
    for _ in 0..3 {
        assert_eq!(host.code(Op::GET_OBJECT_INFO, &[video]), Rc::GENERAL_ERROR);
    }
    assert_eq!(device.armed_faults(), 1);
    device.disarm_all();
    assert_eq!(host.info(video).filename, "VID_1.mp4");
}

#[test]
fn faults_armed_between_connections_fire_on_the_next_one() {
    let (device, s) = phone(Profile::Android);
    device.arm(Fault::disconnect_after(20).always());
    for _ in 0..3 {
        let mut host = Host::session(&device);
        // GetObjectHandles' data phase (12 + 4 + 3 * 4 bytes) crosses 20 bytes.
        assert!(matches!(
            host.try_transact(Op::GET_OBJECT_HANDLES, &[s, 0, ALL], None),
            Err(TransportError::Disconnected)
        ));
    }
    device.disarm_all();
    assert_eq!(Host::session(&device).handles(s, 0, ALL).len(), 3);
}

#[test]
fn latency_is_added_to_every_transaction() {
    let (device, _) = phone(Profile::Android);
    let mut host = Host::session(&device);
    device.set_latency(Duration::from_millis(30));
    let start = std::time::Instant::now();
    host.ok(Op::GET_STORAGE_IDS, &[]);
    host.ok(Op::GET_STORAGE_IDS, &[]);
    assert!(start.elapsed() >= Duration::from_millis(60));
}

fn object_info(name: &str, format: ObjectFormat, size: u32) -> Vec<u8> {
    ObjectInfo {
        format,
        compressed_size: size,
        filename: name.into(),
        date_modified: "20240526T101500".into(),
        ..ObjectInfo::default()
    }
    .to_bytes()
}

/// SendObjectInfo then SendObject; the response code of whichever failed first.
fn upload(host: &mut Host, storage: u32, parent: u32, name: &str, bytes: &[u8]) -> Result<u32, Rc> {
    let info = object_info(name, ObjectFormat::EXIF_JPEG, bytes.len() as u32);
    let (_, response) = host.transact(Op::SEND_OBJECT_INFO, &[storage, parent], Some(&info));
    if Rc(response.code) != Rc::OK {
        return Err(Rc(response.code));
    }
    let (_, sent) = host.transact(Op::SEND_OBJECT, &[], Some(bytes));
    match Rc(sent.code) {
        Rc::OK => Ok(response.params[2]),
        code => Err(code),
    }
}

#[test]
fn uploads_land_in_the_tree_with_their_date() {
    let (device, s) = phone(Profile::Android);
    let mut host = Host::session(&device);
    let camera = host.find(s, "DCIM/Camera");
    let bytes = generated(5, 0, 3000);
    let handle = upload(&mut host, s, camera, "restored.jpg", &bytes).unwrap();
    let info = host.info(handle);
    assert_eq!(
        (info.filename.as_str(), info.parent, info.compressed_size),
        ("restored.jpg", camera, 3000)
    );
    assert_eq!(info.date_modified, "20240526T101500");
    assert_eq!(host.ok(Op::GET_OBJECT, &[handle]), bytes);
    assert!(
        device
            .content(s, "DCIM/Camera/restored.jpg")
            .unwrap()
            .matches(&bytes[..])
            .unwrap()
    );
    // Root uploads (parent 0xFFFFFFFF) and new folders.
    upload(&mut host, s, ALL, "top.jpg", b"top").unwrap();
    let folder = object_info("Restored", ObjectFormat::ASSOCIATION, 0);
    let (_, response) = host.transact(Op::SEND_OBJECT_INFO, &[s, ALL], Some(&folder));
    assert_eq!((Rc(response.code), response.params[1]), (Rc::OK, 0));
    upload(&mut host, s, response.params[2], "in.jpg", b"in").unwrap();
    assert!(device.paths(s).contains(&"Restored/in.jpg".to_string()));
}

#[test]
fn bad_uploads_are_refused() {
    let (device, s) = phone(Profile::Android);
    let mut host = Host::session(&device);
    for name in [".", "..", "a/b", ""] {
        assert_eq!(
            upload(&mut host, s, ALL, name, b"x"),
            Err(Rc::INVALID_PARAMETER),
            "{name:?}"
        );
    }
    assert_eq!(
        upload(&mut host, s, ALL, "Music", b"x"),
        Err(Rc::GENERAL_ERROR),
        "name taken"
    );
    assert_eq!(
        upload(&mut host, 0x0009_0001, ALL, "a.jpg", b"x"),
        Err(Rc::INVALID_STORAGE_ID)
    );
    let notes = host.find(s, "Documents/notes.txt");
    assert_eq!(
        upload(&mut host, s, notes, "a.jpg", b"x"),
        Err(Rc::INVALID_PARENT_OBJECT)
    );
    let (_, garbage) = host.transact(Op::SEND_OBJECT_INFO, &[s, ALL], Some(&[1, 2, 3]));
    assert_eq!(Rc(garbage.code), Rc::INVALID_DATASET);
    // SendObject must directly follow SendObjectInfo.
    let (_, none) = host.transact(Op::SEND_OBJECT, &[], Some(b"x"));
    assert_eq!(Rc(none.code), Rc::NO_VALID_OBJECT_INFO);
    let info = object_info("late.jpg", ObjectFormat::EXIF_JPEG, 1);
    host.transact(Op::SEND_OBJECT_INFO, &[s, ALL], Some(&info));
    host.ok(Op::GET_STORAGE_IDS, &[]);
    let (_, late) = host.transact(Op::SEND_OBJECT, &[], Some(b"x"));
    assert_eq!(Rc(late.code), Rc::NO_VALID_OBJECT_INFO);
    // Fewer bytes than announced.
    let info = object_info("short.jpg", ObjectFormat::EXIF_JPEG, 10);
    host.transact(Op::SEND_OBJECT_INFO, &[s, ALL], Some(&info));
    let (_, short) = host.transact(Op::SEND_OBJECT, &[], Some(b"12345"));
    assert_eq!(Rc(short.code), Rc::INCOMPLETE_TRANSFER);
    assert!(device.content(s, "short.jpg").is_none());
}

#[test]
fn a_full_or_limited_storage_refuses_what_does_not_fit() {
    let device = SimDevice::new(Profile::Android);
    let s = device.add_storage(StorageSpec::new("small").capacity(1000).max_file_size(600));
    device
        .add_file(s, "old.bin", Content::generated(300, 1), t(1))
        .unwrap();
    let mut host = Host::session(&device);
    assert_eq!(
        upload(&mut host, s, ALL, "big.jpg", &[0; 800]),
        Err(Rc::OBJECT_TOO_LARGE)
    );
    device
        .add_file(s, "older.bin", Content::generated(300, 2), t(1))
        .unwrap();
    assert_eq!(
        upload(&mut host, s, ALL, "fits.jpg", &[0; 500]),
        Err(Rc::STORE_FULL)
    );
    assert!(upload(&mut host, s, ALL, "fits.jpg", &[0; 400]).is_ok());
    // 4 GiB or more announced on a storage with a 4 GiB limit.
    let info = object_info("huge.mp4", ObjectFormat::MP4_CONTAINER, ALL);
    let (_, response) = host.transact(Op::SEND_OBJECT_INFO, &[s, ALL], Some(&info));
    assert_eq!(Rc(response.code), Rc::OBJECT_TOO_LARGE);
    let card = SimDevice::new(Profile::Android);
    let sd = card.add_storage(StorageSpec::new("card").read_only());
    assert_eq!(
        upload(&mut Host::session(&card), sd, ALL, "a.jpg", b"a"),
        Err(Rc::STORE_READ_ONLY)
    );
}

#[test]
fn delete_removes_files_and_whole_folders() {
    let (device, s) = phone(Profile::Android);
    let mut host = Host::session(&device);
    let notes = host.find(s, "Documents/notes.txt");
    host.ok(Op::DELETE_OBJECT, &[notes, 0]);
    assert_eq!(
        host.code(Op::GET_OBJECT_INFO, &[notes]),
        Rc::INVALID_OBJECT_HANDLE
    );
    let dcim = host.find(s, "DCIM");
    let image = host.find(s, "DCIM/Camera/IMG_1.jpg");
    host.ok(Op::DELETE_OBJECT, &[dcim, 0]);
    assert_eq!(host.code(Op::GET_OBJECT, &[image]), Rc::INVALID_OBJECT_HANDLE);
    assert_eq!(device.paths(s), ["Documents/", "Music/"]);
    assert_eq!(host.code(Op::DELETE_OBJECT, &[ALL, 0]), Rc::INVALID_OBJECT_HANDLE);
    // Deletions persist across connections.
    drop(host);
    assert_eq!(Host::session(&device).handles(s, 0, ALL).len(), 2);
}

#[test]
fn a_served_folder_is_read_from_disk_and_written_when_writable() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("DCIM/Camera")).unwrap();
    std::fs::write(dir.path().join("DCIM/Camera/a.jpg"), b"from disk").unwrap();
    let device = SimDevice::new(Profile::Android);
    let s = device
        .serve_folder(StorageSpec::new("disk"), dir.path(), true)
        .unwrap();
    let mut host = Host::session(&device);
    let a = host.find(s, "DCIM/Camera/a.jpg");
    assert_eq!(host.ok(Op::GET_OBJECT, &[a]), b"from disk");
    let camera = host.find(s, "DCIM/Camera");
    let bytes = generated(1, 0, 70_000);
    let b = upload(&mut host, s, camera, "b.jpg", &bytes).unwrap();
    assert_eq!(
        std::fs::read(dir.path().join("DCIM/Camera/b.jpg")).unwrap(),
        bytes
    );
    assert_eq!(host.ok(Op::GET_OBJECT, &[b]), bytes);
    // A failed upload leaves no partial file.
    let info = object_info("c.jpg", ObjectFormat::EXIF_JPEG, 10);
    host.transact(Op::SEND_OBJECT_INFO, &[s, camera], Some(&info));
    host.transact(Op::SEND_OBJECT, &[], Some(b"short"));
    assert!(!dir.path().join("DCIM/Camera/c.jpg").exists());
    host.ok(Op::DELETE_OBJECT, &[camera, 0]);
    assert!(!dir.path().join("DCIM/Camera").exists());

    let read_only = SimDevice::new(Profile::Android);
    let r = read_only
        .serve_folder(StorageSpec::new("disk"), dir.path(), false)
        .unwrap();
    let mut host = Host::session(&read_only);
    let dcim = host.find(r, "DCIM");
    assert_eq!(host.code(Op::DELETE_OBJECT, &[dcim, 0]), Rc::STORE_READ_ONLY);
    assert!(dir.path().join("DCIM").exists());
}

#[test]
fn a_file_that_vanishes_from_disk_makes_the_device_stall_or_fail() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.bin"), vec![7u8; 100_000]).unwrap();
    std::fs::write(dir.path().join("b.bin"), b"b").unwrap();
    let device = SimDevice::new(Profile::Android);
    let s = device
        .serve_folder(StorageSpec::new("disk"), dir.path(), false)
        .unwrap();
    let mut host = Host::session(&device);
    let handles = host.handles(s, 0, ALL);
    // Shrunk after listing: the transfer stalls midway.
    std::fs::write(dir.path().join("a.bin"), b"short").unwrap();
    let (got, error) = pull_until_error(&mut host, handles[0], 64 * 1024);
    assert!(matches!(error, TransportError::Stall), "{error:?}");
    assert_eq!(got.len(), 12 + 5);
    host.t.clear_halt().unwrap();
    // Gone: no data phase, an error response.
    std::fs::remove_file(dir.path().join("b.bin")).unwrap();
    assert_eq!(host.code(Op::GET_OBJECT, &[handles[1]]), Rc::GENERAL_ERROR);
}

#[test]
fn profiles_parse_from_their_names() {
    for profile in Profile::ALL {
        assert_eq!(profile.name().parse::<Profile>(), Ok(profile));
    }
    let error = "blackberry".parse::<Profile>().unwrap_err();
    assert!(error.contains("ptp-camera"), "{error}");
}

/// Reads IN transfers of `max_len` from a device end until it NAKs; returns
/// each transfer's length.
fn transfers(end: &mut crate::sim::DeviceEnd, max_len: usize) -> Vec<usize> {
    let mut lengths = Vec::new();
    while let Ok(crate::sim::BulkIn::Data(bytes)) = end.bulk_in(max_len) {
        lengths.push(bytes.len());
    }
    lengths
}

fn command(op: Op, tid: u32, params: &[u32]) -> Vec<u8> {
    Message::command(op.0, tid, params).encode()
}

#[test]
fn the_device_end_sends_packets_of_the_endpoints_size_and_zero_length_packets() {
    for (speed, packet) in [(crate::sim::Speed::High, 512), (crate::sim::Speed::Super, 1024)] {
        let device = SimConfig::new(Profile::Android).speed(speed).build();
        let s = device.add_storage(StorageSpec::new("x"));
        // A data container of exactly two packets, then its response.
        device
            .add_file(s, "a", Content::generated(2 * packet as u64 - 12, 1), t(1))
            .unwrap();
        let mut end = device.plug();
        end.bulk_out(&command(Op::OPEN_SESSION, 0, &[1])).unwrap();
        assert_eq!(transfers(&mut end, 4 * packet), [12]);
        end.bulk_out(&command(Op::GET_OBJECT_HANDLES, 1, &[ALL, 0, ALL]))
            .unwrap();
        assert_eq!(transfers(&mut end, 4 * packet), [20, 12]);
        end.bulk_out(&command(Op::GET_OBJECT, 2, &[1])).unwrap();
        // Two full packets end with a zero-length packet (it ends the
        // transfer that had room for more), then the response.
        assert_eq!(transfers(&mut end, 4 * packet), [2 * packet, 12]);
        end.bulk_out(&command(Op::GET_OBJECT, 3, &[1])).unwrap();
        // A transfer that fills up exactly: the ZLP comes alone next.
        assert_eq!(transfers(&mut end, 2 * packet), [2 * packet, 0, 12]);
        assert_eq!(device.stats().zero_length_packets, 2);
    }
}

#[test]
fn qemu_sends_no_zero_length_packet_and_phases_run_together() {
    let device = SimDevice::new(Profile::Qemu);
    let s = device.add_storage(StorageSpec::new("x"));
    device.add_file(s, "a", Content::generated(500, 1), t(1)).unwrap();
    let mut end = device.plug();
    end.bulk_out(&command(Op::OPEN_SESSION, 0, &[1])).unwrap();
    transfers(&mut end, 4096);
    end.bulk_out(&command(Op::GET_OBJECT_HANDLES, 1, &[ALL, 0, ALL]))
        .unwrap();
    transfers(&mut end, 4096);
    end.bulk_out(&command(Op::GET_OBJECT, 2, &[1])).unwrap();
    // 512 bytes of data and the 12-byte response in one transfer.
    assert_eq!(transfers(&mut end, 4096), [524]);
    assert_eq!(device.stats().zero_length_packets, 0);
}

#[test]
fn a_split_header_goes_as_its_own_short_transfer() {
    let quirks = crate::sim::Quirks {
        split_header: true,
        ..Profile::Android.quirks()
    };
    let device = SimConfig::new(Profile::Android).quirks(quirks).build();
    let s = device.add_storage(StorageSpec::new("x"));
    device
        .add_file(s, "a", Content::generated(1000, 1), t(1))
        .unwrap();
    let mut end = device.plug();
    end.bulk_out(&command(Op::OPEN_SESSION, 0, &[1])).unwrap();
    transfers(&mut end, 4096);
    end.bulk_out(&command(Op::GET_OBJECT_HANDLES, 1, &[ALL, 0, ALL]))
        .unwrap();
    transfers(&mut end, 4096);
    end.bulk_out(&command(Op::GET_OBJECT, 2, &[1])).unwrap();
    assert_eq!(transfers(&mut end, 4096), [12, 1000, 12]);
}

#[test]
fn the_first_byte_waits_by_the_objects_a_listing_walks() {
    // Long enough that no scheduling delay lets it pass before the first read.
    let timing = crate::sim::Timing {
        per_transaction: Duration::ZERO,
        per_object: Duration::from_millis(50),
        scale: 1.0,
    };
    let device = SimConfig::new(Profile::Android).timing(timing).build();
    let s = device.add_storage(StorageSpec::new("x"));
    device.add_generated_tree(s, "DCIM", 4, 50).unwrap();
    let mut end = device.plug();
    end.bulk_out(&command(Op::OPEN_SESSION, 0, &[1])).unwrap();
    transfers(&mut end, 4096);
    // Every object on the storage (205 of them), counted from the command's
    // arrival: building the answer is part of the phone's time, not added to it.
    let delay = timing.first_byte_delay(205);
    let before_command = Instant::now();
    end.bulk_out(&command(Op::GET_OBJECT_PROP_LIST, 1, &[ALL, 0, ALL, 0, ALL]))
        .unwrap();
    let Ok(crate::sim::BulkIn::Nak { ready_in: Some(wait) }) = end.bulk_in(4096) else {
        panic!("the answer should wait");
    };
    let after_read = Instant::now();
    // Ready at the command's arrival + delay.
    assert!(
        after_read + wait >= before_command + delay,
        "ready before the phone's time"
    );
    assert!(wait <= delay, "later than the phone's time");
    assert_eq!(delay, Duration::from_millis(50 * 205), "deterministic");
    let instant = crate::sim::Timing { scale: 0.0, ..timing };
    assert_eq!(instant.first_byte_delay(205), Duration::ZERO);
}

#[test]
fn an_abandoned_phase_survives_a_new_client_until_cancel() {
    let (device, s) = phone(Profile::Android);
    let mut host = Host::session(&device);
    let video = host.find(s, "DCIM/Camera/VID_1.mp4");
    host.tid += 1;
    host.send(&command(Op::GET_OBJECT, host.tid, &[video])).unwrap();
    let mut some = vec![0u8; 4096];
    host.t.read_phase(&mut some).unwrap();
    drop(host); // the client dies mid-phase; the cable stays in
    let mut next = device.attach();
    let open = command(Op::OPEN_SESSION, 0, &[1]);
    next.write_phase(&open).unwrap();
    assert!(
        matches!(next.end_write_phase(), Err(TransportError::Timeout(_))),
        "NAKed"
    );
    // Its reads get the stale data; a clear halt does not release the server.
    assert!(next.read_phase(&mut some).unwrap() > 0, "stale data");
    next.clear_halt().unwrap();
    next.write_phase(&open).unwrap();
    assert!(next.end_write_phase().is_err(), "still wedged");
    next.cancel_transaction(0).unwrap();
    next.clear_halt().unwrap(); // drops what the host had buffered
    let cancelled = Message::decode(&read_phase(&mut next).unwrap()).unwrap();
    assert_eq!(Rc(cancelled.code), Rc::TRANSACTION_CANCELLED);
    let status = next.device_status().unwrap();
    assert_eq!(
        (status.code, status.params.len()),
        (0x2001, 1),
        "wLength 8, as MtpFfsHandle"
    );
    next.write_phase(&open).unwrap();
    next.end_write_phase().unwrap();
    let answer = Message::decode(&read_phase(&mut next).unwrap()).unwrap();
    assert_eq!(Rc(answer.code), Rc::SESSION_ALREADY_OPEN);
    assert_eq!(device.stats().connections, 1);
}

#[test]
fn a_read_error_stalls_both_endpoints_without_a_response_and_status_says_so_once() {
    let (device, s) = phone(Profile::Android);
    let mut host = Host::session(&device);
    let video = host.find(s, "DCIM/Camera/VID_1.mp4");
    device.arm(Fault::read_error_after(3000));
    let (got, error) = pull_until_error(&mut host, video, 1024);
    assert_eq!(got.len(), 3000);
    assert!(matches!(error, TransportError::Stall));
    let status = host.t.device_status().unwrap();
    assert_eq!(status.code, 0x201F);
    assert_eq!(status.halted_endpoints(), [0x81, 0x01]);
    assert_eq!(host.t.device_status().unwrap().code, 0x2001, "reported once");
    host.t.clear_halt().unwrap();
    assert_eq!(host.code(Op::GET_STORAGE_IDS, &[]), Rc::OK, "the session goes on");
}

#[test]
fn the_class_reset_kills_androids_server_until_replug_and_is_counted() {
    let (device, _) = phone(Profile::Android);
    let mut end = device.plug();
    end.control(crate::sim::class_request::RESET, 0, 0, &[]).unwrap();
    assert_eq!(device.stats().class_resets, 1);
    assert_eq!(
        end.bulk_out(&command(Op::OPEN_SESSION, 0, &[1])),
        Err(crate::sim::EndpointError::Nak)
    );
    let mut host = Host::session(&device);
    assert_eq!(
        host.code(Op::GET_STORAGE_IDS, &[]),
        Rc::OK,
        "a replug brings it back"
    );
}
