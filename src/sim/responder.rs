//! The MTP responder: the server state of one connection ([`Server`]) and one
//! function per operation, from a decoded command (and its OUT data) to a
//! reply (an IN data source and a response). It reads and changes the
//! [`Model`]; it knows nothing of packets or endpoints.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::OnceLock;

use super::content::Content;
use super::media;
use super::model::{ALL, Model, ObjKey};
use super::profiles::{Profile, qemu_written};
use super::tree::{Node, has_thumbnail, is_valid_name};
use crate::ptp::HEADER_LEN;
use crate::ptp::MTP_VENDOR_EXTENSION_ID;
use crate::ptp::{
    Codec, ContainerKind, DataType, DeviceInfo, EventCode, Header, Message, ObjectFormat, ObjectInfo,
    ObjectPropDesc, OperationCode as Op, PropForm, PropListEntry, PropertyCode as Prop, ResponseCode as Rc,
    Value, Writer,
};
use crate::ptp::{format_ptp_time, parse_ptp_time};

/// What the IN data phase carries.
pub(crate) enum DataSource {
    /// A dataset built in memory.
    Bytes(Vec<u8>),
    /// Object bytes, streamed from their content.
    Content { content: Content, offset: u64, len: u64 },
}

/// The device's answer to one operation.
pub(crate) struct Reply {
    pub(crate) data: Option<DataSource>,
    pub(crate) code: Rc,
    pub(crate) params: Vec<u32>,
    /// Objects the operation had to walk (for the time model).
    pub(crate) touched: u64,
    /// The device never answers (it hangs until a Cancel or a bus reset).
    pub(crate) hangs: bool,
}

impl Reply {
    fn ok() -> Reply {
        Reply::code(Rc::OK)
    }

    pub(crate) fn code(code: Rc) -> Reply {
        Reply {
            data: None,
            code,
            params: Vec::new(),
            touched: 0,
            hangs: false,
        }
    }

    fn params(params: Vec<u32>) -> Reply {
        Reply {
            params,
            ..Reply::ok()
        }
    }

    fn data(bytes: Vec<u8>) -> Reply {
        Reply {
            data: Some(DataSource::Bytes(bytes)),
            ..Reply::ok()
        }
    }

    fn dataset(value: &impl Codec) -> Reply {
        Reply::data(value.to_bytes())
    }

    fn touching(mut self, objects: u64) -> Reply {
        self.touched = objects;
        self
    }
}

type OpResult = Result<Reply, Rc>;

/// Where the payload of an OUT data phase goes.
pub(crate) enum Sink {
    /// Kept in memory: a dataset, or an upload to an in-memory storage.
    Memory(Vec<u8>),
    /// An upload written straight to a served folder; removed unless kept.
    Disk(DiskUpload),
    /// Read and dropped (an upload the device will refuse).
    Discard,
}

/// A file being uploaded into a served folder. Dropping it before
/// [`DiskUpload::keep`] removes the partial file, as Android does when a
/// transfer fails.
pub(crate) struct DiskUpload {
    file: File,
    path: PathBuf,
    kept: bool,
}

impl DiskUpload {
    fn create(path: PathBuf) -> io::Result<DiskUpload> {
        let file = File::options().write(true).create_new(true).open(&path)?;
        Ok(DiskUpload {
            file,
            path,
            kept: false,
        })
    }

    /// Keeps the file, dated `mtime` (the device's local time).
    fn keep(mut self, mtime: chrono::NaiveDateTime) -> io::Result<PathBuf> {
        if let Some(time) = mtime.and_local_timezone(chrono::Local).earliest() {
            self.file.set_modified(time.into())?;
        }
        self.file.sync_all()?;
        self.kept = true;
        Ok(self.path.clone())
    }
}

