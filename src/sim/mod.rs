//! A simulated MTP device: a real responder that parses the command
//! containers an initiator writes and answers with data and response phases,
//! as bytes, through the same [`Transport`](crate::transport::Transport) trait
//! as a USB device. Tests and `--demo` use it.
//!
//! ```
//! use mtpull::sim::{Content, Profile, SimDevice, StorageSpec};
//! let phone = SimDevice::new(Profile::Android);
//! let storage = phone.add_storage(StorageSpec::new("Internal shared storage"));
//! let when = chrono::NaiveDate::from_ymd_opt(2024, 5, 26).unwrap().and_hms_opt(10, 15, 0).unwrap();
//! phone.add_file(storage, "DCIM/Camera/IMG_1.jpg", Content::from("…"), when).unwrap();
//! let transport = phone.connect(); // plug the cable in: a fresh USB link
//! # drop(transport);
//! ```
//!
//! The device (its files, uploads and deletions) persists across
//! connections; each [`SimDevice::connect`] is a replug, with no session
//! open and a new handle numbering. Faults are armed on the device with
//! [`SimDevice::arm`], between or during connections.
//!
//! # Behaviours to expect (as on Android)
//! - GetObjectPropList with depth 1 on a folder lists its children and then
//!   the folder itself.
//! - Handles are handed out as folders are listed, never reused: a handle
//!   from an earlier session is Invalid ObjectHandle.
//! - GetPartialObject64 takes the offset as two parameters, low word first.
//! - DeleteObject on a folder deletes everything in it.
//! - Events go only to a connection with a session open; their transaction
//!   id is the last command's.
//!
//! # Where it differs from a real device
//! - Nothing happens in the background: a read with nothing to read, or a
//!   command written before the last answer was read, fails at once with
//!   `Timeout` instead of waiting out the timeout; a timeout fault does not
//!   sleep either.
//! - Unparsable command containers are dropped without an answer.
//! - DeviceInfo lists only the operations the simulator implements (no
//!   device properties, no SetObjectPropValue, no Android edit operations).
//! - Samsung's refusal of parent 0 answers Parameter Not Supported (the code
//!   real phones use is not documented).
//! - Free space is the configured capacity minus the bytes stored, also for
//!   a served folder; a served folder is a snapshot taken when it is added
//!   (files added on disk later are not seen; `add_file` on it does not
//!   write to disk).
//! - Thumbnails are one fixed 8×8 JPEG for every image, except for
//!   [`Content::Synthetic`] files, which serve their own (the demo phone's
//!   camera photos: their EXIF thumbnail) or none; ObjectInfo's thumbnail
//!   fields always describe the fixed one.

mod content;
pub mod demo;
mod fault;
mod link;
pub mod media;
mod responder;
mod state;
mod tree;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{NaiveDate, NaiveDateTime};

pub use content::{Content, Synthesize, generated_bytes};
pub use fault::Fault;
pub use link::{MAX_PACKET_SIZE, SimTransport};
pub use tree::StorageSpec;

use crate::ptp::{EventCode, OperationCode};
use state::{Link, ObjKey, State};
use tree::{Node, Storage, normalize};

/// How the simulated device behaves: whose rules it follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Profile {
    /// Android's MTP server: GetObjectPropList (depth 0/1, or every object
    /// with handle and depth 0xFFFFFFFF), GetPartialObject64, DateCreated =
    /// DateModified = file time.
    Android,
    /// Android with the screen locked: no storage until [`SimDevice::unlock`],
    /// which sends StoreAdded to an open session.
    Locked,
    /// Android, but GetObjectHandles with parent 0 (every object) is refused.
    Samsung,
    /// A PTP-only camera: no object property operations, no 64-bit partial
    /// reads; listing is GetObjectHandles + GetObjectInfo only.
    PtpCamera,
    /// QEMU's usb-mtp: no property lists, no GetThumb, every file's format
    /// "Undefined", no ObjectFileName property.
    Qemu,
}

impl Profile {
    /// Every profile.
    pub const ALL: [Profile; 5] = [
        Profile::Android,
        Profile::Locked,
        Profile::Samsung,
        Profile::PtpCamera,
        Profile::Qemu,
    ];

