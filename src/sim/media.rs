//! Tiny but valid media files built in code: baseline JPEGs (optionally with
//! an EXIF DateTimeOriginal), PNGs and MP4s with an `mvhd` creation time. The
//! demo phone and the thumbnails are made of these.

use chrono::{NaiveDate, NaiveDateTime};

/// What a camera writes into a JPEG's EXIF block.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    tiff_with_thumbnail(tags, None)
}

/// [`tiff`], and when `thumbnail` is given an IFD1 that carries it as a
/// JPEG (Compression 6, JPEGInterchangeFormat and its length), as cameras do.
fn tiff_with_thumbnail(tags: &ExifTags, thumbnail: Option<&[u8]>) -> Vec<u8> {
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
    let ifd1_offset = exif_ifd_offset + exif_len + exif_values.len() + exif_values.len() % 2;
    let mut out = b"II*\0".to_vec();
    out.extend(8u32.to_le_bytes());
    out.extend(ifd0.finish(if thumbnail.is_some() {
        ifd1_offset as u32
    } else {
        0
    }));
    out.extend(values);
    out.extend(exif.finish(0));
    out.extend(exif_values);
    if let Some(jpeg) = thumbnail {
        out.resize(ifd1_offset, 0);
        const SHORT: u16 = 3;
        let mut ifd1 = Ifd::default();
        ifd1.entry(0x0103, SHORT, 1, [6, 0, 0, 0]); // Compression: JPEG
        let data_offset = ifd1_offset + 2 + 12 * 3 + 4;
        ifd1.entry(0x0201, LONG, 1, (data_offset as u32).to_le_bytes());
        ifd1.entry(0x0202, LONG, 1, (jpeg.len() as u32).to_le_bytes());
        out.extend(ifd1.finish(0));
        out.extend(jpeg);
    }
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

    /// The IFD's bytes; `next` is the next IFD's offset (0: none).
    fn finish(self, next: u32) -> Vec<u8> {
        let mut out = (self.entries.len() as u16).to_le_bytes().to_vec();
        self.entries.iter().for_each(|e| out.extend(e));
        out.extend(next.to_le_bytes());
        out
    }
}

/// A photo with real pixels, made on demand from a seed: a landscape (sky,
/// sun, hills, a lake) whose colours, light and horizon the seed picks, so
/// that every photo of the demo phone looks different in a thumbnail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Photo {
    /// What the camera wrote (none: an edited or messenger image, no EXIF).
    pub tags: Option<ExifTags>,
    /// Picks the scene.
    pub seed: u64,
    /// Width in pixels.
    pub width: u16,
    /// Height in pixels.
    pub height: u16,
}

/// The long side of an EXIF thumbnail, as phones write them.
pub const THUMBNAIL_SIDE: u16 = 160;

impl Photo {
    /// The thumbnail: the same scene, 160 pixels on the long side.
    pub fn thumbnail(&self) -> Vec<u8> {
        let (w, h) = self.thumbnail_size();
        encode(&scene(self.seed, w, h), w, h, 75, &[])
    }

    /// The thumbnail's width and height.
    pub fn thumbnail_size(&self) -> (u16, u16) {
        let (w, h) = (u32::from(self.width.max(1)), u32::from(self.height.max(1)));
        let side = u32::from(THUMBNAIL_SIDE);
        let (tw, th) = if w >= h {
            (side, side * h / w)
        } else {
            (side * w / h, side)
        };
        (tw.max(1) as u16, th.max(1) as u16)
    }

    /// The file's first bytes, up to the image data: SOI and, for a camera
    /// photo, the EXIF segment with the thumbnail. Cheap: the photo itself is
    /// not encoded, so a head read costs what it would on a phone.
    pub fn head(&self) -> Vec<u8> {
        let mut out = vec![0xFF, 0xD8];
        if let Some(tags) = &self.tags {
            let mut app1 = b"Exif\0\0".to_vec();
            app1.extend(tiff_with_thumbnail(tags, Some(&self.thumbnail())));
            segment(&mut out, 0xE1, &app1);
        }
        out
    }