impl Drop for DiskUpload {
    fn drop(&mut self) {
        if !self.kept {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// An OUT data phase as it arrives: the container header, then the payload
/// streamed into a sink.
pub(crate) struct OutData {
    header: Vec<u8>,
    sink: Sink,
    received: u64,
    error: Option<io::Error>,
}

impl OutData {
    fn new(sink: Sink) -> OutData {
        OutData {
            header: Vec::with_capacity(HEADER_LEN),
            sink,
            received: 0,
            error: None,
        }
    }

    /// Takes the next bytes of the container.
    pub(crate) fn write(&mut self, mut bytes: &[u8]) {
        let need = HEADER_LEN.saturating_sub(self.header.len());
        let take = need.min(bytes.len());
        self.header.extend(&bytes[..take]);
        bytes = &bytes[take..];
        if bytes.is_empty() {
            return;
        }
        self.received += bytes.len() as u64;
        match &mut self.sink {
            Sink::Memory(buffer) => buffer.extend(bytes),
            Sink::Disk(upload) => {
                if self.error.is_none() {
                    self.error = upload.file.write_all(bytes).err();
                }
            }
            Sink::Discard => {}
        }
    }

    /// The container's declared length, once its header has arrived
    /// (`None` for 0xFFFFFFFF, 4 GiB or more: a short packet ends it).
    pub(crate) fn declared_len(&self) -> Option<u64> {
        let header = Header::decode(&self.header).ok()?;
        (header.length != u32::MAX).then_some(u64::from(header.length))
    }

    /// Bytes of the container so far, header included.
    pub(crate) fn len(&self) -> u64 {
        self.header.len() as u64 + self.received
    }

    /// Whether a whole data container arrived (its header says Data).
    fn is_data_container(&self) -> bool {
        Header::decode(&self.header).is_ok_and(|h| h.kind == ContainerKind::Data)
    }
}

/// An upload announced by SendObjectInfo, waiting for its SendObject.
#[derive(Debug)]
struct PendingSend {
    key: ObjKey,
    /// ObjectInfo's 32-bit size: 0xFFFFFFFF when 4 GiB or more.
    size_field: u32,
    mtime: chrono::NaiveDateTime,
}

/// The MTP server of one USB connection: the session, the upload under way
/// and the events waiting for the interrupt endpoint.
#[derive(Debug, Default)]
pub(crate) struct Server {
    session: Option<u32>,
    last_transaction: u32,
    pending_send: Option<PendingSend>,
    events: VecDeque<Vec<u8>>,
    /// Answer Device Busy until Get Device Status is polled (SIC, after a Cancel).
    pub(crate) busy_until_status: bool,
}

impl Server {
    /// Whether a session is open (events go only to an open session).
    pub(crate) fn session_open(&self) -> bool {
        self.session.is_some()
    }

    /// Queues an event, if a session is open to receive it (Android sends
    /// none otherwise). Its transaction id is the last command's. Returns
    /// whether it was queued.
    pub(crate) fn event(&mut self, code: EventCode, params: &[u32]) -> bool {
        if self.session.is_none() {
            return false;
        }
        let event = Message::event(code.0, self.last_transaction, params);
        self.events.push_back(event.encode());
        true
    }

    /// The next event container for the interrupt endpoint.
    pub(crate) fn next_event(&mut self) -> Option<Vec<u8>> {
        self.events.pop_front()
    }

    /// The transaction is abandoned (Cancel, a stall): an announced upload is forgotten.
    pub(crate) fn abandon(&mut self) {
        self.pending_send = None;
    }

    /// An upload abandoned part way, on a device that writes uploads as
    /// they arrive (QEMU's usb-mtp): what it had written stays, as a file
    /// of that length (see [`qemu_written`]).
    pub(crate) fn keep_written_part(&mut self, model: &mut Model, data: OutData) {
        let Some(pending) = self.pending_send.take() else {
            return;
        };
        let declared = data.declared_len().map_or(u64::from(pending.size_field), |len| {
            len.saturating_sub(HEADER_LEN as u64)
        });
        let Some(written) = qemu_written(data.received, declared) else {
            return;
        };
        let Some(storage) = model.storage_mut(pending.key.storage) else {
            return;
        };
        let content = match data.sink {
            Sink::Memory(mut bytes) => {
                bytes.truncate(usize::try_from(written).unwrap_or(usize::MAX));
                Content::bytes(bytes)
            }
            Sink::Disk(upload) => {
                if upload.file.set_len(written).is_err() {
                    return;
                }
                let Ok(path) = upload.keep(pending.mtime) else {
                    return;
                };
                Content::File { path, len: written }
            }
            Sink::Discard => return,
        };
        let node = Node::File {
            mtime: pending.mtime,
            content,
        };
        let _ = storage.insert(&pending.key.path, node, pending.mtime);
    }

    /// Records a command's arrival; `Some(sink)` when an OUT data phase follows.
    pub(crate) fn receive_command(&mut self, model: &mut Model, command: &Message) -> Option<OutData> {
        let op = Op(command.code);
        model.stats.transactions += 1;
        *model.stats.by_operation.entry(op).or_default() += 1;
        self.last_transaction = command.transaction_id;
        let has_out_data = [Op::SEND_OBJECT_INFO, Op::SEND_OBJECT].contains(&op);
        (has_out_data && model.config.profile.supports(op)).then(|| OutData::new(self.out_sink(model, op)))
    }

    /// Where the OUT data phase of `op` goes: uploads into a served folder
    /// are written straight to disk as they arrive.
    fn out_sink(&self, model: &Model, op: Op) -> Sink {
        if op != Op::SEND_OBJECT {
            return Sink::Memory(Vec::new());
        }
        let Some(pending) = &self.pending_send else {
            return Sink::Discard;
        };
        let disk_path = model
            .storage(pending.key.storage)
            .and_then(|s| s.disk_path(&pending.key.path));
        match disk_path {
            Some(path) => DiskUpload::create(path).map_or(Sink::Discard, Sink::Disk),
            None => Sink::Memory(Vec::new()),
        }
    }

    /// Runs one operation. `data` is the OUT data phase, for the operations
    /// that take one.
    pub(crate) fn execute(&mut self, model: &mut Model, command: &Message, data: Option<OutData>) -> Reply {
        Responder { model, server: self }.execute(command, data)
    }
}

/// One operation being answered.
struct Responder<'a> {
    model: &'a mut Model,
    server: &'a mut Server,
}

fn prop_type(prop: Prop) -> DataType {
    match prop {
        Prop::STORAGE_ID | Prop::PARENT_OBJECT => DataType::UINT32,
        Prop::OBJECT_FORMAT | Prop::PROTECTION_STATUS => DataType::UINT16,
        Prop::OBJECT_SIZE => DataType::UINT64,
        Prop::PERSISTENT_UNIQUE_OBJECT_IDENTIFIER => DataType::UINT128,
        _ => DataType::STRING,
    }
}

/// A property code parameter; codes are 16 bits, so more is no property.
fn prop_code(param: u32) -> Result<Prop, Rc> {
    u16::try_from(param)
        .map(Prop)
        .map_err(|_| Rc::OBJECT_PROP_NOT_SUPPORTED)
}

/// What "convert videos to AVC" sends for a video: other bytes, 3/4 of
/// the length (deterministic, so that a test can tell them apart).
fn transcoded(original: &Content) -> Content {
    let len = original.len() - original.len() / 4;
    Content::generated(len, 0xA7C0_0000 ^ len)
}

fn tree_is_video(format: ObjectFormat) -> bool {
    [
        ObjectFormat::MP4_CONTAINER,
        ObjectFormat::CONTAINER_3GP,
        ObjectFormat::AVI,
    ]
    .contains(&format)
}

fn thumbnail() -> &'static [u8] {
    static THUMB: OnceLock<Vec<u8>> = OnceLock::new();
    THUMB.get_or_init(media::thumbnail)
}

/// What one object's properties are made of.
struct ObjectFacts {
    handle: u32,
    parent: u32,
    format: ObjectFormat,
    size: u64,
    is_folder: bool,
    name: String,
    date: String,
}

impl ObjectFacts {
    fn value(&self, storage: u32, prop: Prop) -> Value {
        match prop {
            Prop::STORAGE_ID => Value::Int(DataType::UINT32, storage.into()),
            Prop::OBJECT_FORMAT => Value::Int(DataType::UINT16, self.format.0.into()),
            Prop::PROTECTION_STATUS => Value::Int(DataType::UINT16, 0),
            Prop::OBJECT_SIZE => Value::Int(DataType::UINT64, self.size.into()),
            Prop::PARENT_OBJECT => Value::Int(DataType::UINT32, self.parent.into()),
            // Android and QEMU both use the handle: unique, but not persistent.
            Prop::PERSISTENT_UNIQUE_OBJECT_IDENTIFIER => Value::Int(DataType::UINT128, self.handle.into()),
            Prop::OBJECT_FILE_NAME | Prop::NAME => Value::Str(self.name.clone()),
            _ => Value::Str(self.date.clone()),
        }
    }
}

impl Responder<'_> {
    /// Runs one operation. `data` is the OUT data phase, for the operations
    /// that take one.
    fn execute(&mut self, command: &Message, data: Option<OutData>) -> Reply {
        let op = Op(command.code);
        // SendObject must directly follow its SendObjectInfo: anything else forgets it.
        let pending_send = self.server.pending_send.take();
        if let Some(code) = self.model.faults.response_for(op) {
            return Reply::code(code);
        }
        if !self.model.config.profile.supports(op) {
            return Reply::code(Rc::OPERATION_NOT_SUPPORTED);
        }
        let outside_session_ok = op == Op::OPEN_SESSION
            || (op == Op::GET_DEVICE_INFO && !self.model.config.quirks.device_info_needs_session);
        if self.server.session.is_none() && !outside_session_ok {
            return Reply::code(Rc::SESSION_NOT_OPEN);
        }
        if self.server.busy_until_status {
            return Reply::code(Rc::DEVICE_BUSY);
        }
        let quirks = self.model.config.quirks;
        let p = |i| command.param(i);
        let result = match op {
            Op::GET_DEVICE_INFO => Ok(Reply::dataset(&self.device_info())),
            Op::OPEN_SESSION => self.open_session(p(0)),
            Op::CLOSE_SESSION => {
                self.server.session = None;
                Ok(Reply::ok())
            }
            Op::GET_STORAGE_IDS => Ok(self.storage_ids()),
            Op::GET_STORAGE_INFO => self
                .model
                .storage(p(0))
                .map(|s| Reply::dataset(&s.info()))
                .ok_or(Rc::INVALID_STORAGE_ID),
            Op::GET_NUM_OBJECTS => self
                .list(p(0), p(1), p(2))
                .map(|(keys, walked)| Reply::params(vec![keys.len() as u32]).touching(walked)),
            Op::GET_OBJECT_HANDLES => self.object_handles(p(0), p(1), p(2)),
            Op::GET_OBJECT_INFO => self.object_info(p(0)),
            Op::GET_OBJECT => self.whole_object(p(0)),
            Op::GET_PARTIAL_OBJECT => self.object_data(p(0), p(1).into(), p(2).into(), true),
            // Some responders read 0x95C1's parameters as GetPartialObject's.
            Op::GET_PARTIAL_OBJECT_64 if quirks.partial64_as_partial => {
                self.object_data(p(0), p(1).into(), p(2).into(), true)
            }
            // AOSP's convention: offset low 32 bits, then high 32 bits, then the count.
            Op::GET_PARTIAL_OBJECT_64 => {
                let offset = u64::from(p(1)) | (u64::from(p(2)) << 32);
                self.object_data(p(0), offset, p(3).into(), true)
            }
            Op::GET_THUMB => self.thumb(p(0)),
            Op::DELETE_OBJECT => self.delete(p(0)),
            Op::SEND_OBJECT_INFO => self.send_object_info(p(0), p(1), data),
            Op::SEND_OBJECT => self.send_object(pending_send, data),
            Op::GET_OBJECT_PROPS_SUPPORTED => {
                let codes: Vec<u16> = self
                    .model
                    .config
                    .profile
                    .object_props()
                    .iter()
                    .map(|p| p.0)
                    .collect();
                let mut out = Vec::new();
                out.put_u16_array(&codes);
                Ok(Reply::data(out))
            }
            Op::GET_OBJECT_PROP_DESC => prop_code(p(0)).and_then(|prop| self.prop_desc(prop)),
            Op::GET_OBJECT_PROP_VALUE => prop_code(p(1)).and_then(|prop| self.prop_value(p(0), prop)),
            Op::GET_OBJECT_PROP_LIST => self.prop_list(p(0), p(1), p(2), p(3), p(4)),
            _ => Err(Rc::OPERATION_NOT_SUPPORTED),
        };
        result.unwrap_or_else(Reply::code)
    }

