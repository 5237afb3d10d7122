//! Where a dry run says each file would land, for files still on the phone.
//!
//! The sorter settles a name clash by comparing contents, which a dry run
//! does not have; it has sizes. A name held by a file of another size is
//! surely another file (the real run numbers past it: `-1`, `-2`…); one of
//! the same size is probably this file already backed up (a duplicate).
//! Each predicted placement claims its name, so later files in the same plan
//! see the clash as the real run will.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use crate::sort::file::{MAX_CLASH_SUFFIX, numbered};

/// Predicts placements in one destination.
#[derive(Debug)]
pub struct Predictor {
    root: PathBuf,
    /// Names this dry run has already handed out, with their sizes.
    claims: HashMap<PathBuf, u64>,
}

/// A predicted placement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prediction {
    /// Absolute path in DEST.
    pub path: PathBuf,
    /// A file of the same size already sits there: likely the same file.
    pub maybe_duplicate: bool,
}

impl Predictor {
    /// A predictor for DEST as it is now.
    pub fn new(dest_root: &Path) -> Predictor {
        Predictor {
            root: dest_root.to_owned(),
            claims: HashMap::new(),
        }
    }

    /// Where a file of `size` bytes planned at `planned` (relative) would go.
    pub fn predict(&mut self, planned: &Path, size: u64) -> Prediction {
        let target = self.root.join(planned);
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let dir = target.parent().unwrap_or(&self.root).to_owned();
        for n in 0..=MAX_CLASH_SUFFIX {
            let path = dir.join(numbered(&name, n));
            let occupant = match self.claims.get(&path) {
                Some(&claimed) => Some(Some(claimed)),
                None => match fs::symlink_metadata(&path) {
                    Ok(meta) => Some(meta.is_file().then_some(meta.len())),
                    Err(_) => None,
                },
            };
            match occupant {
                None => {
                    self.claims.insert(path.clone(), size);
                    return Prediction {
                        path,
                        maybe_duplicate: false,
                    };
                }
                Some(Some(existing)) if existing == size => {
                    return Prediction {
                        path,
                        maybe_duplicate: true,
                    };
                }
                Some(_) => {}
            }
        }
        // The real run fails this file (every name taken); show the plain name.
        Prediction {
            path: target,
            maybe_duplicate: false,
        }
    }
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
        // Same size as the file there: probably itself.
        assert_eq!(
            predictor.predict(planned, 5),
            Prediction {
                path: day.join("IMG_1.jpg"),
                maybe_duplicate: true
            }
        );
        // Another size: the next free number, which it then holds.
        assert_eq!(predictor.predict(planned, 3).path, day.join("IMG_1-1.jpg"));
        assert_eq!(predictor.predict(planned, 4).path, day.join("IMG_1-2.jpg"));
        assert!(predictor.predict(planned, 4).maybe_duplicate);
        // Untouched folders are predicted as they are; nothing was written.
        assert_eq!(
            predictor.predict(Path::new("undated/a.mp4"), 1).path,
            dest.path().join("undated/a.mp4")
        );
        assert!(!dest.path().join("undated").exists());
        assert!(!day.join("IMG_1-1.jpg").exists());
    }
}
