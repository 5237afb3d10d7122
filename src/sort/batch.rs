//! `sort`'s copy mode, made durable a batch at a time as `backup` does.
//!
//! Copying a photo takes well under a millisecond; fsyncing it, several (a journal commit
//! each). So the copies of a batch are first written to staged files in
//! `DEST/.mtpull/tmp/`, each handed to a pool of fsync threads as soon as it is written
//! (so the disk writes one while the next is copied, and the filesystem groups the
//! commits of those in flight), and only once all of a batch's are durable renamed into
//! place by the [`Filer`](super::Filer). Each folder the renames touched is then handed
//! to the same threads, once per batch, and fsynced while the next batch is copied;
//! the next batch waits for them before its own renames, and the run for the last. A
//! crash leaves at worst staged files, which the next copy run removes; no final name
//! ever holds a partial file.

use std::fs::{self, File, FileTimes};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;

use super::SortError;
use super::state::{STATE_DIR, TEMP_DIR};
use crate::fault_points::step;

/// Files copied before their data is fsynced and renamed into place.
pub(super) const BATCH_FILES: usize = 64;
/// Bytes copied before the batch is made durable, whatever the count.
pub(super) const BATCH_BYTES: u64 = 256 * 1024 * 1024;
/// Threads fsyncing staged copies: enough for the filesystem to group the commits.
const SYNC_THREADS: usize = 8;

const STAGED_PREFIX: &str = "sort-copy-";
const STAGED_SUFFIX: &str = ".tmp";

/// Staged copies waiting to be made durable.
#[derive(Debug)]
pub(super) struct CopyBatch {
    dir: PathBuf,
    /// Copies staged since the batch was last made durable.
    staged: usize,
    bytes: u64,
    serial: u64,
    syncer: Syncer,
}

impl CopyBatch {
    /// Stages into `DEST/.mtpull/tmp/`, first removing what a cut run left there.
    pub(super) fn new(dest: &Path) -> Result<CopyBatch, SortError> {
        let dir = dest.join(STATE_DIR).join(TEMP_DIR);
        step("make the temp folder")
            .and_then(|()| fs::create_dir_all(&dir))
            .map_err(SortError::io("create folder", &dir))?;
        remove_leftovers(&dir).map_err(SortError::io("remove stale copies in", &dir))?;
        Ok(CopyBatch {
            staged: 0,
            bytes: 0,
            serial: 0,
            syncer: Syncer::new(SYNC_THREADS),
            dir,
        })
    }

    /// Copies `src` (data and mtime) to a new staged file, and starts its fsync.
    pub(super) fn stage(&mut self, src: &Path) -> Result<PathBuf, SortError> {
        self.serial += 1;
        let name = format!(
            "{STAGED_PREFIX}{}-{}{STAGED_SUFFIX}",
            std::process::id(),
            self.serial
        );
        let path = self.dir.join(name);
        let copied = copy_data(src, &path);
        match copied {
            Ok((file, len)) => {
                self.syncer.start(path.clone(), file);
                self.staged += 1;
                self.bytes += len;
                Ok(path)
            }
            Err(e) => {
                let _ = fs::remove_file(&path);
                Err(SortError::io("copy", src)(e))
            }
        }
    }

    /// Whether enough is staged to make it durable now.
    pub(super) fn is_full(&self) -> bool {
        self.staged >= BATCH_FILES || self.bytes >= BATCH_BYTES
    }

    /// Starts fsyncing folders whose entries changed (the previous batch's renames).
    pub(super) fn sync_folders(&mut self, folders: Vec<(PathBuf, File)>) {
        for (path, folder) in folders {
            self.syncer.start(path, folder);
        }
    }

    /// Waits until every fsync started is done — the staged files', and the folders' of
    /// the batch before; after this the staged files may be renamed into place.
    pub(super) fn make_durable(&mut self) -> Result<(), SortError> {
        self.staged = 0;
        self.bytes = 0;
        step("sync staged copies").map_err(SortError::io("sync copies in", &self.dir))?;
        self.finish()
    }