    fn device_info(&self) -> DeviceInfo {
        let profile = self.model.config.profile;
        let identity = &self.model.config.identity;
        let (vendor_extension_id, vendor_extension_desc) = match profile {
            Profile::Android | Profile::Locked | Profile::Samsung => {
                (MTP_VENDOR_EXTENSION_ID, "microsoft.com: 1.0; android.com: 1.0;")
            }
            Profile::Qemu => (MTP_VENDOR_EXTENSION_ID, ""),
            Profile::PtpCamera | Profile::IPhone | Profile::CameraQuirky => (0, ""),
        };
        DeviceInfo {
            standard_version: 100,
            vendor_extension_id,
            vendor_extension_version: if vendor_extension_id == 0 { 0 } else { 100 },
            vendor_extension_desc: vendor_extension_desc.into(),
            functional_mode: 0,
            operations_supported: profile.operations().to_vec(),
            events_supported: profile.events().to_vec(),
            device_properties_supported: Vec::new(),
            capture_formats: Vec::new(),
            playback_formats: profile.formats().to_vec(),
            manufacturer: identity.manufacturer.clone(),
            model: identity.model.clone(),
            device_version: identity.device_version.clone(),
            serial_number: identity.serial.clone(),
        }
    }

    fn open_session(&mut self, id: u32) -> OpResult {
        if let Some(open) = self.server.session {
            return Ok(Reply {
                params: vec![open],
                ..Reply::code(Rc::SESSION_ALREADY_OPEN)
            });
        }
        if id == 0 {
            return Err(Rc::INVALID_PARAMETER);
        }
        self.server.session = Some(id);
        if self.model.config.renumber_handles {
            self.model.handles.renumber();
        }
        Ok(Reply::ok())
    }

