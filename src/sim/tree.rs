//! The simulated device's storages and their file trees, keyed by path.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDateTime;
use walkdir::WalkDir;

use super::SimError;
use super::content::Content;
use crate::ptp::{ObjectFormat, StorageInfo};

/// How a storage presents itself (the StorageInfo dataset) and what it allows.
#[derive(Debug, Clone)]
pub struct StorageSpec {
    /// e.g. "Internal shared storage".
    pub description: String,
    /// Volume label.
    pub volume_label: String,
    /// Capacity in bytes; free space is this minus the bytes stored.
    pub capacity: u64,
    /// 1 fixed ROM, 2 removable ROM, 3 fixed RAM, 4 removable RAM.
    pub storage_type: u16,
    /// 1 flat, 2 hierarchical, 3 DCF.
    pub filesystem_type: u16,
    /// Refuses uploads and deletions.
    pub read_only: bool,
    /// Largest file an upload may create (FAT's 4 GiB - 1, for instance).
    pub max_file_size: Option<u64>,
}

impl StorageSpec {
    /// A phone's internal storage: fixed RAM, hierarchical, writable, 64 GB.
    pub fn new(description: impl Into<String>) -> StorageSpec {
        StorageSpec {
            description: description.into(),
            volume_label: String::new(),
            capacity: 64_000_000_000,
            storage_type: 3,
            filesystem_type: 2,
            read_only: false,
            max_file_size: None,
        }
    }

    /// A camera's memory card: removable, DCF file system.
    pub fn memory_card(description: impl Into<String>) -> StorageSpec {
        StorageSpec {
            storage_type: 4,
            filesystem_type: 3,
            max_file_size: Some(u64::from(u32::MAX)),
            ..StorageSpec::new(description)
        }
    }

    /// Sets the capacity in bytes.
    pub fn capacity(mut self, bytes: u64) -> StorageSpec {
        self.capacity = bytes;
        self
    }

    /// Makes the storage read-only.
    pub fn read_only(mut self) -> StorageSpec {
        self.read_only = true;
        self
    }

    /// Limits the size of uploaded files.
    pub fn max_file_size(mut self, bytes: u64) -> StorageSpec {
        self.max_file_size = Some(bytes);
        self
    }
}

/// One object in a tree.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    Folder {
        mtime: NaiveDateTime,
        children: BTreeMap<String, Node>,
    },
    File {
        mtime: NaiveDateTime,
        content: Content,
    },
}

impl Node {
    pub(crate) fn folder(mtime: NaiveDateTime) -> Node {
        Node::Folder {
            mtime,
            children: BTreeMap::new(),
        }
    }

    pub(crate) fn mtime(&self) -> NaiveDateTime {
        match self {
            Node::Folder { mtime, .. } | Node::File { mtime, .. } => *mtime,
        }
    }

    pub(crate) fn is_folder(&self) -> bool {
        matches!(self, Node::Folder { .. })
    }

    /// Bytes of the file, 0 for a folder.
    pub(crate) fn size(&self) -> u64 {
        match self {
            Node::Folder { .. } => 0,
            Node::File { content, .. } => content.len(),
        }
    }

    /// Bytes of every file at or below this node.
    fn total_size(&self) -> u64 {
        match self {
            Node::File { content, .. } => content.len(),
            Node::Folder { children, .. } => children.values().map(Node::total_size).sum(),
        }
    }
}

/// A folder on the host whose files a storage serves.
#[derive(Debug, Clone)]
pub(crate) struct DiskRoot {
    pub(crate) root: PathBuf,
    pub(crate) writable: bool,
}

/// One storage: its spec and its tree.
#[derive(Debug, Clone)]
pub(crate) struct Storage {
    pub(crate) id: u32,
    pub(crate) spec: StorageSpec,
    pub(crate) root: BTreeMap<String, Node>,
    pub(crate) disk: Option<DiskRoot>,
}

impl Storage {
    pub(crate) fn new(id: u32, spec: StorageSpec) -> Storage {
        Storage {
            id,
            spec,
            root: BTreeMap::new(),
            disk: None,
        }
    }

