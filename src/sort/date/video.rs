//! Creation times of MP4, MOV and 3GP files, from box headers only.
//!
//! The walk reads each box's 8- or 16-byte header and seeks over the bodies it does not
//! need (above all `mdat`), so a `moov` at the end of a large file costs a few small
//! reads. It visits `moov/mvhd`, `moov/trak/tkhd`, `moov/trak/mdia/mdhd`, the
//! QuickTime metadata in `moov/meta` and `moov/udta/meta` (creation date, location,
//! Samsung's UTC offset), the position Android writes in `moov/udta/©xyz`, and the
//! offsets Sony writes: the `CreationDate` of its non-real-time XML (a top-level
//! `meta` holding an `xml ` box, or a top-level `uuid`) and the TimeZone entry of the
//! `USMT` user-media box (`moov/uuid`, IEC 62481-style `MTDT` entries).

use std::io::{Read, Seek};

use chrono::{DateTime, FixedOffset, NaiveDateTime, Utc};

use super::{Candidate, DateSource, Evidence, GeoPoint, Moment};

/// Seconds from 1904-01-01 (the QuickTime epoch) to 1970-01-01, both UTC.
const QUICKTIME_EPOCH_TO_UNIX: i64 = 2_082_844_800;
/// 2000-01-01T00:00:00Z: earlier box times come from unset clocks.
const EARLIEST_UNIX: i64 = 946_684_800;
/// Bounds the walk on hostile input made of millions of tiny boxes.
const MAX_BOXES: u32 = 4096;
/// A `keys` box lists a few dozen names; more is not metadata worth reading.
const MAX_KEYS_LEN: u64 = 64 * 1024;
const MAX_VALUE_LEN: u64 = 256;
const CREATIONDATE_KEY: &[u8] = b"com.apple.quicktime.creationdate";
/// Apple's Live Photo identifier, shared with the photo's maker note.
const CONTENT_ID_KEY: &[u8] = b"com.apple.quicktime.content.identifier";
/// Samsung's offset of the local time from UTC, as text: `+0900`.
const SAMSUNG_OFFSET_KEY: &[u8] = b"com.samsung.android.utc_offset";
/// Sony's XML metadata is a few kilobytes.
const MAX_XML_LEN: u64 = 64 * 1024;
/// Where Sony's XML states the recording's local time with its offset.
const SONY_CREATION_DATE: &[u8] = b"<CreationDate value=\"";
/// The `uuid` of the user-media box (`USMT` and 12 more bytes).
const USMT_UUID: [u8; 16] = *b"USMT\x21\xd2\x4f\xce\xbb\x88\x69\x5c\xfa\xc9\xc7\x40";
/// The `MTDT` entry holding the offset from UTC in minutes (signed 16 bits).
const MTDT_TIME_ZONE: u32 = 0x0b;
const LOCATION_KEY: &[u8] = b"com.apple.quicktime.location.ISO6709";
/// Android's `udta` position box (`©xyz`).
const XYZ: [u8; 4] = *b"\xa9xyz";

/// The creation times a video's boxes state, best first, with the offset and
/// position its metadata records.
pub(super) fn evidence<R: Read + Seek>(reader: &mut R) -> Evidence {
    let mut walk = Walk {
        reader,
        pos: 0,
        boxes_left: MAX_BOXES,
        keys: MetaKeys::default(),
        found: Found::default(),
    };
    walk.children(Span { start: 0, end: None }, Walk::top_level);
    walk.found.into_evidence()
}

#[derive(Default)]
struct Found {
    creationdate: Option<Candidate>,
    mvhd: Option<Candidate>,
    tkhd: Vec<Candidate>,
    mdhd: Vec<Candidate>,
    position: Option<GeoPoint>,
    /// A UTC offset from a maker's own field (Samsung, Sony).
    maker_offset: Option<FixedOffset>,
    content_id: Option<String>,
}

impl Found {
    fn into_evidence(self) -> Evidence {
        let Found {
            creationdate,
            mvhd,
            tkhd,
            mdhd,
            position,
            maker_offset,
            content_id,
        } = self;
        Evidence {
            offset: creationdate.and_then(|c| c.offset).or(maker_offset),
            candidates: creationdate
                .into_iter()
                .chain(mvhd)
                .chain(tkhd)
                .chain(mdhd)
                .collect(),
            position,
            content_id,
            burst_id: None,
        }
    }
}

/// The `ilst` item numbers of the keys wanted, in the `meta` box being walked.
#[derive(Debug, Default, Clone, Copy)]
struct MetaKeys {
    creationdate: Option<u32>,
    location: Option<u32>,
    samsung_offset: Option<u32>,
    content_id: Option<u32>,
}

