//! `mtpull status [DEST]`: of the photos and videos on the connected phone, how many
//! are backed up in DEST, which are not and why, and the date through which
//! everything is. Read-only on both sides: the phone is listed (and, for a file
//! whose key drifted, its first bytes read), DEST's manifest is only read.
//!
//! "Backed up through" goes by capture dates, as a backup files them: every file
//! captured at or before it is in DEST. A backed-up file is dated from its copy in
//! DEST (a local read), a file a backup would copy from its first bytes on the phone
//! (partial reads); none is read when nothing is backed up yet.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use chrono::NaiveDateTime;

use super::error::PullError;
use super::manifest::Manifest;
use super::remote::RemoteFile;
use super::report::Observer;
use super::run::{BackupOptions, Planned, backed_up_date, date_on_device, list, make_plan};
use super::select::{MediaKind, Selection, media_kind};
use crate::ptp::ObjectHandle;
use crate::session::SkippedStorage;
use crate::sort::DateResolver;

/// Why a file on the phone is not in DEST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Missing {
    /// No backup has copied it yet.
    New,
    /// The last backup that tried it failed, with this error.
    Failed(String),
    /// It was copied, but its copy in DEST is gone or changed since.
    GoneFromDest,
    /// A person rejected it in a preview; a backup leaves it unless `--include-rejected`.
    Rejected,
    /// Android's trash, an unfinished file, a thumbnail or app data; a backup
    /// leaves it unless `--include-junk`.
    Junk,
}

impl Missing {
    /// A stable identifier for scripts (`--json`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Missing::New => "new",
            Missing::Failed(_) => "failed",
            Missing::GoneFromDest => "gone_from_dest",
            Missing::Rejected => "rejected",
            Missing::Junk => "junk",
        }
    }

    /// Whether the next backup would copy it (what holds back "backed up through").
    pub fn is_pending(&self) -> bool {
        matches!(self, Missing::New | Missing::Failed(_) | Missing::GoneFromDest)
    }
}

/// How many files of one kind the phone holds, and how many of them DEST holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Count {
    /// On the phone (selected storages and kinds).
    pub on_phone: usize,
    /// Of those, backed up in DEST.
    pub in_dest: usize,
}

/// What `status` found.
#[derive(Debug, Clone, Default)]
pub struct Status {
    /// The device's serial (as the manifest knows it).
    pub serial: String,
    /// Whether DEST has a manifest at all.
    pub has_manifest: bool,
    /// Photos.
    pub photos: Count,
    /// Videos.
    pub videos: Count,
    /// Files that are neither (sidecars such as `.aae` edits; anything with `--only all`).
    pub others: Count,
    /// Files on the phone not in DEST, in storage then path order, with the reason.
    pub missing: Vec<(RemoteFile, Missing)>,
    /// The latest capture date through which every file a backup would copy is in
    /// DEST (`None`: no dated file is backed up before the oldest missing one).
    pub backed_up_through: Option<NaiveDateTime>,
    /// Storages the device lists that were not read, and why.
    pub skipped_storages: Vec<SkippedStorage>,
    /// The capture date of each file a backup would copy (by handle), read to find
    /// "backed up through" (none when nothing is backed up yet).
    pub captured: HashMap<ObjectHandle, Option<NaiveDateTime>>,
}

impl Status {
    /// Whether a backup would copy nothing: every file is in DEST, or left out on purpose.
    pub fn is_complete(&self) -> bool {
        !self.missing.iter().any(|(_, why)| why.is_pending())
    }

    /// How many files a backup would copy.
    pub fn pending(&self) -> usize {
        self.missing.iter().filter(|(_, why)| why.is_pending()).count()
    }
}