    /// The profile's name, as `FromStr` reads it ("android", "ptp-camera"…).
    pub fn name(self) -> &'static str {
        match self {
            Profile::Android => "android",
            Profile::Locked => "locked",
            Profile::Samsung => "samsung",
            Profile::PtpCamera => "ptp-camera",
            Profile::Qemu => "qemu",
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Profile {
    type Err = String;

    fn from_str(name: &str) -> Result<Profile, String> {
        Profile::ALL
            .into_iter()
            .find(|p| p.name() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = Profile::ALL.iter().map(|p| p.name()).collect();
                format!("unknown device profile {name:?} (known: {})", names.join(", "))
            })
    }
}

/// Who the device says it is: DeviceInfo's strings, and the USB facts a
/// device listing shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceIdentity {
    /// DeviceInfo Manufacturer.
    pub manufacturer: String,
    /// DeviceInfo Model.
    pub model: String,
    /// DeviceInfo DeviceVersion.
    pub device_version: String,
    /// DeviceInfo SerialNumber.
    pub serial: String,
    /// USB vendor id.
    pub vendor_id: u16,
    /// USB product id.
    pub product_id: u16,
    /// USB bus number.
    pub bus: u8,
    /// USB port number on that bus.
    pub port: u8,
}

impl DeviceIdentity {
    /// A plausible identity for a simulated device of `profile`
    /// (vendor 0x1209, the pid.codes open-source vendor id).
    pub fn simulated(profile: Profile) -> DeviceIdentity {
        let (model, product_id) = match profile {
            Profile::Android => ("Simulated Android phone", 0x0001),
            Profile::Locked => ("Simulated locked phone", 0x0002),
            Profile::Samsung => ("Simulated Samsung phone", 0x0003),
            Profile::PtpCamera => ("Simulated camera", 0x0004),
            Profile::Qemu => ("QEMU filesharing", 0x0005),
        };
        DeviceIdentity {
            manufacturer: "mtpull".into(),
            model: model.into(),
            device_version: "1.0".into(),
            serial: format!("SIM-{}", profile.name().to_uppercase()),
            vendor_id: 0x1209,
            product_id,
            bus: 1,
            port: product_id as u8 + 1,
        }
    }
}

/// How to build a [`SimDevice`]. Storages and files are added to the device
/// afterwards (they can change while it runs).
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Whose rules the device follows.
    pub profile: Profile,
    /// DeviceInfo strings and USB facts.
    pub identity: DeviceIdentity,
    /// Sleep added to every transaction.
    pub latency: Duration,
    /// New object handles in every session (true, like Android and QEMU), or
    /// handles kept for the device's lifetime.
    pub renumber_handles: bool,
}

impl SimConfig {
    /// Defaults for `profile`: its simulated identity, no latency, handles
    /// renumbered per session.
    pub fn new(profile: Profile) -> SimConfig {
        SimConfig {
            profile,
            identity: DeviceIdentity::simulated(profile),
            latency: Duration::ZERO,
            renumber_handles: true,
        }
    }

    /// Sets who the device says it is.
    pub fn identity(mut self, identity: DeviceIdentity) -> SimConfig {
        self.identity = identity;
        self
    }

    /// Sleeps this long in every transaction.
    pub fn latency(mut self, latency: Duration) -> SimConfig {
        self.latency = latency;
        self
    }

    /// Keeps object handles across sessions and connections.
    pub fn stable_handles(mut self) -> SimConfig {
        self.renumber_handles = false;
        self
    }

    /// The device, with no storage yet.
    pub fn build(self) -> SimDevice {
        SimDevice {
            shared: Arc::new(Shared {
                state: Mutex::new(State::new(self)),
                events: Condvar::new(),
            }),
        }
    }
}

/// Counters the device keeps (see [`SimDevice::stats`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Command containers received (every operation, answered or not).
    pub transactions: u64,
    /// The same, per operation.
    pub by_operation: BTreeMap<OperationCode, u64>,
    /// Bulk-IN bytes delivered (data and response containers).
    pub in_bytes: u64,
    /// Bulk-OUT bytes received.
    pub out_bytes: u64,
    /// Zero-length packets sent after IN phases that filled their last packet.
    pub zero_length_packets: u64,
    /// Times the cable was plugged in.
    pub connections: u64,
}

/// Why the device's owner could not change it.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// No storage has that id.
    #[error("the simulated device has no storage 0x{0:08X}")]
    NoStorage(u32),
    /// The path cannot name an object, or clashes with one.
    #[error("cannot use {path:?} on the simulated device: {reason}")]
    BadPath {
        /// The path as given.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Reading a folder to serve failed.
    #[error("cannot serve {}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
}

impl SimError {
    pub(crate) fn bad_path(path: &str, reason: impl Into<String>) -> SimError {
        SimError::BadPath {
            path: path.to_string(),
            reason: reason.into(),
        }
    }
}

/// The device's state, shared by its handles and its connection.
pub(crate) struct Shared {
    state: Mutex<State>,
    /// Signalled when an event is queued or the link goes away.
    pub(crate) events: Condvar,
}

impl Shared {
    /// The state; a panic elsewhere while holding it leaves it usable.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn wait_events<'a>(
        &self,
        guard: MutexGuard<'a, State>,
        timeout: Duration,
    ) -> MutexGuard<'a, State> {
        match self.events.wait_timeout(guard, timeout) {
            Ok((guard, _)) => guard,
            Err(poisoned) => poisoned.into_inner().0,
        }
    }
}