    /// The whole JPEG: [`Photo::head`] followed by the encoded picture.
    pub fn jpeg(&self) -> Vec<u8> {
        // The scene is drawn at a quarter of the size and enlarged: drawing
        // every pixel of a 3-megapixel picture is slow in a debug build.
        const ENLARGE: u16 = 4;
        let (w, h) = (self.width, self.height);
        let (sw, sh) = ((w / ENLARGE).max(1), (h / ENLARGE).max(1));
        let rgb = enlarge(&scene(self.seed, sw, sh), sw, w, h, ENLARGE);
        let encoded = encode(&rgb, w, h, 90, &[]);
        let mut out = self.head();
        // The encoder's output starts with its own SOI, which head() has.
        out.extend(&encoded[2..]);
        out
    }
}

/// `small` (RGB, `small_width` wide) enlarged `factor` times by repeating
/// pixels, cut or padded to `width`×`height`.
fn enlarge(small: &[u8], small_width: u16, width: u16, height: u16, factor: u16) -> Vec<u8> {
    let (sw, w, h, f) = (
        usize::from(small_width),
        usize::from(width),
        usize::from(height),
        usize::from(factor),
    );
    let mut out = Vec::with_capacity(w * h * 3);
    let rows = small.len() / (sw * 3);
    for y in 0..h {
        let start = out.len();
        if y % f != 0 {
            out.extend_from_within(start - w * 3..start);
            continue;
        }
        let row = &small[(y / f).min(rows - 1) * sw * 3..][..sw * 3];
        for x in 0..w {
            let at = (x / f).min(sw - 1) * 3;
            out.extend_from_slice(&row[at..at + 3]);
        }
    }
    out
}