    fn storage_ids(&self) -> Reply {
        let mut ids = self.model.visible_storage_ids();
        if self.model.untrusted {
            ids = vec![super::UNTRUSTED_PLACEHOLDER];
        } else if self.model.config.quirks.empty_card_slot && !self.model.locked {
            // The next slot's physical store, with no logical storage in it.
            ids.push((self.model.storages.len() as u32 + 1) << 16);
        }
        let mut out = Vec::new();
        out.put_u32_array(&ids);
        Reply::data(out)
    }

    /// The object a handle names, if it is still on the device.
    fn key_of(&self, handle: u32) -> Result<ObjKey, Rc> {
        self.model.key_of(handle).ok_or(Rc::INVALID_OBJECT_HANDLE)
    }

    /// Storages a request names: one, or every visible one for 0xFFFFFFFF
    /// (refused when there are none, as Android does while locked).
    fn storages_named(&self, storage: u32) -> Result<Vec<u32>, Rc> {
        if storage != ALL {
            return self
                .model
                .storage(storage)
                .map(|s| vec![s.id])
                .ok_or(Rc::INVALID_STORAGE_ID);
        }
        let ids = self.model.visible_storage_ids();
        if ids.is_empty() {
            return Err(Rc::INVALID_STORAGE_ID);
        }
        Ok(ids)
    }