impl MetaKeys {
    fn any(&self) -> bool {
        (self.creationdate.or(self.location))
            .or(self.samsung_offset.or(self.content_id))
            .is_some()
    }
}

/// A byte range of the file; `end` is `None` when it runs to the end of the file.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: u64,
    end: Option<u64>,
}

struct BoxHeader {
    kind: [u8; 4],
    body: Span,
}

struct Walk<'r, R> {
    reader: &'r mut R,
    /// Where the reader is, so moves can be relative and keep a BufReader's buffer.
    pos: u64,
    boxes_left: u32,
    keys: MetaKeys,
    found: Found,
}

impl<R: Read + Seek> Walk<'_, R> {
    /// Calls `visit` on each box in `span`; stops at the first unreadable header.
    fn children(&mut self, span: Span, visit: fn(&mut Self, &BoxHeader)) {
        let mut at = span.start;
        while span.end.is_none_or(|end| at < end) && self.boxes_left > 0 {
            self.boxes_left -= 1;
            let Some(header) = self.header(at, span.end) else {
                return;
            };
            visit(self, &header);
            match header.body.end {
                Some(end) => at = end,
                None => return,
            }
        }
    }

    fn top_level(&mut self, header: &BoxHeader) {
        match &header.kind {
            b"moov" => self.children(header.body, Self::movie),
            // Sony: a full box (version, flags) holding a handler and an `xml ` box.
            b"meta" => {
                let children = Span {
                    start: header.body.start + 4,
                    end: header.body.end,
                };
                self.children(children, Self::sony_meta);
            }
            b"uuid" => self.sony_xml(header),
            _ => {}
        }
    }

    fn sony_meta(&mut self, header: &BoxHeader) {
        if &header.kind == b"xml " {
            self.sony_xml(header);
        }
    }

    /// The offset of Sony's `<CreationDate value="2024-05-26T21:30:00+10:00"/>`.
    fn sony_xml(&mut self, header: &BoxHeader) {
        if self.found.maker_offset.is_some() {
            return;
        }
        let Some(xml) = self.body(header, MAX_XML_LEN) else {
            return;
        };
        let Some(at) = xml
            .windows(SONY_CREATION_DATE.len())
            .position(|window| window == SONY_CREATION_DATE)
        else {
            return;
        };
        let value = &xml[at + SONY_CREATION_DATE.len()..];
        let value = &value[..value.iter().position(|&b| b == b'"').unwrap_or(value.len())];
        self.found.maker_offset = std::str::from_utf8(value)
            .ok()
            .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
            .map(|time| *time.offset());
    }

    /// Sony's user-media box: its `MTDT` list may hold the offset from UTC in minutes.
    fn user_media(&mut self, header: &BoxHeader) {
        let Some(head) = self.read(header.body.start, 16) else {
            return;
        };
        if head != USMT_UUID || self.found.maker_offset.is_some() {
            return;
        }
        let children = Span {
            start: header.body.start + 16,
            end: header.body.end,
        };
        self.children(children, |walk, header| {
            if &header.kind == b"MTDT" {
                let body = walk.body(header, MAX_KEYS_LEN).unwrap_or_default();
                walk.found.maker_offset = mtdt_time_zone(&body);
            }
        });
    }

    fn movie(&mut self, header: &BoxHeader) {
        match &header.kind {
            b"mvhd" if self.found.mvhd.is_none() => {
                self.found.mvhd = self.creation_time(header, DateSource::Mvhd);
            }
            b"trak" => self.children(header.body, Self::track),
            b"meta" => self.meta(header),
            b"udta" => self.children(header.body, Self::user_data),
            b"uuid" => self.user_media(header),
            _ => {}
        }
    }

    fn track(&mut self, header: &BoxHeader) {
        match &header.kind {
            b"tkhd" => {
                let time = self.creation_time(header, DateSource::Tkhd);
                self.found.tkhd.extend(time);
            }
            b"mdia" => self.children(header.body, Self::media),
            _ => {}
        }
    }

    fn media(&mut self, header: &BoxHeader) {
        if &header.kind == b"mdhd" {
            let time = self.creation_time(header, DateSource::Mdhd);
            self.found.mdhd.extend(time);
        }
    }

    fn user_data(&mut self, header: &BoxHeader) {
        match header.kind {
            kind if &kind == b"meta" => self.meta(header),
            XYZ if self.found.position.is_none() => {
                // A QuickTime text atom: length (2), language (2), then the text.
                self.found.position = self
                    .body(header, MAX_VALUE_LEN)
                    .and_then(|body| iso6709(body.get(4..)?));
            }
            _ => {}
        }
    }

    fn meta(&mut self, header: &BoxHeader) {
        let Some(first) = self.read(header.body.start, 4) else {
            return;
        };
        // An ISO `meta` is a full box: 4 zero bytes (version, flags) before its children.
        // A QuickTime `meta` starts with a child's size, which is never zero.
        let skip = if first == [0; 4] { 4 } else { 0 };
        let children = Span {
            start: header.body.start + skip,
            end: header.body.end,
        };
        self.keys = MetaKeys::default();
        self.children(children, Self::metadata);
    }

    fn metadata(&mut self, header: &BoxHeader) {
        match &header.kind {
            b"keys" => {
                let keys = self.body(header, MAX_KEYS_LEN).unwrap_or_default();
                self.keys = MetaKeys {
                    creationdate: key_index(&keys, CREATIONDATE_KEY),
                    location: key_index(&keys, LOCATION_KEY),
                    samsung_offset: key_index(&keys, SAMSUNG_OFFSET_KEY),
                    content_id: key_index(&keys, CONTENT_ID_KEY),
                };
            }
            b"ilst" if self.keys.any() => self.children(header.body, Self::item),
            _ => {}
        }
    }

    fn item(&mut self, header: &BoxHeader) {
        let index = Some(u32::from_be_bytes(header.kind));
        if index == self.keys.creationdate {
            self.children(header.body, Self::creationdate_value);
        } else if index == self.keys.location {
            self.children(header.body, Self::location_value);
        } else if index == self.keys.samsung_offset {
            self.children(header.body, Self::samsung_offset_value);
        } else if index == self.keys.content_id {
            self.children(header.body, Self::content_id_value);
        }
    }

    fn content_id_value(&mut self, header: &BoxHeader) {
        if &header.kind != b"data" || self.found.content_id.is_some() {
            return;
        }
        // A `data` box: type indicator (4 bytes) and locale (4 bytes), then the value.
        self.found.content_id = self
            .body(header, MAX_VALUE_LEN)
            .and_then(|value| String::from_utf8(value.get(8..)?.to_vec()).ok())
            .map(|text| text.trim_end_matches('\0').to_owned())
            .filter(|text| !text.is_empty());
    }

    fn samsung_offset_value(&mut self, header: &BoxHeader) {
        if &header.kind != b"data" || self.found.maker_offset.is_some() {
            return;
        }
        // A `data` box: type indicator (4 bytes) and locale (4 bytes), then the value.
        self.found.maker_offset = self
            .body(header, MAX_VALUE_LEN)
            .and_then(|value| parse_offset_text(value.get(8..)?));
    }

    fn location_value(&mut self, header: &BoxHeader) {
        if &header.kind != b"data" || self.found.position.is_some() {
            return;
        }
        // A `data` box: type indicator (4 bytes) and locale (4 bytes), then the value.
        self.found.position = self
            .body(header, MAX_VALUE_LEN)
            .and_then(|value| iso6709(value.get(8..)?));
    }

    fn creationdate_value(&mut self, header: &BoxHeader) {
        if &header.kind != b"data" || self.found.creationdate.is_some() {
            return;
        }
        // A `data` box: type indicator (4 bytes) and locale (4 bytes), then the value.
        let value = self.body(header, MAX_VALUE_LEN);
        let Some((time, offset)) = value
            .as_deref()
            .and_then(|v| v.get(8..))
            .and_then(parse_creationdate)
        else {
            return;
        };
        self.found.creationdate = Some(Candidate {
            moment: Moment::WallClock(time),
            source: DateSource::QuickTimeCreationDate,
            offset,
        });
    }

    /// The creation time of an `mvhd`, `tkhd` or `mdhd`: all three start alike.
    fn creation_time(&mut self, header: &BoxHeader, source: DateSource) -> Option<Candidate> {
        let body = self.body(header, 12)?;
        let seconds = match body.first()? {
            0 => u32::from_be_bytes(body.get(4..8)?.try_into().ok()?).into(),
            1 => u64::from_be_bytes(body.get(4..12)?.try_into().ok()?),
            _ => return None,
        };
        Some(Candidate {
            moment: Moment::Instant(quicktime_time(seconds)?),
            source,
            offset: None,
        })
    }

    /// Reads a box header at `at`; `None` if it is unreadable or overruns its parent.
    fn header(&mut self, at: u64, parent_end: Option<u64>) -> Option<BoxHeader> {
        let head = self.read(at, 8)?;
        let kind = head[4..8].try_into().ok()?;
        let (header_len, size) = match u32::from_be_bytes(head[0..4].try_into().ok()?) {
            // Size 0: the box runs to the end of its parent (or of the file).
            0 => (8, None),
            1 => (
                16,
                Some(u64::from_be_bytes(self.read(at + 8, 8)?.try_into().ok()?)),
            ),
            size => (8, Some(u64::from(size))),
        };
        let start = at + header_len;
        let end = match size {
            Some(size) => Some(at.checked_add(size)?),
            None => parent_end,
        };
        if end.is_some_and(|end| end < start || parent_end.is_some_and(|parent_end| end > parent_end)) {
            return None;
        }
        let body = Span { start, end };
        Some(BoxHeader { kind, body })
    }

    /// Up to `max` bytes of a box's body.
    fn body(&mut self, header: &BoxHeader, max: u64) -> Option<Vec<u8>> {
        let len = header
            .body
            .end
            .map_or(max, |end| (end - header.body.start).min(max));
        self.read(header.body.start, usize::try_from(len).ok()?)
    }

    fn read(&mut self, at: u64, len: usize) -> Option<Vec<u8>> {
        let offset = i64::try_from(at)
            .ok()?
            .checked_sub(i64::try_from(self.pos).ok()?)?;
        self.reader.seek_relative(offset).ok()?;
        self.pos = at;
        let mut buf = vec![0; len];
        self.reader.read_exact(&mut buf).ok()?;
        self.pos += len as u64;
        Some(buf)
    }
}