/// Baseline JPEG of `rgb` pixels, with extra APPn segments.
fn encode(rgb: &[u8], width: u16, height: u16, quality: u8, apps: &[(u8, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut out, quality);
    // 4:2:0 chroma, as phone cameras write.
    encoder.set_sampling_factor(jpeg_encoder::SamplingFactor::F_2_2);
    for (n, data) in apps {
        // Only fails for segment numbers or lengths outside JPEG's limits.
        let _ = encoder.add_app_segment(*n, data);
    }
    if let Err(e) = encoder.encode(rgb, width, height, jpeg_encoder::ColorType::Rgb) {
        unreachable!("encoding a {width}x{height} RGB buffer of the right length: {e}");
    }
    out
}

/// RGB pixels of the landscape `seed` picks.
pub fn scene(seed: u64, width: u16, height: u16) -> Vec<u8> {
    let (w, h) = (usize::from(width), usize::from(height));
    let mix = |n: u64| {
        let x = seed.wrapping_add(n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        ((x ^ (x >> 31)) % 1000) as f32 / 1000.0
    };
    let (hue, light, horizon) = (mix(1), 0.55 + 0.45 * mix(2), 0.45 + 0.25 * mix(3));
    let (sun_x, sun_y, sun_r) = (mix(4), 0.1 + 0.25 * mix(5), 0.04 + 0.06 * mix(6));
    let (wave, phase, lake) = (2.0 + 6.0 * mix(7), std::f32::consts::TAU * mix(8), mix(9) > 0.5);
    let sky_top = tint(hue, 0.35, 0.9 * light);
    let sky_low = tint(hue + 0.08, 0.15, light);
    let land = tint(hue + 0.35, 0.55, 0.55 * light);
    let water = tint(hue + 0.5, 0.6, 0.5 * light);
    // Everything that depends on one coordinate only is computed once per
    // column or row: a 3-megapixel picture takes a fraction of a second.
    let columns: Vec<[f32; 4]> = (0..w)
        .map(|x| {
            let fx = x as f32 / w as f32;
            let ridge = horizon + 0.06 * (fx * wave + phase).sin() + 0.02 * (fx * wave * 3.1).sin();
            let ripple = fx * 20.0;
            [ridge, (fx * 40.0).sin(), ripple.sin(), ripple.cos()]
        })
        .collect();
    let aspect = w as f32 / h as f32;
    let mut rgb = Vec::with_capacity(w * h * 3);
    for y in 0..h {
        let fy = y as f32 / h as f32;
        let (wave_row, ripple_row) = ((fy * 37.0).cos(), fy * 300.0);
        let (ripple_sin, ripple_cos) = (ripple_row.sin(), ripple_row.cos());
        let dy = fy - sun_y;
        for (x, &[ridge, land_wave, col_sin, col_cos]) in columns.iter().enumerate() {
            let dx = (x as f32 / w as f32 - sun_x) * aspect;
            let pixel = if dx * dx + dy * dy < sun_r * sun_r {
                [255.0, 240.0, 190.0]
            } else if fy < ridge {
                blend(sky_top, sky_low, fy / ridge)
            } else if lake && fy > 0.8 {
                // sin(a + b), from the row's and the column's parts.
                let ripple = 0.9 + 0.1 * (ripple_sin * col_cos + ripple_cos * col_sin);
                water.map(|c| c * ripple)
            } else {
                let shade = 0.75 + 0.25 * land_wave * wave_row;
                land.map(|c| c * shade * (1.2 - 0.4 * fy))
            };
            rgb.extend(pixel.map(|c| c.clamp(0.0, 255.0) as u8));
        }
    }
    rgb
}

/// An RGB colour (0–255) from hue, saturation and value (0–1).
fn tint(hue: f32, saturation: f32, value: f32) -> [f32; 3] {
    let h = (hue.fract() * 6.0, 0.0);
    let (sector, f) = (h.0.floor() as u8 % 6, h.0.fract());
    let (p, q, t) = (
        value * (1.0 - saturation),
        value * (1.0 - saturation * f),
        value * (1.0 - saturation * (1.0 - f)),
    );
    let (r, g, b) = match sector {
        0 => (value, t, p),
        1 => (q, value, p),
        2 => (p, value, t),
        3 => (p, q, value),
        4 => (t, p, value),
        _ => (value, p, q),
    };
    [r * 255.0, g * 255.0, b * 255.0]
}

fn blend(a: [f32; 3], b: [f32; 3], t: f32) -> [f32; 3] {
    [0, 1, 2].map(|i| a[i] + (b[i] - a[i]) * t)
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

    fn demo_tags() -> ExifTags {
        ExifTags {
            make: "mtpull".into(),
            model: "Demo Phone".into(),
            taken: taken(),
        }
    }

    /// The EXIF of a JPEG, which must carry `taken()` as DateTimeOriginal.
    fn exif_dated_taken(bytes: &[u8]) -> exif::Exif {
        let exif = exif::Reader::new()
            .read_from_container(&mut std::io::Cursor::new(bytes))
            .unwrap();
        let original = exif
            .get_field(exif::Tag::DateTimeOriginal, exif::In::PRIMARY)
            .unwrap();
        assert_eq!(original.display_value().to_string(), "2023-07-04 18:30:05");
        exif
    }

    #[test]
    fn jpeg_exif_date_reads_back_with_kamadak_exif() {
        let bytes = jpeg(Some(&demo_tags()), 90);
        assert_eq!(&bytes[..2], [0xFF, 0xD8]);
        assert_eq!(&bytes[bytes.len() - 2..], [0xFF, 0xD9]);
        let exif = exif_dated_taken(&bytes);
        let model = exif.get_field(exif::Tag::Model, exif::In::PRIMARY).unwrap();
        assert_eq!(model.display_value().to_string(), "\"Demo Phone\"");
    }

    #[test]
    fn a_photo_carries_its_exif_date_and_thumbnail_and_decodes() {
        let photo = Photo {
            tags: Some(demo_tags()),
            seed: 3,
            width: 320,
            height: 240,
        };
        let bytes = photo.jpeg();
        assert!(bytes.starts_with(&photo.head()));
        let exif = exif_dated_taken(&bytes);
        let offset = exif
            .get_field(exif::Tag::JPEGInterchangeFormat, exif::In::THUMBNAIL)
            .and_then(|f| f.value.get_uint(0))
            .unwrap() as usize;
        let thumb = &exif.buf()[offset..];
        assert!(thumb.starts_with(&photo.thumbnail()));
        let mut decoder = jpeg_decoder::Decoder::new(&bytes[..]);
        let pixels = decoder.decode().unwrap();
        let info = decoder.info().unwrap();
        assert_eq!((info.width, info.height), (320, 240));
        // Real pixels: the picture is not one flat colour.
        let distinct: std::collections::HashSet<&[u8]> = pixels.chunks(3).collect();
        assert!(distinct.len() > 100, "{} colours", distinct.len());
        assert_ne!(scene(3, 16, 12), scene(4, 16, 12));
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
