//! Builders for minimal media files: the structure the date readers look at, no pixels.
//!
//! Shared by the unit tests and the integration tests (which include this file by
//! path), so it uses nothing but std.
#![allow(dead_code)] // each test binary uses a different subset

pub(super) const DATE_TIME: u16 = 0x0132;
pub(super) const DATE_TIME_ORIGINAL: u16 = 0x9003;
pub(super) const DATE_TIME_DIGITIZED: u16 = 0x9004;
pub(super) const OFFSET_TIME_ORIGINAL: u16 = 0x9011;
pub(super) const SUB_SEC_TIME_ORIGINAL: u16 = 0x9291;
const EXIF_IFD_POINTER: u16 = 0x8769;
const MAKER_NOTE: u16 = 0x927C;

/// Seconds from 1904-01-01 to 1970-01-01: QuickTime's epoch.
pub(super) const QUICKTIME_EPOCH_TO_UNIX: u64 = 2_082_844_800;

/// An EXIF block (a little-endian TIFF structure): ASCII fields in IFD0, and ASCII fields
/// in an Exif IFD. Laid out as header, Exif IFD, IFD0.
pub(super) fn tiff(ifd0: &[(u16, &str)], exif: &[(u16, &str)]) -> Vec<u8> {
    let exif_ifd = ascii_ifd(exif, None, 8);
    let ifd0_at = 8 + exif_ifd.len();
    let mut out = b"II*\0".to_vec();
    out.extend((ifd0_at as u32).to_le_bytes());
    out.extend(exif_ifd);
    out.extend(ascii_ifd(ifd0, Some(8), ifd0_at));
    out
}

/// An IFD placed at `at`, followed by the strings that do not fit in an entry.
fn ascii_ifd(fields: &[(u16, &str)], exif_pointer: Option<u32>, at: usize) -> Vec<u8> {
    let fields: Vec<(u16, u16, Vec<u8>)> = fields
        .iter()
        .map(|&(tag, text)| (tag, 2, [text.as_bytes(), &[0]].concat())) // ASCII
        .collect();
    ifd(&fields, exif_pointer, at)
}

/// An IFD placed at `at` of (tag, type, value bytes) fields, followed by the values
/// that do not fit in an entry.
fn ifd(fields: &[(u16, u16, Vec<u8>)], exif_pointer: Option<u32>, at: usize) -> Vec<u8> {
    let count = fields.len() + usize::from(exif_pointer.is_some());
    let mut data_at = at + 2 + 12 * count + 4;
    let mut entries = (count as u16).to_le_bytes().to_vec();
    let mut data = Vec::new();
    for (tag, kind, value) in fields {
        let mut value = value.clone();
        entries.extend(tag.to_le_bytes());
        entries.extend(kind.to_le_bytes());
        entries.extend((value.len() as u32).to_le_bytes());
        if value.len() <= 4 {
            value.resize(4, 0);
            entries.extend(value);
        } else {
            entries.extend((data_at as u32).to_le_bytes());
            data_at += value.len();
            data.extend(value);
        }
    }
    if let Some(pointer) = exif_pointer {
        entries.extend(EXIF_IFD_POINTER.to_le_bytes());
        entries.extend(4u16.to_le_bytes()); // LONG
        entries.extend(1u32.to_le_bytes());
        entries.extend(pointer.to_le_bytes());
    }
    entries.extend(0u32.to_le_bytes());
    entries.extend(data);
    entries
}

/// [`tiff`] whose Exif IFD also holds a MakerNote (UNDEFINED) of these bytes.
pub(super) fn tiff_with_maker_note(exif: &[(u16, &str)], note: &[u8]) -> Vec<u8> {
    let mut fields: Vec<(u16, u16, Vec<u8>)> = exif
        .iter()
        .map(|&(tag, text)| (tag, 2, [text.as_bytes(), &[0]].concat()))
        .collect();
    fields.push((MAKER_NOTE, 7, note.to_vec()));
    let exif_ifd = ifd(&fields, None, 8);
    let ifd0_at = 8 + exif_ifd.len();
    let mut out = b"II*\0".to_vec();
    out.extend((ifd0_at as u32).to_le_bytes());
    out.extend(exif_ifd);
    out.extend(ifd(&[], Some(8), ifd0_at));
    out
}

/// An iPhone's maker note holding a Live Photo identifier (tag 0x0011).
pub(super) fn apple_maker_note(content_id: &str) -> Vec<u8> {
    apple_maker_note_with(0x0011, content_id)
}

/// An iPhone's maker note holding one ASCII entry: the prefix, version 1, big-endian,
/// then one IFD whose offsets count from the note's start.
pub(super) fn apple_maker_note_with(tag: u16, text: &str) -> Vec<u8> {
    let mut note = b"Apple iOS\0\0\x01MM".to_vec();
    let value = [text.as_bytes(), &[0]].concat();
    note.extend(1u16.to_be_bytes());
    note.extend(tag.to_be_bytes());
    note.extend(2u16.to_be_bytes()); // ASCII
    note.extend((value.len() as u32).to_be_bytes());
    note.extend(((14 + 2 + 12 + 4) as u32).to_be_bytes());
    note.extend(0u32.to_be_bytes());
    note.extend(value);
    note
}