    /// Waits until every fsync started is done (the last folders').
    pub(super) fn finish(&mut self) -> Result<(), SortError> {
        self.syncer
            .wait(&self.dir)
            .map_err(|(path, error)| SortError::io("sync", path)(error))
    }

    /// Removes a staged file that was not placed (a duplicate, or a failure).
    pub(super) fn discard(&self, staged: &Path) {
        // Best effort: a leftover is removed by the next copy run.
        let _ = step("discard a staged copy").and_then(|()| fs::remove_file(staged));
    }
}

/// A file or folder to fsync, with its path for the error.
type Job = (PathBuf, File);
/// An fsync that failed, and where.
type Failure = (PathBuf, io::Error);

/// Threads that fsync the files and folders they are handed, in the background.
#[derive(Debug)]
struct Syncer {
    files: Option<mpsc::Sender<Job>>,
    results: mpsc::Receiver<Result<(), Failure>>,
    workers: Vec<thread::JoinHandle<()>>,
    /// Files handed over whose result is not yet taken.
    outstanding: usize,
    /// The first fsync that failed (also one done here, when no thread was left).
    failed: Option<Failure>,
}

impl Syncer {
    fn new(threads: usize) -> Syncer {
        let (files, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        let (done, results) = mpsc::channel();
        let workers = (0..threads)
            .map(|_| {
                let (queue, done) = (Arc::clone(&queue), done.clone());
                thread::spawn(move || {
                    loop {
                        // The lock is held only while waiting for the next file.
                        let next = queue.lock().map_err(drop).and_then(|q| q.recv().map_err(drop));
                        let Ok((path, file)) = next else { return };
                        if done.send(file.sync_all().map_err(|e| (path, e))).is_err() {
                            return;
                        }
                    }
                })
            })
            .collect();
        Syncer {
            files: Some(files),
            results,
            workers,
            outstanding: 0,
            failed: None,
        }
    }

    /// Starts fsyncing the file or folder at `path` (data and metadata).
    fn start(&mut self, path: PathBuf, file: File) {
        match self.files.as_ref().map(|files| files.send((path, file))) {
            Some(Ok(())) => self.outstanding += 1,
            // No thread left to take it: fsynced here.
            Some(Err(mpsc::SendError((path, file)))) => {
                self.keep_failure(file.sync_all().map_err(|e| (path, e)))
            }
            None => {}
        }
    }

    fn keep_failure(&mut self, result: Result<(), Failure>) {
        if let Err(failure) = result {
            self.failed.get_or_insert(failure);
        }
    }

    /// Waits for every fsync started; the first failure, if any (`dir` for one that
    /// names no file: the threads stopped).
    fn wait(&mut self, dir: &Path) -> Result<(), Failure> {
        for _ in 0..std::mem::take(&mut self.outstanding) {
            let result = self.results.recv().unwrap_or_else(|_| {
                let stopped = io::Error::other("the fsync threads stopped");
                Err((dir.to_owned(), stopped))
            });
            self.keep_failure(result);
        }
        self.failed.take().map_or(Ok(()), Err)
    }
}

impl Drop for Syncer {
    fn drop(&mut self) {
        self.files = None;
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

fn copy_data(src: &Path, to: &Path) -> io::Result<(File, u64)> {
    let mut source = File::open(src)?;
    step("stage a copy")?;
    let mut copy = File::create_new(to)?;
    let len = io::copy(&mut source, &mut copy)?;
    copy.set_times(FileTimes::new().set_modified(source.metadata()?.modified()?))?;
    Ok((copy, len))
}

fn remove_leftovers(dir: &Path) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(STAGED_PREFIX) && name.ends_with(STAGED_SUFFIX) {
            step("remove a stale staged copy")?;
            fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}
