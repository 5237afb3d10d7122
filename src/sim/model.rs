//! What the simulated device is, apart from any connection: its storages and
//! trees, the object handles of the current numbering, armed faults and
//! counters. The responder reads and changes it; it knows nothing of MTP
//! sessions or USB.

use std::collections::HashMap;

use super::fault::Faults;
use super::lie::Lies;
use super::tree::{Node, Storage, join, split_parent};
use super::{SimConfig, SimStats};
use crate::ptp::ObjectFormat;

/// "All" for storages, parents, properties and depths.
pub(crate) const ALL: u32 = 0xFFFF_FFFF;

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

/// The whole device, as its owner and the responder see it.
pub(crate) struct Model {
    pub(crate) config: SimConfig,
    pub(crate) storages: Vec<Storage>,
    pub(crate) locked: bool,
    /// An iPhone not trusting the host yet: only the placeholder storage shows.
    pub(crate) untrusted: bool,
    pub(crate) handles: Handles,
    pub(crate) faults: Faults,
    /// What a hostile device reports instead of the truth.
    pub(crate) lies: Lies,
    pub(crate) stats: SimStats,
}

impl Model {
    pub(crate) fn new(config: SimConfig) -> Model {
        Model {
            locked: config.profile == super::Profile::Locked,
            untrusted: config.profile == super::Profile::IPhone,
            config,
            storages: Vec::new(),
            handles: Handles::default(),
            faults: Faults::default(),
            lies: Lies::default(),
            stats: SimStats::default(),
        }
    }

    /// A visible storage (none while the phone is locked).
    pub(crate) fn storage(&self, id: u32) -> Option<&Storage> {
        if self.locked || self.untrusted {
            return None;
        }
        self.storages.iter().find(|s| s.id == id)
    }

    pub(crate) fn storage_mut(&mut self, id: u32) -> Option<&mut Storage> {
        if self.locked || self.untrusted {
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

    /// The ids of the visible storages (none while locked).
    pub(crate) fn visible_storage_ids(&self) -> Vec<u32> {
        if self.locked || self.untrusted {
            Vec::new()
        } else {
            self.storages.iter().map(|s| s.id).collect()
        }
    }

    /// The object a handle names, if it is still on the device.
    pub(crate) fn key_of(&self, handle: u32) -> Option<ObjKey> {
        let key = self.handles.key(handle)?;
        self.node(key).map(|_| key.clone())
    }

    /// Appends the children of `folder` (a storage root when its path is
    /// empty) that match `format`, and with `recursive` everything below.
    pub(crate) fn collect(&self, folder: &ObjKey, recursive: bool, format: u32, out: &mut Vec<ObjKey>) {
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

    /// How many objects a walk of the whole of `storages` visits.
    pub(crate) fn object_count(&self, storages: &[u32]) -> u64 {
        let mut all = Vec::new();
        for &id in storages {
            self.collect(&ObjKey::new(id, ""), true, 0, &mut all);
        }
        all.len() as u64
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
