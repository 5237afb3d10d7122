//! What a simulated file holds, and how its bytes are read without ever
//! holding a whole large object in memory.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::Arc;

/// The bytes of a simulated file.
#[derive(Clone)]
pub enum Content {
    /// Bytes held in memory (cheap to clone).
    Bytes(Arc<[u8]>),
    /// A real file on disk, read when the object is transferred. Its length is
    /// taken when the content is made; a file that shrinks later makes the
    /// device stall mid-transfer, as a phone with a disk error does.
    File {
        /// Where the bytes are.
        path: PathBuf,
        /// Length when the content was made.
        len: u64,
    },
    /// Deterministic bytes computed from the offset: any size, no storage.
    /// [`generated_bytes`] reproduces them.
    Generated {
        /// Length in bytes.
        len: u64,
        /// Selects the byte sequence.
        seed: u64,
    },
    /// Bytes a [`Synthesize`] makes when they are read (the demo phone's
    /// photos: encoded on the fly, never stored).
    Synthetic(Arc<dyn Synthesize>),
}

/// A file whose bytes are made when read, and that may carry the thumbnail
/// the device serves for it (GetThumb).
pub trait Synthesize: Send + Sync {
    /// Length in bytes (known without making them).
    fn len(&self) -> u64;
    /// Whether there are no bytes.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// A reader of the bytes from `offset` on, up to [`Synthesize::len`].
    fn reader_at(&self, offset: u64) -> Box<dyn Read + Send>;
    /// The thumbnail (a JPEG) the device has for this file, if any.
    fn thumbnail(&self) -> Option<Vec<u8>> {
        None
    }
}

impl std::fmt::Debug for Content {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Content::Bytes(bytes) => write!(f, "Content::Bytes({} bytes)", bytes.len()),
            Content::File { path, len } => write!(f, "Content::File({}, {len} bytes)", path.display()),
            Content::Generated { len, seed } => write!(f, "Content::Generated({len} bytes, seed {seed})"),
            Content::Synthetic(made) => write!(f, "Content::Synthetic({} bytes)", made.len()),
        }
    }
}

impl Content {
    /// In-memory content.
    pub fn bytes(data: impl Into<Vec<u8>>) -> Content {
        Content::Bytes(data.into().into())
    }

    /// Generated content of `len` bytes; see [`generated_bytes`].
    pub fn generated(len: u64, seed: u64) -> Content {
        Content::Generated { len, seed }
    }

    /// A real file, served as it is on disk.
    pub fn file(path: impl Into<PathBuf>) -> io::Result<Content> {
        let path = path.into();
        let len = std::fs::metadata(&path)?.len();
        Ok(Content::File { path, len })
    }

    /// Length in bytes.
    pub fn len(&self) -> u64 {
        match self {
            Content::Bytes(bytes) => bytes.len() as u64,
            Content::File { len, .. } | Content::Generated { len, .. } => *len,
            Content::Synthetic(made) => made.len(),
        }
    }

    /// Whether the content is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The thumbnail the device serves for this file: a synthetic file's own
    /// (none if it has none), else one fixed small JPEG.
    pub(crate) fn thumbnail(&self) -> Option<Vec<u8>> {
        match self {
            Content::Synthetic(made) => made.thumbnail(),
            _ => Some(super::media::thumbnail()),
        }
    }

    /// A reader positioned at `offset`.
    pub(crate) fn reader_at(&self, offset: u64) -> io::Result<ContentReader> {
        Ok(match self {
            Content::Bytes(bytes) => ContentReader::Bytes {
                bytes: Arc::clone(bytes),
                position: usize::try_from(offset).unwrap_or(usize::MAX),
            },
            Content::File { path, .. } => {
                let mut file = File::open(path)?;
                file.seek(SeekFrom::Start(offset))?;
                ContentReader::File(BufReader::with_capacity(FILE_READ_AHEAD, file))
            }
            Content::Generated { seed, .. } => ContentReader::Generated {
                seed: *seed,
                position: offset,
            },
            Content::Synthetic(made) => ContentReader::Synthetic(made.reader_at(offset)),
        })
    }

    /// Whether `reader` yields exactly these bytes, compared in chunks so that
    /// a 5 GiB pulled file can be checked without loading it.
    pub fn matches(&self, mut reader: impl Read) -> io::Result<bool> {
        const CHUNK: usize = 1 << 20;
        let mut expected = self.reader_at(0)?;
        let mut want = vec![0u8; CHUNK];
        let mut got = vec![0u8; CHUNK];
        let mut left = self.len();
        loop {
            let n = read_full(&mut reader, &mut got)?;
            let take = usize::try_from(left).unwrap_or(usize::MAX).min(CHUNK);
            if n != take {
                return Ok(false);
            }
            if n == 0 {
                return Ok(true);
            }
            expected.read_exact(&mut want[..n])?;
            if want[..n] != got[..n] {
                return Ok(false);
            }
            left -= n as u64;
        }
    }
}

impl From<Vec<u8>> for Content {
    fn from(data: Vec<u8>) -> Self {
        Content::bytes(data)
    }
}