/// A position written as ISO 6709 text.
fn iso6709(text: &[u8]) -> Option<GeoPoint> {
    GeoPoint::from_iso6709(std::str::from_utf8(text).ok()?)
}

/// The 1-based item number under which a `keys` box lists `wanted`.
fn key_index(keys: &[u8], wanted: &[u8]) -> Option<u32> {
    let count = u32::from_be_bytes(keys.get(4..8)?.try_into().ok()?);
    let mut rest = keys.get(8..)?;
    for index in 1..=count {
        let size = usize::try_from(u32::from_be_bytes(rest.get(..4)?.try_into().ok()?)).ok()?;
        // Each key: size (4), namespace (4), name (size - 8).
        let name = rest.get(8..size)?;
        if name == wanted {
            return Some(index);
        }
        rest = rest.get(size..)?;
    }
    None
}

/// `2024-05-26T10:15:00+0200` and kin: the wall clock as written, and its offset if any.
fn parse_creationdate(value: &[u8]) -> Option<(NaiveDateTime, Option<FixedOffset>)> {
    let text = std::str::from_utf8(value).ok()?.trim_end_matches(['\0', ' ']);
    if let Ok(t) = DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%#z") {
        return Some((t.naive_local(), Some(*t.offset())));
    }
    let t = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f").ok()?;
    Some((t, None))
}

