//! Which file in the destination already holds a file's bytes, under any name or
//! folder: `sort` files no second copy of a photo DEST holds elsewhere (`backup` finds
//! the same through its manifest's content index; `sort` keeps no manifest).
//!
//! DEST is listed once (names and sizes); contents are read only for files of the
//! same size as the one being filed, and compared by a hash of their first 64 KiB,
//! then (when those agree) by a hash of all their bytes, before every byte is. Each
//! hash of a file is computed at most once per run, so many files of one size whose
//! first bytes agree (videos of one length, whose headers differ only at the end)
//! cost one read each, not one comparison with every other.

use std::cell::OnceCell;
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use walkdir::WalkDir;

use super::file::same_content;

/// Bytes hashed to tell apart two files of one size before hashing them whole.
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
    prints: Prints,
}

/// A file's hashes, each computed when first needed; `None` when it cannot be read.
#[derive(Debug, Default)]
struct Prints {
    head: OnceCell<Option<u128>>,
    whole: OnceCell<Option<u128>>,
}

impl Prints {
    fn head(&self, path: &Path) -> Option<u128> {
        *self.head.get_or_init(|| hash_of(path, HEAD).ok())
    }

    fn whole(&self, path: &Path) -> Option<u128> {
        *self.whole.get_or_init(|| hash_of(path, u64::MAX).ok())
    }

    /// Whether the two files may hold the same bytes: their hashes agree.
    fn agree(&self, path: &Path, other: &Prints, other_path: &Path) -> bool {
        let head = self.head(path);
        head.is_some()
            && head == other.head(other_path)
            && self.whole(path).is_some()
            && self.whole(path) == other.whole(other_path)
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
        let prints = Prints::default();
        let same = |held: &&Held| {
            held.prints.agree(&held.bytes, &prints, src) && same_content(src, &held.bytes).unwrap_or(false)
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
            prints: Prints::default(),
        });
    }
}

/// The XXH3-128 hash of a file's first `limit` bytes.
fn hash_of(path: &Path, limit: u64) -> io::Result<u128> {
    let mut file = File::open(path)?.take(limit);
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    let mut buf = vec![0; 64 * 1024];
    loop {
        match file.read(&mut buf) {
            Ok(0) => return Ok(hasher.digest128()),
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
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

    #[test]
    fn files_of_one_size_and_one_head_are_told_apart_by_their_last_bytes() {
        let dest = tempfile::tempdir().unwrap();
        // Videos of one length: the same first 64 KiB and more, different last bytes.
        let video = |last: u8| {
            let mut bytes = vec![0; HEAD as usize + 1000];
            *bytes.last_mut().unwrap() = last;
            bytes
        };
        let mut contents = Contents::default();
        for last in 1..=20u8 {
            let path = dest.path().join(format!("clip_{last}.mp4"));
            std::fs::write(&path, video(last)).unwrap();
            contents.add(path.clone(), path, video(last).len() as u64);
        }
        let src = tempfile::tempdir().unwrap();
        let source = src.path().join("clip.mp4");
        std::fs::write(&source, video(13)).unwrap();
        let expected = dest.path().join("clip_13.mp4");
        assert_eq!(contents.holding(&source, None), Some(expected.as_path()));
        std::fs::write(&source, video(21)).unwrap();
        assert_eq!(contents.holding(&source, None), None);
        // The whole hashes agree but the bytes differ (as if two hashes collided): no match.
        let held = &contents.by_size[&(video(1).len() as u64)][0];
        std::fs::write(&source, video(1)).unwrap();
        assert_eq!(contents.holding(&source, None), Some(held.at.as_path()));
        std::fs::write(&held.bytes, video(99)).unwrap();
        assert_eq!(
            contents.holding(&source, None),
            None,
            "a hash alone never makes a duplicate"
        );
    }
}
