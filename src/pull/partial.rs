//! Downloads in progress: one temp file per device file in `DEST/.mtpull/tmp/`
//! (the destination's filesystem, so filing is a rename), named after the
//! file's key so that a later run — in a new session, with new handles —
//! finds it and resumes from its length.
//!
//! A temp file only ever holds a prefix of the device file: bytes are appended
//! in order, and [`PartialFile::suspend`] makes them durable before a run gives up.

use std::collections::HashSet;
use std::fs::{self, File, FileTimes, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use xxhash_rust::xxh3::xxh3_64;

use super::hash::{ContentHash, ContentHasher};
use super::manifest::STATE_DIR;
use super::remote::{FileKey, UNKNOWN_SIZE};
use crate::fault_points::step;

const TEMP_DIR: &str = "tmp";
const SUFFIX: &str = ".part";

/// The folder of temp files for one destination.
#[derive(Debug, Clone)]
pub struct TempArea {
    dir: PathBuf,
}

impl TempArea {
    /// The temp folder of the backup in `dest_root` (nothing is created: a dry
    /// run looks for earlier downloads without writing).
    pub fn new(dest_root: &Path) -> TempArea {
        TempArea {
            dir: dest_root.join(STATE_DIR).join(TEMP_DIR),
        }
    }

    /// A temp folder elsewhere, whose files are named as this one's (a run's
    /// staging folder: see `super::staging`).
    pub(super) fn in_folder(dir: PathBuf) -> TempArea {
        TempArea { dir }
    }

    /// Creates the folder if needed.
    pub fn create(&self) -> io::Result<()> {
        step("make the temp folder")?;
        fs::create_dir_all(&self.dir)
    }

    /// The folder itself.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the download of this device file lives.
    pub fn path_for(&self, key: &FileKey) -> PathBuf {
        self.dir
            .join(format!("{}-{}{SUFFIX}", serial_tag(&key.serial), key.digest()))
    }

    /// Bytes already downloaded for this file (0 when none, or when the temp
    /// file is longer than the device file and so cannot be a prefix of it).
    pub fn resumable_len(&self, key: &FileKey) -> u64 {
        fs::metadata(self.path_for(key))
            .map(|m| m.len())
            .ok()
            .filter(|&len| len <= key.size && key.size != UNKNOWN_SIZE)
            .unwrap_or(0)
    }

    /// Removes this device's temp files whose key is not in `keep`: downloads
    /// of files that changed or vanished on the phone. Returns how many went.
    ///
    /// The keys are only gone through when this device has temp files left
    /// (after a complete run it has none, and 100,000 keys need not be made).
    pub fn sweep(&self, serial: &str, keep: impl IntoIterator<Item = FileKey>) -> io::Result<usize> {
        let prefix = format!("{}-", serial_tag(serial));
        let mut left = Vec::new();
        for entry in fs::read_dir(&self.dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.starts_with(&prefix) && name.ends_with(SUFFIX) {
                left.push(entry.path());
            }
        }
        if left.is_empty() {
            return Ok(0);
        }
        let wanted: HashSet<PathBuf> = keep.into_iter().map(|key| self.path_for(&key)).collect();
        let mut removed = 0;
        for path in left.into_iter().filter(|path| !wanted.contains(path)) {
            step("remove a stale download")?;
            fs::remove_file(path)?;
            removed += 1;
        }
        Ok(removed)
    }
}

/// Temp names start with a tag of the serial, so a sweep touches one device's files only.
fn serial_tag(serial: &str) -> String {
    format!("{:08x}", xxh3_64(serial.as_bytes()) as u32)
}

/// A temp file being filled with a device file's bytes, hashing them as they pass.
pub struct PartialFile {
    path: PathBuf,
    file: File,
    hasher: ContentHasher,
    len: u64,
    /// The size the device listed, when it knows it.
    expected: Option<u64>,
}

/// The device sent more bytes than the size it listed.
#[derive(Debug, thiserror::Error)]
#[error("the device sent more than the {expected} bytes it listed for this file")]
pub(super) struct Overrun {
    /// The listed size.
    pub expected: u64,
}

impl PartialFile {
    /// Opens (or creates) the temp file at `path` for a device file of
    /// `expected` bytes (`None`: unknown), to continue after what it holds.
    /// Bytes already there are hashed, so the final hash covers the whole
    /// file; a file longer than `expected` cannot be a prefix and is started over.
    pub fn open(path: &Path, expected: Option<u64>) -> io::Result<PartialFile> {
        step("open a download")?;
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        let mut len = file.metadata()?.len();
        if expected.is_some_and(|expected| len > expected) {
            file.set_len(0)?;
            len = 0;
        }
        let mut hasher = ContentHasher::new();
        if io::copy(&mut (&mut file).take(len), &mut hasher)? != len {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the temp file shrank while being read",
            ));
        }
        file.seek(SeekFrom::Start(len))?;
        Ok(PartialFile {
            path: path.to_owned(),
            file,
            hasher,
            len,
            expected,
        })
    }

    /// Bytes held so far (the offset to resume from).
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing is held yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether every expected byte is here (never, when the size is unknown).
    pub fn is_complete(&self) -> bool {
        self.expected == Some(self.len)
    }

    /// Whether it holds exactly `len` bytes hashing to `hash` (a download made
    /// earlier in this run, read back).
    pub(super) fn holds(&self, (len, hash): (u64, ContentHash)) -> bool {
        self.len == len && self.hasher.clone().finish() == hash
    }

    /// The temp file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The last `count` bytes held (to check a resume against the device).
    pub fn tail(&self, count: u64) -> io::Result<Vec<u8>> {
        let count = count.min(self.len);
        let mut tail = vec![0; count as usize];
        self.file.read_exact_at(&mut tail, self.len - count)?;
        Ok(tail)
    }

    /// Throws away what is held and starts from byte 0.
    pub fn restart(&mut self) -> io::Result<()> {
        step("restart a download")?;
        self.file.set_len(0)?;
        self.file.seek(SeekFrom::Start(0))?;
        self.hasher = ContentHasher::new();
        self.len = 0;
        Ok(())
    }

    /// Makes what is held durable and closes the file, for a later resume.
    /// Returns the bytes kept (after a failed write, what reached the file).
    pub fn suspend(self) -> io::Result<u64> {
        step("sync a suspended download")?;
        self.file.sync_data()?;
        Ok(self.file.metadata()?.len())
    }

    /// Closes a complete download: checks its length (when the size is known) and
    /// sets its mtime to the device's date. Its bytes are not yet durable: the caller
    /// fsyncs the returned file before filing it (the run does on its fsync thread,
    /// see `waiting`, while the next file downloads).
    pub fn finish(self, modified: Option<SystemTime>) -> io::Result<FinishedDownload> {
        if let Some(expected) = self.expected.filter(|&expected| expected != self.len) {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("the device sent {} of the {expected} bytes it listed", self.len),
            ));
        }
        if let Some(modified) = modified {
            self.file.set_times(FileTimes::new().set_modified(modified))?;
        }
        // The fsync's step is taken here, on the run's thread, before it is handed on.
        step("sync a finished download")?;
        Ok(FinishedDownload {
            path: self.path,
            len: self.len,
            hash: self.hasher.finish(),
            file: self.file,
        })
    }
}

