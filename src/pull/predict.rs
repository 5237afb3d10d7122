//! Where a dry run says each file would land, for files still on the phone.
//!
//! The sorter settles a name clash by comparing contents, which a dry run
//! has only the start of: the head it read to date the file. A name held by
//! a file of another size or another head is surely another file (the real
//! run numbers past it: `-1`, `-2`…); one of the same size and head is this
//! file already there (certainly so when the head is the whole file). Each
//! predicted placement claims its name, so later files in the same plan see
//! the clash as the real run will. Names are made safe for DEST's filesystem as
//! the real run makes them, and on FAT-like ones names differing only in case clash.

use std::collections::HashMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::date_cache::HeadPrint;
use crate::sort::file::{MAX_CLASH_SUFFIX, names_without_writing, numbered, seq_stems, stem_key};
use crate::sort::{Names, safe_name_for};

/// Predicts placements in one destination.
#[derive(Debug)]
pub(super) struct Predictor {
    root: PathBuf,
    names: Names,
    /// Names this dry run has already handed out (by [`Names::key`]), with the path,
    /// the size of their file and the print of its head (not the head: 100,000 heads
    /// of up to 128 KiB would not fit).
    claims: HashMap<PathBuf, Claim>,
}

#[derive(Debug)]
struct Claim {
    path: PathBuf,
    size: u64,
    head: HeadPrint,
}

/// A predicted placement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Prediction {
    /// Absolute path in DEST.
    pub path: PathBuf,
    /// A file with the same size and head already sits there: this file, most likely.
    pub maybe_duplicate: bool,
}

impl Predictor {
    /// A predictor for DEST as it is now, taking the names its filesystem takes
    /// as far as a dry run can tell without writing.
    pub(super) fn new(dest_root: &Path) -> Predictor {
        Predictor::taking(dest_root, names_without_writing(dest_root))
    }

    fn taking(dest_root: &Path, names: Names) -> Predictor {
        Predictor {
            root: dest_root.to_owned(),
            names,
            claims: HashMap::new(),
        }
    }

    /// `planned` (relative) with its file name made safe for DEST, as the real run
    /// files it.
    pub(super) fn safe(&self, planned: &Path) -> PathBuf {
        let name = planned.file_name().unwrap_or_default().to_string_lossy();
        planned.with_file_name(safe_name_for(&name, self.names))
    }

    /// The claim on `path` (absolute), whatever its case where case does not count.
    fn claim(&self, path: &Path) -> Option<&Claim> {
        self.claims.get(&self.names.key(path))
    }

    /// Where a file of `size` bytes whose first block has the print `head`, planned at
    /// `planned` (relative), would go.
    pub(super) fn predict(&mut self, planned: &Path, size: u64, head: HeadPrint) -> Prediction {
        let target = self.root.join(planned);
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let dir = target.parent().unwrap_or(&self.root).to_owned();
        let stems = seq_stems(&name, &dir, self.claimed());
        for n in 0..=MAX_CLASH_SUFFIX {
            let candidate = numbered(&name, n);
            let path = dir.join(&candidate);
            let same = match self.claim(&path) {
                Some(claim) => (claim.size, claim.head) == (size, head),
                None => match fs::symlink_metadata(&path) {
                    Ok(meta) => meta.is_file() && meta.len() == size && starts_with(&path, head),
                    // Its number borne by a file of another extension: taken.
                    Err(_) if stems.as_ref().is_some_and(|s| s.contains(&stem_key(&candidate))) => false,
                    Err(_) => {
                        let claim = Claim {
                            path: path.clone(),
                            size,
                            head,
                        };
                        self.claims.insert(self.names.key(&path), claim);
                        return Prediction {
                            path,
                            maybe_duplicate: false,
                        };
                    }
                },
            };
            if same {
                return Prediction {
                    path,
                    maybe_duplicate: true,
                };
            }
        }
        // The real run fails this file (every name taken); show the plain name.
        Prediction {
            path: target,
            maybe_duplicate: false,
        }
    }
}

impl Predictor {
    /// The paths this dry run has handed out.
    pub(super) fn claimed(&self) -> impl Iterator<Item = &Path> {
        self.claims.values().map(|claim| claim.path.as_path())
    }

