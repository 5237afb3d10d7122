//! Walking a storage with as few round trips as the device allows.
//!
//! Three strategies, tried in this order and remembered per session (so a
//! refusal costs one round trip, not one per folder):
//! 1. [`ListingStrategy::AllObjects`]: one GetObjectPropList for every object
//!    on the device (handle, depth and property all 0xFFFFFFFF), asked once
//!    per session and kept for each storage. Android accepts it; it is one
//!    round trip, but Android 9+ walks its whole filesystem before the first
//!    byte: if that outlasts the listing timeout (60 s) the transaction is
//!    cancelled and the walk goes on folder by folder.
//! 2. [`ListingStrategy::PropListPerFolder`]: one GetObjectPropList per folder
//!    (all properties, depth 1).
//! 3. [`ListingStrategy::HandlesAndInfo`]: GetObjectHandles per folder and
//!    GetObjectInfo per object, for devices without GetObjectPropList
//!    (cameras, QEMU's usb-mtp); the 64-bit ObjectSize property is asked only
//!    for objects whose ObjectInfo says "4 GiB or more".
//!
//! Names are kept exactly as the device gave them: they are untrusted (they
//! may hold `/`, `..`, control characters) and whoever turns them into local
//! paths must check them.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;

use super::ops::{PropListQuery, ROOT};
use super::{Result, Session, SessionError};
use crate::ptp::{DeviceTime, parse_ptp_time};
use crate::ptp::{
    ObjectFormat, ObjectHandle, ObjectInfo, ObjectPropList, OperationCode, PropertyCode, StorageId,
};
use crate::transport::TransportError;

/// One object on a storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The storage holding it.
    pub storage_id: StorageId,
    /// Its handle in this session (handles may change across sessions).
    pub handle: ObjectHandle,
    /// Its folder's handle; [`ObjectHandle::ROOT_PARENT`] at the storage's root.
    pub parent: ObjectHandle,
    /// Names from the storage's root down to this object, as the device gave
    /// them (untrusted). The last one is the object's own name.
    pub path: Vec<String>,
    /// Folder (Association) or file format.
    pub format: ObjectFormat,
    /// Size in bytes (0 for folders). `u32::MAX` when the device said
    /// "4 GiB or more" and offers no way to ask the exact size.
    pub size: u64,
    /// The device's modification date (on Android: the file's mtime, not the capture time).
    pub modified: Option<DeviceTime>,
}

impl Entry {
    /// The object's own name.
    pub fn name(&self) -> &str {
        self.path.last().map_or("", String::as_str)
    }

    /// Whether this is a folder.
    pub fn is_folder(&self) -> bool {
        self.format.is_folder()
    }
}

/// How a listing was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListingStrategy {
    /// One GetObjectPropList for all objects.
    AllObjects,
    /// One GetObjectPropList per folder.
    PropListPerFolder,
    /// GetObjectHandles per folder and GetObjectInfo per object.
    HandlesAndInfo,
}

impl fmt::Display for ListingStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ListingStrategy::AllObjects => "one GetObjectPropList for all objects",
            ListingStrategy::PropListPerFolder => "one GetObjectPropList per folder",
            ListingStrategy::HandlesAndInfo => "GetObjectHandles per folder and GetObjectInfo per object",
        })
    }
}

/// What the session learned about the device's listing abilities:
/// `None` untried, `Some(false)` refused.
#[derive(Debug, Default)]
pub(super) struct Memory {
    all_objects: Option<bool>,
    per_folder: Option<bool>,
    last_used: Option<ListingStrategy>,
    /// ObjectInfos (with exact sizes) read during the listing under way.
    infos: HashMap<ObjectHandle, (ObjectInfo, u64)>,
    /// The all-objects GetObjectPropList answer, for every storage (this session's handles).
    every_object: Option<Vec<Record>>,
}

impl Memory {
    /// Forgets what names objects by this session's handles (a new session
    /// may number them anew); what the device can do is kept.
    pub(super) fn forget_handles(&mut self) {
        self.infos.clear();
        self.every_object = None;
    }
}

impl Session {
    /// The strategy the last listing used (the slowest, if it mixed them).
    pub fn listing_strategy(&self) -> Option<ListingStrategy> {
        self.listing.last_used
    }

