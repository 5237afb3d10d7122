//! Which file in the destination already holds a file's bytes, under any name or
//! folder: `sort` files no second copy of a photo DEST holds elsewhere (`backup` finds
//! the same through its manifest's content index; `sort` keeps no manifest).
//!
//! DEST is listed once (names and sizes); contents are read only for files of the
//! same size as the one being filed, and compared by a hash of their first 64 KiB
//! before every byte is.

use std::cell::OnceCell;
use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use walkdir::WalkDir;

use super::file::same_content;

/// Bytes hashed to tell apart two files of one size before comparing them whole.
const HEAD: u64 = 64 * 1024;

/// The files of a destination by size.
#[derive(Debug, Default)]
pub(super) struct Contents {
    by_size: HashMap<u64, Vec<Held>>,
}

/// A file in DEST: where it is, and where its bytes can be read (the file itself; in a
/// dry run, for a file that would be filed, its source).
#[derive(Debug)]
struct Held {
    at: PathBuf,
    bytes: PathBuf,
    head: OnceCell<Option<u128>>,
}

impl Held {
    fn head(&self) -> Option<u128> {
        *self.head.get_or_init(|| head_hash(&self.bytes))
    }
}

impl Contents {
    /// Every visible regular file under `dest`: not mtpull's state, nothing under a
    /// dot-name (a trash folder, a hidden file), no link followed. A missing DEST holds
    /// nothing.
    pub(super) fn of(dest: &Path) -> Contents {
        let mut contents = Contents::default();
        // mtpull's state (`.mtpull/`) is a dot-name too.
        let visible = |entry: &walkdir::DirEntry| {
            entry.depth() == 0 || !entry.file_name().as_encoded_bytes().starts_with(b".")
        };
        for entry in WalkDir::new(dest)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(visible)
            .flatten()
        {
            if entry.file_type().is_file()
                && let Ok(meta) = entry.metadata()
            {
                contents.add(entry.path().to_owned(), entry.path().to_owned(), meta.len());
            }
        }
        contents
    }

    /// Where DEST holds the bytes of `src`, if anywhere: in the folder `near` (where
    /// it is planned) first, else the first such file in path order. An empty file is
    /// no photo and matches nothing.
    pub(super) fn holding(&self, src: &Path, near: Option<&Path>) -> Option<&Path> {
        let size = std::fs::metadata(src).ok()?.len();
        let candidates = self.by_size.get(&size)?;
        let head = OnceCell::new();
        let same = |held: &&Held| {
            held.head().is_some()
                && held.head() == *head.get_or_init(|| head_hash(src))
                && same_content(src, &held.bytes).unwrap_or(false)
        };
        candidates
            .iter()
            .filter(|held| held.at.parent() == near)
            .find(same)
            .or_else(|| candidates.iter().find(same))
            .map(|held| held.at.as_path())
    }

    /// Notes that `at` (in DEST) holds, or in a dry run would hold, the bytes now
    /// found at `bytes`, `size` of them.
    pub(super) fn add(&mut self, at: PathBuf, bytes: PathBuf, size: u64) {
        if size == 0 {
            return;
        }
        self.by_size.entry(size).or_default().push(Held {
            at,
            bytes,
            head: OnceCell::new(),
        });
    }
}

/// The hash of a file's first [`HEAD`] bytes; `None` when it cannot be read.
fn head_hash(path: &Path) -> Option<u128> {
    let mut head = Vec::new();
    File::open(path).ok()?.take(HEAD).read_to_end(&mut head).ok()?;
    Some(xxhash_rust::xxh3::xxh3_128(&head))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_same_bytes_under_any_name_nearby_first_but_never_an_empty_file() {
        let dest = tempfile::tempdir().unwrap();
        let put = |rel: &str, bytes: &[u8]| {
            let path = dest.path().join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, bytes).unwrap();
            path
        };
        let album = put("Albums/a.jpg", b"photo");
        let dated = put("2024/05/26/b.jpg", b"photo");
        put("2024/05/26/other.jpg", b"other");
        put("2024/05/26/empty.jpg", b"");
        put(".trash/c.jpg", b"trashed");
        let src = tempfile::tempdir().unwrap();
        let source = |bytes: &[u8]| {
            let path = src.path().join("x.jpg");
            std::fs::write(&path, bytes).unwrap();
            path
        };
        let contents = Contents::of(dest.path());
        // In path order, "2024" before "Albums".
        assert_eq!(contents.holding(&source(b"photo"), None), Some(dated.as_path()));
        assert_eq!(
            contents.holding(&source(b"photo"), album.parent()),
            Some(album.as_path())
        );
        assert_eq!(contents.holding(&source(b"photo!"), None), None);
        assert_eq!(contents.holding(&source(b""), None), None);
        assert_eq!(contents.holding(&source(b"trashed"), None), None);
    }
}
