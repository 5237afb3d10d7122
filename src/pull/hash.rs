//! Content hashes: what "the same file" means for duplicates and the manifest.
//!
//! XXH3-128 rather than a cryptographic hash: it runs inline with every byte
//! copied off the phone, at about 12 GB/s on one core here against 2 GB/s for
//! BLAKE3 and less for SHA-256. Nothing is trusted on the hash alone: a
//! duplicate found by hash is compared byte for byte before it counts.

use std::fmt;
use std::io::{self, Read};
use std::path::Path;
use std::str::FromStr;

use xxhash_rust::xxh3::Xxh3;

/// The XXH3-128 hash of a file's bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ContentHash([u8; 16]);

impl ContentHash {
    /// Hashes everything `reader` yields.
    pub fn of_reader(reader: impl Read) -> io::Result<Self> {
        let mut hasher = ContentHasher::new();
        io::copy(&mut { reader }, &mut hasher)?;
        Ok(hasher.finish())
    }

    /// Hashes a whole file.
    pub fn of_file(path: &Path) -> io::Result<Self> {
        Self::of_reader(std::fs::File::open(path)?)
    }
}

impl fmt::Display for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
    }
}

impl fmt::Debug for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ContentHash({self})")
    }
}

/// A hash written as 32 lowercase or uppercase hex digits did not parse.
#[derive(Debug, thiserror::Error)]
#[error("not a content hash (32 hex digits): {0:?}")]
pub struct BadHash(String);

impl FromStr for ContentHash {
    type Err = BadHash;

    fn from_str(text: &str) -> Result<Self, BadHash> {
        let bad = || BadHash(text.to_owned());
        if text.len() != 32 || !text.is_ascii() {
            return Err(bad());
        }
        let mut bytes = [0u8; 16];
        for (byte, pair) in bytes.iter_mut().zip(text.as_bytes().chunks_exact(2)) {
            let pair = std::str::from_utf8(pair).map_err(|_| bad())?;
            *byte = u8::from_str_radix(pair, 16).map_err(|_| bad())?;
        }
        Ok(Self(bytes))
    }
}

/// Hashes bytes as they are written through it (the hashing half of a copy).
#[derive(Default, Clone)]
pub struct ContentHasher(Xxh3);

impl ContentHasher {
    /// An empty hasher.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// The hash of everything added so far.
    pub fn finish(&self) -> ContentHash {
        ContentHash(self.0.digest128().to_be_bytes())
    }
}

impl io::Write for ContentHasher {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.update(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_known_value() {
        // XXH3-128 of the empty input (seed 0), from the xxHash test vectors.
        let empty = ContentHash::of_reader(&b""[..]).unwrap();
        assert_eq!(empty.to_string(), "99aa06d3014798d86001c324468d497f");
        assert_eq!(empty.to_string().parse::<ContentHash>().unwrap(), empty);
        assert_eq!(
            empty.to_string().to_uppercase().parse::<ContentHash>().unwrap(),
            empty
        );
    }

    #[test]
    fn rejects_malformed_hex() {
        assert!("abc".parse::<ContentHash>().is_err());
        assert!("g".repeat(32).parse::<ContentHash>().is_err());
        assert!("é".repeat(16).parse::<ContentHash>().is_err());
    }

    #[test]
    fn streaming_equals_one_shot() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7) as u8).collect();
        let mut hasher = ContentHasher::new();
        for chunk in data.chunks(777) {
            hasher.update(chunk);
        }
        assert_eq!(hasher.finish(), ContentHash::of_reader(&data[..]).unwrap());
    }
}
