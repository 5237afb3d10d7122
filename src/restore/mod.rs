//! Putting files back on a phone: `mtpull restore SRC… [--to DEVICE_PATH]`.
//!
//! - `scan`: which local files ([`scan()`]), their names checked and their capture dates read.
//! - `journal`: the uploads in flight ([`Journal`]), so that an upload cut short is
//!   deleted from the phone by the next run before it sends the file again.
//! - [`restore`]: the run. Each file goes by SendObjectInfo (its capture date
//!   as DateCreated and DateModified: Android sets the file's mtime from it)
//!   then SendObject, into the target folder (created as needed). A file the
//!   phone already holds under the same name and size is skipped; one with
//!   the same name and another size is reported and left alone. An upload
//!   the phone never confirms (a stall, no answer) is looked at after the
//!   session is recovered: a complete copy that reads back identical counts
//!   as sent, anything less is deleted (QEMU's usb-mtp writes the file but
//!   never answers when the data phase is a multiple of 64 bytes).

mod journal;
mod scan;

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};

pub use journal::{Journal, Pending};
pub use scan::{LocalFile, Refused, Scan, name_problem, scan};

use crate::fault_points;
use crate::ptp::format_ptp_time;
use crate::ptp::{ObjectFormat, ObjectHandle, ObjectInfo, OperationCode, ResponseCode, StorageId};
use crate::pull::device_serial;
use crate::session::{Entry, Session, SessionError};

/// The folder restored files go to unless `--to` says otherwise.
pub const DEFAULT_FOLDER: &str = "DCIM/Restored";

/// Where and how to restore.
#[derive(Debug, Clone)]
pub struct RestoreOptions {
    /// The storage to send to.
    pub storage: StorageId,
    /// The folder on that storage, from its root, one name per element.
    pub folder: Vec<String>,
    /// Say what would be sent; change nothing on the phone.
    pub dry_run: bool,
}

/// Why a run stopped.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    /// The device failed in a way that stops the run.
    #[error("{context}: {source}")]
    Device {
        /// What was being done.
        context: String,
        /// What the session said.
        #[source]
        source: SessionError,
    },
    /// The upload journal could not be read or written.
    #[error("upload journal: {0}")]
    Journal(#[source] io::Error),
    /// A local file could not be read.
    #[error("reading {path}: {source}")]
    Local {
        /// The file.
        path: std::path::PathBuf,
        /// What the OS said.
        #[source]
        source: io::Error,
    },
    /// Ctrl-C.
    #[error("interrupted; run the same command again to finish")]
    Interrupted,
}

/// What became of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileOutcome {
    /// Sent; the phone holds it now.
    Sent,
    /// Sent, but the phone never confirmed it (QEMU's 64-byte fault); its
    /// copy was read back and is identical.
    ReadBack,
    /// The phone already had a file of that name and size there.
    Already,
    /// A dry run would send it.
    WouldSend,
    /// Not sent, and why.
    Failed(String),
}

/// What a run tells its observer.
#[derive(Debug)]
pub enum Event<'a> {
    /// An object a cut upload left behind was deleted (or, in a dry run, would be).
    Cleaned {
        /// The object's path on the device.
        path: &'a str,
    },
    /// The plan: how many files and bytes to send, how many are there already.
    Planned {
        /// Files to send.
        files: usize,
        /// Their bytes.
        bytes: u64,
        /// Files the device has already.
        already: usize,
    },
    /// A file's upload starts.
    Started {
        /// The file.
        file: &'a LocalFile,
    },
    /// Bytes of the current file went out.
    Sent {
        /// How many, since the last event.
        bytes: u64,
    },
    /// A file is done, one way or another.
    Finished {
        /// The file.
        file: &'a LocalFile,
        /// How it went.
        outcome: &'a FileOutcome,
    },
}

