//! Protocol tests: the responder driven through raw bytes over the
//! [`Transport`] trait, commands encoded and answers decoded with `ptp`.

use chrono::NaiveDateTime;

use super::*;
use crate::ptp::{
    Codec, ContainerKind, DeviceInfo, Header, Message, ObjectFormat, ObjectInfo, ObjectPropList,
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
    assert_eq!(
        value(image, Prop::DATE_CREATED),
        value(image, Prop::DATE_MODIFIED)
    );
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
