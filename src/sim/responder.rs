//! The MTP responder: one function per operation, from a decoded command
//! (and its OUT data) to a reply (an IN data source and a response).

use std::sync::OnceLock;

use super::content::Content;
use super::link::{DiskUpload, OutData, Sink};
use super::state::{Link, ObjKey, PendingSend, State};
use super::tree::{Node, has_thumbnail, is_valid_name, join};
use super::{Profile, media};
use crate::ptp::dataset::MTP_VENDOR_EXTENSION_ID;
use crate::ptp::time::{format_ptp_time, parse_ptp_time};
use crate::ptp::{
    Codec, DataType, DeviceInfo, Message, ObjectFormat, ObjectInfo, ObjectPropDesc, ObjectPropList,
    OperationCode as Op, PropForm, PropListEntry, PropertyCode as Prop, ResponseCode as Rc, Value, Writer,
};

/// "All" for storages, parents, properties and depths.
const ALL: u32 = 0xFFFF_FFFF;

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
}

impl Reply {
    fn ok() -> Reply {
        Reply::code(Rc::OK)
    }

    fn code(code: Rc) -> Reply {
        Reply {
            data: None,
            code,
            params: Vec::new(),
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
}

type OpResult = Result<Reply, Rc>;

/// The properties Android reports for every object, in its order.
const ANDROID_PROPS: &[Prop] = &[
    Prop::STORAGE_ID,
    Prop::OBJECT_FORMAT,
    Prop::PROTECTION_STATUS,
    Prop::OBJECT_SIZE,
    Prop::OBJECT_FILE_NAME,
    Prop::DATE_MODIFIED,
    Prop::PARENT_OBJECT,
    Prop::PERSISTENT_UNIQUE_OBJECT_IDENTIFIER,
    Prop::NAME,
    Prop::DATE_CREATED,
    Prop::DATE_ADDED,
];

/// QEMU's usb-mtp: no file name property, which is why some tools fail on it.
const QEMU_PROPS: &[Prop] = &[
    Prop::STORAGE_ID,
    Prop::OBJECT_FORMAT,
    Prop::OBJECT_SIZE,
    Prop::PARENT_OBJECT,
    Prop::PERSISTENT_UNIQUE_OBJECT_IDENTIFIER,
    Prop::NAME,
];

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

impl Profile {
    pub(crate) fn object_props(self) -> &'static [Prop] {
        match self {
            Profile::Android | Profile::Locked | Profile::Samsung => ANDROID_PROPS,
            Profile::Qemu => QEMU_PROPS,
            Profile::PtpCamera => &[],
        }
    }
}

impl State {
    /// Runs one operation. `data` is the OUT data phase, for the operations
    /// that take one.
    pub(crate) fn execute(&mut self, link: &mut Link, command: &Message, data: Option<OutData>) -> Reply {
        let op = Op(command.code);
        // SendObject must directly follow its SendObjectInfo: anything else forgets it.
        let pending_send = link.pending_send.take();
        if let Some(code) = self.faults.response_for(op) {
            return Reply::code(code);
        }
        if !self.config.profile.supports(op) {
            return Reply::code(Rc::OPERATION_NOT_SUPPORTED);
        }
        if link.session.is_none() && op != Op::GET_DEVICE_INFO && op != Op::OPEN_SESSION {
            return Reply::code(Rc::SESSION_NOT_OPEN);
        }
        let p = |i| command.param(i);
        let result = match op {
            Op::GET_DEVICE_INFO => Ok(Reply::dataset(&self.device_info())),
            Op::OPEN_SESSION => self.open_session(link, p(0)),
            Op::CLOSE_SESSION => {
                link.session = None;
                Ok(Reply::ok())
            }
            Op::GET_STORAGE_IDS => Ok(self.storage_ids()),
            Op::GET_STORAGE_INFO => self
                .storage(p(0))
                .map(|s| Reply::dataset(&s.info()))
                .ok_or(Rc::INVALID_STORAGE_ID),
            Op::GET_NUM_OBJECTS => self
                .list(p(0), p(1), p(2))
                .map(|keys| Reply::params(vec![keys.len() as u32])),
            Op::GET_OBJECT_HANDLES => self.object_handles(p(0), p(1), p(2)),
            Op::GET_OBJECT_INFO => self.object_info(p(0)),
            Op::GET_OBJECT => self.object_data(p(0), 0, u64::MAX, false),
            Op::GET_PARTIAL_OBJECT => self.object_data(p(0), p(1).into(), p(2).into(), true),
            // AOSP's convention: offset low 32 bits, then high 32 bits, then the count.
            Op::GET_PARTIAL_OBJECT_64 => {
                let offset = u64::from(p(1)) | (u64::from(p(2)) << 32);
                self.object_data(p(0), offset, p(3).into(), true)
            }
            Op::GET_THUMB => self.thumb(p(0)),
            Op::DELETE_OBJECT => self.delete(p(0)),
            Op::SEND_OBJECT_INFO => self.send_object_info(link, p(0), p(1), data),
            Op::SEND_OBJECT => self.send_object(pending_send, data),
            Op::GET_OBJECT_PROPS_SUPPORTED => {
                let codes: Vec<u16> = self.config.profile.object_props().iter().map(|p| p.0).collect();
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

    /// Where the OUT data phase of `command` goes: uploads into a served
    /// folder are written straight to disk as they arrive.
    pub(crate) fn begin_out_data(&mut self, link: &Link, command: &Message) -> Sink {
        if Op(command.code) != Op::SEND_OBJECT {
            return Sink::Memory(Vec::new());
        }
        let Some(pending) = &link.pending_send else {
            return Sink::Discard;
        };
        let disk_path = self
            .storage(pending.key.storage)
            .and_then(|s| s.disk_path(&pending.key.path));
        match disk_path {
            Some(path) => DiskUpload::create(path).map_or(Sink::Discard, Sink::Disk),
            None => Sink::Memory(Vec::new()),
        }
    }

    fn device_info(&self) -> DeviceInfo {
        let profile = self.config.profile;
        let identity = &self.config.identity;
        let (vendor_extension_id, vendor_extension_desc) = match profile {
            Profile::Android | Profile::Locked | Profile::Samsung => {
                (MTP_VENDOR_EXTENSION_ID, "microsoft.com: 1.0; android.com: 1.0;")
            }
            Profile::Qemu => (MTP_VENDOR_EXTENSION_ID, ""),
            Profile::PtpCamera => (0, ""),
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

    fn open_session(&mut self, link: &mut Link, id: u32) -> OpResult {
        if let Some(open) = link.session {
            return Ok(Reply {
                params: vec![open],
                ..Reply::code(Rc::SESSION_ALREADY_OPEN)
            });
        }
        if id == 0 {
            return Err(Rc::INVALID_PARAMETER);
        }
        link.session = Some(id);
        if self.config.renumber_handles {
            self.handles.renumber();
        }
        Ok(Reply::ok())
    }

    fn storage_ids(&self) -> Reply {
        let ids: Vec<u32> = if self.locked {
            Vec::new()
        } else {
            self.storages.iter().map(|s| s.id).collect()
        };
        let mut out = Vec::new();
        out.put_u32_array(&ids);
        Reply::data(out)
    }

    /// The object a handle names, if it is still on the device.
    fn key_of(&self, handle: u32) -> Result<ObjKey, Rc> {
        let key = self.handles.key(handle).ok_or(Rc::INVALID_OBJECT_HANDLE)?;
        self.node(key)
            .map(|_| key.clone())
            .ok_or(Rc::INVALID_OBJECT_HANDLE)
    }

    /// Storages a request names: one, or every visible one for 0xFFFFFFFF
    /// (refused when there are none, as Android does while locked).
    fn storages_named(&self, storage: u32) -> Result<Vec<u32>, Rc> {
        if storage != ALL {
            return self
                .storage(storage)
                .map(|s| vec![s.id])
                .ok_or(Rc::INVALID_STORAGE_ID);
        }
        let ids: Vec<u32> = if self.locked {
            Vec::new()
        } else {
            self.storages.iter().map(|s| s.id).collect()
        };
        if ids.is_empty() {
            return Err(Rc::INVALID_STORAGE_ID);
        }
        Ok(ids)
    }

    /// GetObjectHandles' selection: `parent` 0xFFFFFFFF is the root, 0 every
    /// object below it (depth first, parents before children), anything
    /// else a folder's children; `format` 0 means any.
    fn list(&self, storage: u32, format: u32, parent: u32) -> Result<Vec<ObjKey>, Rc> {
        let storages = self.storages_named(storage)?;
        let mut keys = Vec::new();
        match parent {
            ALL => {
                for id in storages {
                    self.collect(&ObjKey::new(id, ""), false, format, &mut keys);
                }
            }
            // Samsung refuses the recursive listing; say the parameter is the problem.
            0 if self.config.profile == Profile::Samsung => return Err(Rc::PARAMETER_NOT_SUPPORTED),
            0 => return self.every_object(storage, format),
            handle => {
                let folder = self.key_of(handle)?;
                if !self.node(&folder).is_some_and(Node::is_folder) {
                    return Err(Rc::INVALID_PARENT_OBJECT);
                }
                self.collect(&folder, false, format, &mut keys);
            }
        }
        Ok(keys)
    }

    /// Every object on the named storages, depth first, parents before children.
    fn every_object(&self, storage: u32, format: u32) -> Result<Vec<ObjKey>, Rc> {
        let mut keys = Vec::new();
        for id in self.storages_named(storage)? {
            self.collect(&ObjKey::new(id, ""), true, format, &mut keys);
        }
        Ok(keys)
    }

    /// Appends the children of `folder` (a storage root when its path is
    /// empty) that match `format`, and with `recursive` everything below.
    fn collect(&self, folder: &ObjKey, recursive: bool, format: u32, out: &mut Vec<ObjKey>) {
        let Some(children) = self
            .storage(folder.storage)
            .and_then(|s| s.children(&folder.path))
        else {
            return;
        };
        for (name, node) in children {
            let key = ObjKey::new(folder.storage, join(&folder.path, name));
            if format == 0 || u32::from(self.format_of(&key, node).0) == format {
                out.push(key.clone());
            }
            if recursive && node.is_folder() {
                self.collect(&key, true, format, out);
            }
        }
    }

    fn object_handles(&mut self, storage: u32, format: u32, parent: u32) -> OpResult {
        let keys = self.list(storage, format, parent)?;
        let handles: Vec<u32> = keys.iter().map(|k| self.handles.assign(k)).collect();
        let mut out = Vec::new();
        out.put_u32_array(&handles);
        Ok(Reply::data(out))
    }

    fn facts(&mut self, key: &ObjKey) -> Result<ObjectFacts, Rc> {
        let handle = self.handles.assign(key);
        let parent = key.parent().map_or(0, |p| self.handles.assign(&p));
        let node = self.node(key).ok_or(Rc::INVALID_OBJECT_HANDLE)?;
        Ok(ObjectFacts {
            handle,
            parent,
            format: self.format_of(key, node),
            size: node.size(),
            is_folder: node.is_folder(),
            name: key.name().to_string(),
            // Android: DateCreated = DateModified = the file's mtime, no zone.
            date: format_ptp_time(node.mtime()),
        })
    }

    fn object_info(&mut self, handle: u32) -> OpResult {
        let key = self.key_of(handle)?;
        let facts = self.facts(&key)?;
        let thumb = has_thumbnail(facts.format) && self.config.profile.supports(Op::GET_THUMB);
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
        match self.node(&key) {
            Some(Node::File { content, .. }) => Ok(content.clone()),
            _ => Err(Rc::INVALID_OBJECT_HANDLE),
        }
    }

    /// GetObject, and the partial reads that clip at the end of the file and
    /// say in the response how many bytes they sent.
    fn object_data(&self, handle: u32, offset: u64, max: u64, partial: bool) -> OpResult {
        let content = self.file_content(handle)?;
        let size = content.len();
        if offset > size {
            return Err(Rc::INVALID_PARAMETER);
        }
        let len = max.min(size - offset);
        Ok(Reply {
            params: if partial { vec![len as u32] } else { Vec::new() },
            data: Some(DataSource::Content { content, offset, len }),
            code: Rc::OK,
        })
    }

    fn thumb(&self, handle: u32) -> OpResult {
        let key = self.key_of(handle)?;
        let node = self.node(&key).ok_or(Rc::INVALID_OBJECT_HANDLE)?;
        if node.is_folder() || !has_thumbnail(self.format_of(&key, node)) {
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
        let storage = self.storage_mut(key.storage).ok_or(Rc::INVALID_OBJECT_HANDLE)?;
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
        self.handles.forget_subtree(&key);
        Ok(Reply::ok())
    }

    fn send_object_info(
        &mut self,
        link: &mut Link,
        storage_id: u32,
        parent: u32,
        data: Option<OutData>,
    ) -> OpResult {
        let storage = self.storage(storage_id).ok_or(Rc::INVALID_STORAGE_ID)?;
        if !storage.is_writable() {
            return Err(Rc::STORE_READ_ONLY);
        }
        let (free, max_file_size) = (storage.free_bytes(), storage.spec.max_file_size);
        let folder = match parent {
            0 | ALL => ObjKey::new(storage_id, ""),
            handle => {
                let key = self.key_of(handle)?;
                if key.storage != storage_id || !self.node(&key).is_some_and(Node::is_folder) {
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
        if self.node(&key).is_some() {
            return Err(Rc::GENERAL_ERROR);
        }
        let mtime = parse_ptp_time(&info.date_modified)
            .map_or_else(|| chrono::Local::now().naive_local(), |t| t.local);
        let parent_handle = if folder.path.is_empty() {
            0
        } else {
            self.handles.assign(&folder)
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
        let handle = self.handles.assign(&key);
        if !info.format.is_folder() {
            link.pending_send = Some(PendingSend {
                key,
                size_field: info.compressed_size,
                mtime,
            });
        }
        Ok(Reply::params(vec![storage_id, parent_handle, handle]))
    }

    fn create_folder(&mut self, key: &ObjKey, mtime: chrono::NaiveDateTime) -> Result<(), Rc> {
        let storage = self.storage_mut(key.storage).ok_or(Rc::INVALID_STORAGE_ID)?;
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
        if self.config.profile.object_props().contains(&prop) {
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
        if self.locked {
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
            self.config.profile.object_props().to_vec()
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
        let matches = |state: &State, key: &ObjKey| {
            format == 0
                || state
                    .node(key)
                    .is_some_and(|n| u32::from(state.format_of(key, n).0) == format)
        };
        let mut itself = None;
        let mut keys = Vec::new();
        if handle == ALL {
            keys = self.every_object(ALL, format)?;
        } else if handle != 0 {
            let key = self.key_of(handle)?;
            itself = matches(self, &key).then_some(key);
        }
        if handle == 0 || depth == 1 {
            keys = match handle {
                0 | ALL => self.list(ALL, format, ALL)?,
                folder => {
                    let key = self.key_of(folder)?;
                    let mut children = Vec::new();
                    self.collect(&key, false, format, &mut children);
                    children
                }
            };
        }
        keys.extend(itself);
        let mut entries = Vec::with_capacity(keys.len() * props.len());
        for key in &keys {
            let facts = self.facts(key)?;
            entries.extend(props.iter().map(|&property| PropListEntry {
                handle: facts.handle,
                property,
                value: facts.value(key.storage, property),
            }));
        }
        Ok(Reply::dataset(&ObjectPropList { entries }))
    }
}

/// Operation sets, events and formats of each profile.
impl Profile {
    /// The operations this profile's DeviceInfo lists and its responder answers.
    pub fn operations(self) -> &'static [Op] {
        // What every profile answers: the session and the listing.
        const SESSION_AND_LISTING: [Op; 8] = [
            Op::GET_DEVICE_INFO,
            Op::OPEN_SESSION,
            Op::CLOSE_SESSION,
            Op::GET_STORAGE_IDS,
            Op::GET_STORAGE_INFO,
            Op::GET_NUM_OBJECTS,
            Op::GET_OBJECT_HANDLES,
            Op::GET_OBJECT_INFO,
        ];
        const PTP_CORE: [Op; 13] = concat_ops(
            SESSION_AND_LISTING,
            [
                Op::GET_OBJECT,
                Op::GET_THUMB,
                Op::DELETE_OBJECT,
                Op::SEND_OBJECT_INFO,
                Op::SEND_OBJECT,
            ],
        );
        const ANDROID: [Op; 19] = concat_ops(
            PTP_CORE,
            [
                Op::GET_PARTIAL_OBJECT,
                Op::GET_OBJECT_PROPS_SUPPORTED,
                Op::GET_OBJECT_PROP_DESC,
                Op::GET_OBJECT_PROP_VALUE,
                Op::GET_OBJECT_PROP_LIST,
                Op::GET_PARTIAL_OBJECT_64,
            ],
        );
        const CAMERA: [Op; 11] = concat_ops(
            SESSION_AND_LISTING,
            [Op::GET_OBJECT, Op::GET_THUMB, Op::GET_PARTIAL_OBJECT],
        );
        // QEMU's usb-mtp: no GetThumb, no property lists, no 64-bit partial reads.
        const QEMU: [Op; 16] = concat_ops(
            SESSION_AND_LISTING,
            [
                Op::DELETE_OBJECT,
                Op::SEND_OBJECT_INFO,
                Op::SEND_OBJECT,
                Op::GET_OBJECT,
                Op::GET_PARTIAL_OBJECT,
                Op::GET_OBJECT_PROPS_SUPPORTED,
                Op::GET_OBJECT_PROP_DESC,
                Op::GET_OBJECT_PROP_VALUE,
            ],
        );
        match self {
            Profile::Android | Profile::Locked | Profile::Samsung => &ANDROID,
            Profile::PtpCamera => &CAMERA,
            Profile::Qemu => &QEMU,
        }
    }

    pub(crate) fn supports(self, op: Op) -> bool {
        self.operations().contains(&op)
    }

    fn events(self) -> &'static [crate::ptp::EventCode] {
        use crate::ptp::EventCode as E;
        match self {
            Profile::Qemu => &[E::OBJECT_ADDED, E::OBJECT_REMOVED, E::OBJECT_INFO_CHANGED],
            _ => &[
                E::OBJECT_ADDED,
                E::OBJECT_REMOVED,
                E::STORE_ADDED,
                E::STORE_REMOVED,
                E::OBJECT_INFO_CHANGED,
            ],
        }
    }

    fn formats(self) -> &'static [ObjectFormat] {
        use ObjectFormat as F;
        match self {
            Profile::Qemu => &[F::UNDEFINED, F::ASSOCIATION],
            Profile::PtpCamera => &[F::ASSOCIATION, F::EXIF_JPEG, F::MP4_CONTAINER],
            _ => &[
                F::UNDEFINED,
                F::ASSOCIATION,
                F::TEXT,
                F::HTML,
                F::WAV,
                F::MP3,
                F::AVI,
                F::EXIF_JPEG,
                F::BMP,
                F::GIF,
                F::PNG,
                F::TIFF,
                F::DNG,
                F::HEIF,
                F::AAC,
                F::OGG,
                F::FLAC,
                F::MP4_CONTAINER,
                F::CONTAINER_3GP,
            ],
        }
    }
}

const fn concat_ops<const A: usize, const B: usize, const C: usize>(a: [Op; A], b: [Op; B]) -> [Op; C] {
    let mut out = [Op(0); C];
    let mut i = 0;
    while i < A {
        out[i] = a[i];
        i += 1;
    }
    while i < C {
        out[i] = b[i - A];
        i += 1;
    }
    out
}