/// Receives a run's events (progress display, log lines).
pub trait Observer {
    /// One event.
    fn event(&mut self, event: &Event<'_>);
}

impl<F: FnMut(&Event<'_>)> Observer for F {
    fn event(&mut self, event: &Event<'_>) {
        self(event)
    }
}

/// How a run went.
#[derive(Debug, Default)]
pub struct RestoreReport {
    /// Files sent (or, in a dry run, that would be).
    pub sent: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Files the phone already had.
    pub already: u64,
    /// Files that failed.
    pub failed: u64,
    /// Leftovers of cut uploads deleted.
    pub cleaned: u64,
    /// Why the run stopped early, if it did.
    pub stopped: Option<RestoreError>,
}

/// Sends `files` to the phone behind `session`. `journal` holds the uploads
/// in flight; `cancel` is checked between files and while sending.
pub fn restore(
    session: &mut Session,
    files: &[LocalFile],
    options: &RestoreOptions,
    journal: &mut Journal,
    cancel: &AtomicBool,
    observer: &mut dyn Observer,
) -> RestoreReport {
    let mut report = RestoreReport::default();
    let mut run = Run {
        session,
        options,
        journal,
        cancel,
        observer,
        serial: String::new(),
        parent: None,
    };
    if let Err(error) = run.all(files, &mut report) {
        report.stopped = Some(error);
    }
    report
}

struct Run<'a> {
    session: &'a mut Session,
    options: &'a RestoreOptions,
    journal: &'a mut Journal,
    cancel: &'a AtomicBool,
    observer: &'a mut dyn Observer,
    serial: String,
    /// The target folder's handle, once it exists (handles change when the
    /// session is reopened after a failed upload).
    parent: Option<ObjectHandle>,
}

fn device(context: impl Into<String>) -> impl FnOnce(SessionError) -> RestoreError {
    let context = context.into();
    move |source| RestoreError::Device { context, source }
}

