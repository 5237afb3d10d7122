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
use std::sync::Arc;

use super::ops::{PropListQuery, ROOT};
use super::{Result, Session, SessionError};
use crate::ptp::{DeviceTime, parse_ptp_time};
use crate::ptp::{
    ObjectFormat, ObjectHandle, ObjectInfo, OperationCode, PropListEntry, PropertyCode, StorageId, Value,
};
use crate::transport::TransportError;

/// The names of a folder from the storage's root down (empty: the root), as
/// the device gave them: one copy per folder, shared by every entry in it, so
/// that 100,000 objects do not carry 100,000 copies of their folders' names.
pub(super) type FolderPath = Arc<[String]>;

/// One object on a storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The storage holding it.
    pub storage_id: StorageId,
    /// Its handle in this session (handles may change across sessions).
    pub handle: ObjectHandle,
    /// Its folder's handle; [`ObjectHandle::ROOT_PARENT`] at the storage's root.
    pub parent: ObjectHandle,
    /// Its folder's names from the storage's root (untrusted).
    pub folder: FolderPath,
    /// Its own name, as the device gave it (untrusted).
    pub name: String,
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
        &self.name
    }

    /// Names from the storage's root down to this object; the last one is its own.
    pub fn path(&self) -> Vec<&str> {
        self.folder
            .iter()
            .map(String::as_str)
            .chain([self.name.as_str()])
            .collect()
    }

    /// How many folders down from the root it is (0: at the root).
    pub fn depth(&self) -> usize {
        self.folder.len()
    }

    /// Whether this is a folder.
    pub fn is_folder(&self) -> bool {
        self.format.is_folder()
    }

    /// The folder path of this folder's children.
    fn as_folder(&self) -> FolderPath {
        self.folder.iter().cloned().chain([self.name.clone()]).collect()
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
    /// The all-objects GetObjectPropList answer for the storages not walked
    /// yet (this session's handles).
    every_object: Option<EveryObject>,
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
    /// to give it: it is asked once per session and what belongs to the other
    /// storages is kept for them.
    fn walk_all_objects(&mut self, storage: StorageId) -> Result<Option<Vec<Entry>>> {
        let every = match self.listing.every_object.take() {
            Some(every) if !every.walked.contains(&storage.0) => every,
            _ => EveryObject {
                records: self.prop_list_records(&PropListQuery::all_objects())?,
                walked: Vec::new(),
            },
        };
        let EveryObject { records, mut walked } = every;
        let (mine, others): (Vec<Record>, Vec<Record>) = records
            .into_iter()
            .partition(|r| r.storage.is_none_or(|s| s == storage.0));
        // Records naming no storage belong to every storage.
        let shared = mine.iter().filter(|r| r.storage.is_none()).cloned();
        let kept: Vec<Record> = others.into_iter().chain(shared).collect();
        walked.push(storage.0);
        self.listing.every_object = Some(EveryObject {
            records: kept,
            walked,
        });
        Self::entries_of(storage, mine)
    }

    /// The records of one storage as entries, each folder before its contents.
    fn entries_of(storage: StorageId, records: Vec<Record>) -> Result<Option<Vec<Entry>>> {
        let index: HashMap<u32, usize> = records.iter().enumerate().map(|(i, r)| (r.handle, i)).collect();
        // Each object's depth, following the parents up to the root; more steps
        // than objects is a loop.
        let mut depths: Vec<Option<u32>> = vec![None; records.len()];
        for start in 0..records.len() {
            let mut chain = Vec::new();
            let mut at = start;
            // The depth of the object above the chain's top (-1: the root).
            let above = loop {
                if let Some(depth) = depths[at] {
                    break i64::from(depth);
                }
                if chain.len() > records.len() {
                    return Ok(None);
                }
                chain.push(at);
                match records[at].parent_or_root() {
                    0 => break -1,
                    parent => match index.get(&parent) {
                        Some(&i) => at = i,
                        None => return Ok(None),
                    },
                }
            };
            for (down, &i) in chain.iter().rev().enumerate() {
                depths[i] = u32::try_from(above + 1 + down as i64).ok();
            }
        }
        drop(index);
        let mut order: Vec<usize> = (0..records.len()).collect();
        order.sort_by_key(|&i| depths[i]);
        drop(depths);
        let mut slots: Vec<Option<Record>> = records.into_iter().map(Some).collect();
        // Folder handle -> the path its children share, made once per folder.
        let mut folders: HashMap<u32, FolderPath> = HashMap::from([(0, FolderPath::from([]))]);
        let mut entries = Vec::with_capacity(slots.len());
        for i in order {
            let Some(record) = slots[i].take() else {
                continue;
            };
            let Some(folder) = folders.get(&record.parent_or_root()).cloned() else {
                // The parent is not a folder listed before: no tree.
                return Ok(None);
            };
            let entry = record.into_entry(storage, folder)?;
            if entry.is_folder() {
                folders.insert(entry.handle.0, entry.as_folder());
            }
            entries.push(entry);
        }
        Ok(Some(entries))
    }

    /// GetObjectPropList, grouped by object as it arrives.
    fn prop_list_records(&mut self, query: &PropListQuery) -> Result<Vec<Record>> {
        let mut records = Records::default();
        self.object_prop_list_each(query, &mut |element| records.add(element))?;
        Ok(records.list)
    }

    fn list_folder_by_prop_list(&mut self, storage: StorageId, folder: Option<&Entry>) -> Result<Vec<Entry>> {
        let folder_handle = folder.map_or(ObjectHandle::ROOT_PARENT, |f| f.handle);
        let records = self.prop_list_records(&PropListQuery::children(folder_handle))?;
        let handle = folder_handle.0;
        let path = folder.map_or_else(|| FolderPath::from([]), Entry::as_folder);
        // Android adds the folder itself to its children, and answers the
        // root's children of every storage: keep only this folder's.
        records
            .into_iter()
            .filter(|r| r.handle != handle)
            .filter(|r| r.parent.is_none_or(|_| r.parent_or_root() == handle))
            .filter(|r| r.storage.is_none_or(|s| s == storage.0))
            .map(|r| r.into_entry(storage, path.clone()))
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
        let path = folder.map_or_else(|| FolderPath::from([]), Entry::as_folder);
        Ok(children
            .into_iter()
            .filter(|(_, info, _)| belongs(info))
            .map(|(handle, info, size)| entry_from_info(handle, folder, &path, &info, size))
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

fn entry_from_info(
    handle: ObjectHandle,
    folder: Option<&Entry>,
    path: &FolderPath,
    info: &ObjectInfo,
    size: u64,
) -> Entry {
    let modified = parse_ptp_time(&info.date_modified).or_else(|| parse_ptp_time(&info.date_created));
    Entry {
        storage_id: StorageId(info.storage_id),
        handle,
        parent: folder.map_or(ObjectHandle::ROOT_PARENT, |f| f.handle),
        folder: path.clone(),
        name: info.filename.clone(),
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

/// What is left of the all-objects answer once some storages took theirs.
#[derive(Debug)]
pub(super) struct EveryObject {
    /// The records of the storages not walked yet (and those naming no storage).
    records: Vec<Record>,
    /// Storages already walked from it: walking one again asks the device again.
    walked: Vec<u32>,
}

/// One object's properties gathered from an ObjectPropList.
#[derive(Debug, Default, Clone)]
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

/// An ObjectPropList's elements grouped by object, in the order objects first appear.
#[derive(Default)]
struct Records {
    list: Vec<Record>,
    /// Where each handle's record is in `list`. Elements come grouped by object
    /// in practice, so the last record is tried first.
    index: HashMap<u32, usize>,
}

impl Records {
    fn add(&mut self, element: PropListEntry) {
        let i = match self.list.last() {
            Some(last) if last.handle == element.handle => self.list.len() - 1,
            _ => *self.index.entry(element.handle).or_insert_with(|| {
                self.list.push(Record {
                    handle: element.handle,
                    ..Record::default()
                });
                self.list.len() - 1
            }),
        };
        let record = &mut self.list[i];
        let number = element.value.as_u64();
        match element.property {
            PropertyCode::STORAGE_ID => record.storage = number.map(|v| v as u32),
            PropertyCode::OBJECT_FORMAT => record.format = number.map(|v| ObjectFormat(v as u16)),
            PropertyCode::OBJECT_SIZE => record.size = number,
            PropertyCode::PARENT_OBJECT => record.parent = number.map(|v| v as u32),
            PropertyCode::OBJECT_FILE_NAME => {
                if let Value::Str(name) = element.value {
                    record.name = Some(name);
                }
            }
            PropertyCode::DATE_MODIFIED => record.modified = element.value.as_str().and_then(parse_ptp_time),
            PropertyCode::DATE_CREATED => record.created = element.value.as_str().and_then(parse_ptp_time),
            _ => {}
        }
    }
}

impl Record {
    /// The parent handle, with both spellings of "the root" as 0.
    fn parent_or_root(&self) -> u32 {
        match self.parent {
            Some(parent) if parent != ROOT.0 => parent,
            _ => 0,
        }
    }

    fn into_entry(mut self, storage: StorageId, folder: FolderPath) -> Result<Entry> {
        let format = self.format.ok_or_else(|| self.missing("ObjectFormat"))?;
        let Some(name) = self.name.take() else {
            return Err(self.missing("ObjectFileName"));
        };
        Ok(Entry {
            storage_id: self.storage.map_or(storage, StorageId),
            handle: ObjectHandle(self.handle),
            parent: ObjectHandle(self.parent_or_root()),
            folder,
            name,
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