    /// Lists the objects directly in `folder` (`None`: the storage's root).
    pub fn list_folder(&mut self, storage: StorageId, folder: Option<&Entry>) -> Result<Vec<Entry>> {
        self.listing.infos.clear();
        self.list_children(storage, folder)
    }

    /// [`Session::list_folder`] within a listing (ObjectInfos read earlier in it are reused).
    fn list_children(&mut self, storage: StorageId, folder: Option<&Entry>) -> Result<Vec<Entry>> {
        if self.prop_list_usable() && self.listing.per_folder != Some(false) {
            match self.list_folder_by_prop_list(storage, folder) {
                Ok(entries) => {
                    self.listing.per_folder = Some(true);
                    self.note_used(ListingStrategy::PropListPerFolder);
                    return Ok(entries);
                }
                // Samsung refuses the root's list (handle 0) while folders
                // work: fall back for the root only.
                Err(err) if is_refusal(&err) && folder.is_none() => {}
                Err(err) if is_refusal(&err) && self.listing.per_folder.is_none() => {
                    self.listing.per_folder = Some(false);
                }
                Err(err) => return Err(err),
            }
        }
        let entries = self.list_folder_by_object_info(storage, folder)?;
        self.note_used(ListingStrategy::HandlesAndInfo);
        Ok(entries)
    }

    /// Lists everything below `from` (`None`: the whole storage). Each
    /// folder comes before its contents.
    pub fn walk(&mut self, storage: StorageId, from: Option<&Entry>) -> Result<Vec<Entry>> {
        self.listing.last_used = None;
        self.listing.infos.clear();
        if from.is_none() && self.prop_list_usable() && self.listing.all_objects != Some(false) {
            match self.walk_all_objects(storage) {
                Ok(Some(entries)) => {
                    self.listing.all_objects = Some(true);
                    self.note_used(ListingStrategy::AllObjects);
                    return Ok(entries);
                }
                // The device answered, but with a tree that does not hold together.
                Ok(None) => {
                    self.listing.all_objects = Some(false);
                    self.listing.every_object = None;
                }
                Err(err) if is_refusal(&err) && self.listing.all_objects.is_none() => {
                    self.listing.all_objects = Some(false);
                }
                // The device is still walking its whole filesystem: give up on
                // that answer (without leaving the phone wedged) and list
                // folder by folder, each a smaller query.
                Err(SessionError::Transport {
                    source: TransportError::Timeout(_),
                    ..
                }) => {
                    self.cancel_under_way(self.last_transaction_id(), OperationCode::GET_OBJECT_PROP_LIST)?;
                    self.listing.all_objects = Some(false);
                }
                Err(err) => return Err(err),
            }
        }
        let mut entries = Vec::new();
        let mut visited = HashSet::new();
        let mut folders = VecDeque::from([from.cloned()]);
        while let Some(folder) = folders.pop_front() {
            // A folder listed twice (a camera that nests a folder in itself) is walked once.
            if folder.as_ref().is_some_and(|f| !visited.insert(f.handle)) {
                continue;
            }
            for child in self.list_children(storage, folder.as_ref())? {
                if child.is_folder() {
                    folders.push_back(Some(child.clone()));
                }
                entries.push(child);
            }
        }
        Ok(entries)
    }

    /// Finds the object at `path` (names from the storage's root). An empty
    /// path is the root itself, which is no object: `Ok(None)`.
    pub fn find(&mut self, storage: StorageId, path: &[impl AsRef<str>]) -> Result<Option<Entry>> {
        self.listing.infos.clear();
        let mut current: Option<Entry> = None;
        for (depth, name) in path.iter().enumerate() {
            if depth > 0 && !current.as_ref().is_some_and(Entry::is_folder) {
                return Ok(None);
            }
            let children = self.list_children(storage, current.as_ref())?;
            match children.into_iter().find(|e| e.name() == name.as_ref()) {
                Some(entry) => current = Some(entry),
                None => return Ok(None),
            }
        }
        Ok(current)
    }

    fn prop_list_usable(&self) -> bool {
        self.device_info.supports(OperationCode::GET_OBJECT_PROP_LIST)
    }

    fn note_used(&mut self, strategy: ListingStrategy) {
        // Report the slowest strategy a mixed listing used.
        let rank = |s: ListingStrategy| s as u8;
        if self
            .listing
            .last_used
            .is_none_or(|used| rank(strategy) > rank(used))
        {
            self.listing.last_used = Some(strategy);
        }
    }

