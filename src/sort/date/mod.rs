//! When was a photo or video captured?
//!
//! Sources are tried in a fixed order and the first usable value wins:
//! 1. EXIF DateTimeOriginal, DateTimeDigitized, then IFD0 DateTime (JPEG, HEIC/HEIF, PNG,
//!    WebP, TIFF/DNG). Local wall-clock times: filed as written; the EXIF offset is
//!    recorded, not applied.
//! 2. Video boxes (MP4/MOV/3GP): QuickTime `com.apple.quicktime.creationdate` (wall clock),
//!    else `mvhd`, then `tkhd`, then `mdhd` creation times (UTC, converted to the zone
//!    where it was shot as far as the file tells: see [`zone`]).
//! 3. The file name (Pixel, Android camera, Samsung, WhatsApp patterns).
//! 4. A fallback the caller supplies: the device's modification date, or the file's mtime.
//!
//! A value is skipped when it is blank, zero, out of range, or more than a day ahead of
//! "now"; a file none of whose values survive is undated (`None`).
//!
//! Only headers are read: [`DateResolver::resolve`] looks at a prefix of at most
//! [`HEAD_LEN`] bytes, and [`DateResolver::resolve_path`] reads at most that much from a
//! file (seeking over video data to reach a trailing `moov`), except that TIFF/DNG may
//! need up to [`TIFF_LIMIT`] when its metadata is not at the front.

mod name;
mod photo;
mod video;
pub(crate) mod zone;

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Cursor, Read, Seek, SeekFrom};
use std::path::Path;

use chrono::{DateTime, FixedOffset, Local, NaiveDateTime, TimeDelta, TimeZone, Utc};

use super::SortError;
pub use zone::{GeoPoint, ZoneHints, ZoneSource};

/// How many leading bytes of a file the date reader needs for JPEG, HEIC, PNG, WebP and
/// MP4 headers; the pull reads this much of a file on the device for a dry run.
pub const HEAD_LEN: usize = 128 * 1024;

/// How much of a TIFF/DNG [`DateResolver::resolve_path`] reads when its metadata is
/// not within [`HEAD_LEN`] (TIFF writers may put the directories after the image data).
pub(crate) const TIFF_LIMIT: u64 = 256 * 1024 * 1024;

/// Small reads: box headers are a few bytes apart from seeks, and every buffer refill
/// counts against the read budget.
const READ_CHUNK: usize = 8 * 1024;

/// A point in time as a source states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moment {
    /// An instant (UTC): shown in the resolver's zone.
    Instant(DateTime<Utc>),
    /// A local wall-clock reading with no zone: filed as written.
    WallClock(NaiveDateTime),
}

impl Moment {
    /// Zeroed clocks say 1970-01-01 00:00:00; that is a missing value, not a date.
    fn is_unix_epoch(&self) -> bool {
        match self {
            Moment::Instant(t) => t.timestamp() == 0,
            Moment::WallClock(t) => t.and_utc().timestamp() == 0,
        }
    }
}

/// Which source a capture time came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DateSource {
    /// EXIF DateTimeOriginal (when the photo was taken).
    ExifDateTimeOriginal,
    /// EXIF DateTimeDigitized.
    ExifDateTimeDigitized,
    /// EXIF DateTime (last changed; the weakest EXIF date).
    ExifDateTime,
    /// QuickTime's `com.apple.quicktime.creationdate` (local time with its offset).
    QuickTimeCreationDate,
    /// The movie header's creation time (UTC).
    Mvhd,
    /// A track header's creation time (UTC).
    Tkhd,
    /// A media header's creation time (UTC).
    Mdhd,
    /// A date and time in the file name.
    FileName,
    /// A date without a time in the file name (WhatsApp): the time reads 00:00:00.
    FileNameDate,
    /// The caller's fallback: the device's modification date or the file's mtime.
    Modified,
}