impl Run<'_> {
    fn all(&mut self, files: &[LocalFile], report: &mut RestoreReport) -> Result<(), RestoreError> {
        self.serial = device_serial(self.session);
        self.clean_cut_uploads(report)?;
        let folder = self.find_folder()?;
        let present = match &folder {
            Some(folder) => self.children(folder)?,
            None => HashMap::new(),
        };
        let (mut to_send, mut already) = (Vec::new(), Vec::new());
        for file in files {
            match present.get(&file.name) {
                Some(&size) if size == file.size => already.push(file),
                Some(&size) => {
                    let outcome = FileOutcome::Failed(format!(
                        "a different {} ({size} bytes) is already in {}; it is left as it is",
                        file.name,
                        self.options.folder.join("/")
                    ));
                    report.failed += 1;
                    self.observer.event(&Event::Finished {
                        file,
                        outcome: &outcome,
                    });
                }
                None => to_send.push(file),
            }
        }
        self.observer.event(&Event::Planned {
            files: to_send.len(),
            bytes: to_send.iter().map(|f| f.size).sum(),
            already: already.len(),
        });
        for file in already {
            report.already += 1;
            let outcome = FileOutcome::Already;
            self.observer.event(&Event::Finished {
                file,
                outcome: &outcome,
            });
        }
        if to_send.is_empty() {
            return Ok(());
        }
        self.parent = match folder {
            Some(folder) => Some(folder.handle),
            None if self.options.dry_run => None,
            None => Some(self.create_folder()?),
        };
        for file in to_send {
            if self.cancel.load(Ordering::Relaxed) {
                return Err(RestoreError::Interrupted);
            }
            let outcome = match self.parent {
                None => FileOutcome::WouldSend,
                Some(_) if self.options.dry_run => FileOutcome::WouldSend,
                Some(parent) => self.send(parent, file)?,
            };
            match outcome {
                FileOutcome::Failed(_) => report.failed += 1,
                _ => {
                    report.sent += 1;
                    report.bytes += file.size;
                }
            }
            self.observer.event(&Event::Finished {
                file,
                outcome: &outcome,
            });
        }
        Ok(())
    }

    /// Deletes what uploads of an earlier run left unfinished on this phone.
    fn clean_cut_uploads(&mut self, report: &mut RestoreReport) -> Result<(), RestoreError> {
        for pending in self.journal.pending_for(&self.serial) {
            let names: Vec<&str> = pending.path.split('/').collect();
            let found = self
                .session
                .find(StorageId(pending.storage), &names)
                .map_err(device(format!("looking for the cut upload {}", pending.path)))?;
            if let Some(entry) = found.filter(|e| !e.is_folder()) {
                if self.options.dry_run {
                    self.observer.event(&Event::Cleaned { path: &pending.path });
                    continue;
                }
                fault_points::step("delete a cut upload from the phone")
                    .map_err(|_| SessionError::Device {
                        code: ResponseCode::GENERAL_ERROR,
                        op: OperationCode::DELETE_OBJECT,
                    })
                    .and_then(|()| self.session.delete_object(entry.handle))
                    .map_err(device(format!("deleting the cut upload {}", pending.path)))?;
                report.cleaned += 1;
                self.observer.event(&Event::Cleaned { path: &pending.path });
            }
            if !self.options.dry_run {
                self.journal.end(&pending).map_err(RestoreError::Journal)?;
            }
        }
        Ok(())
    }

    fn find_folder(&mut self) -> Result<Option<Entry>, RestoreError> {
        let folder = &self.options.folder;
        if folder.is_empty() {
            return Ok(None);
        }
        let found = self
            .session
            .find(self.options.storage, folder)
            .map_err(device(format!("looking for {}", folder.join("/"))))?;
        match found {
            Some(entry) if !entry.is_folder() => Err(RestoreError::Device {
                context: format!("{} is a file on the phone, not a folder", folder.join("/")),
                source: SessionError::Device {
                    op: crate::ptp::OperationCode::SEND_OBJECT_INFO,
                    code: ResponseCode::INVALID_PARENT_OBJECT,
                },
            }),
            other => Ok(other),
        }
    }

    /// Name → size of the files in `folder`.
    fn children(&mut self, folder: &Entry) -> Result<HashMap<String, u64>, RestoreError> {
        let entries = self
            .session
            .list_folder(self.options.storage, Some(folder))
            .map_err(device(format!("listing {}", self.options.folder.join("/"))))?;
        Ok(entries
            .into_iter()
            .filter(|e| !e.is_folder())
            .map(|e| (e.name().to_owned(), e.size))
            .collect())
    }

    /// Creates the target folder and any missing parent; returns its handle.
    fn create_folder(&mut self) -> Result<ObjectHandle, RestoreError> {
        let storage = self.options.storage;
        let now = format_ptp_time(chrono::Local::now().naive_local());
        let mut parent: Option<Entry> = None;
        // A folder made here is known empty: it is not listed.
        let mut made_parent = false;
        for (depth, name) in self.options.folder.clone().iter().enumerate() {
            let path = &self.options.folder[..=depth];
            let existing = if made_parent {
                None
            } else {
                self.session
                    .list_folder(storage, parent.as_ref())
                    .map_err(device(format!("listing {}", path.join("/"))))?
                    .into_iter()
                    .find(|e| e.name() == name)
            };
            parent = Some(match existing {
                Some(entry) => entry,
                None => {
                    self.session
                        .create_folder(
                            storage,
                            parent.as_ref().map_or(ObjectHandle::ROOT_PARENT, |p| p.handle),
                            name,
                            &now,
                        )
                        .map_err(device(format!("creating the folder {}", path.join("/"))))?;
                    made_parent = true;
                    self.await_new_folder(path)?
                }
            });
        }
        Ok(parent.map_or(ObjectHandle::ROOT_PARENT, |p| p.handle))
    }

    /// The folder at `path`, just created, as the phone lists it. QEMU's
    /// usb-mtp answers a new folder's handle before it knows the folder (it
    /// learns of it through inotify, a moment later) and refuses that handle
    /// until then; a phone lists it at once.
    fn await_new_folder(&mut self, path: &[String]) -> Result<Entry, RestoreError> {
        const TRIES: u32 = 50;
        const PAUSE: std::time::Duration = std::time::Duration::from_millis(100);
        let shown = path.join("/");
        for _ in 0..TRIES {
            match self.session.find(self.options.storage, path) {
                Ok(Some(entry)) if entry.is_folder() => return Ok(entry),
                Ok(_) => {}
                Err(error) if error.response_code() == Some(ResponseCode::INVALID_OBJECT_HANDLE) => {}
                Err(error) => return Err(device(format!("looking for the new folder {shown}"))(error)),
            }
            std::thread::sleep(PAUSE);
        }
        Err(RestoreError::Device {
            context: format!("the folder {shown} was created, but the phone does not list it"),
            source: SessionError::Device {
                op: crate::ptp::OperationCode::GET_OBJECT_HANDLES,
                code: ResponseCode::INVALID_OBJECT_HANDLE,
            },
        })
    }

    /// Sends one file, journalled. A refusal of this file is its outcome; a
    /// broken connection or a full phone stops the run.
    fn send(&mut self, parent: ObjectHandle, file: &LocalFile) -> Result<FileOutcome, RestoreError> {
        let mut source = match File::open(&file.path) {
            Ok(source) => source,
            Err(e) => {
                return Ok(FileOutcome::Failed(format!(
                    "cannot read {}: {e}",
                    file.path.display()
                )));
            }
        };
        let date = format_ptp_time(file.taken);
        let info = ObjectInfo {
            storage_id: self.options.storage.0,
            format: format_for(&file.name),
            parent: parent.0,
            filename: file.name.clone(),
            date_created: date.clone(),
            date_modified: date,
            ..ObjectInfo::default()
        };
        let mut path = self.options.folder.clone();
        path.push(file.name.clone());
        let pending = Pending {
            serial: self.serial.clone(),
            storage: self.options.storage.0,
            path: path.join("/"),
            size: file.size,
        };
        self.journal
            .begin(pending.clone())
            .map_err(RestoreError::Journal)?;
        self.observer.event(&Event::Started { file });
        let mut counted = Counted {
            inner: &mut source,
            cancel: self.cancel,
            observer: &mut *self.observer,
        };
        let sent = match fault_points::step("send a file to the phone") {
            Ok(()) => self
                .session
                .send_object(self.options.storage, parent, &info, &mut counted, file.size),
            Err(_) => Err(SessionError::Device {
                code: ResponseCode::GENERAL_ERROR,
                op: OperationCode::SEND_OBJECT,
            }),
        };
        match sent {
            Ok(_) => {
                self.journal.end(&pending).map_err(RestoreError::Journal)?;
                Ok(FileOutcome::Sent)
            }
            Err(_) if self.cancel.load(Ordering::Relaxed) => Err(RestoreError::Interrupted),
            Err(error) if error.broke_off() => self.settle_unconfirmed(file, &pending, error),
            Err(error) => self.send_failed(file, error),
        }
    }

    /// The upload broke off without the phone's answer: the phone may hold
    /// all of the file, part of it, or nothing. Recovers the session (Cancel,
    /// clear halts, a new session; a phone that is gone stops the run and the
    /// journal leaves the cleaning to the next one), then looks: a copy of the
    /// full size that reads back identical is kept, anything less is deleted.
    fn settle_unconfirmed(
        &mut self,
        file: &LocalFile,
        pending: &Pending,
        error: SessionError,
    ) -> Result<FileOutcome, RestoreError> {
        let stop = |source| RestoreError::Device {
            context: format!("recovering after {} was not confirmed ({error})", file.name),
            source,
        };
        self.session.recover().map_err(stop)?;
        self.parent = self.find_folder()?.map(|folder| folder.handle);
        let names: Vec<&str> = pending.path.split('/').collect();
        let found = self
            .session
            .find(self.options.storage, &names)
            .map_err(device(format!("looking for {}", pending.path)))?
            .filter(|entry| !entry.is_folder());
        let outcome = match found {
            None => FileOutcome::Failed(format!(
                "the phone did not confirm the upload ({error}) and kept nothing of it"
            )),
            Some(entry) if entry.size == file.size && self.reads_back_identical(entry.handle, file)? => {
                FileOutcome::ReadBack
            }
            Some(entry) => {
                self.session
                    .delete_object(entry.handle)
                    .map_err(device(format!("deleting the incomplete {}", pending.path)))?;
                FileOutcome::Failed(format!(
                    "the phone did not confirm the upload ({error}) and kept a copy of {} of {} bytes \
                     that does not match the file; that copy was deleted",
                    entry.size, file.size
                ))
            }
        };
        self.journal.end(pending).map_err(RestoreError::Journal)?;
        Ok(outcome)
    }

    /// Reads the phone's copy back and compares it with the local file.
    fn reads_back_identical(&mut self, handle: ObjectHandle, file: &LocalFile) -> Result<bool, RestoreError> {
        let local_error = |source| RestoreError::Local {
            path: file.path.clone(),
            source,
        };
        let local = File::open(&file.path).map_err(local_error)?;
        let mut compare = SameAs {
            local: io::BufReader::new(local),
            differs: false,
        };
        self.session
            .get_object(handle, &mut compare)
            .map_err(device(format!("reading back {}", file.name)))?;
        let mut rest = [0u8; 1];
        let longer = compare.local.read(&mut rest).map_err(local_error)? > 0;
        Ok(!compare.differs && !longer)
    }

    fn send_failed(&mut self, file: &LocalFile, error: SessionError) -> Result<FileOutcome, RestoreError> {
        let code = error.response_code();
        if code == Some(ResponseCode::OBJECT_TOO_LARGE) && file.size >= 1 << 32 {
            return Ok(FileOutcome::Failed(format!(
                "the phone refuses files of 4 GiB or more on this storage ({} is {} bytes; \
                 its file system is probably FAT32): copy it another way or split it",
                file.name, file.size
            )));
        }
        if code == Some(ResponseCode::STORE_FULL) || error.needs_recovery() || error.is_locked() {
            return Err(RestoreError::Device {
                context: format!("sending {}", file.path.display()),
                source: error,
            });
        }
        Ok(FileOutcome::Failed(error.to_string()))
    }
}

