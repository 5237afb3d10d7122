//! One method per MTP operation. Each sends one transaction (counted in
//! [`Session::stats`]) and returns typed values; data phases of files are
//! streamed, never held in memory.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use super::phases::{DataIn, DataOut, MAX_DATASET_LEN};
use super::{Result, Session, SessionError};
use crate::ptp::{
    Codec, DataType, DeviceInfo, EventCode, ObjectFormat, ObjectHandle, ObjectInfo, ObjectPropList,
    OperationCode, PropListEntry, PropListReader, PropertyCode, Reader, StorageId, StorageInfo, Value,
};

/// Feeds a data phase to a [`PropListReader`]. A malformed dataset is
/// remembered and the rest of the phase read and dropped, so that the
/// transaction completes and the session stays usable.
struct PropListSink<'v> {
    reader: PropListReader,
    visit: &'v mut dyn FnMut(PropListEntry),
    /// Bytes received, bounded like every dataset ([`MAX_DATASET_LEN`]).
    received: usize,
    error: Option<crate::ptp::DecodeError>,
}

impl Write for PropListSink<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.received += buf.len();
        if self.error.is_none() && self.received > MAX_DATASET_LEN {
            self.error = Some(crate::ptp::DecodeError::invalid(
                "ObjectPropList",
                format!("longer than {} MiB", MAX_DATASET_LEN >> 20),
            ));
        }
        if self.error.is_none()
            && let Err(error) = self.reader.push(buf, self.visit)
        {
            self.error = Some(error);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// "All": every storage (GetObjectHandles), every object (GetObjectPropList's
/// handle and depth), every property (its property code).
pub const ALL: u32 = 0xFFFF_FFFF;

/// GetObjectHandles' parent for "the root of the storage".
pub const ROOT: ObjectHandle = ObjectHandle(0xFFFF_FFFF);

/// The parameters of a GetObjectPropList request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PropListQuery {
    /// The object, 0 for the root, or [`ALL`] (with depth [`ALL`]) for every object.
    pub handle: u32,
    /// Only objects of this format; 0 for any.
    pub format: u32,
    /// One property code, or [`ALL`].
    pub property: u32,
    /// A property group (used only when `property` is 0).
    pub group: u32,
    /// 0 the object itself, 1 its children, [`ALL`] everything below.
    pub depth: u32,
}

impl PropListQuery {
    /// Every property of every child of `folder` ([`ObjectHandle::ROOT_PARENT`] for the root): one
    /// folder's listing in one round trip.
    pub fn children(folder: ObjectHandle) -> Self {
        PropListQuery {
            handle: folder.0,
            format: 0,
            property: ALL,
            group: 0,
            depth: 1,
        }
    }

    /// Every property of every object on the device.
    pub fn all_objects() -> Self {
        PropListQuery {
            handle: ALL,
            format: 0,
            property: ALL,
            group: 0,
            depth: ALL,
        }
    }
}

/// What partial reads turned out to do on a device, remembered for the session.
#[derive(Debug, Default)]
pub(super) struct PartialReads {
    /// GetPartialObject64 sent nothing where GetPartialObject sent data.
    broken_64: bool,
    /// Neither sent anything where data was due.
    unusable: bool,
}

impl Session {
    /// GetDeviceInfo: asks the device again (the session keeps the answer it
    /// got when opening in [`Session::device_info`]).
    pub fn get_device_info(&mut self) -> Result<DeviceInfo> {
        self.query(OperationCode::GET_DEVICE_INFO, &[])
    }

    /// GetStorageIDs, less the storages that hold nothing to read (see
    /// [`super::unusable`]: an untrusted iPhone's placeholder, empty card
    /// slots). An empty list means the phone is locked, not in File transfer
    /// mode, or (an iPhone) not trusting this computer yet:
    /// [`Session::no_storage_hint`] says which.
    pub fn storage_ids(&mut self) -> Result<Vec<StorageId>> {
        let op = OperationCode::GET_STORAGE_IDS;
        let bytes = self.query_bytes(op, &[])?;
        let ids = Reader::new(&bytes)
            .u32_array("StorageIDs")
            .map_err(|source| SessionError::Dataset { op, source })?;
        let (usable, untrusted, empty_slots) =
            super::unusable::sort_storage_ids(ids.into_iter().map(StorageId).collect());
        self.storage_count = Some(usable.len());
        self.untrusted = untrusted;
        self.skipped_storages = empty_slots;
        Ok(usable)
    }

