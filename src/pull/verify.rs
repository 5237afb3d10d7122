//! `mtpull verify DEST`: is every file the manifest says DEST holds still there, with
//! the bytes that were copied? Read-only: a changed or missing file is reported, never
//! copied again or repaired.

use std::io;
use std::path::Path;

use super::hash::ContentHash;
use super::manifest::{Manifest, ManifestError, is_visible};
use crate::sort::beneath::Root;

/// What is wrong with one backed-up file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// Not in DEST any more (deleted, moved, renamed).
    Missing,
    /// Its bytes are not the ones copied (bit rot, an edit, a replacement).
    Changed {
        /// The size recorded when it was copied.
        recorded_bytes: u64,
        /// The size now.
        found_bytes: u64,
    },
    /// It could not be read.
    Unreadable(String),
}

impl Problem {
    /// A stable identifier for scripts (`--json`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Problem::Missing => "missing",
            Problem::Changed { .. } => "changed",
            Problem::Unreadable(_) => "unreadable",
        }
    }
}

/// What a verification found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Files the manifest records (each destination once).
    pub checked: usize,
    /// Files whose bytes hash as recorded.
    pub intact: usize,
    /// Bytes read.
    pub bytes: u64,
    /// The others: their path inside DEST and what is wrong.
    pub problems: Vec<(String, Problem)>,
}

/// Re-reads every file the manifest of `dest_root` records and compares its hash with
/// the recorded one; `progress(done, total, bytes)` after each. `Ok(None)`: there is no
/// manifest (nothing was ever backed up there).
pub fn verify(
    dest_root: &Path,
    mut progress: impl FnMut(usize, usize, u64),
) -> Result<Option<VerifyReport>, ManifestError> {
    let Some(manifest) = Manifest::open_read_only(dest_root)? else {
        return Ok(None);
    };
    let files = manifest.backed_up_files()?;
    let root = Root::open(dest_root).map_err(|source| ManifestError::Io {
        path: dest_root.to_owned(),
        source,
    })?;
    let mut report = VerifyReport {
        checked: files.len(),
        ..VerifyReport::default()
    };
    for (done, (dest, recorded_bytes, recorded_hash)) in files.into_iter().enumerate() {
        match check(&root, &dest, recorded_bytes, &recorded_hash) {
            Ok(bytes) => {
                report.intact += 1;
                report.bytes += bytes;
            }
            Err(problem) => report.problems.push((dest, problem)),
        }
        progress(done + 1, report.checked, report.bytes);
    }
    Ok(Some(report))
}

/// The bytes read when the file is intact, or what is wrong with it.
fn check(root: &Root, dest: &str, recorded_bytes: u64, recorded: &ContentHash) -> Result<u64, Problem> {
    if !is_visible(dest) {
        return Err(Problem::Missing);
    }
    // Through DEST's descriptor: a link planted in DEST is not followed out of it.
    let file = match root.open_file(Path::new(dest)) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(Problem::Missing),
        Err(e) => return Err(Problem::Unreadable(e.to_string())),
    };
    let found_bytes = file
        .metadata()
        .map_err(|e| Problem::Unreadable(e.to_string()))?
        .len();
    let hash = ContentHash::of_reader(file).map_err(|e| Problem::Unreadable(e.to_string()))?;
    if found_bytes != recorded_bytes || hash != *recorded {
        return Err(Problem::Changed {
            recorded_bytes,
            found_bytes,
        });
    }
    Ok(found_bytes)
}