impl From<&[u8]> for Content {
    fn from(data: &[u8]) -> Self {
        Content::bytes(data)
    }
}

impl From<&str> for Content {
    fn from(text: &str) -> Self {
        Content::bytes(text.as_bytes())
    }
}

/// Reads until `buf` is full or the reader ends.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match reader.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(got) => n += got,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// How much of a served file is read at once: the link takes a packet at a
/// time, and a read per packet (over 9p in the test guest) would be the cost.
const FILE_READ_AHEAD: usize = 256 * 1024;

/// A sequential reader over a [`Content`], from some offset on.
pub(crate) enum ContentReader {
    Bytes { bytes: Arc<[u8]>, position: usize },
    File(BufReader<File>),
    Generated { seed: u64, position: u64 },
    Synthetic(Box<dyn Read + Send>),
}

impl Read for ContentReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            ContentReader::Bytes { bytes, position } => {
                let rest = bytes.get(*position..).unwrap_or_default();
                let n = rest.len().min(buf.len());
                buf[..n].copy_from_slice(&rest[..n]);
                *position += n;
                Ok(n)
            }
            ContentReader::File(file) => file.read(buf),
            ContentReader::Synthetic(reader) => reader.read(buf),
            // Unbounded: the caller clips to the content's length.
            ContentReader::Generated { seed, position } => {
                generated_bytes(*seed, *position, buf);
                *position += buf.len() as u64;
                Ok(buf.len())
            }
        }
    }
}

/// Fills `buf` with the bytes of [`Content::Generated`] with this `seed`, from
/// byte `offset` on. Each aligned 8-byte word depends on its index and the
/// seed, so a byte copied to the wrong offset, a dropped or a repeated chunk
/// all show up as a mismatch.
pub fn generated_bytes(seed: u64, offset: u64, buf: &mut [u8]) {
    let lead = (offset % 8) as usize;
    let mut index = offset / 8;
    let mut rest = buf;
    if lead != 0 {
        let word = generated_word(seed, index).to_le_bytes();
        let n = (8 - lead).min(rest.len());
        rest[..n].copy_from_slice(&word[lead..lead + n]);
        rest = &mut rest[n..];
        index += 1;
    }
    let mut words = rest.chunks_exact_mut(8);
    for chunk in &mut words {
        chunk.copy_from_slice(&generated_word(seed, index).to_le_bytes());
        index += 1;
    }
    let tail = words.into_remainder();
    if !tail.is_empty() {
        let n = tail.len();
        tail.copy_from_slice(&generated_word(seed, index).to_le_bytes()[..n]);
    }
}

/// One multiply and a shift per 8 bytes: cheap enough that a generated
/// object streams faster than a file copy.
fn generated_word(seed: u64, index: u64) -> u64 {
    let x = index
        .wrapping_add(seed.wrapping_mul(0xD6E8_FEB8_6659_FD93))
        .wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x ^ (x >> 29)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generated(seed: u64, offset: u64, len: usize) -> Vec<u8> {
        let mut buf = vec![0; len];
        generated_bytes(seed, offset, &mut buf);
        buf
    }

    #[test]
    fn generated_bytes_do_not_depend_on_how_they_are_split() {
        let whole = generated(7, 0, 100);
        for split in [1, 3, 8, 13, 64, 99] {
            let mut parts = generated(7, 0, split);
            parts.extend(generated(7, split as u64, 100 - split));
            assert_eq!(parts, whole, "split at {split}");
        }
        assert_eq!(generated(7, 5, 3), whole[5..8]);
    }

    #[test]
    fn generated_bytes_differ_by_seed_and_by_position() {
        assert_ne!(generated(1, 0, 64), generated(2, 0, 64));
        let bytes = generated(1, 0, 4096);
        let words: std::collections::HashSet<&[u8]> = bytes.chunks(8).collect();
        assert_eq!(words.len(), 512, "every word is distinct");
    }

    #[test]
    fn every_kind_of_content_reads_from_an_offset() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"0123456789").unwrap();
        for content in [Content::from("0123456789"), Content::file(&path).unwrap()] {
            let mut out = String::new();
            content.reader_at(4).unwrap().read_to_string(&mut out).unwrap();
            assert_eq!(out, "456789");
            assert_eq!(content.len(), 10);
        }
        let mut out = [0u8; 4];
        Content::generated(100, 9)
            .reader_at(10)
            .unwrap()
            .read_exact(&mut out)
            .unwrap();
        assert_eq!(out[..], generated(9, 10, 4));
    }

    #[test]
    fn matches_compares_every_byte_and_the_length() {
        let content = Content::generated(3 << 20, 4);
        let exact = generated(4, 0, 3 << 20);
        assert!(content.matches(&exact[..]).unwrap());
        let mut flipped = exact.clone();
        flipped[2 << 20] ^= 1;
        assert!(!content.matches(&flipped[..]).unwrap());
        assert!(!content.matches(&exact[..exact.len() - 1]).unwrap());
        let mut longer = exact;
        longer.push(0);
        assert!(!content.matches(&longer[..]).unwrap());
    }
}