    /// The children of the folder at `path` ("" is the storage's root).
    pub(crate) fn children(&self, path: &str) -> Option<&BTreeMap<String, Node>> {
        if path.is_empty() {
            return Some(&self.root);
        }
        match self.node(path)? {
            Node::Folder { children, .. } => Some(children),
            Node::File { .. } => None,
        }
    }

    fn children_mut(&mut self, path: &str) -> Option<&mut BTreeMap<String, Node>> {
        let mut children = &mut self.root;
        for part in components(path) {
            match children.get_mut(part)? {
                Node::Folder { children: inner, .. } => children = inner,
                Node::File { .. } => return None,
            }
        }
        Some(children)
    }

    /// The object at `path`.
    pub(crate) fn node(&self, path: &str) -> Option<&Node> {
        let (parent, name) = split_parent(path);
        self.children(parent)?.get(name)
    }

    pub(crate) fn used_bytes(&self) -> u64 {
        self.root.values().map(Node::total_size).sum()
    }

    pub(crate) fn free_bytes(&self) -> u64 {
        self.spec.capacity.saturating_sub(self.used_bytes())
    }

    pub(crate) fn info(&self) -> StorageInfo {
        let spec = &self.spec;
        StorageInfo {
            storage_type: spec.storage_type,
            filesystem_type: spec.filesystem_type,
            access_capability: if self.is_writable() { 0 } else { 2 },
            max_capacity: spec.capacity,
            free_space_bytes: self.free_bytes(),
            free_space_objects: u32::MAX,
            description: spec.description.clone(),
            volume_label: spec.volume_label.clone(),
        }
    }

    pub(crate) fn is_writable(&self) -> bool {
        !self.spec.read_only && self.disk.as_ref().is_none_or(|d| d.writable)
    }

    /// Where an object lives on the host, for a storage served from a folder.
    pub(crate) fn disk_path(&self, path: &str) -> Option<PathBuf> {
        let disk = self.disk.as_ref()?;
        Some(components(path).fold(disk.root.clone(), |p, part| p.join(part)))
    }

    /// Inserts `node` at `path`, creating missing parent folders with
    /// `mtime`. Returns the paths of every object created (parents first);
    /// replacing an existing file creates nothing.
    pub(crate) fn insert(
        &mut self,
        path: &str,
        node: Node,
        mtime: NaiveDateTime,
    ) -> Result<Vec<String>, SimError> {
        let parts: Vec<&str> = components(path).collect();
        let Some((name, folders)) = parts.split_last() else {
            return Err(SimError::bad_path(path, "empty path"));
        };
        let mut created = Vec::new();
        let mut children = &mut self.root;
        let mut prefix = String::new();
        for part in folders {
            prefix = join(&prefix, part);
            let entry = children.entry(part.to_string()).or_insert_with(|| {
                created.push(prefix.clone());
                Node::folder(mtime)
            });
            match entry {
                Node::Folder { children: inner, .. } => children = inner,
                Node::File { .. } => return Err(SimError::bad_path(path, "a file is in the way")),
            }
        }
        match (children.get(*name), &node) {
            (Some(Node::Folder { .. }), Node::File { .. }) => {
                return Err(SimError::bad_path(path, "a folder has that name"));
            }
            // Adding a folder that exists keeps its contents.
            (Some(Node::Folder { .. }), Node::Folder { .. }) => return Ok(created),
            (Some(Node::File { .. }), Node::Folder { .. }) => {
                return Err(SimError::bad_path(path, "a file has that name"));
            }
            (Some(Node::File { .. }), Node::File { .. }) => {}
            (None, _) => created.push(join(&prefix, name)),
        }
        children.insert(name.to_string(), node);
        Ok(created)
    }

    /// Removes the object at `path` (a folder with everything in it).
    pub(crate) fn remove(&mut self, path: &str) -> Option<Node> {
        let (parent, name) = split_parent(path);
        self.children_mut(parent)?.remove(name)
    }