/// A complete download, still to be fsynced.
#[derive(Debug)]
pub struct FinishedDownload {
    /// The temp file's path.
    pub path: PathBuf,
    /// Its length.
    pub len: u64,
    /// The hash of its bytes.
    pub hash: ContentHash,
    /// The temp file, open: fsync it before filing it.
    pub file: File,
}

impl Write for PartialFile {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if let Some(expected) = self
            .expected
            .filter(|&expected| bytes.len() as u64 > expected - self.len)
        {
            return Err(io::Error::other(Overrun { expected }));
        }
        // Whole blocks only, so that the hash always covers exactly the bytes in the file
        // (after a failed write the download is only suspended: its hash is not used).
        step("write a download")?;
        // Hashed here, after the write: XXH3 takes ~0.1 s of CPU per GiB, less than a
        // thread per block costs to hash it beside the write (a 1 GiB backup in 512 KiB
        // blocks took 1.10 s of CPU that way, 0.66 s this way: bench/transfer), and far
        // less than any USB link takes to bring the block.
        self.file.write_all(bytes)?;
        self.hasher.update(bytes);
        self.len += bytes.len() as u64;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pull::remote::tests::file;

    fn data(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 % 251) as u8).collect()
    }

    #[test]
    fn resumes_with_the_same_hash_as_one_go() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.part");
        let bytes = data(3_000_000);
        let mut part = PartialFile::open(&path, Some(bytes.len() as u64)).unwrap();
        part.write_all(&bytes[..1_234_567]).unwrap();
        assert_eq!(part.suspend().unwrap(), 1_234_567);

        let mut part = PartialFile::open(&path, Some(bytes.len() as u64)).unwrap();
        assert_eq!(part.len(), 1_234_567);
        assert_eq!(part.tail(10).unwrap(), bytes[1_234_557..1_234_567]);
        part.write_all(&bytes[1_234_567..]).unwrap();
        assert!(part.is_complete());
        let FinishedDownload { path: done, hash, .. } = part.finish(None).unwrap();
        assert_eq!(fs::read(&done).unwrap(), bytes);
        assert_eq!(hash, ContentHash::of_reader(&bytes[..]).unwrap());
    }

    #[test]
    fn refuses_overrun_and_short_files() {
        let dir = tempfile::tempdir().unwrap();
        let mut part = PartialFile::open(&dir.path().join("x.part"), Some(4)).unwrap();
        let error = part.write_all(b"12345").unwrap_err();
        assert!(error.to_string().contains("more than the 4 bytes"), "{error}");
        let mut part = PartialFile::open(&dir.path().join("y.part"), Some(4)).unwrap();
        part.write_all(b"123").unwrap();
        let error = part.finish(None).unwrap_err();
        assert!(error.to_string().contains("3 of the 4 bytes"), "{error}");
    }

    #[test]
    fn a_longer_temp_file_starts_over_and_restart_empties() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.part");
        fs::write(&path, b"too long for the file").unwrap();
        let mut part = PartialFile::open(&path, Some(4)).unwrap();
        assert!(part.is_empty());
        part.write_all(b"ab").unwrap();
        part.restart().unwrap();
        part.write_all(b"wxyz").unwrap();
        let FinishedDownload { path: done, hash, .. } = part.finish(None).unwrap();
        assert_eq!(fs::read(done).unwrap(), b"wxyz");
        assert_eq!(hash, ContentHash::of_reader(&b"wxyz"[..]).unwrap());
    }

    #[test]
    fn an_unknown_size_takes_whatever_comes() {
        let dir = tempfile::tempdir().unwrap();
        let mut part = PartialFile::open(&dir.path().join("x.part"), None).unwrap();
        assert!(!part.is_complete());
        part.write_all(&data(5000)).unwrap();
        let FinishedDownload { len, hash, .. } = part.finish(None).unwrap();
        assert_eq!(len, 5000);
        assert_eq!(hash, ContentHash::of_reader(&data(5000)[..]).unwrap());
    }

    #[test]
    fn finish_sets_the_device_date() {
        let dir = tempfile::tempdir().unwrap();
        let mut part = PartialFile::open(&dir.path().join("x.part"), Some(1)).unwrap();
        part.write_all(b"x").unwrap();
        let when = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_716_718_500);
        let done = part.finish(Some(when)).unwrap().path;
        assert_eq!(fs::metadata(done).unwrap().modified().unwrap(), when);
    }

    #[test]
    fn temp_names_follow_the_key_and_sweep_one_device() {
        let dest = tempfile::tempdir().unwrap();
        let area = TempArea::new(dest.path());
        area.create().unwrap();
        let a = file("DCIM/a.jpg", 10, "2024-05-26 10:00:00").key("PHONE1");
        let b = file("DCIM/b.jpg", 10, "2024-05-26 10:00:00").key("PHONE1");
        let other = file("DCIM/a.jpg", 10, "2024-05-26 10:00:00").key("PHONE2");
        assert_eq!(area.path_for(&a), area.path_for(&a.clone()));
        assert_ne!(area.path_for(&a), area.path_for(&other));
        for (key, len) in [(&a, 4), (&b, 11), (&other, 3)] {
            fs::write(area.path_for(key), vec![0; len]).unwrap();
        }
        assert_eq!(area.resumable_len(&a), 4);
        assert_eq!(area.resumable_len(&b), 0, "longer than the file: not a prefix");

        let removed = area.sweep("PHONE1", [a.clone()]).unwrap();
        assert_eq!(removed, 1);
        assert!(area.path_for(&a).exists());
        assert!(!area.path_for(&b).exists());
        assert!(
            area.path_for(&other).exists(),
            "another phone's download is left alone"
        );
    }
}