/// A TIFF whose IFDs come after `pad` bytes of image data, as libtiff writes them.
pub(super) fn tiff_with_trailing_ifds(exif: &[(u16, &str)], pad: usize) -> Vec<u8> {
    let ifd_at = 8 + pad;
    let mut out = b"II*\0".to_vec();
    out.extend((ifd_at as u32).to_le_bytes());
    out.resize(ifd_at, 0x55);
    out.extend(ascii_ifd(exif, None, ifd_at));
    out
}

/// A JPEG with the EXIF block in APP1, after `padding` bytes of other APPn segments.
pub(super) fn jpeg_with_padding(tiff: &[u8], padding: usize) -> Vec<u8> {
    let mut out = vec![0xff, 0xd8];
    let mut left = padding;
    while left > 0 {
        let len = left.min(60_000);
        out.extend([0xff, 0xe2]);
        out.extend(((len + 2) as u16).to_be_bytes());
        out.extend(std::iter::repeat_n(0u8, len));
        left -= len;
    }
    out.extend([0xff, 0xe1]);
    out.extend(((tiff.len() + 8) as u16).to_be_bytes());
    out.extend(b"Exif\0\0");
    out.extend(tiff);
    out.extend([0xff, 0xda, 0x00, 0x02, 0x12, 0x34, 0xff, 0xd9]);
    out
}

pub(super) fn jpeg(tiff: &[u8]) -> Vec<u8> {
    jpeg_with_padding(tiff, 0)
}

/// A JPEG with a pixel pattern `seed` and no metadata at all.
pub(super) fn plain_jpeg(seed: u8) -> Vec<u8> {
    let mut out = vec![0xff, 0xd8, 0xff, 0xda, 0x00, 0x02];
    out.extend((0..64u8).map(|i| i.wrapping_mul(seed) & 0x7f));
    out.extend([0xff, 0xd9]);
    out
}

pub(super) fn png(tiff: &[u8]) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    out.extend(png_chunk(b"IHDR", &[0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0]));
    out.extend(png_chunk(b"eXIf", tiff));
    out.extend(png_chunk(b"IEND", &[]));
    out
}

fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = (data.len() as u32).to_be_bytes().to_vec();
    out.extend(kind);
    out.extend(data);
    out.extend([0; 4]); // CRC: not checked by the reader
    out
}