/// A simulated MTP device. Cloning gives another handle on the same device.
#[derive(Clone)]
pub struct SimDevice {
    pub(crate) shared: Arc<Shared>,
}

impl fmt::Debug for SimDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.shared.lock();
        f.debug_struct("SimDevice")
            .field("profile", &state.config.profile)
            .field("serial", &state.config.identity.serial)
            .field("storages", &state.storages.len())
            .finish()
    }
}

/// 2024-01-01 00:00, the date given to generated objects and created folders.
fn default_time() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2024, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap_or_default()
}

impl SimDevice {
    /// A device of `profile` with default settings and no storage.
    pub fn new(profile: Profile) -> SimDevice {
        SimConfig::new(profile).build()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.shared.lock()
    }

    /// The device's profile.
    pub fn profile(&self) -> Profile {
        self.lock().config.profile
    }

    /// Who the device says it is.
    pub fn identity(&self) -> DeviceIdentity {
        self.lock().config.identity.clone()
    }

    /// Plugs the cable in: a fresh USB link with no session open. A link
    /// still plugged in is unplugged first (its transport answers
    /// `Disconnected` from then on).
    pub fn connect(&self) -> SimTransport {
        let mut state = self.lock();
        state.generation += 1;
        state.stats.connections += 1;
        let generation = state.generation;
        state.link = Some(Link::new(generation));
        drop(state);
        self.shared.events.notify_all();
        SimTransport::new(self, generation)
    }

    /// Pulls the cable: the current connection answers `Disconnected`.
    pub fn unplug(&self) {
        self.lock().link = None;
        self.shared.events.notify_all();
    }

    /// Whether a connection is plugged in.
    pub fn is_connected(&self) -> bool {
        self.lock().link.is_some()
    }

    /// Adds an empty storage; returns its id (0x00010001, 0x00020001, …, as
    /// Android numbers them). While the phone is locked it stays hidden.
    pub fn add_storage(&self, spec: StorageSpec) -> u32 {
        self.push_storage(Storage::new(0, spec))
    }

    /// Numbers and adds a storage; an open session hears StoreAdded.
    fn push_storage(&self, mut storage: Storage) -> u32 {
        let mut state = self.lock();
        storage.id = ((state.storages.len() as u32 + 1) << 16) | 1;
        let id = storage.id;
        state.storages.push(storage);
        if !state.locked && state.send_event(EventCode::STORE_ADDED, &[id]) {
            self.shared.events.notify_all();
        }
        id
    }

    /// Adds a storage serving the folder `root` from disk (a snapshot of its
    /// tree, with file bytes read at transfer time). When `writable`,
    /// uploads and deletions change the folder.
    pub fn serve_folder(&self, spec: StorageSpec, root: &Path, writable: bool) -> Result<u32, SimError> {
        let mut storage = Storage::new(0, spec);
        storage.load_folder(root, writable)?;
        Ok(self.push_storage(storage))
    }

    /// The ids of every storage, locked or not.
    pub fn storage_ids(&self) -> Vec<u32> {
        self.lock().storages.iter().map(|s| s.id).collect()
    }

    fn change_tree(
        &self,
        storage: u32,
        path: &str,
        node: Node,
        mtime: NaiveDateTime,
    ) -> Result<(), SimError> {
        let path = normalize(path)?;
        let is_file = !node.is_folder();
        let mut state = self.lock();
        let tree = state
            .storage_mut_even_locked(storage)
            .ok_or(SimError::NoStorage(storage))?;
        let created = tree.insert(&path, node, mtime)?;
        // Adding a folder that exists changes nothing; replacing a file does.
        if created.is_empty() && is_file {
            let replaced = state.handles.existing(&ObjKey::new(storage, path.as_str()));
            if let Some(handle) = replaced.filter(|_| !state.locked) {
                state.send_event(EventCode::OBJECT_INFO_CHANGED, &[handle]);
            }
        } else {
            state.announce_added(storage, &created);
        }
        drop(state);
        self.shared.events.notify_all();
        Ok(())
    }

    /// Adds (or replaces) a file, creating its folders with the same
    /// `mtime`. A connected initiator with a session open gets ObjectAdded
    /// (or ObjectInfoChanged) events. On a served folder, the file exists
    /// only in the simulated tree.
    pub fn add_file(
        &self,
        storage: u32,
        path: &str,
        content: impl Into<Content>,
        mtime: NaiveDateTime,
    ) -> Result<(), SimError> {
        let node = Node::File {
            mtime,
            content: content.into(),
        };
        self.change_tree(storage, path, node, mtime)
    }

    /// Adds a folder (and its parents).
    pub fn add_folder(&self, storage: u32, path: &str, mtime: NaiveDateTime) -> Result<(), SimError> {
        self.change_tree(storage, path, Node::folder(mtime), mtime)
    }