    /// GetObjectHandles' selection: `parent` 0xFFFFFFFF is the root, 0 every
    /// object below it (depth first, parents before children), anything
    /// else a folder's children; `format` 0 means any. Also returns how many
    /// objects the device walked to answer.
    fn list(&self, storage: u32, format: u32, parent: u32) -> Result<(Vec<ObjKey>, u64), Rc> {
        let storages = self.storages_named(storage)?;
        let mut keys = Vec::new();
        match parent {
            ALL => {
                for &id in &storages {
                    self.model.collect(&ObjKey::new(id, ""), false, format, &mut keys);
                }
            }
            0 => {
                let keys = self.every_object(storage, format)?;
                return Ok((keys, self.model.object_count(&storages)));
            }
            handle => {
                let folder = self.key_of(handle)?;
                if !self.model.node(&folder).is_some_and(Node::is_folder) {
                    return Err(Rc::INVALID_PARENT_OBJECT);
                }
                if self.model.config.quirks.folder_lists_itself {
                    keys.push(folder.clone());
                }
                self.model.collect(&folder, false, format, &mut keys);
                keys.extend(self.looped_parent(&folder));
            }
        }
        // Fuji: the root's listing is every object on the storage.
        if parent == ALL && self.model.config.quirks.root_lists_every_object {
            let keys = self.every_object(storage, format)?;
            return Ok((keys, self.model.object_count(&storages)));
        }
        let walked = keys.len() as u64;
        Ok((keys, walked))
    }

    /// The parent a lying folder lists among its children (a loop), if it lies so.
    fn looped_parent(&self, folder: &ObjKey) -> Option<ObjKey> {
        let looping = self
            .model
            .lies
            .about(folder)
            .is_some_and(|lie| lie.lists_its_parent);
        folder.parent().filter(|_| looping)
    }

    /// Every object on the named storages, depth first, parents before children.
    fn every_object(&self, storage: u32, format: u32) -> Result<Vec<ObjKey>, Rc> {
        let mut keys = Vec::new();
        for id in self.storages_named(storage)? {
            self.model.collect(&ObjKey::new(id, ""), true, format, &mut keys);
        }
        Ok(keys)
    }

    fn object_handles(&mut self, storage: u32, format: u32, parent: u32) -> OpResult {
        let (keys, walked) = self.list(storage, format, parent)?;
        let handles: Vec<u32> = keys.iter().map(|k| self.model.handles.assign(k)).collect();
        let mut out = Vec::new();
        out.put_u32_array(&handles);
        Ok(Reply::data(out).touching(walked))
    }

    fn facts(&mut self, key: &ObjKey) -> Result<ObjectFacts, Rc> {
        let handle = self.model.handles.assign(key);
        let parent = key.parent().map_or(0, |p| self.model.handles.assign(&p));
        let node = self.model.node(key).ok_or(Rc::INVALID_OBJECT_HANDLE)?;
        let truth = ObjectFacts {
            handle,
            parent,
            format: self.model.format_of(key, node),
            size: node.size(),
            is_folder: node.is_folder(),
            name: key.name().to_string(),
            date: String::new(),
        };
        let mtime = node.mtime();
        // Android: DateCreated = DateModified = the file's mtime, no zone.
        let date = format_ptp_time(self.model.lies.date(key, mtime));
        let Some(lie) = self.model.lies.about(key) else {
            return Ok(ObjectFacts { date, ..truth });
        };
        Ok(ObjectFacts {
            format: lie.format.unwrap_or(truth.format),
            size: lie.size.unwrap_or(truth.size),
            name: lie.name.clone().unwrap_or(truth.name),
            date,
            ..truth
        })
    }