pub(super) fn webp(tiff: &[u8]) -> Vec<u8> {
    let mut chunks = riff_chunk(b"VP8X", &[0x08, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // EXIF flag
    chunks.extend(riff_chunk(b"EXIF", tiff));
    let mut out = b"RIFF".to_vec();
    out.extend(((chunks.len() + 4) as u32).to_le_bytes());
    out.extend(b"WEBP");
    out.extend(chunks);
    out
}

fn riff_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = kind.to_vec();
    out.extend((data.len() as u32).to_le_bytes());
    out.extend(data);
    if data.len() % 2 == 1 {
        out.push(0);
    }
    out
}

/// An ISO box.
pub(super) fn bx(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut out = ((body.len() + 8) as u32).to_be_bytes().to_vec();
    out.extend(kind);
    out.extend(body);
    out
}

/// An ISO full box (version, zero flags).
pub(super) fn full_box(kind: &[u8; 4], version: u8, body: &[u8]) -> Vec<u8> {
    let mut content = vec![version, 0, 0, 0];
    content.extend(body);
    bx(kind, &content)
}

/// A HEIC: `ftyp`, a `meta` locating an Exif item in `mdat` after `padding` bytes.
pub(super) fn heic(tiff: &[u8], padding: usize) -> Vec<u8> {
    let ftyp = bx(b"ftyp", b"heic\0\0\0\0mif1heic");
    let hdlr = full_box(b"hdlr", 0, b"\0\0\0\0pict\0\0\0\0\0\0\0\0\0\0\0\0\0");
    let infe = full_box(b"infe", 2, b"\0\x01\0\0Exif\0");
    let iinf = full_box(b"iinf", 0, &[[0u8, 1].as_slice(), &infe].concat());
    let exif_item_len = 4 + tiff.len();
    // iloc v0: offset and length 4 bytes, no base offset; item 1, one extent.
    let iloc_for = |offset: u32| {
        let mut body = vec![0x44, 0x00, 0, 1, 0, 1, 0, 0, 0, 1];
        body.extend(offset.to_be_bytes());
        body.extend((exif_item_len as u32).to_be_bytes());
        full_box(b"iloc", 0, &body)
    };
    let meta_len = full_box(b"meta", 0, &[hdlr.as_slice(), &iinf, &iloc_for(0)].concat()).len();
    let exif_at = ftyp.len() + meta_len + 8 + padding;
    let meta = full_box(
        b"meta",
        0,
        &[hdlr.as_slice(), &iinf, &iloc_for(exif_at as u32)].concat(),
    );
    let mut mdat = vec![0x11; padding];
    mdat.extend([0, 0, 0, 0]); // Exif item: offset to the TIFF header
    mdat.extend(tiff);
    [ftyp, meta, bx(b"mdat", &mdat)].concat()
}

/// `mvhd`, `tkhd` or `mdhd` with a creation time in seconds since 1904, in either version.
pub(super) fn time_box(kind: &[u8; 4], version: u8, seconds_since_1904: u64) -> Vec<u8> {
    let mut body = Vec::new();
    if version == 1 {
        body.extend(seconds_since_1904.to_be_bytes());
        body.extend(seconds_since_1904.to_be_bytes()); // modification time
    } else {
        body.extend((seconds_since_1904 as u32).to_be_bytes());
        body.extend((seconds_since_1904 as u32).to_be_bytes());
    }
    body.extend([0; 80]); // timescale, duration and the rest, unused here
    full_box(kind, version, &body)
}

/// Seconds since 1904 for a Unix time.
pub(super) fn since_1904(unix: u64) -> u64 {
    unix + QUICKTIME_EPOCH_TO_UNIX
}

/// A `trak` with a `tkhd` and an `mdia/mdhd`.
pub(super) fn track(tkhd_seconds: u64, mdhd_seconds: u64) -> Vec<u8> {
    let mdia = bx(b"mdia", &time_box(b"mdhd", 0, mdhd_seconds));
    bx(b"trak", &[time_box(b"tkhd", 0, tkhd_seconds), mdia].concat())
}

/// QuickTime metadata (`meta` without version) holding `com.apple.quicktime.creationdate`.
pub(super) fn quicktime_creationdate(value: &str) -> Vec<u8> {
    quicktime_keys(&[
        ("com.apple.quicktime.make", "Apple"),
        ("com.apple.quicktime.creationdate", value),
    ])
}

/// QuickTime metadata (`meta` without version, `keys` + `ilst`) as iPhones write it.
pub(super) fn quicktime_keys(entries: &[(&str, &str)]) -> Vec<u8> {
    let hdlr = full_box(b"hdlr", 0, b"\0\0\0\0mdta\0\0\0\0\0\0\0\0\0\0\0\0\0");
    let mut keys_body = (entries.len() as u32).to_be_bytes().to_vec();
    for (key, _) in entries {
        keys_body.extend(((key.len() + 8) as u32).to_be_bytes());
        keys_body.extend(b"mdta");
        keys_body.extend(key.as_bytes());
    }
    let keys = full_box(b"keys", 0, &keys_body);
    let item = |index: u32, text: &str| {
        let mut data = 1u32.to_be_bytes().to_vec(); // UTF-8
        data.extend(0u32.to_be_bytes()); // locale
        data.extend(text.as_bytes());
        bx(&index.to_be_bytes(), &bx(b"data", &data))
    };
    let items: Vec<u8> = entries
        .iter()
        .enumerate()
        .flat_map(|(i, (_, value))| item(i as u32 + 1, value))
        .collect();
    bx(b"meta", &[hdlr, keys, bx(b"ilst", &items)].concat())
}

/// `udta` holding `©xyz`, the position as Android's MediaMuxer writes it
/// (`+33.8688+151.2093/`).
pub(super) fn android_position(iso6709: &str) -> Vec<u8> {
    let mut body = (iso6709.len() as u16).to_be_bytes().to_vec();
    body.extend(0x15c7u16.to_be_bytes()); // language code
    body.extend(iso6709.as_bytes());
    bx(b"udta", &bx(b"\xa9xyz", &body))
}

/// A video shot at `utc` (an `mvhd` creation time), with optional other `moov` boxes.
pub(super) fn video_at_utc(unix: u64, extra: &[Vec<u8>]) -> Vec<u8> {
    let mut children = vec![time_box(b"mvhd", 0, since_1904(unix))];
    children.extend_from_slice(extra);
    mp4(&children, 64, true)
}

/// An MP4: `ftyp`, then `moov` (holding `moov_children`) before or after an `mdat` of
/// `mdat_len` bytes.
pub(super) fn mp4(moov_children: &[Vec<u8>], mdat_len: usize, moov_first: bool) -> Vec<u8> {
    let ftyp = bx(b"ftyp", b"isom\0\0\x02\0isomiso2mp41");
    let moov = bx(b"moov", &moov_children.concat());
    let mdat = bx(b"mdat", &vec![0x42; mdat_len]);
    if moov_first {
        [ftyp, moov, mdat].concat()
    } else {
        [ftyp, mdat, moov].concat()
    }
}
