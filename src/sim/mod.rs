//! A simulated MTP device: a real responder that parses the command
//! containers an initiator writes and answers with data and response phases,
//! cut into USB packets, through the same [`Transport`](crate::transport::Transport)
//! trait as a USB device. Tests and `--demo` use it; it is built only with
//! the `sim` cargo feature (on by default for the binary's `--demo`).
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
//! open and a new handle numbering; [`SimDevice::attach`] is a new program
//! opening the device without a replug, which finds whatever the last one
//! left under way. Faults are armed on the device with [`SimDevice::arm`],
//! between or during connections.
//!
//! # Layers
//! `model` (storages, trees, handles) → `responder` (the MTP server of one
//! connection: operations to replies) → `link` (USB: transfers, packets,
//! class requests, the time model) → `host` ([`SimTransport`], the host's
//! end). `profiles` says what each profile does; imports run that way only.
//!
//! # The device-side API
//! [`SimDevice::plug`] returns a [`DeviceEnd`]: the device's end of one
//! plugged-in cable, to drive from anything that moves USB transfers (a
//! FunctionFS gadget reads `ep1`/writes `ep2`/`ep3`, and hands ep0's class
//! requests over):
//! - [`DeviceEnd::bulk_out`]`(transfer)`: one OUT transfer as received (an
//!   empty one is a zero-length packet);
//! - [`DeviceEnd::bulk_in`]`(max_len)`: the next IN transfer:
//!   [`BulkIn::Data`] (whole packets, short at a phase's end; empty = a
//!   zero-length packet), [`BulkIn::Nak`] (nothing yet; `ready_in` when the
//!   time model delays the first byte), [`BulkIn::Cut`] (a fault fired);
//! - [`DeviceEnd::control`]`(request, value, index, data)` for the class
//!   requests in [`class_request`] (Cancel 0x64, Get Device Status 0x67,
//!   Device Reset 0x66 — recorded in [`SimStats::class_resets`]);
//! - [`DeviceEnd::next_event`] / [`DeviceEnd::wait_event`] for the interrupt
//!   endpoint; [`DeviceEnd::clear_halt`] for CLEAR_FEATURE(ENDPOINT_HALT).
//!
//! Errors are [`EndpointError`]s: `Nak` (the host's transfer would time
//! out), `Stall`, `Disconnected`. [`SimTransport`] is a thin host-side adapter
//! over the same `DeviceEnd`.
//!
//! # Behaviours to expect (as on Android, see [`Profile`] and [`Quirks`])
//! - Packets of 512 bytes (high speed) or 1024 ([`Speed::Super`]); a phase
//!   that fills its last packet is followed by a zero-length packet (not on
//!   QEMU); with [`Quirks::split_header`] a data container's 12-byte header
//!   is its own short transfer.
//! - A first-byte delay per transaction and per object a listing walks
//!   ([`Timing`]), scaled to 0 by default so that tests run fast.
//! - A client gone mid-phase wedges an Android server: the next client's
//!   commands are NAKed and its reads get the stale data until Cancel (which
//!   leaves a Transaction Cancelled response to drain after an object
//!   transfer) or a replug; Get Device Status answers as MtpFfsHandle does.
//! - GetObjectPropList with depth 1 on a folder lists its children and then
//!   the folder itself; Android reports no DateCreated property.
//! - Handles are handed out as folders are listed, never reused: a handle
//!   from an earlier session is Invalid ObjectHandle.
//! - GetPartialObject64 takes the offset as two parameters, low word first.
//! - DeleteObject on a folder deletes everything in it.
//! - Events go only to a connection with a session open; their transaction
//!   id is the last command's.
//!
//! # Where it differs from a real device
//! - Nothing happens in the background: a read with nothing coming, or a
//!   command written before the last answer was read, fails at once with
//!   `Timeout` instead of waiting out the timeout; a timeout fault does not
//!   sleep either (the time model's delays are waited out for real).
//! - Unparsable command containers are dropped without an answer.
//! - DeviceInfo lists only the operations the simulator implements (no
//!   device properties, no SetObjectPropValue, no Android edit operations).
//! - Samsung's refusal of GetObjectPropList on the root answers Invalid
//!   ObjectHandle (the code real phones use is not documented).
//! - Free space is the configured capacity minus the bytes stored, also for
//!   a served folder; a served folder is a snapshot taken when it is added
//!   (files added on disk later are not seen; `add_file` on it does not
//!   write to disk).
//! - Thumbnails are one fixed 8×8 JPEG for every image, except for
//!   [`Content::Synthetic`] files, which serve their own (the demo phone's
//!   camera photos: their EXIF thumbnail) or none; ObjectInfo's thumbnail
//!   fields always describe the fixed one.