    /// `Ok(None)` when the device's answer does not form a tree (an object
    /// whose parent is missing, or a loop).
    ///
    /// The device's answer covers every storage, and a phone may take a minute
    /// to give it: it is asked once per session and kept for the other storages.
    fn walk_all_objects(&mut self, storage: StorageId) -> Result<Option<Vec<Entry>>> {
        let every = match self.listing.every_object.take() {
            Some(every) => every,
            None => Record::group(&self.object_prop_list(&PropListQuery::all_objects())?),
        };
        let records: Vec<&Record> = every
            .iter()
            .filter(|r| r.storage.is_none_or(|s| s == storage.0))
            .collect();
        let entries = Self::entries_of(storage, &records);
        self.listing.every_object = Some(every);
        entries
    }

    /// The records of one storage as entries, paths from the root.
    fn entries_of(storage: StorageId, records: &[&Record]) -> Result<Option<Vec<Entry>>> {
        let index: HashMap<u32, usize> = records.iter().enumerate().map(|(i, r)| (r.handle, i)).collect();
        let mut entries = Vec::with_capacity(records.len());
        for record in records {
            // Follow the parents up to the root; more steps than objects is a loop.
            let mut names = vec![record.name()?];
            let mut parent = record.parent_or_root();
            while parent != 0 {
                let Some(&i) = index.get(&parent) else {
                    return Ok(None);
                };
                if names.len() > records.len() {
                    return Ok(None);
                }
                names.push(records[i].name()?);
                parent = records[i].parent_or_root();
            }
            names.reverse();
            entries.push(record.entry(storage, names)?);
        }
        entries.sort_by_key(|e| e.path.len());
        Ok(Some(entries))
    }

    fn list_folder_by_prop_list(&mut self, storage: StorageId, folder: Option<&Entry>) -> Result<Vec<Entry>> {
        let folder_handle = folder.map_or(ObjectHandle::ROOT_PARENT, |f| f.handle);
        let list = self.object_prop_list(&PropListQuery::children(folder_handle))?;
        let handle = folder_handle.0;
        // Android adds the folder itself to its children, and answers the
        // root's children of every storage: keep only this folder's.
        Record::group(&list)
            .into_iter()
            .filter(|r| r.handle != handle)
            .filter(|r| r.parent.is_none_or(|_| r.parent_or_root() == handle))
            .filter(|r| r.storage.is_none_or(|s| s == storage.0))
            .map(|r| r.entry(storage, child_path(folder, r.name()?)))
            .collect()
    }

    /// GetObjectHandles for the folder, then each child's ObjectInfo. A child
    /// is kept only if its ObjectInfo names this folder as its parent: some
    /// cameras ignore the parent filter (Fuji answers every object for the
    /// root; Canon EOS lists a folder inside itself). Such devices list the
    /// same objects again and again, so ObjectInfos are remembered for the
    /// listing under way: one GetObjectInfo per object, whatever the device does.
    fn list_folder_by_object_info(
        &mut self,
        storage: StorageId,
        folder: Option<&Entry>,
    ) -> Result<Vec<Entry>> {
        let parent = folder.map_or(ROOT, |f| f.handle);
        let handles = self.object_handles(storage, None, parent)?;
        let mut children = Vec::with_capacity(handles.len());
        for &handle in &handles {
            if folder.is_none_or(|f| f.handle != handle) {
                let (info, size) = self.object_info_and_size(handle)?;
                children.push((handle, info, size));
            }
        }
        // The root's objects name 0, 0xFFFFFFFF or (QEMU) a root object that is
        // never listed as their parent: anything but another listed object.
        let listed: HashSet<ObjectHandle> = handles.iter().copied().collect();
        let belongs = |info: &ObjectInfo| match folder {
            Some(folder) => info.parent == folder.handle.0,
            None => info.parent == 0 || info.parent == ROOT.0 || !listed.contains(&ObjectHandle(info.parent)),
        };
        Ok(children
            .into_iter()
            .filter(|(_, info, _)| belongs(info))
            .map(|(handle, info, size)| entry_from_info(handle, folder, &info, size))
            .collect())
    }

