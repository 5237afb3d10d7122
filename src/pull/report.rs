//! What a run tells as it goes ([`Event`]s to an [`Observer`], which the
//! command turns into progress bars or log lines) and at the end ([`Summary`]).

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use super::plan::Plan;
use super::remote::RemoteFile;
use crate::human::{bytes, count};
use crate::session::SkippedStorage;

/// What became of one planned file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileOutcome {
    /// Filed at `dest` (relative to DEST).
    Copied {
        /// Where it went.
        dest: PathBuf,
        /// Its size.
        bytes: u64,
        /// No capture date was found: it went to the undated folder.
        undated: bool,
    },
    /// DEST already held these bytes at `dest`; recorded, not filed again.
    Duplicate {
        /// The copy already there.
        dest: PathBuf,
    },
    /// Not backed up; the run went on with the next file.
    Failed {
        /// Why, in words.
        error: String,
    },
}

/// Where a dry run would put a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DryRunEntry {
    /// Relative to DEST.
    pub dest: PathBuf,
    /// Which source dated it ("EXIF DateTimeOriginal", "file name"…), none when undated.
    pub date_source: Option<String>,
    /// DEST already has a file of this name and size there: likely a duplicate.
    pub maybe_duplicate: bool,
    /// Bytes of the file read from the device to date it.
    pub read_from_device: u64,
}

/// Something a run did, as it happens.
#[derive(Debug)]
pub enum Event<'a> {
    /// The phone shows no storage (locked, or an untrusted iPhone): the run
    /// waits this long for it.
    Locked {
        /// How long.
        wait: Duration,
        /// What the user must do.
        hint: &'static str,
    },
    /// Another run holds DEST (the backup of another phone): this one waits
    /// for its turn ([`super::BackupOptions::wait_for_destination`]).
    WaitingForDestination,
    /// While it waited for DEST, the run downloaded these new files (none when it
    /// could not); it now waits for its turn, which files them (see `staging`).
    DownloadedWhileWaiting {
        /// How many files.
        files: u64,
        /// Their bytes.
        bytes: u64,
    },
    /// The device was listed and the plan made.
    Planned {
        /// The plan.
        plan: &'a Plan,
        /// Bytes already downloaded by an earlier, interrupted run.
        resumable_bytes: u64,
    },
    /// A file's download begins (`resume_from` > 0: continuing an earlier one).
    Started {
        /// The file.
        file: &'a RemoteFile,
        /// Bytes already held.
        resume_from: u64,
    },
    /// Something the user should know about the current file, which was
    /// copied all the same (a device fault worked around).
    Note {
        /// The file.
        file: &'a RemoteFile,
        /// What happened, in words.
        note: &'a str,
    },
    /// Bytes of the current file arrived.
    Received {
        /// How many, since the last such event.
        bytes: u64,
    },
    /// A file is done, one way or another.
    Finished {
        /// The file.
        file: &'a RemoteFile,
        /// How it ended.
        outcome: &'a FileOutcome,
    },
    /// `--dry-run`: where the file would go.
    WouldCopy {
        /// The file.
        file: &'a RemoteFile,
        /// Its destination.
        entry: &'a DryRunEntry,
    },
    /// `--dry-run --delete-after`: the file would be deleted from the device
    /// (`after_copy`: once this run's copy of it is verified and recorded).
    WouldDelete {
        /// The file.
        file: &'a RemoteFile,
        /// Whether it is copied first (else it is backed up already).
        after_copy: bool,
    },
    /// `--delete-after`: a backed-up file was deleted from the device, or not.
    Deleted {
        /// The file.
        file: &'a RemoteFile,
        /// The device's refusal, if it refused.
        error: Option<String>,
    },
}