    fn object_info(&mut self, handle: u32) -> OpResult {
        let key = self.key_of(handle)?;
        let facts = self.facts(&key)?;
        let thumb = has_thumbnail(facts.format) && self.model.config.profile.supports(Op::GET_THUMB);
        let info = ObjectInfo {
            storage_id: key.storage,
            format: facts.format,
            compressed_size: ObjectInfo::size_field(facts.size),
            thumb_format: if thumb {
                ObjectFormat::EXIF_JPEG
            } else {
                ObjectFormat(0)
            },
            thumb_compressed_size: if thumb { thumbnail().len() as u32 } else { 0 },
            thumb_pix_width: if thumb { 8 } else { 0 },
            thumb_pix_height: if thumb { 8 } else { 0 },
            parent: facts.parent,
            association_type: u16::from(facts.is_folder),
            filename: facts.name.clone(),
            date_created: facts.date.clone(),
            date_modified: facts.date,
            ..ObjectInfo::default()
        };
        Ok(Reply::dataset(&info))
    }

    fn file_content(&self, handle: u32) -> Result<Content, Rc> {
        let key = self.key_of(handle)?;
        match self.model.node(&key) {
            Some(Node::File { content, .. }) => Ok(content.clone()),
            _ => Err(Rc::INVALID_OBJECT_HANDLE),
        }
    }

    /// GetObject: the whole file, or with Android's "convert videos to AVC"
    /// a transcoded copy of a video, whose length differs from the listed one.
    fn whole_object(&self, handle: u32) -> OpResult {
        let content = self.file_content(handle)?;
        let key = self.key_of(handle)?;
        let is_video = self
            .model
            .node(&key)
            .is_some_and(|n| tree_is_video(self.model.format_of(&key, n)));
        let content = if self.model.config.quirks.transcode_videos && is_video {
            transcoded(&content)
        } else {
            content
        };
        let len = content.len();
        Ok(Reply {
            data: Some(DataSource::Content {
                content,
                offset: 0,
                len,
            }),
            ..Reply::ok()
        })
    }

    /// The partial reads, which clip at the end of the file and say in the
    /// response how many bytes they sent. Samsung's stack hangs on one that
    /// reaches the end of the file with its last packet exactly 512 bytes.
    fn object_data(&self, handle: u32, offset: u64, max: u64, partial: bool) -> OpResult {
        let content = self.file_content(handle)?;
        let size = content.len();
        if offset > size {
            return Err(Rc::INVALID_PARAMETER);
        }
        let len = if self.model.config.quirks.partial_reads_empty && partial {
            0
        } else {
            max.min(size - offset)
        };
        let hangs = self.model.config.quirks.partial_read_eof_hang
            && partial
            && len > 0
            && offset + len == size
            && (len + HEADER_LEN as u64).is_multiple_of(512);
        Ok(Reply {
            params: if partial { vec![len as u32] } else { Vec::new() },
            data: Some(DataSource::Content { content, offset, len }),
            hangs,
            ..Reply::ok()
        })
    }

    fn thumb(&self, handle: u32) -> OpResult {
        let key = self.key_of(handle)?;
        let node = self.model.node(&key).ok_or(Rc::INVALID_OBJECT_HANDLE)?;
        if node.is_folder() || !has_thumbnail(self.model.format_of(&key, node)) {
            return Err(Rc::NO_THUMBNAIL_PRESENT);
        }
        match node {
            Node::File { content, .. } => content
                .thumbnail()
                .map(Reply::data)
                .ok_or(Rc::NO_THUMBNAIL_PRESENT),
            Node::Folder { .. } => Err(Rc::NO_THUMBNAIL_PRESENT),
        }
    }

    /// Deletes a file, or a folder with everything in it (as Android does).
    fn delete(&mut self, handle: u32) -> OpResult {
        let key = self.key_of(handle)?;
        let storage = self
            .model
            .storage_mut(key.storage)
            .ok_or(Rc::INVALID_OBJECT_HANDLE)?;
        if !storage.is_writable() {
            return Err(Rc::STORE_READ_ONLY);
        }
        if let Some(path) = storage.disk_path(&key.path) {
            let removed = if path.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
            removed.map_err(|_| Rc::GENERAL_ERROR)?;
        }
        storage.remove(&key.path);
        self.model.handles.forget_subtree(&key);
        Ok(Reply::ok())
    }