impl DateSource {
    /// A stable identifier for scripts (`--json`).
    pub fn as_str(self) -> &'static str {
        match self {
            DateSource::ExifDateTimeOriginal => "exif_date_time_original",
            DateSource::ExifDateTimeDigitized => "exif_date_time_digitized",
            DateSource::ExifDateTime => "exif_date_time",
            DateSource::QuickTimeCreationDate => "quicktime_creationdate",
            DateSource::Mvhd => "mvhd",
            DateSource::Tkhd => "tkhd",
            DateSource::Mdhd => "mdhd",
            DateSource::FileName => "file_name",
            DateSource::FileNameDate => "file_name_date",
            DateSource::Modified => "modified",
        }
    }
}

impl fmt::Display for DateSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DateSource::ExifDateTimeOriginal => "EXIF DateTimeOriginal",
            DateSource::ExifDateTimeDigitized => "EXIF DateTimeDigitized",
            DateSource::ExifDateTime => "EXIF DateTime",
            DateSource::QuickTimeCreationDate => "QuickTime creationdate",
            DateSource::Mvhd => "video mvhd (UTC)",
            DateSource::Tkhd => "video tkhd (UTC)",
            DateSource::Mdhd => "video mdhd (UTC)",
            DateSource::FileName => "file name",
            DateSource::FileNameDate => "file name (date only)",
            DateSource::Modified => "modification time",
        })
    }
}

/// A capture time, as local wall clock, and where it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dated {
    /// The local wall-clock time the file is filed by.
    pub time: NaiveDateTime,
    /// Which record of the file it came from.
    pub source: DateSource,
    /// The UTC offset of `time` when known: as recorded in the file (EXIF OffsetTime*,
    /// QuickTime creationdate), or the zone's offset when a UTC time was converted.
    pub offset: Option<FixedOffset>,
    /// Which evidence chose the zone (for a wall clock: none was needed).
    pub zone: ZoneSource,
    /// The UTC instant `time` was converted from, if it was.
    pub instant: Option<DateTime<Utc>>,
    /// The burst it is a shot of (Apple's BurstUUID, hashed), if the file says.
    pub burst: Option<u64>,
}

impl Dated {
    /// Whether a better zone than the computer's may still be found for it.
    pub fn zone_unknown(&self) -> bool {
        self.zone == ZoneSource::Computer && self.instant.is_some()
    }

    /// The same instant, shown with `offset` found by `zone`.
    pub fn rezoned(self, offset: FixedOffset, zone: ZoneSource) -> Dated {
        match self.instant {
            Some(instant) => Dated {
                time: zone::local_in(&offset, instant).0,
                offset: Some(offset),
                zone,
                ..self
            },
            None => self,
        }
    }

    /// Where the date came from and, for a UTC time, the offset it is shown with and
    /// the evidence for it: `video mvhd (UTC), +10:00 by GPS: Australia/Sydney`.
    pub fn why(&self) -> String {
        match (self.zone, self.offset) {
            (ZoneSource::WallClock, _) | (_, None) => self.source.to_string(),
            (zone, Some(offset)) => format!("{}, {offset} by {zone}", self.source),
        }
    }

    /// The offset a photo lends to videos near it: its own, recorded beside its wall clock.
    pub fn photo_offset(&self) -> Option<FixedOffset> {
        match self.source {
            DateSource::ExifDateTimeOriginal
            | DateSource::ExifDateTimeDigitized
            | DateSource::ExifDateTime => self.offset,
            _ => None,
        }
    }
}

/// What a file's content says about when and where it was shot.
#[derive(Debug, Clone, Default, PartialEq)]
struct Evidence {
    /// Capture times, best first.
    candidates: Vec<Candidate>,
    /// A UTC offset recorded anywhere in the file.
    offset: Option<FixedOffset>,
    /// Where it was shot.
    position: Option<GeoPoint>,
    /// Apple's Live Photo identifier, the same in the photo and its video.
    content_id: Option<String>,
    /// Apple's burst identifier, the same in every shot of one burst.
    burst_id: Option<String>,
}

impl Evidence {
    fn is_empty(&self) -> bool {
        self.candidates.is_empty() && self.offset.is_none() && self.position.is_none()
    }
}

/// A value some source offers, before the resolver checks it.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Candidate {
    moment: Moment,
    source: DateSource,
    offset: Option<FixedOffset>,
}

