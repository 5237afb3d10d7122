//! Everything the simulated device remembers: its storages and trees (which
//! persist across connections), the object handles of the current numbering,
//! the one USB link that may be plugged in, armed faults and counters.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use super::fault::Faults;
use super::link::{InPhase, OutData};
use super::tree::{Node, Storage, join, split_parent};
use super::{SimConfig, SimStats};
use crate::ptp::{EventCode, Message, ObjectFormat};

/// An object as the device knows it, independent of any handle.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct ObjKey {
    pub(crate) storage: u32,
    pub(crate) path: String,
}

impl ObjKey {
    pub(crate) fn new(storage: u32, path: impl Into<String>) -> ObjKey {
        ObjKey {
            storage,
            path: path.into(),
        }
    }

    /// The parent folder, or `None` at a storage's root.
    pub(crate) fn parent(&self) -> Option<ObjKey> {
        match split_parent(&self.path) {
            ("", _) => None,
            (parent, _) => Some(ObjKey::new(self.storage, parent)),
        }
    }

    pub(crate) fn child(&self, name: &str) -> ObjKey {
        ObjKey::new(self.storage, join(&self.path, name))
    }

    pub(crate) fn name(&self) -> &str {
        split_parent(&self.path).1
    }
}

/// Object handles, handed out as objects are first seen by the initiator
/// (when their folder is listed). Numbers are never reused, so a handle kept
/// from an earlier numbering is refused rather than naming another object.
#[derive(Debug)]
pub(crate) struct Handles {
    next: u32,
    by_handle: HashMap<u32, ObjKey>,
    by_key: HashMap<ObjKey, u32>,
}

impl Default for Handles {
    fn default() -> Self {
        Handles {
            next: 1,
            by_handle: HashMap::new(),
            by_key: HashMap::new(),
        }
    }
}

impl Handles {
    pub(crate) fn key(&self, handle: u32) -> Option<&ObjKey> {
        self.by_handle.get(&handle)
    }

    pub(crate) fn existing(&self, key: &ObjKey) -> Option<u32> {
        self.by_key.get(key).copied()
    }

    /// The handle of `key`, assigning one (and its parents' first) if needed.
    pub(crate) fn assign(&mut self, key: &ObjKey) -> u32 {
        if let Some(handle) = self.existing(key) {
            return handle;
        }
        if let Some(parent) = key.parent() {
            self.assign(&parent);
        }
        let handle = self.next;
        self.next += 1;
        self.by_handle.insert(handle, key.clone());
        self.by_key.insert(key.clone(), handle);
        handle
    }

    /// Forgets `key` and everything below it.
    pub(crate) fn forget_subtree(&mut self, key: &ObjKey) {
        let prefix = format!("{}/", key.path);
        let gone: Vec<u32> = self
            .by_handle
            .iter()
            .filter(|(_, k)| k.storage == key.storage && (k.path == key.path || k.path.starts_with(&prefix)))
            .map(|(h, _)| *h)
            .collect();
        for handle in gone {
            if let Some(k) = self.by_handle.remove(&handle) {
                self.by_key.remove(&k);
            }
        }
    }

    /// Starts a new numbering: every handle handed out so far is invalid.
    pub(crate) fn renumber(&mut self) {
        self.by_handle.clear();
        self.by_key.clear();
    }
}

/// An upload announced by SendObjectInfo, waiting for its SendObject.
#[derive(Debug)]
pub(crate) struct PendingSend {
    pub(crate) key: ObjKey,
    /// ObjectInfo's 32-bit size: 0xFFFFFFFF when 4 GiB or more.
    pub(crate) size_field: u32,
    pub(crate) mtime: chrono::NaiveDateTime,
}

/// One plugged-in USB connection and the MTP server state that lives as
/// long as it does.
pub(crate) struct Link {
    pub(crate) generation: u64,
    pub(crate) session: Option<u32>,
    pub(crate) last_transaction: u32,
    /// Bytes of the OUT phase under way when it is a command.
    pub(crate) command: Vec<u8>,
    /// A command whose OUT data phase is expected, and where that data goes.
    pub(crate) awaiting: Option<(Message, OutData)>,
    pub(crate) pending_send: Option<PendingSend>,
    /// IN phases queued for the initiator to read, in order.
    pub(crate) incoming: VecDeque<InPhase>,
    /// Event containers for the interrupt endpoint.
    pub(crate) events: VecDeque<Vec<u8>>,
    pub(crate) halted: bool,
    /// Set when a fault pulls the cable: the link is dropped.
    pub(crate) unplugged: bool,
    pub(crate) timeout: Duration,
}