    fn send_object_info(&mut self, storage_id: u32, parent: u32, data: Option<OutData>) -> OpResult {
        let storage = self.model.storage(storage_id).ok_or(Rc::INVALID_STORAGE_ID)?;
        if !storage.is_writable() {
            return Err(Rc::STORE_READ_ONLY);
        }
        let (free, max_file_size) = (storage.free_bytes(), storage.spec.max_file_size);
        let folder = match parent {
            0 | ALL => ObjKey::new(storage_id, ""),
            handle => {
                let key = self.key_of(handle)?;
                if key.storage != storage_id || !self.model.node(&key).is_some_and(Node::is_folder) {
                    return Err(Rc::INVALID_PARENT_OBJECT);
                }
                key
            }
        };
        let info = match data {
            Some(OutData {
                sink: Sink::Memory(bytes),
                ..
            }) => ObjectInfo::decode(&bytes).map_err(|_| Rc::INVALID_DATASET)?,
            _ => return Err(Rc::INVALID_DATASET),
        };
        if !is_valid_name(&info.filename) {
            return Err(Rc::INVALID_PARAMETER);
        }
        let key = folder.child(&info.filename);
        if self.model.node(&key).is_some() {
            return Err(Rc::GENERAL_ERROR);
        }
        let mtime = parse_ptp_time(&info.date_modified)
            .map_or_else(|| chrono::Local::now().naive_local(), |t| t.local);
        let parent_handle = if folder.path.is_empty() {
            0
        } else {
            self.model.handles.assign(&folder)
        };
        if info.format.is_folder() {
            self.create_folder(&key, mtime)?;
        } else {
            let too_large = match (info.known_size(), max_file_size) {
                (None, Some(max)) => max < u64::from(u32::MAX),
                (Some(size), Some(max)) => size > max,
                (_, None) => false,
            };
            if too_large {
                return Err(Rc::OBJECT_TOO_LARGE);
            }
            if info.known_size().is_some_and(|size| size > free) {
                return Err(Rc::STORE_FULL);
            }
        }
        let handle = self.model.handles.assign(&key);
        if !info.format.is_folder() {
            self.server.pending_send = Some(PendingSend {
                key,
                size_field: info.compressed_size,
                mtime,
            });
        }
        Ok(Reply::params(vec![storage_id, parent_handle, handle]))
    }

    fn create_folder(&mut self, key: &ObjKey, mtime: chrono::NaiveDateTime) -> Result<(), Rc> {
        let storage = self
            .model
            .storage_mut(key.storage)
            .ok_or(Rc::INVALID_STORAGE_ID)?;
        if let Some(path) = storage.disk_path(&key.path) {
            std::fs::create_dir(path).map_err(|_| Rc::GENERAL_ERROR)?;
        }
        storage
            .insert(&key.path, Node::folder(mtime), mtime)
            .map(drop)
            .map_err(|_| Rc::GENERAL_ERROR)
    }

    fn send_object(&mut self, pending: Option<PendingSend>, data: Option<OutData>) -> OpResult {
        let pending = pending.ok_or(Rc::NO_VALID_OBJECT_INFO)?;
        let data = data.ok_or(Rc::INCOMPLETE_TRANSFER)?;
        if data.error.is_some() {
            return Err(Rc::GENERAL_ERROR);
        }
        let declared = (pending.size_field != ALL).then_some(u64::from(pending.size_field));
        if !data.is_data_container() || declared.is_some_and(|size| size != data.received) {
            return Err(Rc::INCOMPLETE_TRANSFER);
        }
        let storage = self
            .model
            .storage_mut(pending.key.storage)
            .ok_or(Rc::INVALID_STORAGE_ID)?;
        if data.received > storage.free_bytes() {
            return Err(Rc::STORE_FULL);
        }
        if storage.spec.max_file_size.is_some_and(|max| data.received > max) {
            return Err(Rc::OBJECT_TOO_LARGE);
        }
        let content = match data.sink {
            Sink::Memory(bytes) => Content::bytes(bytes),
            Sink::Disk(upload) => {
                let path = upload.keep(pending.mtime).map_err(|_| Rc::GENERAL_ERROR)?;
                Content::File {
                    path,
                    len: data.received,
                }
            }
            Sink::Discard => return Err(Rc::GENERAL_ERROR),
        };
        let node = Node::File {
            mtime: pending.mtime,
            content,
        };
        storage
            .insert(&pending.key.path, node, pending.mtime)
            .map_err(|_| Rc::GENERAL_ERROR)?;
        Ok(Reply::ok())
    }