/// Dates files in one time zone, judging "in the future" against one moment.
///
/// The zone and the clock are explicit so that tests do not depend on the process's `TZ`.
#[derive(Debug, Clone)]
pub struct DateResolver<Tz: TimeZone> {
    zone: Tz,
    now: DateTime<Utc>,
}

impl DateResolver<Local> {
    /// The system's zone (`TZ`, else /etc/localtime) and clock.
    pub fn system() -> Self {
        DateResolver::new(Local, Utc::now())
    }
}

impl<Tz: TimeZone> DateResolver<Tz> {
    /// Dates in `zone`, rejecting values more than a day after `now`.
    pub fn new(zone: Tz, now: DateTime<Utc>) -> Self {
        DateResolver { zone, now }
    }

    /// Dates a file from its first bytes (at most [`HEAD_LEN`] are looked at; fewer is
    /// fine), its name and a fallback. Metadata beyond `head` is treated as missing.
    pub fn resolve(&self, head: &[u8], file_name: &str, fallback: Option<Moment>) -> Option<Dated> {
        let head = &head[..head.len().min(HEAD_LEN)];
        let content = content_evidence(&mut Cursor::new(head));
        self.first_accepted(content, file_name, fallback)
    }

    /// Dates a local file, reading only its headers. Fails only when the file cannot be
    /// opened; unreadable or broken metadata falls through to the next source.
    pub fn resolve_path(&self, path: &Path, fallback: Option<Moment>) -> Result<Option<Dated>, SortError> {
        let file = File::open(path).map_err(SortError::io("open", path))?;
        let len = file.metadata().map_err(SortError::io("read", path))?.len();
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        self.resolve_reader(file, len, &name, fallback)
            .map_err(SortError::io("read", path))
    }

    /// Dates the `len` bytes `source` reads, named `file_name`, reading only their
    /// headers as [`DateResolver::resolve_path`] does (what it reads and where depends
    /// only on the bytes: a file on a phone read in place is dated as its copy is).
    pub fn resolve_reader(
        &self,
        source: impl Read + Seek,
        len: u64,
        file_name: &str,
        fallback: Option<Moment>,
    ) -> io::Result<Option<Dated>> {
        let content = file_evidence(source, len)?;
        Ok(self.first_accepted(content, file_name, fallback))
    }

    fn first_accepted(&self, content: Evidence, file_name: &str, fallback: Option<Moment>) -> Option<Dated> {
        let fallback = fallback.map(|moment| Candidate {
            moment,
            source: DateSource::Modified,
            offset: None,
        });
        let Evidence {
            candidates,
            offset,
            position,
            burst_id,
            ..
        } = content;
        let burst = burst_id.map(|id| xxhash_rust::xxh3::xxh3_64(id.as_bytes()));
        candidates
            .into_iter()
            .chain(name::candidate(file_name))
            .chain(fallback)
            .find_map(|candidate| self.accept(candidate, offset, position))
            .map(|dated| Dated { burst, ..dated })
    }

    /// Turns a candidate into local wall-clock time, or rejects it. A UTC instant is
    /// shown in the zone the best evidence gives: an offset recorded in the file, the
    /// zone at its GPS position, else the resolver's zone.
    fn accept(
        &self,
        candidate: Candidate,
        offset: Option<FixedOffset>,
        position: Option<GeoPoint>,
    ) -> Option<Dated> {
        if candidate.moment.is_unix_epoch() {
            return None;
        }
        let (time, offset, zone, instant) = match candidate.moment {
            Moment::Instant(t) => {
                let (time, offset, zone) = if let Some(offset) = candidate.offset.or(offset) {
                    (zone::local_in(&offset, t).0, offset, ZoneSource::FileOffset)
                } else if let Some(tz) = position.and_then(GeoPoint::zone) {
                    let (time, offset) = zone::local_in(&tz, t);
                    (time, offset, ZoneSource::Gps(tz))
                } else {
                    let (time, offset) = zone::local_in(&self.zone, t);
                    (time, offset, ZoneSource::Computer)
                };
                (time, Some(offset), zone, Some(t))
            }
            Moment::WallClock(t) => {
                let zone = match candidate.offset {
                    Some(_) => ZoneSource::FileOffset,
                    None => ZoneSource::WallClock,
                };
                (t, candidate.offset, zone, None)
            }
        };
        // "In the future" is judged in the computer's zone, plus a day for any zone.
        let latest = zone::local_in(&self.zone, self.now).0 + TimeDelta::days(1);
        (time <= latest).then_some(Dated {
            time,
            source: candidate.source,
            offset,
            zone,
            instant,
            burst: None,
        })
    }
}