/// `+0900`, `+09:00`, `-0430`: an offset from UTC.
fn parse_offset_text(text: &[u8]) -> Option<FixedOffset> {
    let text = std::str::from_utf8(text).ok()?.trim_end_matches(['\0', ' ']);
    let sign = match text.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits: String = text[1..].chars().filter(|&c| c != ':').collect();
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let hours: i32 = digits[..2].parse().ok()?;
    let minutes: i32 = digits[2..].parse().ok()?;
    if minutes >= 60 {
        return None;
    }
    FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60))
}

/// The TimeZone entry of an `MTDT` list: a count (2 bytes), then entries of size (2,
/// counting these 10 header bytes), tag (4), language (2), encoding (2) and value.
fn mtdt_time_zone(body: &[u8]) -> Option<FixedOffset> {
    let count = u16::from_be_bytes(body.get(..2)?.try_into().ok()?);
    let mut rest = body.get(2..)?;
    for _ in 0..count {
        let size = usize::from(u16::from_be_bytes(rest.get(..2)?.try_into().ok()?));
        let entry = rest.get(..size).filter(|_| size >= 10)?;
        let tag = u32::from_be_bytes(entry[2..6].try_into().ok()?);
        if tag == MTDT_TIME_ZONE {
            let minutes = i16::from_be_bytes(entry.get(10..12)?.try_into().ok()?);
            return FixedOffset::east_opt(i32::from(minutes) * 60);
        }
        rest = &rest[size..];
    }
    None
}

/// Seconds since 1904 (UTC) as an instant; zero and pre-2000 values are unset clocks.
fn quicktime_time(seconds: u64) -> Option<DateTime<Utc>> {
    let unix = i64::try_from(seconds)
        .ok()?
        .checked_sub(QUICKTIME_EPOCH_TO_UNIX)?;
    if unix < EARLIEST_UNIX {
        return None;
    }
    DateTime::from_timestamp(unix, 0)
}