    /// Adds `folders` folders `under/Folder_000`… each holding
    /// `files_per_folder` generated JPEG-named files of 1–5 KiB (content
    /// seed = the file's number, counted from 0 across the tree), dated a
    /// minute apart from 2024-01-01. Returns the number of files added.
    pub fn add_generated_tree(
        &self,
        storage: u32,
        under: &str,
        folders: usize,
        files_per_folder: usize,
    ) -> Result<usize, SimError> {
        let mut number = 0u64;
        for folder in 0..folders {
            let folder_path = format!("{under}/Folder_{folder:03}");
            self.add_folder(storage, &folder_path, default_time())?;
            for _ in 0..files_per_folder {
                let content = Content::generated(1024 + (number * 37) % 4096, number);
                let mtime = default_time() + chrono::Duration::minutes(number as i64);
                self.add_file(
                    storage,
                    &format!("{folder_path}/IMG_{number:05}.jpg"),
                    content,
                    mtime,
                )?;
                number += 1;
            }
        }
        Ok(folders * files_per_folder)
    }

    /// Deletes an object (a folder with everything in it) on the device's
    /// side, as the phone's user would: ObjectRemoved goes to an open session.
    pub fn remove(&self, storage: u32, path: &str) -> Result<(), SimError> {
        let path = normalize(path)?;
        let mut state = self.lock();
        let tree = state
            .storage_mut_even_locked(storage)
            .ok_or(SimError::NoStorage(storage))?;
        tree.remove(&path)
            .ok_or_else(|| SimError::bad_path(&path, "no such object"))?;
        let key = ObjKey::new(storage, path);
        if let Some(handle) = state.handles.existing(&key) {
            state.send_event(EventCode::OBJECT_REMOVED, &[handle]);
        }
        state.handles.forget_subtree(&key);
        drop(state);
        self.shared.events.notify_all();
        Ok(())
    }

    /// The content of the file at `path`, if there is one (to check uploads).
    pub fn content(&self, storage: u32, path: &str) -> Option<Content> {
        let path = normalize(path).ok()?;
        let state = self.lock();
        match state.storages.iter().find(|s| s.id == storage)?.node(&path)? {
            Node::File { content, .. } => Some(content.clone()),
            Node::Folder { .. } => None,
        }
    }

    /// Every object's path on a storage, folders with a trailing `/`, in
    /// depth-first order.
    pub fn paths(&self, storage: u32) -> Vec<String> {
        fn walk(prefix: &str, children: &BTreeMap<String, Node>, out: &mut Vec<String>) {
            for (name, node) in children {
                let path = tree::join(prefix, name);
                if let Node::Folder { children, .. } = node {
                    out.push(format!("{path}/"));
                    walk(&path, children, out);
                } else {
                    out.push(path);
                }
            }
        }
        let state = self.lock();
        let mut out = Vec::new();
        if let Some(s) = state.storages.iter().find(|s| s.id == storage) {
            walk("", &s.root, &mut out);
        }
        out
    }

    /// Unlocks the phone: its storages appear, and a connection with a
    /// session open gets one StoreAdded event per storage.
    pub fn unlock(&self) {
        let mut state = self.lock();
        if !state.locked {
            return;
        }
        state.locked = false;
        let ids: Vec<u32> = state.storages.iter().map(|s| s.id).collect();
        for id in ids {
            state.send_event(EventCode::STORE_ADDED, &[id]);
        }
        drop(state);
        self.shared.events.notify_all();
    }

    /// Whether the phone is locked (shows no storage).
    pub fn is_locked(&self) -> bool {
        self.lock().locked
    }

    /// Arms a fault; it fires on whichever connection is plugged in when its
    /// trigger is reached.
    pub fn arm(&self, fault: Fault) {
        self.lock().faults.arm(fault);
    }

    /// Disarms every fault.
    pub fn disarm_all(&self) {
        self.lock().faults.clear();
    }

    /// Faults armed and not yet fired (an `always` fault stays armed).
    pub fn armed_faults(&self) -> usize {
        self.lock().faults.len()
    }

    /// Sets the sleep added to every transaction from now on.
    pub fn set_latency(&self, latency: Duration) {
        self.lock().config.latency = latency;
    }

    /// The counters so far.
    pub fn stats(&self) -> SimStats {
        self.lock().stats.clone()
    }

    /// Transactions so far (command containers received).
    pub fn transactions(&self) -> u64 {
        self.lock().stats.transactions
    }

    /// Transactions of one operation so far.
    pub fn transactions_of(&self, op: OperationCode) -> u64 {
        self.lock().stats.by_operation.get(&op).copied().unwrap_or(0)
    }

    /// Zeroes the counters.
    pub fn reset_stats(&self) {
        self.lock().stats = SimStats::default();
    }
}