/// Receives a run's events.
pub trait Observer {
    /// Called for each event, in order.
    fn event(&mut self, event: &Event<'_>);
}

impl<F: FnMut(&Event<'_>)> Observer for F {
    fn event(&mut self, event: &Event<'_>) {
        self(event)
    }
}

/// Counts for the end of a run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// Files the plan said to copy.
    pub planned: u64,
    /// Their bytes.
    pub planned_bytes: u64,
    /// Files filed into DEST.
    pub copied: u64,
    /// Files skipped: the manifest says they are backed up.
    pub already: u64,
    /// Files whose bytes DEST already held (recorded, not filed again).
    pub duplicates: u64,
    /// Copied files that went to the undated folder.
    pub undated: u64,
    /// Files that failed.
    pub failed: u64,
    /// Downloads that continued an earlier, interrupted one.
    pub resumed: u64,
    /// Bytes received from the device in this run.
    pub bytes_received: u64,
    /// Bytes filed into DEST (new files only).
    pub bytes_copied: u64,
    /// Files deleted from the device (`--delete-after`).
    pub deleted: u64,
    /// Their bytes: space freed on the device.
    pub bytes_freed: u64,
    /// Deletions the device refused.
    pub delete_failed: u64,
    /// Wall time of the transfer phase.
    pub elapsed: Duration,
    /// Selected files skipped as Android's trash, unfinished files,
    /// thumbnails or app data (`--include-junk` copies them).
    pub junk: u64,
    /// Storages listed but not read.
    pub skipped_storages: Vec<SkippedStorage>,
}

impl Summary {
    /// Counts one finished file.
    pub fn count(&mut self, outcome: &FileOutcome) {
        match outcome {
            FileOutcome::Copied { undated, bytes, .. } => {
                self.copied += 1;
                self.bytes_copied += bytes;
                self.undated += u64::from(*undated);
            }
            FileOutcome::Duplicate { .. } => self.duplicates += 1,
            FileOutcome::Failed { .. } => self.failed += 1,
        }
    }

    /// Whether a storage that should have been read could not be.
    pub fn storage_failed(&self) -> bool {
        self.skipped_storages.iter().any(SkippedStorage::is_failure)
    }

    /// Receive rate in bytes per second (0 when nothing was timed).
    pub fn bytes_per_second(&self) -> u64 {
        let seconds = self.elapsed.as_secs_f64();
        if seconds > 0.0 {
            (self.bytes_received as f64 / seconds) as u64
        } else {
            0
        }
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "copied {} ({}), {} already backed up, {}, {} undated, {} failed",
            count(self.copied, "file"),
            bytes(self.bytes_copied),
            self.already,
            count(self.duplicates, "duplicate"),
            self.undated,
            self.failed
        )?;
        if self.resumed > 0 {
            write!(f, ", {} resumed", self.resumed)?;
        }
        if self.junk > 0 {
            write!(
                f,
                ", skipped {} in Android's trash, unfinished files, thumbnails or app data \
                 (--include-junk copies them)",
                self.junk
            )?;
        }
        write!(
            f,
            "; received {} in {:.1} s ({}/s)",
            bytes(self.bytes_received),
            self.elapsed.as_secs_f64(),
            bytes(self.bytes_per_second())
        )?;
        if self.deleted > 0 || self.delete_failed > 0 {
            write!(
                f,
                "; deleted {} from the device, freeing {}",
                count(self.deleted, "file"),
                bytes(self.bytes_freed)
            )?;
            if self.delete_failed > 0 {
                write!(f, " ({} kept)", self.delete_failed)?;
            }
        }
        for skipped in &self.skipped_storages {
            write!(f, "; not read: {skipped}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_prints_a_run() {
        let mut summary = Summary {
            already: 3,
            elapsed: Duration::from_secs(2),
            ..Summary::default()
        };
        let copied = FileOutcome::Copied {
            dest: "2024/05/26/a.jpg".into(),
            bytes: 2_000_000,
            undated: false,
        };
        let undated = FileOutcome::Copied {
            dest: "undated/a.jpg".into(),
            bytes: 2_000_000,
            undated: true,
        };
        summary.count(&copied);
        summary.count(&undated);
        summary.count(&FileOutcome::Duplicate { dest: "x".into() });
        summary.count(&FileOutcome::Failed { error: "cut".into() });
        summary.bytes_received = 5_000_000;
        assert_eq!(
            (
                summary.copied,
                summary.undated,
                summary.duplicates,
                summary.failed
            ),
            (2, 1, 1, 1)
        );
        assert_eq!(summary.bytes_copied, 4_000_000);
        assert_eq!(summary.bytes_per_second(), 2_500_000);
        assert_eq!(
            summary.to_string(),
            "copied 2 files (4.00 MB), 3 already backed up, 1 duplicate, 1 undated, 1 failed; \
             received 5.00 MB in 2.0 s (2.50 MB/s)"
        );
        summary.deleted = 2;
        summary.bytes_freed = 4_000_000;
        assert!(
            summary
                .to_string()
                .ends_with("; deleted 2 files from the device, freeing 4.00 MB")
        );
        assert_eq!(Summary::default().bytes_per_second(), 0);
    }
}
