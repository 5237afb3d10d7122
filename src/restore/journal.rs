//! The uploads a restore started and has not seen finish, kept in a small
//! file on this computer. SendObjectInfo makes the object on the phone before
//! its bytes arrive, so an upload cut short (cable pulled, process killed)
//! can leave an incomplete object there; the next restore to that phone finds
//! it in the journal and deletes it before sending the file again. Only
//! objects named here are ever deleted by a restore.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::fault_points::step;

/// One upload in flight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// The phone's serial number.
    pub serial: String,
    /// The storage's id.
    pub storage: u32,
    /// The object's path from the storage's root, `/`-separated.
    pub path: String,
    /// The size being sent.
    pub size: u64,
}

/// The journal file.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    entries: Vec<Pending>,
}

impl Journal {
    /// Opens the journal at `path` (missing: empty).
    pub fn open(path: &Path) -> io::Result<Journal> {
        let entries = match fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: {e} (delete it if no restore is running)", path.display()),
                )
            })?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e),
        };
        Ok(Journal {
            path: path.to_owned(),
            entries,
        })
    }

    /// The uploads to `serial` left unfinished.
    pub fn pending_for(&self, serial: &str) -> Vec<Pending> {
        self.entries
            .iter()
            .filter(|p| p.serial == serial)
            .cloned()
            .collect()
    }

    /// Notes an upload about to start; durable before it returns.
    pub fn begin(&mut self, pending: Pending) -> io::Result<()> {
        self.entries.retain(|p| !same_object(p, &pending));
        self.entries.push(pending);
        self.save()
    }

    /// Forgets an upload that finished, or whose leftover was deleted.
    pub fn end(&mut self, done: &Pending) -> io::Result<()> {
        self.entries.retain(|p| !same_object(p, done));
        self.save()
    }

    /// Writes a temp file, fsyncs it and renames it over the journal.
    fn save(&self) -> io::Result<()> {
        if let Some(dir) = self.path.parent() {
            fs::create_dir_all(dir)?;
        }
        let temp = self.path.with_extension("tmp");
        step("write the restore journal")?;
        let mut file = File::create(&temp)?;
        file.write_all(&serde_json::to_vec_pretty(&self.entries).map_err(io::Error::other)?)?;
        step("sync the restore journal")?;
        file.sync_all()?;
        step("rename the restore journal into place")?;
        fs::rename(&temp, &self.path)
    }
}

fn same_object(a: &Pending, b: &Pending) -> bool {
    a.serial == b.serial && a.storage == b.storage && a.path == b.path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_survive_reopening_until_ended() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/uploads.json");
        let entry = |serial: &str, path: &str| Pending {
            serial: serial.into(),
            storage: 0x0001_0001,
            path: path.into(),
            size: 9,
        };
        let mut journal = Journal::open(&path).unwrap();
        journal.begin(entry("A", "DCIM/Restored/x.jpg")).unwrap();
        journal.begin(entry("B", "DCIM/Restored/x.jpg")).unwrap();
        let reopened = Journal::open(&path).unwrap();
        assert_eq!(reopened.pending_for("A"), [entry("A", "DCIM/Restored/x.jpg")]);
        journal.end(&entry("A", "DCIM/Restored/x.jpg")).unwrap();
        assert!(Journal::open(&path).unwrap().pending_for("A").is_empty());
        assert_eq!(Journal::open(&path).unwrap().pending_for("B").len(), 1);
        fs::write(&path, "not json").unwrap();
        let error = Journal::open(&path).unwrap_err();
        assert!(error.to_string().contains("delete it"), "{error}");
    }
}