/// Lists the phone behind `session` and compares it with the backup in `dest_root`.
/// A locked phone is waited for up to `wait` (the observer hears
/// [`super::Event::Locked`]).
pub fn status(
    session: &mut crate::session::Session,
    dest_root: &Path,
    selection: &Selection,
    wait: Duration,
    cancel: &AtomicBool,
    observer: &mut dyn Observer,
) -> Result<Status, PullError> {
    let manifest = Manifest::open_read_only(dest_root)?;
    let options = BackupOptions {
        selection: selection.clone(),
        wait_for_unlock: wait,
        dry_run: true,
        ..BackupOptions::default()
    };
    let listing = list(session, &options, cancel, observer)?;
    let Planned { plan, stale, .. } = make_plan(
        session,
        dest_root,
        &options,
        manifest.as_ref(),
        listing,
        &mut Vec::new(),
    )?;
    let failed = match &manifest {
        Some(manifest) => manifest.failed_for(&plan.serial)?,
        None => Default::default(),
    };
    let mut status = Status {
        serial: plan.serial.clone(),
        has_manifest: manifest.is_some(),
        skipped_storages: plan.skipped_storages.clone(),
        ..Status::default()
    };
    for file in &plan.already {
        status.count(kind_of(file)).in_dest += 1;
    }
    let why_not_copied = |file: &RemoteFile| {
        if let Some(error) = failed.get(&(file.path.clone(), file.size)) {
            Missing::Failed(error.clone())
        } else if stale.contains(&file.key(&plan.serial)) {
            Missing::GoneFromDest
        } else {
            Missing::New
        }
    };
    let missing = (plan.to_copy.iter().map(|file| (file, why_not_copied(file))))
        .chain(plan.rejected.iter().map(|file| (file, Missing::Rejected)))
        .chain(plan.junk.iter().map(|file| (file, Missing::Junk)));
    for (file, why) in missing {
        status.missing.push((file.clone(), why));
    }
    let on_phone: Vec<_> = (plan.already.iter())
        .chain(status.missing.iter().map(|(file, _)| file))
        .map(kind_of)
        .collect();
    for kind in on_phone {
        status.count(kind).on_phone += 1;
    }
    status
        .missing
        .sort_by(|(a, _), (b, _)| (a.storage_id, &a.path).cmp(&(b.storage_id, &b.path)));
    if !plan.already.is_empty() {
        let resolver = DateResolver::system();
        let mut pending = Vec::new();
        for (file, _) in status.missing.iter().filter(|(_, why)| why.is_pending()) {
            let dated = date_on_device(session, &resolver, file)?.dated;
            status.captured.insert(file.handle, dated.map(|d| d.time));
            pending.push(dated.map(|d| d.time));
        }
        let mut in_dest = Vec::new();
        for file in &plan.already {
            let dated = backed_up_date(
                session,
                dest_root,
                manifest.as_ref(),
                &plan.serial,
                file,
                &resolver,
            )?;
            in_dest.push(dated.map(|d| d.time));
        }
        status.backed_up_through = backed_up_through(&in_dest, &pending);
    }
    Ok(status)
}

impl Status {
    fn count(&mut self, kind: Option<MediaKind>) -> &mut Count {
        match kind {
            Some(MediaKind::Photo) => &mut self.photos,
            Some(MediaKind::Video) => &mut self.videos,
            None => &mut self.others,
        }
    }
}

fn kind_of(file: &RemoteFile) -> Option<MediaKind> {
    media_kind(file.name(), file.format)
}

/// The latest capture date of a backed-up file older than the oldest file a backup
/// would still copy (or the newest backed-up date when none is pending). An undated
/// pending file holds nothing back by date, but the status is not complete.
fn backed_up_through(
    in_dest: &[Option<NaiveDateTime>],
    pending: &[Option<NaiveDateTime>],
) -> Option<NaiveDateTime> {
    let oldest_pending = pending.iter().flatten().min();
    in_dest
        .iter()
        .flatten()
        .filter(|when| oldest_pending.is_none_or(|pending| *when < pending))
        .max()
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pull::remote::tests::file;

    fn when(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn backed_up_through_stops_before_the_oldest_file_a_backup_would_copy() {
        let in_dest = [
            Some(when("2024-05-01 10:00:00")),
            None,
            Some(when("2024-05-03 10:00:00")),
            Some(when("2024-05-05 10:00:00")),
        ];
        assert_eq!(
            backed_up_through(&in_dest, &[Some(when("2024-05-04 09:00:00")), None]),
            Some(when("2024-05-03 10:00:00"))
        );
        // An undated pending file holds nothing back by date.
        assert_eq!(
            backed_up_through(&in_dest, &[None]),
            Some(when("2024-05-05 10:00:00"))
        );
        assert_eq!(
            backed_up_through(&in_dest, &[]),
            Some(when("2024-05-05 10:00:00"))
        );
        assert_eq!(
            backed_up_through(&in_dest, &[Some(when("2024-04-01 00:00:00"))]),
            None
        );
        assert_eq!(backed_up_through(&[], &[]), None);
    }

    #[test]
    fn only_what_a_backup_would_copy_is_pending() {
        let status = Status {
            missing: vec![
                (file("a.jpg", 1, ""), Missing::Junk),
                (file("b.jpg", 1, ""), Missing::Rejected),
            ],
            ..Status::default()
        };
        assert!(status.is_complete());
        assert_eq!(status.pending(), 0);
        let status = Status {
            missing: vec![(file("c.jpg", 1, ""), Missing::New)],
            ..status
        };
        assert!(!status.is_complete());
        assert_eq!(status.pending(), 1);
    }
}
