//! Finished downloads waiting to be filed, while their fsync runs on a thread of its
//! own: the next file downloads meanwhile, so one file's durability work overlaps the
//! next one's transfer instead of following it.
//!
//! A download leaves the queue — to be renamed into its dated folder and recorded —
//! only once the thread says its fsync returned, so no final name ever holds bytes
//! that might not be on the disk, and the run files them in the order it downloaded
//! them (dating, name clashes and bursts are decided as before). A cut while downloads
//! wait leaves them whole in `DEST/.mtpull/tmp/`, where the next run finds them
//! complete and files them without a transfer. The queue is never longer than
//! [`WAITING_FILES`], whatever the thread's speed, so what is filed when depends on
//! the order of the files alone, never on timing.

use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::path::PathBuf;
use std::sync::mpsc;
use std::thread;

use super::hash::ContentHash;
use super::partial::FinishedDownload;
use super::remote::RemoteFile;

/// Downloads that wait for their fsync while the next ones download: enough for the
/// disk to keep up across a few small files; each one waiting costs only its temp file.
pub(super) const WAITING_FILES: usize = 4;

/// A complete download, its fsync started.
pub(super) struct Downloaded<'a> {
    /// The device file.
    pub file: &'a RemoteFile,
    /// Its temp file.
    pub path: PathBuf,
    /// Its length.
    pub len: u64,
    /// Its content's hash.
    pub hash: ContentHash,
}

/// A download whose fsync is done, with the fsync's result.
pub(super) type Synced<'a> = (Downloaded<'a>, io::Result<()>);

/// The queue of finished downloads, oldest first, and the thread that fsyncs them.
#[derive(Default)]
pub(super) struct Waiting<'a> {
    /// Each download, with its fsync's result when that was not left to the thread.
    queue: VecDeque<(Downloaded<'a>, Option<io::Result<()>>)>,
    syncer: Option<SyncThread>,
}

impl<'a> Waiting<'a> {
    /// Starts the fsync of `finished`, the download of `file`, and queues it. Returns
    /// the download that has waited longest once more than [`WAITING_FILES`] wait,
    /// after its fsync is done.
    pub(super) fn push(&mut self, file: &'a RemoteFile, finished: FinishedDownload) -> Option<Synced<'a>> {
        let FinishedDownload {
            path,
            len,
            hash,
            file: handle,
        } = finished;
        let answered = self.syncer.get_or_insert_with(SyncThread::spawn).start(handle);
        self.queue.push_back((
            Downloaded {
                file,
                path,
                len,
                hash,
            },
            answered,
        ));
        if self.queue.len() > WAITING_FILES {
            self.pop()
        } else {
            None
        }
    }

    /// The download that has waited longest, once its fsync is done (`None`: none waits).
    pub(super) fn pop(&mut self) -> Option<Synced<'a>> {
        let (downloaded, answered) = self.queue.pop_front()?;
        let synced = answered.unwrap_or_else(|| {
            self.syncer
                .as_ref()
                .map_or_else(|| Err(io::Error::other("no fsync thread")), SyncThread::answer)
        });
        Some((downloaded, synced))
    }
}

/// A thread that fsyncs the files it is handed, one after the other, and answers
/// in the same order.
struct SyncThread {
    files: Option<mpsc::Sender<File>>,
    answers: mpsc::Receiver<io::Result<()>>,
    worker: Option<thread::JoinHandle<()>>,
}

impl SyncThread {
    fn spawn() -> SyncThread {
        let (files, queue) = mpsc::channel::<File>();
        let (done, answers) = mpsc::channel();
        let worker = thread::Builder::new()
            .name("mtpull-fsync".into())
            .spawn(move || {
                for file in queue {
                    if done.send(file.sync_all()).is_err() {
                        return;
                    }
                }
            })
            .ok();
        SyncThread {
            files: worker.is_some().then_some(files),
            answers,
            worker,
        }
    }

    /// Starts fsyncing `file` (data and metadata) on the thread; without one, fsyncs
    /// it here and returns the result.
    fn start(&mut self, file: File) -> Option<io::Result<()>> {
        let file = match &self.files {
            Some(files) => match files.send(file) {
                Ok(()) => return None,
                Err(mpsc::SendError(file)) => file,
            },
            None => file,
        };
        self.files = None;
        Some(file.sync_all())
    }

    /// The thread's answer for the oldest file it was handed and has not answered for.
    fn answer(&self) -> io::Result<()> {
        self.answers
            .recv()
            .unwrap_or_else(|_| Err(io::Error::other("the fsync thread stopped")))
    }
}

impl Drop for SyncThread {
    fn drop(&mut self) {
        self.files = None;
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pull::remote::tests::file;

    #[test]
    fn downloads_come_out_oldest_first_once_more_than_the_limit_wait() {
        let dir = tempfile::tempdir().unwrap();
        let files: Vec<RemoteFile> = (0..WAITING_FILES + 3)
            .map(|i| file(&format!("DCIM/{i}.jpg"), 1, "2024-05-26 10:00:00"))
            .collect();
        let finished = |i: usize| {
            let path = dir.path().join(format!("{i}.part"));
            std::fs::write(&path, [i as u8]).unwrap();
            FinishedDownload {
                file: File::open(&path).unwrap(),
                hash: ContentHash::of_reader(&[i as u8][..]).unwrap(),
                path,
                len: 1,
            }
        };
        let mut waiting = Waiting::default();
        let mut out = Vec::new();
        for (i, remote) in files.iter().enumerate() {
            let synced = waiting.push(remote, finished(i));
            assert_eq!(synced.is_some(), i >= WAITING_FILES, "after {} pushed", i + 1);
            out.extend(synced);
        }
        while let Some(synced) = waiting.pop() {
            out.push(synced);
        }
        let order: Vec<&str> = out.iter().map(|(d, _)| d.file.path.as_str()).collect();
        let pushed: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(order, pushed);
        for (downloaded, synced) in &out {
            synced.as_ref().unwrap();
            assert_eq!(
                std::fs::read(&downloaded.path).unwrap().len() as u64,
                downloaded.len
            );
        }
    }
}
