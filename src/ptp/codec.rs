//! The byte-level codec every dataset is built from: a bounds-checked slice
//! [`Reader`], the [`Codec`] trait, and PTP's primitive encodings (little-endian
//! integers, counted UTF-16 strings, counted arrays).

use thiserror::Error;

/// Why a byte slice is not a valid PTP structure. Decoding never panics.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// The bytes end before the structure does.
    #[error("truncated {what}: needed {needed} more bytes, {left} left")]
    Truncated {
        /// The item being read when the bytes ran out.
        what: &'static str,
        /// Bytes the item needs.
        needed: usize,
        /// Bytes that were left.
        left: usize,
    },
    /// A field holds a value the specification does not allow.
    #[error("invalid {what}: {detail}")]
    Invalid {
        /// The field.
        what: &'static str,
        /// What is wrong with it.
        detail: String,
    },
}

impl DecodeError {
    pub(crate) fn invalid(what: &'static str, detail: impl Into<String>) -> Self {
        DecodeError::Invalid {
            what,
            detail: detail.into(),
        }
    }
}

/// Result of decoding.
pub type DecodeResult<T> = Result<T, DecodeError>;

/// The most UTF-16 units of text a PTP string holds: the count byte says at
/// most 255, and that includes the terminating NUL.
pub const MAX_STRING_UNITS: usize = 254;

/// A cursor over a byte slice that refuses to read past its end.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl<'a> Reader<'a> {
    /// Starts reading at the first byte of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, offset: 0 }
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.offset
    }

    /// Bytes already read.
    pub fn position(&self) -> usize {
        self.offset
    }

    /// Takes the next `n` bytes.
    pub fn take(&mut self, n: usize, what: &'static str) -> DecodeResult<&'a [u8]> {
        let left = self.remaining();
        if n > left {
            return Err(DecodeError::Truncated {
                what,
                needed: n,
                left,
            });
        }
        let slice = &self.bytes[self.offset..self.offset + n];
        self.offset += n;
        Ok(slice)
    }

    /// Takes everything that is left.
    pub fn rest(&mut self) -> &'a [u8] {
        let slice = &self.bytes[self.offset..];
        self.offset = self.bytes.len();
        slice
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> DecodeResult<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    /// Reads a `u8`.
    pub fn u8(&mut self, what: &'static str) -> DecodeResult<u8> {
        Ok(self.array::<1>(what)?[0])
    }
    /// Reads a little-endian `u16`.
    pub fn u16(&mut self, what: &'static str) -> DecodeResult<u16> {
        self.array(what).map(u16::from_le_bytes)
    }
    /// Reads a little-endian `u32`.
    pub fn u32(&mut self, what: &'static str) -> DecodeResult<u32> {
        self.array(what).map(u32::from_le_bytes)
    }
    /// Reads a little-endian `u64`.
    pub fn u64(&mut self, what: &'static str) -> DecodeResult<u64> {
        self.array(what).map(u64::from_le_bytes)
    }
    /// Reads a little-endian `u128`.
    pub fn u128(&mut self, what: &'static str) -> DecodeResult<u128> {
        self.array(what).map(u128::from_le_bytes)
    }

    /// Reads a PTP string: a count byte (characters including the terminating
    /// NUL, 0 for the empty string), then that many UTF-16LE code units.
    pub fn string(&mut self, what: &'static str) -> DecodeResult<String> {
        let count = usize::from(self.u8(what)?);
        let raw = self.take(count * 2, what)?;
        // Devices differ on whether the NUL is counted; stop at the first one either
        // way. A 255th unit can only be the NUL, so at most 254 are text.
        let units = raw
            .chunks_exact(2)
            .map(|pair| u16::from_le_bytes([pair[0], pair[1]]))
            .take_while(|&unit| unit != 0)
            .take(MAX_STRING_UNITS);
        // Names and dates are nearly always ASCII: a byte per unit, in one pass
        // (a listing reads four strings per object, 100,000 objects on a phone).
        let mut text = String::with_capacity(count);
        for unit in units.clone() {
            match u8::try_from(unit) {
                Ok(byte) if byte.is_ascii() => text.push(char::from(byte)),
                _ => {
                    return Ok(char::decode_utf16(units)
                        .map(|unit| unit.unwrap_or(char::REPLACEMENT_CHARACTER))
                        .collect());
                }
            }
        }
        Ok(text)
    }

    /// Reads a PTP array: a `u32` element count, then the elements.
    pub fn array_of<T>(
        &mut self,
        what: &'static str,
        element_size: usize,
        mut read_one: impl FnMut(&mut Self) -> DecodeResult<T>,
    ) -> DecodeResult<Vec<T>> {
        let count = self.u32(what)? as usize;
        // Refuse a count the bytes cannot hold before allocating for it.
        let needed = count
            .checked_mul(element_size)
            .ok_or_else(|| DecodeError::invalid(what, format!("element count {count} overflows")))?;
        if needed > self.remaining() {
            return Err(DecodeError::Truncated {
                what,
                needed,
                left: self.remaining(),
            });
        }
        (0..count).map(|_| read_one(self)).collect()
    }

    /// Reads an array of `u16` codes.
    pub fn u16_array(&mut self, what: &'static str) -> DecodeResult<Vec<u16>> {
        self.array_of(what, 2, |r| r.u16(what))
    }

    /// Reads an array of `u32` values (handles, storage ids).
    pub fn u32_array(&mut self, what: &'static str) -> DecodeResult<Vec<u32>> {
        self.array_of(what, 4, |r| r.u32(what))
    }
}