mod arrival;
mod content;
pub mod demo;
mod fault;
mod host;
mod lie;
mod link;
pub mod media;
mod model;
mod profiles;
mod responder;
mod tree;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, MutexGuard};
use std::time::Duration;

use chrono::{NaiveDate, NaiveDateTime};

pub use content::{Content, Synthesize, generated_bytes};
pub use fault::{Fault, Garble};
pub use host::SimTransport;
pub use lie::Lie;
pub use link::{BulkIn, DeviceEnd, EndpointError, Speed, class_request};
pub use profiles::{Profile, Quirks, Timing};
pub use tree::StorageSpec;

use crate::ptp::{EventCode, OperationCode};
use link::{Device, Shared};
use model::{Model, ObjKey};
use tree::{Node, Storage, normalize};

/// The storage id an untrusted iPhone lists until the user taps Trust.
pub const UNTRUSTED_PLACEHOLDER: u32 = 0xFEED_FACE;

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
    /// The USB device descriptor's serial number, when it is not the MTP one
    /// (QEMU's usb-mtp: one MTP serial for all, a USB serial per port).
    pub usb_serial: Option<String>,
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
    /// The serial number USB reports: [`Self::usb_serial`], else the MTP one.
    pub fn usb_serial(&self) -> &str {
        self.usb_serial.as_deref().unwrap_or(&self.serial)
    }

    /// A plausible identity for a simulated device of `profile`
    /// (vendor 0x1209, the pid.codes open-source vendor id).
    pub fn simulated(profile: Profile) -> DeviceIdentity {
        let (model, product_id) = profile.model_and_product();
        DeviceIdentity {
            manufacturer: "mtpull".into(),
            model: model.into(),
            device_version: "1.0".into(),
            serial: format!("SIM-{}", profile.name().to_uppercase()),
            usb_serial: None,
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
    /// Delay added to every transaction's first byte, on top of `timing`.
    pub latency: Duration,
    /// New object handles in every session (true, like Android and QEMU), or
    /// handles kept for the device's lifetime.
    pub renumber_handles: bool,
    /// The bulk endpoints' speed (packet size).
    pub speed: Speed,
    /// What the device does that the specifications do not say.
    pub quirks: Quirks,
    /// How long answers take to start.
    pub timing: Timing,
}

impl SimConfig {
    /// Defaults for `profile`: its simulated identity, quirks and time model
    /// (at scale 0: answers start at once, see [`SimConfig::time_scale`]),
    /// high speed, no latency, handles renumbered per session.
    pub fn new(profile: Profile) -> SimConfig {
        SimConfig {
            profile,
            identity: DeviceIdentity::simulated(profile),
            latency: Duration::ZERO,
            renumber_handles: true,
            speed: Speed::High,
            quirks: profile.quirks(),
            timing: Timing {
                scale: 0.0,
                ..profile.timing()
            },
        }
    }

    /// Runs the bulk endpoints at `speed`.
    pub fn speed(mut self, speed: Speed) -> SimConfig {
        self.speed = speed;
        self
    }

    /// Changes the quirks (start from [`Profile::quirks`]).
    pub fn quirks(mut self, quirks: Quirks) -> SimConfig {
        self.quirks = quirks;
        self
    }

    /// Scales the profile's time model: 1.0 for its own delays, 0 for none.
    pub fn time_scale(mut self, scale: f64) -> SimConfig {
        self.timing.scale = scale;
        self
    }

    /// Sets the time model.
    pub fn timing(mut self, timing: Timing) -> SimConfig {
        self.timing = timing;
        self
    }

    /// Sets who the device says it is.
    pub fn identity(mut self, identity: DeviceIdentity) -> SimConfig {
        self.identity = identity;
        self
    }

    /// Delays every transaction's first byte this long.
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
            shared: Arc::new(Shared::new(Model::new(self))),
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
    /// Class Cancel requests (0x64) received.
    pub cancels: u64,
    /// Class Device Reset requests (0x66) received: never from mtpull.
    pub class_resets: u64,
    /// Class Get Device Status requests (0x67) received.
    pub status_requests: u64,
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

/// A simulated MTP device. Cloning gives another handle on the same device.
#[derive(Clone)]
pub struct SimDevice {
    pub(crate) shared: Arc<Shared>,
}

impl fmt::Debug for SimDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let device = self.shared.lock();
        let model = &device.model;
        f.debug_struct("SimDevice")
            .field("profile", &model.config.profile)
            .field("serial", &model.config.identity.serial)
            .field("storages", &model.storages.len())
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

    fn lock(&self) -> MutexGuard<'_, Device> {
        self.shared.lock()
    }

    /// The device's profile.
    pub fn profile(&self) -> Profile {
        self.lock().model.config.profile
    }

    /// Who the device says it is.
    pub fn identity(&self) -> DeviceIdentity {
        self.lock().model.config.identity.clone()
    }

    /// Plugs the cable in and returns the device's end of it: a fresh USB
    /// link with no session open (a bus reset does the same). A link still
    /// plugged in is unplugged first (its ends answer `Disconnected`).
    pub fn plug(&self) -> DeviceEnd {
        let generation = self.lock().plug();
        self.shared.notify();
        DeviceEnd::new(Arc::clone(&self.shared), generation)
    }

    /// Plugs the cable in (see [`SimDevice::plug`]) and returns the host's end.
    pub fn connect(&self) -> SimTransport {
        SimTransport::new(self.plug())
    }

    /// A new program opening the device on the cable as it is, without a
    /// replug: whatever an earlier client left under way is still there (the
    /// Android wedge). Plugs the cable in if it is not.
    pub fn attach(&self) -> SimTransport {
        let generation = self.lock().generation_plugged();
        match generation {
            Some(generation) => SimTransport::new(DeviceEnd::new(Arc::clone(&self.shared), generation)),
            None => self.connect(),
        }
    }

    /// Pulls the cable: the current connection answers `Disconnected`.
    pub fn unplug(&self) {
        self.lock().link = None;
        self.shared.notify();
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
        let mut device = self.lock();
        storage.id = ((device.model.storages.len() as u32 + 1) << 16) | 1;
        let id = storage.id;
        device.model.storages.push(storage);
        if !device.model.locked && device.send_event(EventCode::STORE_ADDED, &[id]) {
            self.shared.notify();
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
        self.lock().model.storages.iter().map(|s| s.id).collect()
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
        let mut device = self.lock();
        let tree = device
            .model
            .storage_mut_even_locked(storage)
            .ok_or(SimError::NoStorage(storage))?;
        let created = tree.insert(&path, node, mtime)?;
        // Adding a folder that exists changes nothing; replacing a file does.
        if created.is_empty() && is_file {
            let replaced = device
                .model
                .handles
                .existing(&ObjKey::new(storage, path.as_str()));
            if let Some(handle) = replaced.filter(|_| !device.model.locked) {
                device.send_event(EventCode::OBJECT_INFO_CHANGED, &[handle]);
            }
        } else {
            device.announce_added(storage, &created);
        }
        drop(device);
        self.shared.notify();
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
        let mut device = self.lock();
        let tree = device
            .model
            .storage_mut_even_locked(storage)
            .ok_or(SimError::NoStorage(storage))?;
        tree.remove(&path)
            .ok_or_else(|| SimError::bad_path(&path, "no such object"))?;
        let key = ObjKey::new(storage, path);
        if let Some(handle) = device.model.handles.existing(&key) {
            device.send_event(EventCode::OBJECT_REMOVED, &[handle]);
        }
        device.model.handles.forget_subtree(&key);
        drop(device);
        self.shared.notify();
        Ok(())
    }

    /// The content of the file at `path`, if there is one (to check uploads).
    pub fn content(&self, storage: u32, path: &str) -> Option<Content> {
        let path = normalize(path).ok()?;
        let device = self.lock();
        match device
            .model
            .storages
            .iter()
            .find(|s| s.id == storage)?
            .node(&path)?
        {
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
        let device = self.lock();
        let mut out = Vec::new();
        if let Some(s) = device.model.storages.iter().find(|s| s.id == storage) {
            walk("", &s.root, &mut out);
        }
        out
    }

    /// Unlocks the phone: its storages appear, and a connection with a
    /// session open gets one StoreAdded event per storage.
    pub fn unlock(&self) {
        let mut device = self.lock();
        if !device.model.locked {
            return;
        }
        device.model.locked = false;
        let ids: Vec<u32> = device.model.storages.iter().map(|s| s.id).collect();
        for id in ids {
            device.send_event(EventCode::STORE_ADDED, &[id]);
        }
        drop(device);
        self.shared.notify();
    }

    /// The user taps Trust on an iPhone: its placeholder storage goes
    /// (StoreRemoved) and its storages come (StoreAdded each), for a
    /// connection with a session open.
    pub fn trust(&self) {
        let mut device = self.lock();
        if !device.model.untrusted {
            return;
        }
        device.model.untrusted = false;
        device.send_event(EventCode::STORE_REMOVED, &[UNTRUSTED_PLACEHOLDER]);
        let ids: Vec<u32> = device.model.storages.iter().map(|s| s.id).collect();
        for id in ids {
            device.send_event(EventCode::STORE_ADDED, &[id]);
        }
        drop(device);
        self.shared.notify();
    }

    /// Whether the phone is locked (shows no storage).
    pub fn is_locked(&self) -> bool {
        self.lock().model.locked
    }

    /// Arms a fault; it fires on whichever connection is plugged in when its
    /// trigger is reached.
    pub fn arm(&self, fault: Fault) {
        self.lock().model.faults.arm(fault);
    }

    /// Makes the device lie about one object from now on (see [`Lie`]).
    pub fn lie(&self, storage: u32, path: &str, lie: Lie) -> Result<(), SimError> {
        let path = normalize(path)?;
        self.lock().model.lies.tell(ObjKey::new(storage, path), lie);
        Ok(())
    }

    /// Disarms every fault.
    pub fn disarm_all(&self) {
        self.lock().model.faults.clear();
    }

    /// Faults armed and not yet fired (an `always` fault stays armed).
    pub fn armed_faults(&self) -> usize {
        self.lock().model.faults.len()
    }

    /// Sets the sleep added to every transaction from now on.
    pub fn set_latency(&self, latency: Duration) {
        self.lock().model.config.latency = latency;
    }

    /// The counters so far.
    pub fn stats(&self) -> SimStats {
        self.lock().model.stats.clone()
    }

    /// Transactions so far (command containers received).
    pub fn transactions(&self) -> u64 {
        self.lock().model.stats.transactions
    }

    /// Transactions of one operation so far.
    pub fn transactions_of(&self, op: OperationCode) -> u64 {
        self.lock()
            .model
            .stats
            .by_operation
            .get(&op)
            .copied()
            .unwrap_or(0)
    }

    /// Zeroes the counters.
    pub fn reset_stats(&self) {
        self.lock().model.stats = SimStats::default();
    }
}