/// What kind of container the first bytes announce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Container {
    Tiff,
    /// JPEG, PNG or WebP: EXIF only.
    Image,
    /// ISO base media (MP4, MOV, 3GP, HEIC): EXIF for HEIF, boxes for video.
    IsoMedia,
    Unknown,
}

impl Container {
    fn sniff(head: &[u8]) -> Container {
        const ISO_TOP_BOXES: [&[u8; 4]; 6] = [b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip"];
        if head.starts_with(b"II*\0") || head.starts_with(b"MM\0*") {
            Container::Tiff
        } else if head.starts_with(b"\xff\xd8")
            || head.starts_with(b"\x89PNG\r\n\x1a\n")
            || (head.starts_with(b"RIFF") && head.get(8..12) == Some(b"WEBP"))
        {
            Container::Image
        } else if head
            .get(4..8)
            .is_some_and(|kind| ISO_TOP_BOXES.iter().any(|b| &b[..] == kind))
        {
            Container::IsoMedia
        } else {
            Container::Unknown
        }
    }
}

/// Every date, offset and position the file's content offers. Read errors end the search.
fn content_evidence<R: BufRead + Seek>(reader: &mut R) -> Evidence {
    let container = match reader.fill_buf() {
        Ok(head) => Container::sniff(head),
        Err(_) => return Evidence::default(),
    };
    match container {
        Container::Tiff | Container::Image => photo::evidence(reader),
        Container::IsoMedia => {
            let found = photo::evidence(reader);
            if !found.is_empty() || reader.seek(SeekFrom::Start(0)).is_err() {
                return found;
            }
            video::evidence(reader)
        }
        Container::Unknown => Evidence::default(),
    }
}

/// The identifier Apple gives both halves of a Live Photo — the photo's maker note
/// (tag 0x0011) and the video's QuickTime key `com.apple.quicktime.content.identifier`
/// — if the file holds one (read within the same budget as its dates).
pub(crate) fn content_identifier(path: &Path) -> Option<String> {
    let file = File::open(path).ok()?;
    let len = file.metadata().ok()?.len();
    content_identifier_in(file, len)
}

/// [`content_identifier`] of `len` bytes read through `source` (a file on a phone).
pub(crate) fn content_identifier_in(source: impl Read + Seek, len: u64) -> Option<String> {
    file_evidence(source, len).ok()?.content_id
}

/// [`content_evidence`] over a file within the read budget, retrying a TIFF whose
/// metadata lies past the head with the larger TIFF budget.
fn file_evidence(mut source: impl Read + Seek, len: u64) -> io::Result<Evidence> {
    let mut reader = BufReader::with_capacity(READ_CHUNK, Budget::new(&mut source, HEAD_LEN as u64));
    let container = Container::sniff(reader.fill_buf()?);
    let found = content_evidence(&mut reader);
    drop(reader);
    if !found.is_empty() || container != Container::Tiff || len <= HEAD_LEN as u64 {
        return Ok(found);
    }
    source.seek(SeekFrom::Start(0))?;
    let mut reader = BufReader::with_capacity(READ_CHUNK, Budget::new(source, TIFF_LIMIT));
    Ok(content_evidence(&mut reader))
}

/// Caps the bytes read through it, whatever seeks happen between reads: past the cap it
/// reads as end of file, so the parsers stop as they would on a short file.
struct Budget<R> {
    inner: R,
    left: u64,
}

impl<R> Budget<R> {
    fn new(inner: R, limit: u64) -> Self {
        Budget { inner, left: limit }
    }
}

impl<R: Read> Read for Budget<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let allowed = buf.len().min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..allowed])?;
        self.left -= n as u64;
        Ok(n)
    }
}

impl<R: Seek> Seek for Budget<R> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.inner.seek(pos)
    }
}

#[cfg(test)]
mod tests;