    fn supported_prop(&self, prop: Prop) -> Result<(), Rc> {
        if self.model.config.profile.object_props().contains(&prop) {
            Ok(())
        } else {
            Err(Rc::OBJECT_PROP_NOT_SUPPORTED)
        }
    }

    fn prop_desc(&self, prop: Prop) -> OpResult {
        self.supported_prop(prop)?;
        let data_type = prop_type(prop);
        let default = if data_type == DataType::STRING {
            Value::Str(String::new())
        } else {
            Value::Int(data_type, 0)
        };
        let form = match prop {
            Prop::DATE_CREATED | Prop::DATE_MODIFIED | Prop::DATE_ADDED => PropForm::DateTime,
            _ => PropForm::None,
        };
        Ok(Reply::dataset(&ObjectPropDesc {
            property: prop,
            data_type,
            settable: prop == Prop::OBJECT_FILE_NAME,
            default,
            group_code: 0,
            form,
        }))
    }

    fn prop_value(&mut self, handle: u32, prop: Prop) -> OpResult {
        let key = self.key_of(handle)?;
        self.supported_prop(prop)?;
        let mut out = Vec::new();
        self.facts(&key)?.value(key.storage, prop).encode(&mut out);
        Ok(Reply::data(out))
    }

    /// Android's GetObjectPropList: one property or all (0xFFFFFFFF), no
    /// groups; depth 0 (the object), 1 (its children, then the object itself),
    /// or 0xFFFFFFFF with handle 0 or 0xFFFFFFFF (every object).
    fn prop_list(&mut self, handle: u32, format: u32, prop: u32, group: u32, depth: u32) -> OpResult {
        if self.model.locked {
            return Err(Rc::INVALID_OBJECT_HANDLE);
        }
        // Samsung: the root's list is refused; folders and "every object" work.
        if handle == 0 && self.model.config.quirks.refuse_root_prop_list {
            return Err(Rc::INVALID_OBJECT_HANDLE);
        }
        if prop == 0 {
            return Err(if group == 0 {
                Rc::PARAMETER_NOT_SUPPORTED
            } else {
                Rc::SPECIFICATION_BY_GROUP_UNSUPPORTED
            });
        }
        let props: Vec<Prop> = if prop == ALL {
            self.model.config.profile.object_props().to_vec()
        } else {
            let prop = prop_code(prop)?;
            self.supported_prop(prop)?;
            vec![prop]
        };
        let (handle, depth) = if depth == ALL && (handle == 0 || handle == ALL) {
            (ALL, 0)
        } else {
            (handle, depth)
        };
        if depth > 1 {
            return Err(Rc::SPECIFICATION_BY_DEPTH_UNSUPPORTED);
        }
        let matches = |model: &Model, key: &ObjKey| {
            format == 0
                || model
                    .node(key)
                    .is_some_and(|n| u32::from(model.format_of(key, n).0) == format)
        };
        let mut itself = None;
        let mut keys = Vec::new();
        if handle == ALL {
            keys = self.every_object(ALL, format)?;
        } else if handle != 0 {
            let key = self.key_of(handle)?;
            itself = matches(self.model, &key).then_some(key);
        }
        let walked_all = handle == ALL && depth == 0;
        if handle == 0 || depth == 1 {
            keys = match handle {
                0 | ALL => self.list(ALL, format, ALL)?.0,
                folder => {
                    let key = self.key_of(folder)?;
                    let mut children = Vec::new();
                    self.model.collect(&key, false, format, &mut children);
                    children.extend(self.looped_parent(&key));
                    children
                }
            };
        }
        keys.extend(itself);
        // Encoded as it is built: a phone of 100,000 objects answers tens of
        // MiB, which should not be held twice (as elements, then as bytes).
        // Sized for Android's ten properties of a typical file (about 24 bytes
        // each), so that a large answer is not copied as it grows.
        let mut out = Vec::with_capacity(4 + keys.len() * props.len() * 24);
        out.put_u32((keys.len() * props.len()) as u32);
        for key in &keys {
            let facts = self.facts(key)?;
            for &property in &props {
                let element = PropListEntry {
                    handle: facts.handle,
                    property,
                    value: facts.value(key.storage, property),
                };
                element.encode(&mut out);
            }
        }
        // A format filter still walks every object; without one, the keys are all of them.
        let walked = if walked_all && format != 0 {
            self.model.object_count(&self.model.visible_storage_ids())
        } else {
            keys.len() as u64
        };
        Ok(Reply::data(out).touching(walked))
    }
}