    /// Reads a host folder into this storage's tree (files are served from
    /// disk when read). Links, and names that are not UTF-8 (with all below
    /// them), are left out.
    pub(crate) fn load_folder(&mut self, root: &Path, writable: bool) -> Result<(), SimError> {
        self.root = BTreeMap::new();
        let entries = WalkDir::new(root)
            .min_depth(1)
            .into_iter()
            .filter_entry(|entry| entry.file_name().to_str().is_some());
        for entry in entries {
            let entry = entry.map_err(|error| SimError::Io {
                path: error.path().unwrap_or(root).to_path_buf(),
                source: error.into(),
            })?;
            if let Some((path, node)) = node_for(root, &entry)? {
                let (parent, name) = split_parent(&path);
                // The walk yields a folder before what it holds.
                let children = self
                    .children_mut(parent)
                    .expect("the walk reached its parent first");
                children.insert(name.to_owned(), node);
            }
        }
        self.disk = Some(DiskRoot {
            root: root.to_path_buf(),
            writable,
        });
        Ok(())
    }
}

/// The device path (below `root`) and the node of one entry of a host folder:
/// an empty folder or a file served from disk; none for links, devices, pipes.
fn node_for(root: &Path, entry: &walkdir::DirEntry) -> Result<Option<(String, Node)>, SimError> {
    let metadata = entry.metadata().map_err(|error| SimError::Io {
        path: entry.path().to_path_buf(),
        source: error.into(),
    })?;
    let mtime = metadata.modified().map(host_time).unwrap_or_default();
    let node = if metadata.is_dir() {
        Node::Folder {
            mtime,
            children: BTreeMap::new(),
        }
    } else if metadata.is_file() {
        Node::File {
            mtime,
            content: Content::File {
                path: entry.path().to_path_buf(),
                len: metadata.len(),
            },
        }
    } else {
        return Ok(None);
    };
    let relative = entry
        .path()
        .strip_prefix(root)
        .expect("the walk stays below its root");
    let parts: Vec<&str> = relative.iter().filter_map(|part| part.to_str()).collect();
    Ok(Some((parts.join("/"), node)))
}

/// A host file time as the wall-clock time a phone in this time zone shows.
pub(crate) fn host_time(time: std::time::SystemTime) -> NaiveDateTime {
    chrono::DateTime::<chrono::Local>::from(time).naive_local()
}

/// The non-empty components of a device path ("DCIM/Camera/x.jpg").
pub(crate) fn components(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|part| !part.is_empty())
}

/// A path in canonical form (no leading, trailing or doubled slashes), or
/// why it cannot name an object.
pub(crate) fn normalize(path: &str) -> Result<String, SimError> {
    let parts: Vec<&str> = components(path).collect();
    if parts.is_empty() {
        return Err(SimError::bad_path(path, "empty path"));
    }
    if let Some(bad) = parts.iter().find(|p| !is_valid_name(p)) {
        return Err(SimError::bad_path(path, format!("{bad:?} is not a valid name")));
    }
    Ok(parts.join("/"))
}

/// Whether a device would accept `name` for one object (what Android checks
/// on upload).
pub(crate) fn is_valid_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\0'])
}

/// (parent path, name) of a canonical path.
pub(crate) fn split_parent(path: &str) -> (&str, &str) {
    path.rsplit_once('/').unwrap_or(("", path))
}

pub(crate) fn join(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_string()
    } else {
        format!("{parent}/{name}")
    }
}