/// Appends PTP encodings to a byte vector.
pub trait Writer {
    /// Appends a `u8`.
    fn put_u8(&mut self, v: u8);
    /// Appends a little-endian `u16`.
    fn put_u16(&mut self, v: u16);
    /// Appends a little-endian `u32`.
    fn put_u32(&mut self, v: u32);
    /// Appends a little-endian `u64`.
    fn put_u64(&mut self, v: u64);
    /// Appends a little-endian `u128`.
    fn put_u128(&mut self, v: u128);
    /// Appends a PTP string; one longer than 254 UTF-16 units is cut there,
    /// since the count byte cannot say more.
    fn put_string(&mut self, s: &str);
    /// Appends a counted array of `u16` codes.
    fn put_u16_array(&mut self, values: &[u16]);
    /// Appends a counted array of `u32` values.
    fn put_u32_array(&mut self, values: &[u32]);
}

impl Writer for Vec<u8> {
    fn put_u8(&mut self, v: u8) {
        self.push(v);
    }
    fn put_u16(&mut self, v: u16) {
        self.extend_from_slice(&v.to_le_bytes());
    }
    fn put_u32(&mut self, v: u32) {
        self.extend_from_slice(&v.to_le_bytes());
    }
    fn put_u64(&mut self, v: u64) {
        self.extend_from_slice(&v.to_le_bytes());
    }
    fn put_u128(&mut self, v: u128) {
        self.extend_from_slice(&v.to_le_bytes());
    }
    fn put_string(&mut self, s: &str) {
        if s.is_empty() {
            self.put_u8(0);
            return;
        }
        let count = s.encode_utf16().take(MAX_STRING_UNITS).count();
        self.reserve(1 + 2 * (count + 1));
        self.put_u8(count as u8 + 1);
        for unit in s.encode_utf16().take(count).chain([0]) {
            self.put_u16(unit);
        }
    }
    fn put_u16_array(&mut self, values: &[u16]) {
        self.put_u32(values.len() as u32);
        values.iter().for_each(|v| self.put_u16(*v));
    }
    fn put_u32_array(&mut self, values: &[u32]) {
        self.put_u32(values.len() as u32);
        values.iter().for_each(|v| self.put_u32(*v));
    }
}

/// A structure with a PTP wire form.
pub trait Codec: Sized {
    /// Appends the wire form to `out`.
    fn encode(&self, out: &mut Vec<u8>);

    /// Reads one structure from the reader's position.
    fn read(r: &mut Reader<'_>) -> DecodeResult<Self>;

    /// Decodes a structure from the start of `bytes`. Trailing bytes are
    /// allowed: devices append vendor fields the specification does not name.
    fn decode(bytes: &[u8]) -> DecodeResult<Self> {
        Self::read(&mut Reader::new(bytes))
    }

    /// The wire form as a new vector.
    fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_golden_vector() {
        // "Hi": count 3 (two characters and the NUL), UTF-16LE.
        let mut out = Vec::new();
        out.put_string("Hi");
        assert_eq!(out, [3, b'H', 0, b'i', 0, 0, 0]);
        assert_eq!(Reader::new(&out).string("s").unwrap(), "Hi");
    }

    #[test]
    fn empty_string_is_a_single_zero() {
        let mut out = Vec::new();
        out.put_string("");
        assert_eq!(out, [0]);
        assert_eq!(Reader::new(&out).string("s").unwrap(), "");
    }

    #[test]
    fn string_without_counted_nul_is_accepted() {
        let bytes = [2, b'O', 0, b'K', 0];
        assert_eq!(Reader::new(&bytes).string("s").unwrap(), "OK");
    }

    #[test]
    fn a_full_count_without_nul_keeps_254_units() {
        let mut bytes = vec![255];
        bytes.extend(std::iter::repeat_n([b'y', 0], 255).flatten());
        assert_eq!(Reader::new(&bytes).string("s").unwrap(), "y".repeat(254));
    }

    #[test]
    fn long_string_is_cut_to_fit_the_count_byte() {
        let long = "x".repeat(400);
        let mut out = Vec::new();
        out.put_string(&long);
        assert_eq!(out[0], 255);
        assert_eq!(Reader::new(&out).string("s").unwrap(), "x".repeat(254));
    }

    #[test]
    fn array_count_larger_than_the_bytes_is_refused_without_allocating() {
        let bytes = [0xFF, 0xFF, 0xFF, 0xFF, 1, 0];
        let err = Reader::new(&bytes).u16_array("codes").unwrap_err();
        assert!(matches!(err, DecodeError::Truncated { .. }), "{err}");
    }

    #[test]
    fn truncated_integer_reports_what_was_missing() {
        let err = Reader::new(&[1, 2]).u32("length").unwrap_err();
        assert_eq!(
            err,
            DecodeError::Truncated {
                what: "length",
                needed: 4,
                left: 2
            }
        );
    }
}
