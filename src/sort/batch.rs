//! `sort`'s copy mode, made durable a batch at a time as `backup` does.
//!
//! Copying a photo takes well under a millisecond; fsyncing it, several (a journal commit
//! each). So the copies of a batch are first written to staged files in
//! `DEST/.mtpull/tmp/`, then fsynced together (in parallel, so the filesystem commits
//! them in a few journal transactions instead of one per file), and only then renamed
//! into place by the [`Filer`](super::Filer), which fsyncs each touched folder once per
//! batch. A crash leaves at worst staged files, which the next copy run removes; no
//! final name ever holds a partial file.

use std::fs::{self, File, FileTimes};
use std::io;
use std::path::{Path, PathBuf};
use std::thread;

use super::SortError;
use super::state::{STATE_DIR, TEMP_DIR};
use crate::fault_points::step;

/// Files copied before their data is fsynced and renamed into place.
pub(super) const BATCH_FILES: usize = 64;
/// Bytes copied before the batch is made durable, whatever the count.
pub(super) const BATCH_BYTES: u64 = 256 * 1024 * 1024;
/// Threads fsyncing a batch: enough for the filesystem to group the commits.
const SYNC_THREADS: usize = 8;

const STAGED_PREFIX: &str = "sort-copy-";
const STAGED_SUFFIX: &str = ".tmp";

/// Staged copies waiting to be made durable.
#[derive(Debug)]
pub(super) struct CopyBatch {
    dir: PathBuf,
    staged: Vec<File>,
    bytes: u64,
    serial: u64,
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
            dir,
            staged: Vec::new(),
            bytes: 0,
            serial: 0,
        })
    }

    /// Copies `src` (data and mtime) to a new staged file, not yet fsynced.
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
                self.staged.push(file);
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
        self.staged.len() >= BATCH_FILES || self.bytes >= BATCH_BYTES
    }

    /// Fsyncs every staged file's data; after this they may be renamed into place.
    pub(super) fn make_durable(&mut self) -> Result<(), SortError> {
        let staged = std::mem::take(&mut self.staged);
        self.bytes = 0;
        if let Err(e) = step("sync staged copies") {
            return Err(SortError::io("sync copies in", &self.dir)(e));
        }
        let chunk = staged.len().div_ceil(SYNC_THREADS).max(1);
        let failed = thread::scope(|scope| {
            let workers: Vec<_> = staged
                .chunks(chunk)
                .map(|files| scope.spawn(move || files.iter().try_for_each(File::sync_all)))
                .collect();
            workers
                .into_iter()
                .map(|worker| worker.join().expect("an fsync thread panicked"))
                .find_map(Result::err)
        });
        match failed {
            Some(e) => Err(SortError::io("sync copies in", &self.dir)(e)),
            None => Ok(()),
        }
    }

    /// Removes a staged file that was not placed (a duplicate, or a failure).
    pub(super) fn discard(&self, staged: &Path) {
        // Best effort: a leftover is removed by the next copy run.
        let _ = step("discard a staged copy").and_then(|()| fs::remove_file(staged));
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