    /// GetStorageIDs, waiting up to `timeout` for a StoreAdded event while
    /// the device shows none (the user has to unlock the phone).
    pub fn wait_for_storages(&mut self, timeout: Duration) -> Result<Vec<StorageId>> {
        let deadline = Instant::now() + timeout;
        let mut ids = self.storage_ids()?;
        while ids.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            match self.next_event(left)? {
                Some(event) if event.code == EventCode::STORE_ADDED => ids = self.storage_ids()?,
                Some(_) => {}
                None => break,
            }
        }
        Ok(ids)
    }

    /// GetStorageInfo.
    pub fn storage_info(&mut self, storage: StorageId) -> Result<StorageInfo> {
        self.query(OperationCode::GET_STORAGE_INFO, &[storage.0])
    }

    /// GetObjectHandles: the objects in `parent` ([`ROOT`] for the storage's
    /// root) of `storage` ([`ALL`] for every storage), optionally of one format.
    pub fn object_handles(
        &mut self,
        storage: StorageId,
        format: Option<ObjectFormat>,
        parent: ObjectHandle,
    ) -> Result<Vec<ObjectHandle>> {
        let op = OperationCode::GET_OBJECT_HANDLES;
        let format = format.map_or(0, |f| u32::from(f.0));
        let bytes = self.query_bytes(op, &[storage.0, format, parent.0])?;
        let handles = Reader::new(&bytes)
            .u32_array("ObjectHandles")
            .map_err(|source| SessionError::Dataset { op, source })?;
        Ok(handles.into_iter().map(ObjectHandle).collect())
    }

    /// GetObjectInfo.
    pub fn object_info(&mut self, handle: ObjectHandle) -> Result<ObjectInfo> {
        self.query(OperationCode::GET_OBJECT_INFO, &[handle.0])
    }

    /// GetObjectPropsSupported: the properties objects of `format` have.
    pub fn object_props_supported(&mut self, format: ObjectFormat) -> Result<Vec<PropertyCode>> {
        let op = OperationCode::GET_OBJECT_PROPS_SUPPORTED;
        self.require(op)?;
        let bytes = self.query_bytes(op, &[u32::from(format.0)])?;
        let codes = Reader::new(&bytes)
            .u16_array("ObjectPropCodes")
            .map_err(|source| SessionError::Dataset { op, source })?;
        Ok(codes.into_iter().map(PropertyCode).collect())
    }

    /// GetObjectPropList.
    pub fn object_prop_list(&mut self, query: &PropListQuery) -> Result<ObjectPropList> {
        let mut entries = Vec::new();
        self.object_prop_list_each(query, &mut |entry| entries.push(entry))?;
        Ok(ObjectPropList { entries })
    }

    /// GetObjectPropList, each element handed to `visit` as it arrives: the
    /// dataset (tens of MiB for a whole phone) is never held as a whole.
    pub fn object_prop_list_each(
        &mut self,
        query: &PropListQuery,
        visit: &mut dyn FnMut(PropListEntry),
    ) -> Result<()> {
        let op = OperationCode::GET_OBJECT_PROP_LIST;
        self.require(op)?;
        let q = query;
        let mut sink = PropListSink {
            reader: PropListReader::new(),
            visit,
            received: 0,
            error: None,
        };
        self.transact(
            op,
            &[q.handle, q.format, q.property, q.group, q.depth],
            DataOut::None,
            DataIn::Sink(&mut sink),
        )?;
        let dataset = match sink.error {
            Some(error) => Err(error),
            None => sink.reader.finish(),
        };
        dataset.map_err(|source| SessionError::Dataset { op, source })
    }

    /// GetObjectPropValue of a property whose type is `data_type`.
    pub fn object_prop_value(
        &mut self,
        handle: ObjectHandle,
        property: PropertyCode,
        data_type: DataType,
    ) -> Result<Value> {
        let op = OperationCode::GET_OBJECT_PROP_VALUE;
        self.require(op)?;
        let bytes = self.query_bytes(op, &[handle.0, u32::from(property.0)])?;
        Value::read(&mut Reader::new(&bytes), data_type)
            .map_err(|source| SessionError::Dataset { op, source })
    }

    /// The 64-bit ObjectSize property (for objects whose ObjectInfo says 4 GiB or more).
    pub fn object_size(&mut self, handle: ObjectHandle) -> Result<u64> {
        let op = OperationCode::GET_OBJECT_PROP_VALUE;
        let value = self.object_prop_value(handle, PropertyCode::OBJECT_SIZE, DataType::UINT64)?;
        value.as_u64().ok_or_else(|| SessionError::Protocol {
            op,
            detail: format!("ObjectSize of object {handle} is not a number"),
        })
    }

    /// GetObject: streams the whole object into `sink`; returns its size.
    pub fn get_object(&mut self, handle: ObjectHandle, sink: &mut dyn Write) -> Result<u64> {
        self.transact(
            OperationCode::GET_OBJECT,
            &[handle.0],
            DataOut::None,
            DataIn::Sink(sink),
        )
        .map(|done| done.received)
    }

    /// Up to `max_bytes` of an object from `offset` into `sink` (for resuming);
    /// returns the bytes sent, fewer at the end of the file. Uses
    /// GetPartialObject64 where the device has it, else GetPartialObject
    /// (whose offset stops at 4 GiB).
    ///
    /// The response's byte count is advisory (devices get it wrong; peers
    /// ignore it): the data phase says what was sent. Some responders list
    /// GetPartialObject64 but read its parameters as GetPartialObject's, and
    /// send nothing: when GetPartialObject64 sends nothing where bytes were
    /// asked, GetPartialObject is tried, and if it sends data, used for the
    /// rest of the session.
    pub fn get_partial_object(
        &mut self,
        handle: ObjectHandle,
        offset: u64,
        max_bytes: u32,
        sink: &mut dyn Write,
    ) -> Result<u64> {
        let info = &self.device_info;
        let has_64 = info.supports(OperationCode::GET_PARTIAL_OBJECT_64) && !self.partial_reads.broken_64;
        let has_32 = info.supports(OperationCode::GET_PARTIAL_OBJECT);
        if has_64 {
            let (low, high) = (offset as u32, (offset >> 32) as u32);
            let params = [handle.0, low, high, max_bytes];
            let sent = self.partial_read(OperationCode::GET_PARTIAL_OBJECT_64, &params, sink)?;
            let nothing_where_due = sent == 0 && max_bytes > 0;
            return match u32::try_from(offset) {
                Ok(offset) if nothing_where_due && has_32 => {
                    let params = [handle.0, offset, max_bytes];
                    let sent = self.partial_read(OperationCode::GET_PARTIAL_OBJECT, &params, sink)?;
                    self.partial_reads.broken_64 = sent > 0;
                    Ok(sent)
                }
                _ => Ok(sent),
            };
        }
        match u32::try_from(offset) {
            Ok(offset) if has_32 => self.partial_read(
                OperationCode::GET_PARTIAL_OBJECT,
                &[handle.0, offset, max_bytes],
                sink,
            ),
            _ => Err(SessionError::Unsupported {
                op: OperationCode::GET_PARTIAL_OBJECT_64,
            }),
        }
    }

    fn partial_read(&mut self, op: OperationCode, params: &[u32], sink: &mut dyn Write) -> Result<u64> {
        let done = self.transact(op, params, DataOut::None, DataIn::Sink(sink))?;
        Ok(done.received)
    }

    /// Whether the device can read part of a file from `offset` (as far as
    /// this session has seen: a device whose partial reads sent nothing
    /// where data was due is read whole).
    pub fn can_read_partially(&self, offset: u64) -> bool {
        let info = &self.device_info;
        !self.partial_reads.unusable
            && ((info.supports(OperationCode::GET_PARTIAL_OBJECT_64) && !self.partial_reads.broken_64)
                || (info.supports(OperationCode::GET_PARTIAL_OBJECT) && offset <= u64::from(u32::MAX)))
    }

    /// Records that partial reads send nothing where data is due (both
    /// GetPartialObject64 and GetPartialObject): files are read whole from now on.
    pub fn give_up_partial_reads(&mut self) {
        self.partial_reads.unusable = true;
    }

    /// Whether this session found the device's GetPartialObject64 broken
    /// (it reads its parameters as GetPartialObject's).
    pub fn partial_64_broken(&self) -> bool {
        self.partial_reads.broken_64
    }

    /// GetThumb: the object's thumbnail (usually a small JPEG) into `sink`.
    pub fn get_thumb(&mut self, handle: ObjectHandle, sink: &mut dyn Write) -> Result<u64> {
        let op = OperationCode::GET_THUMB;
        self.require(op)?;
        self.transact(op, &[handle.0], DataOut::None, DataIn::Sink(sink))
            .map(|done| done.received)
    }

    /// SendObjectInfo then SendObject: creates `info.filename` in `parent`
    /// (0 for the root) of `storage`, streaming `size` bytes from `source`.
    /// Returns the new object's handle. `info`'s size field is set from `size`.
    pub fn send_object(
        &mut self,
        storage: StorageId,
        parent: ObjectHandle,
        info: &ObjectInfo,
        source: &mut dyn Read,
        size: u64,
    ) -> Result<ObjectHandle> {
        let info = ObjectInfo {
            compressed_size: ObjectInfo::size_field(size),
            ..info.clone()
        };
        let handle = self.send_object_info(storage, parent, &info)?;
        self.transact(
            OperationCode::SEND_OBJECT,
            &[],
            DataOut::Stream { source, size },
            DataIn::None,
        )?;
        Ok(handle)
    }

    /// SendObjectInfo of a folder: creates `name` in `parent` (0 for the
    /// root) of `storage`, dated `date` (a PTP date string). Returns its handle.
    pub fn create_folder(
        &mut self,
        storage: StorageId,
        parent: ObjectHandle,
        name: &str,
        date: &str,
    ) -> Result<ObjectHandle> {
        let info = ObjectInfo {
            storage_id: storage.0,
            format: ObjectFormat::ASSOCIATION,
            association_type: 1, // generic folder
            parent: parent.0,
            filename: name.to_owned(),
            date_created: date.to_owned(),
            date_modified: date.to_owned(),
            ..ObjectInfo::default()
        };
        self.send_object_info(storage, parent, &info)
    }

    /// SendObjectInfo: the device makes the object and names its handle.
    fn send_object_info(
        &mut self,
        storage: StorageId,
        parent: ObjectHandle,
        info: &ObjectInfo,
    ) -> Result<ObjectHandle> {
        let op = OperationCode::SEND_OBJECT_INFO;
        self.require(op)?;
        let dataset = info.to_bytes();
        let done = self.transact(op, &[storage.0, parent.0], DataOut::Bytes(&dataset), DataIn::None)?;
        done.params
            .get(2)
            .copied()
            .map(ObjectHandle)
            .ok_or_else(|| SessionError::Protocol {
                op,
                detail: "the response did not name the new object's handle".into(),
            })
    }

    /// DeleteObject.
    pub fn delete_object(&mut self, handle: ObjectHandle) -> Result<()> {
        let op = OperationCode::DELETE_OBJECT;
        self.require(op)?;
        self.transact(op, &[handle.0, 0], DataOut::None, DataIn::None)
            .map(drop)
    }

    /// Refuses, without a round trip, an optional operation the device does not list.
    fn require(&self, op: OperationCode) -> Result<()> {
        if self.device_info.supports(op) {
            Ok(())
        } else {
            Err(SessionError::Unsupported { op })
        }
    }
}