/// A sink that compares what it receives with a local file.
struct SameAs<R> {
    local: R,
    differs: bool,
}

impl<R: Read> Write for SameAs<R> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut expected = vec![0u8; buf.len()];
        let mut filled = 0;
        while filled < buf.len() && !self.differs {
            match self.local.read(&mut expected[filled..])? {
                0 => self.differs = true,
                n => filled += n,
            }
        }
        self.differs |= expected[..] != buf[..];
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The ObjectFormat a phone expects for a file of this name.
pub fn format_for(name: &str) -> ObjectFormat {
    let extension = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match extension.as_deref() {
        Some("jpg" | "jpeg" | "jpe") => ObjectFormat::EXIF_JPEG,
        Some("png") => ObjectFormat::PNG,
        Some("gif") => ObjectFormat::GIF,
        Some("bmp") => ObjectFormat::BMP,
        Some("tif" | "tiff") => ObjectFormat::TIFF,
        Some("dng") => ObjectFormat::DNG,
        Some("heic" | "heif") => ObjectFormat::HEIF,
        Some("mp4" | "m4v" | "mov") => ObjectFormat::MP4_CONTAINER,
        Some("3gp") => ObjectFormat::CONTAINER_3GP,
        Some("avi") => ObjectFormat::AVI,
        Some("txt") => ObjectFormat::TEXT,
        _ => ObjectFormat::UNDEFINED,
    }
}

/// The file being sent: counts what goes out, and stops when Ctrl-C is pressed.
struct Counted<'a> {
    inner: &'a mut File,
    cancel: &'a AtomicBool,
    observer: &'a mut dyn Observer,
}

impl Read for Counted<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.cancel.load(Ordering::Relaxed) {
            return Err(io::Error::other("interrupted"));
        }
        // Each piece sent changes the phone: a cut here leaves a half upload there.
        fault_points::step("send a piece to the phone")?;
        let n = self.inner.read(buf)?;
        self.observer.event(&Event::Sent { bytes: n as u64 });
        Ok(n)
    }
}