/// The MTP format a phone reports for a file name.
pub(crate) fn format_for_name(name: &str) -> ObjectFormat {
    let extension = name
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase())
        .unwrap_or_default();
    match extension.as_str() {
        "jpg" | "jpeg" => ObjectFormat::EXIF_JPEG,
        "png" => ObjectFormat::PNG,
        "gif" => ObjectFormat::GIF,
        "bmp" => ObjectFormat::BMP,
        "tif" | "tiff" => ObjectFormat::TIFF,
        "dng" => ObjectFormat::DNG,
        "heic" | "heif" => ObjectFormat::HEIF,
        "mp4" | "m4v" | "mov" => ObjectFormat::MP4_CONTAINER,
        "3gp" => ObjectFormat::CONTAINER_3GP,
        "avi" => ObjectFormat::AVI,
        "mp3" => ObjectFormat::MP3,
        "wav" => ObjectFormat::WAV,
        "aac" | "m4a" => ObjectFormat::AAC,
        "ogg" => ObjectFormat::OGG,
        "flac" => ObjectFormat::FLAC,
        "txt" => ObjectFormat::TEXT,
        "htm" | "html" => ObjectFormat::HTML,
        _ => ObjectFormat::UNDEFINED,
    }
}

/// Formats a phone makes thumbnails for.
pub(crate) fn has_thumbnail(format: ObjectFormat) -> bool {
    [
        ObjectFormat::EXIF_JPEG,
        ObjectFormat::JFIF,
        ObjectFormat::PNG,
        ObjectFormat::HEIF,
    ]
    .contains(&format)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t() -> NaiveDateTime {
        NaiveDateTime::default()
    }

    fn file() -> Node {
        Node::File {
            mtime: t(),
            content: Content::from("abc"),
        }
    }

    #[test]
    fn insert_creates_parents_and_reports_them_in_order() {
        let mut s = Storage::new(1, StorageSpec::new("x"));
        let created = s.insert("DCIM/Camera/a.jpg", file(), t()).unwrap();
        assert_eq!(created, ["DCIM", "DCIM/Camera", "DCIM/Camera/a.jpg"]);
        assert_eq!(
            s.insert("DCIM/Camera/b.jpg", file(), t()).unwrap(),
            ["DCIM/Camera/b.jpg"]
        );
        assert!(s.insert("DCIM/Camera/a.jpg", file(), t()).unwrap().is_empty());
        assert_eq!(s.used_bytes(), 6);
        assert!(s.insert("DCIM/Camera/a.jpg/x", file(), t()).is_err());
        assert!(s.insert("DCIM", file(), t()).is_err());
        assert!(s.node("DCIM/Camera").unwrap().is_folder());
        assert!(s.remove("DCIM").is_some());
        assert_eq!(s.used_bytes(), 0);
    }

    #[test]
    fn paths_are_normalized_and_hostile_names_refused() {
        assert_eq!(normalize("/DCIM//Camera/").unwrap(), "DCIM/Camera");
        for bad in ["", "/", "a/../b", "./a", "a\0b"] {
            assert!(normalize(bad).is_err(), "{bad:?}");
        }
        assert!(!is_valid_name("a/b"));
        assert!(is_valid_name("IMG 1 ü.jpg"));
    }

    #[test]
    fn formats_follow_the_extension() {
        assert_eq!(format_for_name("IMG_1.JPG"), ObjectFormat::EXIF_JPEG);
        assert_eq!(format_for_name("VID.mp4"), ObjectFormat::MP4_CONTAINER);
        assert_eq!(format_for_name("README"), ObjectFormat::UNDEFINED);
    }

    #[test]
    fn a_host_folder_is_loaded_without_links() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("DCIM/Camera")).unwrap();
        std::fs::write(dir.path().join("DCIM/Camera/a.jpg"), b"jpeg").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("link")).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt;
            let not_utf8 = dir.path().join(std::ffi::OsStr::from_bytes(b"bad\xff"));
            std::fs::create_dir(&not_utf8).unwrap();
            std::fs::write(not_utf8.join("b.jpg"), b"jpeg").unwrap();
        }
        let mut s = Storage::new(1, StorageSpec::new("x"));
        s.load_folder(dir.path(), false).unwrap();
        assert_eq!(s.node("DCIM/Camera/a.jpg").unwrap().size(), 4);
        assert!(s.node("link").is_none());
        assert_eq!(s.children("").unwrap().keys().collect::<Vec<_>>(), ["DCIM"]);
        assert!(!s.is_writable());
        assert_eq!(s.disk_path("DCIM/a"), Some(dir.path().join("DCIM").join("a")));
    }
}