impl Link {
    pub(crate) fn new(generation: u64) -> Link {
        Link {
            generation,
            session: None,
            last_transaction: 0,
            command: Vec::new(),
            awaiting: None,
            pending_send: None,
            incoming: VecDeque::new(),
            events: VecDeque::new(),
            halted: false,
            unplugged: false,
            timeout: Duration::from_secs(5),
        }
    }
}

/// The whole device.
pub(crate) struct State {
    pub(crate) config: SimConfig,
    pub(crate) storages: Vec<Storage>,
    pub(crate) locked: bool,
    pub(crate) handles: Handles,
    pub(crate) link: Option<Link>,
    pub(crate) generation: u64,
    pub(crate) faults: Faults,
    pub(crate) stats: SimStats,
}

impl State {
    pub(crate) fn new(config: SimConfig) -> State {
        State {
            locked: config.profile == super::Profile::Locked,
            config,
            storages: Vec::new(),
            handles: Handles::default(),
            link: None,
            generation: 0,
            faults: Faults::default(),
            stats: SimStats::default(),
        }
    }

    /// A visible storage (none while the phone is locked).
    pub(crate) fn storage(&self, id: u32) -> Option<&Storage> {
        if self.locked {
            return None;
        }
        self.storages.iter().find(|s| s.id == id)
    }

    pub(crate) fn storage_mut(&mut self, id: u32) -> Option<&mut Storage> {
        if self.locked {
            return None;
        }
        self.storage_mut_even_locked(id)
    }

    /// The storage as the phone's own user reaches it: there while the phone is
    /// locked, when the initiator sees none.
    pub(crate) fn storage_mut_even_locked(&mut self, id: u32) -> Option<&mut Storage> {
        self.storages.iter_mut().find(|s| s.id == id)
    }

    pub(crate) fn node(&self, key: &ObjKey) -> Option<&Node> {
        self.storage(key.storage)?.node(&key.path)
    }

    /// The format the profile reports for an object.
    pub(crate) fn format_of(&self, key: &ObjKey, node: &Node) -> ObjectFormat {
        if node.is_folder() {
            ObjectFormat::ASSOCIATION
        } else if self.config.profile == super::Profile::Qemu {
            // QEMU's usb-mtp calls every file "Undefined".
            ObjectFormat::UNDEFINED
        } else {
            super::tree::format_for_name(key.name())
        }
    }

    /// Queues an event for the initiator, if a session is open to receive it
    /// (Android sends none otherwise). Returns whether it was queued.
    pub(crate) fn send_event(&mut self, code: EventCode, params: &[u32]) -> bool {
        let Some(link) = self.link.as_mut().filter(|l| l.session.is_some()) else {
            return false;
        };
        let event = Message::event(code.0, link.last_transaction, params);
        link.events.push_back(event.encode());
        true
    }

    /// After objects appeared on the device's side: handles and ObjectAdded
    /// events for each, when an initiator is connected with a session open.
    pub(crate) fn announce_added(&mut self, storage: u32, paths: &[String]) {
        let listening = self.link.as_ref().is_some_and(|l| l.session.is_some());
        if !listening || self.locked {
            return;
        }
        for path in paths {
            let handle = self.handles.assign(&ObjKey::new(storage, path.as_str()));
            self.send_event(EventCode::OBJECT_ADDED, &[handle]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_get_handles_before_their_children() {
        let mut handles = Handles::default();
        let deep = ObjKey::new(1, "DCIM/Camera/a.jpg");
        assert_eq!(handles.assign(&deep), 3);
        assert_eq!(handles.existing(&ObjKey::new(1, "DCIM")), Some(1));
        assert_eq!(handles.assign(&deep), 3, "assigned once");
        handles.forget_subtree(&ObjKey::new(1, "DCIM/Camera"));
        assert_eq!(handles.key(3), None);
        assert_eq!(handles.key(2), None);
        assert!(handles.key(1).is_some());
    }

    #[test]
    fn a_new_numbering_never_reuses_old_handles() {
        let mut handles = Handles::default();
        let key = ObjKey::new(1, "a");
        let first = handles.assign(&key);
        handles.renumber();
        assert_eq!(handles.key(first), None);
        assert_ne!(handles.assign(&key), first);
    }
}