    /// One object's ObjectInfo and exact size, asked once per listing.
    fn object_info_and_size(&mut self, handle: ObjectHandle) -> Result<(ObjectInfo, u64)> {
        if let Some(known) = self.listing.infos.get(&handle) {
            return Ok(known.clone());
        }
        let info = self.object_info(handle)?;
        let size = match info.known_size() {
            Some(size) => size,
            None if self.device_info.supports(OperationCode::GET_OBJECT_PROP_VALUE) => {
                self.object_size(handle)?
            }
            None => u64::from(u32::MAX),
        };
        self.listing.infos.insert(handle, (info.clone(), size));
        Ok((info, size))
    }
}

fn child_path(folder: Option<&Entry>, name: String) -> Vec<String> {
    let mut path = folder.map_or_else(Vec::new, |f| f.path.clone());
    path.push(name);
    path
}

fn entry_from_info(handle: ObjectHandle, folder: Option<&Entry>, info: &ObjectInfo, size: u64) -> Entry {
    let modified = parse_ptp_time(&info.date_modified).or_else(|| parse_ptp_time(&info.date_created));
    Entry {
        storage_id: StorageId(info.storage_id),
        handle,
        parent: folder.map_or(ObjectHandle::ROOT_PARENT, |f| f.handle),
        path: child_path(folder, info.filename.clone()),
        format: info.format,
        size: if info.format.is_folder() { 0 } else { size },
        modified,
    }
}

/// Whether an error means "the device does not do that" (try another way)
/// rather than "something is wrong" (stop).
fn is_refusal(err: &SessionError) -> bool {
    matches!(
        err,
        SessionError::Device { .. } | SessionError::Unsupported { .. }
    )
}

/// One object's properties gathered from an ObjectPropList.
#[derive(Debug, Default)]
struct Record {
    handle: u32,
    storage: Option<u32>,
    format: Option<ObjectFormat>,
    size: Option<u64>,
    parent: Option<u32>,
    name: Option<String>,
    modified: Option<DeviceTime>,
    created: Option<DeviceTime>,
}

impl Record {
    /// Groups a list's elements by object, in the order objects first appear.
    fn group(list: &ObjectPropList) -> Vec<Record> {
        let mut records: Vec<Record> = Vec::new();
        let mut index: HashMap<u32, usize> = HashMap::new();
        for element in &list.entries {
            let i = *index.entry(element.handle).or_insert_with(|| {
                records.push(Record {
                    handle: element.handle,
                    ..Record::default()
                });
                records.len() - 1
            });
            let record = &mut records[i];
            let number = element.value.as_u64();
            let text = element.value.as_str();
            match element.property {
                PropertyCode::STORAGE_ID => record.storage = number.map(|v| v as u32),
                PropertyCode::OBJECT_FORMAT => record.format = number.map(|v| ObjectFormat(v as u16)),
                PropertyCode::OBJECT_SIZE => record.size = number,
                PropertyCode::PARENT_OBJECT => record.parent = number.map(|v| v as u32),
                PropertyCode::OBJECT_FILE_NAME => record.name = text.map(str::to_owned),
                PropertyCode::DATE_MODIFIED => record.modified = text.and_then(parse_ptp_time),
                PropertyCode::DATE_CREATED => record.created = text.and_then(parse_ptp_time),
                _ => {}
            }
        }
        records
    }

    /// The parent handle, with both spellings of "the root" as 0.
    fn parent_or_root(&self) -> u32 {
        match self.parent {
            Some(parent) if parent != ROOT.0 => parent,
            _ => 0,
        }
    }

    fn name(&self) -> Result<String> {
        self.name.clone().ok_or_else(|| self.missing("ObjectFileName"))
    }

    fn entry(&self, storage: StorageId, path: Vec<String>) -> Result<Entry> {
        let format = self.format.ok_or_else(|| self.missing("ObjectFormat"))?;
        Ok(Entry {
            storage_id: self.storage.map_or(storage, StorageId),
            handle: ObjectHandle(self.handle),
            parent: ObjectHandle(self.parent_or_root()),
            path,
            format,
            size: if format.is_folder() {
                0
            } else {
                self.size.unwrap_or(0)
            },
            modified: self.modified.or(self.created),
        })
    }

    fn missing(&self, property: &str) -> SessionError {
        SessionError::Protocol {
            op: OperationCode::GET_OBJECT_PROP_LIST,
            detail: format!("object {} came without its {property}", ObjectHandle(self.handle)),
        }
    }
}
