//! Tiny but valid media files built in code: baseline JPEGs (optionally with
//! an EXIF DateTimeOriginal), PNGs and MP4s with an `mvhd` creation time. The
//! demo phone and the thumbnails are made of these.

use chrono::{NaiveDate, NaiveDateTime};

/// What a camera writes into a JPEG's EXIF block.
#[derive(Debug, Clone)]
pub struct ExifTags {
    /// Make (0x010F).
    pub make: String,
    /// Model (0x0110).
    pub model: String,
    /// DateTimeOriginal (0x9003), also written as DateTime (0x0132).
    pub taken: NaiveDateTime,
}

/// A baseline JPEG of one 8×8 grey block of `shade`, with an EXIF APP1
/// segment when `exif` is given (a camera photo) or a JFIF APP0 segment
/// when not (an edited or messenger image).
pub fn jpeg(exif: Option<&ExifTags>, shade: u8) -> Vec<u8> {
    let mut out = vec![0xFF, 0xD8];
    match exif {
        Some(tags) => {
            let mut app1 = b"Exif\0\0".to_vec();
            app1.extend(tiff(tags));
            segment(&mut out, 0xE1, &app1);
        }
        None => segment(&mut out, 0xE0, b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0"),
    }
    // Quantisation: 8 for DC so that the coefficient is shade - 128; 1 elsewhere.
    let mut dqt = vec![0u8; 65];
    dqt[1] = 8;
    dqt[2..].fill(1);
    segment(&mut out, 0xDB, &dqt);
    // SOF0: 8-bit, 8×8, one component (id 1, no subsampling, table 0).
    segment(&mut out, 0xC0, &[8, 0, 8, 0, 8, 1, 1, 0x11, 0]);
    let dc = i32::from(shade) - 128;
    let category = (32 - dc.unsigned_abs().leading_zeros()) as u8;
    // DC table 0 and AC table 0 each hold one code of length 1 ("0"): the DC
    // category this block needs, and end-of-block.
    let mut dht = vec![0x00, 1];
    dht.extend([0; 15]);
    dht.push(category);
    dht.extend([0x10, 1]);
    dht.extend([0; 15]);
    dht.push(0x00);
    segment(&mut out, 0xC4, &dht);
    segment(&mut out, 0xDA, &[1, 1, 0x00, 0, 63, 0]);
    let mut bits = BitWriter::default();
    bits.put(0, 1); // DC code
    let magnitude = if dc >= 0 { dc } else { dc + (1 << category) - 1 };
    bits.put(magnitude as u32, category);
    bits.put(0, 1); // end of block
    out.extend(bits.finish());
    out.extend([0xFF, 0xD9]);
    out
}

/// A thumbnail as phones send it for GetThumb: a small JFIF JPEG.
pub fn thumbnail() -> Vec<u8> {
    jpeg(None, 160)
}

fn segment(out: &mut Vec<u8>, marker: u8, payload: &[u8]) {
    out.extend([0xFF, marker]);
    out.extend(((payload.len() + 2) as u16).to_be_bytes());
    out.extend(payload);
}

/// Huffman-coded bits, MSB first, padded with ones, with 0xFF bytes stuffed.
#[derive(Default)]
struct BitWriter {
    bytes: Vec<u8>,
    current: u32,
    filled: u8,
}

impl BitWriter {
    fn put(&mut self, value: u32, count: u8) {
        for i in (0..count).rev() {
            self.current = (self.current << 1) | ((value >> i) & 1);
            self.filled += 1;
            if self.filled == 8 {
                self.flush_byte();
            }
        }
    }

    fn flush_byte(&mut self) {
        let byte = self.current as u8;
        self.bytes.push(byte);
        if byte == 0xFF {
            self.bytes.push(0);
        }
        self.current = 0;
        self.filled = 0;
    }

    fn finish(mut self) -> Vec<u8> {
        while self.filled != 0 {
            self.put(1, 1);
        }
        self.bytes
    }
}

/// A little-endian TIFF block: IFD0 (Make, Model, DateTime, ExifIFD pointer)
/// and the Exif IFD (ExifVersion, DateTimeOriginal).
fn tiff(tags: &ExifTags) -> Vec<u8> {
    const ASCII: u16 = 2;
    const LONG: u16 = 4;
    const UNDEFINED: u16 = 7;
    let date = format!("{}\0", tags.taken.format("%Y:%m:%d %H:%M:%S"));
    let ascii = |s: &str| format!("{s}\0").into_bytes();
    let ifd0_entries = 4;
    let ifd0_len = 2 + 12 * ifd0_entries + 4;
    let mut values = Vec::new();
    let mut ifd0 = Ifd::default();
    let data_start = 8 + ifd0_len;
    for (tag, bytes) in [
        (0x010F, ascii(&tags.make)),
        (0x0110, ascii(&tags.model)),
        (0x0132, date.clone().into_bytes()),
    ] {
        ifd0.entry_with_data(tag, ASCII, &bytes, data_start, &mut values);
    }
    let exif_ifd_offset = data_start + values.len();
    ifd0.entry(0x8769, LONG, 1, (exif_ifd_offset as u32).to_le_bytes());
    let mut exif = Ifd::default();
    let exif_len = 2 + 12 * 2 + 4;
    let mut exif_values = Vec::new();
    exif.entry(0x9000, UNDEFINED, 4, *b"0232");
    exif.entry_with_data(
        0x9003,
        ASCII,
        date.as_bytes(),
        exif_ifd_offset + exif_len,
        &mut exif_values,
    );
    let mut out = b"II*\0".to_vec();
    out.extend(8u32.to_le_bytes());
    out.extend(ifd0.finish());
    out.extend(values);
    out.extend(exif.finish());
    out.extend(exif_values);
    out
}

#[derive(Default)]
struct Ifd {
    entries: Vec<[u8; 12]>,
}

impl Ifd {
    fn entry(&mut self, tag: u16, kind: u16, count: u32, value: [u8; 4]) {
        let mut e = [0u8; 12];
        e[..2].copy_from_slice(&tag.to_le_bytes());
        e[2..4].copy_from_slice(&kind.to_le_bytes());
        e[4..8].copy_from_slice(&count.to_le_bytes());
        e[8..].copy_from_slice(&value);
        self.entries.push(e);
    }

    /// An entry whose value does not fit in 4 bytes: stored in `values`,
    /// which starts at TIFF offset `values_start`.
    fn entry_with_data(
        &mut self,
        tag: u16,
        kind: u16,
        data: &[u8],
        values_start: usize,
        values: &mut Vec<u8>,
    ) {
        let offset = (values_start + values.len()) as u32;
        values.extend(data);
        if values.len() % 2 == 1 {
            values.push(0); // word alignment
        }
        self.entry(tag, kind, data.len() as u32, offset.to_le_bytes());
    }

    fn finish(self) -> Vec<u8> {
        let mut out = (self.entries.len() as u16).to_le_bytes().to_vec();
        self.entries.iter().for_each(|e| out.extend(e));
        out.extend(0u32.to_le_bytes()); // no next IFD
        out
    }
}

/// A grey PNG of `width`×`height` pixels of `shade` (8-bit greyscale, one
/// stored deflate block).
pub fn png(width: u32, height: u32, shade: u8) -> Vec<u8> {
    let mut raw = Vec::new();
    for _ in 0..height {
        raw.push(0); // filter: none
        raw.extend(std::iter::repeat_n(shade, width as usize));
    }
    let mut zlib = vec![0x78, 0x01, 0x01];
    zlib.extend((raw.len() as u16).to_le_bytes());
    zlib.extend((!(raw.len() as u16)).to_le_bytes());
    zlib.extend(&raw);
    zlib.extend(adler32(&raw).to_be_bytes());
    let mut ihdr = width.to_be_bytes().to_vec();
    ihdr.extend(height.to_be_bytes());
    ihdr.extend([8, 0, 0, 0, 0]); // depth 8, greyscale, deflate, no filter method, no interlace
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in [(b"IHDR", ihdr), (b"IDAT", zlib), (b"IEND", Vec::new())] {
        out.extend((data.len() as u32).to_be_bytes());
        let start = out.len();
        out.extend(kind);
        out.extend(&data);
        let crc = crc32(&out[start..]);
        out.extend(crc.to_be_bytes());
    }
    out
}

fn adler32(data: &[u8]) -> u32 {
    let (a, b) = data.iter().fold((1u32, 0u32), |(a, b), &byte| {
        let a = (a + u32::from(byte)) % 65521;
        (a, (b + a) % 65521)
    });
    (b << 16) | a
}

fn crc32(data: &[u8]) -> u32 {
    !data.iter().fold(!0u32, |crc, &byte| {
        (0..8).fold(crc ^ u32::from(byte), |c, _| {
            if c & 1 == 1 {
                (c >> 1) ^ 0xEDB8_8320
            } else {
                c >> 1
            }
        })
    })
}

/// An MP4 as a phone records it, reduced to what dating needs: `ftyp`,
/// `moov` with an `mvhd` whose creation time is `created` (UTC, as
/// QuickTime stores it), and a small `mdat`.
pub fn mp4(created_utc: NaiveDateTime, duration_ms: u32) -> Vec<u8> {
    let epoch_1904 = NaiveDate::from_ymd_opt(1904, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap_or_default();
    let seconds = u32::try_from((created_utc - epoch_1904).num_seconds()).unwrap_or(0);
    let mut mvhd = vec![0, 0, 0, 0]; // version 0, flags
    for v in [seconds, seconds, 1000, duration_ms, 0x0001_0000] {
        mvhd.extend(v.to_be_bytes());
    }
    mvhd.extend(0x0100u16.to_be_bytes()); // volume 1.0
    mvhd.extend([0; 10]);
    for v in [0x0001_0000u32, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000] {
        mvhd.extend(v.to_be_bytes());
    }
    mvhd.extend([0; 24]);
    mvhd.extend(2u32.to_be_bytes()); // next track id
    let mut out = mp4_box(b"ftyp", b"isom\0\0\x02\0isomiso2mp41");
    out.extend(mp4_box(b"moov", &mp4_box(b"mvhd", &mvhd)));
    out.extend(mp4_box(b"mdat", &[0u8; 64]));
    out
}

fn mp4_box(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
    let mut out = ((payload.len() + 8) as u32).to_be_bytes().to_vec();
    out.extend(kind);
    out.extend(payload);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taken() -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2023, 7, 4)
            .unwrap()
            .and_hms_opt(18, 30, 5)
            .unwrap()
    }

    #[test]
    fn jpeg_exif_date_reads_back_with_kamadak_exif() {
        let tags = ExifTags {
            make: "mtpull".into(),
            model: "Demo Phone".into(),
            taken: taken(),
        };
        let bytes = jpeg(Some(&tags), 90);
        assert_eq!(&bytes[..2], [0xFF, 0xD8]);
        assert_eq!(&bytes[bytes.len() - 2..], [0xFF, 0xD9]);
        let exif = exif::Reader::new()
            .read_from_container(&mut std::io::Cursor::new(&bytes))
            .unwrap();
        let original = exif
            .get_field(exif::Tag::DateTimeOriginal, exif::In::PRIMARY)
            .unwrap();
        assert_eq!(original.display_value().to_string(), "2023-07-04 18:30:05");
        let model = exif.get_field(exif::Tag::Model, exif::In::PRIMARY).unwrap();
        assert_eq!(model.display_value().to_string(), "\"Demo Phone\"");
    }

    #[test]
    fn jpeg_entropy_data_encodes_the_shade() {
        // shade 128: DC 0, category 0, so the bits are "0" "0" then padding.
        let flat = jpeg(None, 128);
        assert_eq!(flat[flat.len() - 3], 0b0011_1111);
        assert_ne!(jpeg(None, 10), jpeg(None, 250));
        // Every marker segment is well-formed up to SOS.
        let mut i = 2;
        while flat[i + 1] != 0xDA {
            assert_eq!(flat[i], 0xFF);
            i += 2 + usize::from(u16::from_be_bytes([flat[i + 2], flat[i + 3]]));
        }
    }

    #[test]
    fn png_has_valid_checksums() {
        let bytes = png(3, 2, 200);
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        // IEND's CRC is a well-known constant.
        assert_eq!(&bytes[bytes.len() - 4..], [0xAE, 0x42, 0x60, 0x82]);
        assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
    }

    #[test]
    fn mp4_mvhd_holds_the_creation_time() {
        let bytes = mp4(taken(), 1500);
        let at = bytes.windows(4).position(|w| w == b"mvhd").unwrap();
        let created = u32::from_be_bytes(bytes[at + 8..at + 12].try_into().unwrap());
        // 2023-07-04T18:30:05Z in seconds since 1904.
        assert_eq!(created, 1_688_495_405 + 2_082_844_800);
        let moov = bytes.windows(4).position(|w| w == b"moov").unwrap();
        let moov_len = u32::from_be_bytes(bytes[moov - 4..moov].try_into().unwrap());
        assert_eq!(moov_len, 8 + 108);
    }
}