    /// Whether nothing is at `planned` (relative), on disk or predicted.
    pub(super) fn is_vacant(&self, planned: &Path) -> bool {
        let path = self.root.join(planned);
        self.claim(&path).is_none() && fs::symlink_metadata(&path).is_err()
    }

    /// Whether a file of `size` bytes whose first block has the print `head` would land
    /// at `planned` (relative) as it is: the name is vacant, or seems to hold this file already.
    pub(super) fn would_take(&self, planned: &Path, size: u64, head: HeadPrint) -> bool {
        let path = self.root.join(planned);
        match self.claim(&path) {
            Some(claim) => (claim.size, claim.head) == (size, head),
            None => match fs::symlink_metadata(&path) {
                Ok(meta) => meta.is_file() && meta.len() == size && starts_with(&path, head),
                Err(_) => true,
            },
        }
    }
}

/// Whether the file at `path` begins with the block printed `head`.
fn starts_with(path: &Path, head: HeadPrint) -> bool {
    let mut start = Vec::with_capacity(usize::try_from(head.len).unwrap_or(0));
    fs::File::open(path)
        .and_then(|file| file.take(head.len).read_to_end(&mut start))
        .is_ok_and(|_| HeadPrint::of(&start) == head)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_past_other_files_and_claims_names() {
        let dest = tempfile::tempdir().unwrap();
        let day = dest.path().join("2024/05/26");
        fs::create_dir_all(&day).unwrap();
        fs::write(day.join("IMG_1.jpg"), b"12345").unwrap();
        let mut predictor = Predictor::new(dest.path());
        let planned = Path::new("2024/05/26/IMG_1.jpg");
        // The same bytes as the file there: itself.
        assert_eq!(
            predictor.predict(planned, 5, HeadPrint::of(b"12345")),
            Prediction {
                path: day.join("IMG_1.jpg"),
                maybe_duplicate: true
            }
        );
        // Same size, other bytes; then another size: the next free numbers, which they hold.
        assert_eq!(
            predictor.predict(planned, 5, HeadPrint::of(b"54321")).path,
            day.join("IMG_1-1.jpg")
        );
        assert_eq!(
            predictor.predict(planned, 4, HeadPrint::of(b"abcd")).path,
            day.join("IMG_1-2.jpg")
        );
        assert_eq!(
            predictor.predict(planned, 4, HeadPrint::of(b"abcd")),
            Prediction {
                path: day.join("IMG_1-2.jpg"),
                maybe_duplicate: true
            }
        );
        // Untouched folders are predicted as they are; nothing was written.
        assert_eq!(
            predictor
                .predict(Path::new("undated/a.mp4"), 1, HeadPrint::of(b"x"))
                .path,
            dest.path().join("undated/a.mp4")
        );
        assert!(!dest.path().join("undated").exists());
        assert!(!day.join("IMG_1-1.jpg").exists());
    }

    #[test]
    fn on_fat_names_are_made_safe_and_case_only_clashes_numbered() {
        let dest = tempfile::tempdir().unwrap();
        let day = dest.path().join("2024/05/26");
        let mut predictor = Predictor::taking(dest.path(), Names::Windows);
        let planned = predictor.safe(Path::new("2024/05/26/what: why?.jpg"));
        assert_eq!(planned, Path::new("2024/05/26/what_ why_.jpg"));
        assert_eq!(
            predictor.predict(&planned, 5, HeadPrint::of(b"12345")).path,
            day.join("what_ why_.jpg")
        );
        predictor.predict(Path::new("2024/05/26/IMG_1.JPG"), 5, HeadPrint::of(b"12345"));
        let lower = Path::new("2024/05/26/img_1.jpg");
        assert!(!predictor.is_vacant(lower));
        assert!(!predictor.would_take(lower, 4, HeadPrint::of(b"abcd")));
        assert_eq!(
            predictor.predict(lower, 4, HeadPrint::of(b"abcd")).path,
            day.join("img_1-1.jpg")
        );
        // Where any name goes, case counts and nothing is renamed.
        let mut posix = Predictor::taking(dest.path(), Names::Posix);
        assert_eq!(posix.safe(Path::new("a/b:c.jpg")), Path::new("a/b:c.jpg"));
        posix.predict(Path::new("a/IMG_1.JPG"), 5, HeadPrint::of(b"12345"));
        assert!(posix.is_vacant(Path::new("a/img_1.jpg")));
    }
}
