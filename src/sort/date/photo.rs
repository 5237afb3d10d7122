//! EXIF capture times, offsets and GPS positions of photos, read with kamadak-exif.

use std::io::{BufRead, Seek};

use chrono::{FixedOffset, NaiveDate, NaiveDateTime};
use exif::{Exif, In, Reader, Tag, Value};

use super::{Candidate, DateSource, Evidence, GeoPoint, Moment};

/// The EXIF date fields in order of trust, each with its sub-second and offset fields.
const FIELDS: [(Tag, Tag, Tag, DateSource); 3] = [
    (
        Tag::DateTimeOriginal,
        Tag::SubSecTimeOriginal,
        Tag::OffsetTimeOriginal,
        DateSource::ExifDateTimeOriginal,
    ),
    (
        Tag::DateTimeDigitized,
        Tag::SubSecTimeDigitized,
        Tag::OffsetTimeDigitized,
        DateSource::ExifDateTimeDigitized,
    ),
    (
        Tag::DateTime,
        Tag::SubSecTime,
        Tag::OffsetTime,
        DateSource::ExifDateTime,
    ),
];

/// The EXIF dates of a JPEG, HEIF, PNG, WebP or TIFF, best first, the first offset
/// recorded and the GPS position; nothing if the metadata is missing or unreadable.
pub(super) fn evidence<R: BufRead + Seek>(reader: &mut R) -> Evidence {
    let Some(exif) = read(reader) else {
        return Evidence::default();
    };
    let candidates = FIELDS
        .iter()
        .filter_map(|&(time, subsec, offset, source)| {
            let (moment, offset) = field_time(&exif, time, subsec, offset)?;
            Some(Candidate {
                moment,
                source,
                offset,
            })
        })
        .collect();
    let offset = FIELDS
        .iter()
        .find_map(|&(_, _, offset, _)| ascii(&exif, offset).and_then(parse_offset));
    Evidence {
        candidates,
        offset,
        position: position(&exif),
        content_id: apple_note_text(&exif, APPLE_CONTENT_IDENTIFIER),
        burst_id: apple_note_text(&exif, APPLE_BURST_UUID),
    }
}

/// An Apple maker note: this prefix, 2 bytes of version, the byte order (`MM`/`II`),
/// then an IFD whose offsets count from the note's first byte.
const APPLE_MAKER_NOTE: &[u8] = b"Apple iOS\0";
/// The maker note's Live Photo identifier (ASCII), shared with the Live Photo's video.
const APPLE_CONTENT_IDENTIFIER: u16 = 0x0011;
/// The maker note's burst identifier (ASCII), the same in every shot of one burst.
const APPLE_BURST_UUID: u16 = 0x000b;

/// An ASCII entry (`tag`) of an iPhone photo's maker note.
fn apple_note_text(exif: &Exif, tag: u16) -> Option<String> {
    let Value::Undefined(note, _) = &exif.get_field(Tag::MakerNote, In::PRIMARY)?.value else {
        return None;
    };
    if !note.starts_with(APPLE_MAKER_NOTE) {
        return None;
    }
    let little = note.get(12..14)? == b"II";
    let u16_at = |at: usize| -> Option<u16> {
        let bytes: [u8; 2] = note.get(at..at + 2)?.try_into().ok()?;
        Some(if little {
            u16::from_le_bytes(bytes)
        } else {
            u16::from_be_bytes(bytes)
        })
    };
    let u32_at = |at: usize| -> Option<u32> {
        let bytes: [u8; 4] = note.get(at..at + 4)?.try_into().ok()?;
        Some(if little {
            u32::from_le_bytes(bytes)
        } else {
            u32::from_be_bytes(bytes)
        })
    };
    const IFD: usize = 14;
    let count = usize::from(u16_at(IFD)?);
    (0..count).find_map(|i| {
        let entry = IFD + 2 + i * 12;
        // tag (2), type (2; 2 is ASCII), count (4), value or offset (4)
        if u16_at(entry)? != tag || u16_at(entry + 2)? != 2 {
            return None;
        }
        let len = usize::try_from(u32_at(entry + 4)?).ok()?;
        let start = match len <= 4 {
            true => entry + 8,
            false => usize::try_from(u32_at(entry + 8)?).ok()?,
        };
        let text = note.get(start..start.checked_add(len)?)?;
        let text = std::str::from_utf8(text).ok()?.trim_end_matches('\0');
        (!text.is_empty()).then(|| text.to_owned())
    })
}

/// `+10:00`, `-07:00` as EXIF 2.31 writes offsets.
fn parse_offset(text: &[u8]) -> Option<FixedOffset> {
    let text = std::str::from_utf8(text).ok()?.trim_end_matches(['\0', ' ']);
    let (sign, rest) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => return None,
    };
    let (hours, minutes) = rest.split_once(':')?;
    let (hours, minutes): (i32, i32) = (hours.parse().ok()?, minutes.parse().ok()?);
    if hours > 14 || minutes > 59 {
        return None;
    }
    FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60))
}

/// GPSLatitude/GPSLongitude (degrees, minutes, seconds) with their N/S, E/W references.
fn position(exif: &Exif) -> Option<GeoPoint> {
    let coordinate = |value: Tag, reference: Tag, negative: u8| -> Option<f64> {
        let Value::Rational(parts) = &exif.get_field(value, In::PRIMARY)?.value else {
            return None;
        };
        let [degrees, minutes, seconds] = parts.get(..3)? else {
            return None;
        };
        let magnitude = degrees.to_f64() + minutes.to_f64() / 60.0 + seconds.to_f64() / 3600.0;
        let sign = if ascii(exif, reference)?.first() == Some(&negative) {
            -1.0
        } else {
            1.0
        };
        magnitude.is_finite().then_some(sign * magnitude)
    };
    let latitude = coordinate(Tag::GPSLatitude, Tag::GPSLatitudeRef, b'S')?;
    let longitude = coordinate(Tag::GPSLongitude, Tag::GPSLongitudeRef, b'W')?;
    GeoPoint::new(latitude, longitude)
}

/// Parses what it can: a truncated head often still holds the date fields, so damage
/// after them must not hide them.
fn read<R: BufRead + Seek>(reader: &mut R) -> Option<Exif> {
    Reader::new()
        .continue_on_error(true)
        .read_from_container(reader)
        .or_else(|e| e.distill_partial_result(|_| {}))
        .ok()
}

fn field_time(exif: &Exif, time: Tag, subsec: Tag, offset: Tag) -> Option<(Moment, Option<FixedOffset>)> {
    let mut parsed = exif::DateTime::from_ascii(ascii(exif, time)?).ok()?;
    if let Some(digits) = ascii(exif, subsec) {
        // A malformed sub-second field leaves the whole seconds standing.
        let _ = parsed.parse_subsec(digits);
    }
    let offset = ascii(exif, offset)
        .and_then(|text| parsed.parse_offset(text).ok())
        .and(parsed.offset)
        .and_then(|minutes| FixedOffset::east_opt(i32::from(minutes) * 60));
    Some((Moment::WallClock(checked(&parsed)?), offset))
}

/// The first string of an ASCII field, in the primary image.
fn ascii(exif: &Exif, tag: Tag) -> Option<&[u8]> {
    match &exif.get_field(tag, In::PRIMARY)?.value {
        Value::Ascii(strings) => strings.first().map(Vec::as_slice),
        _ => None,
    }
}

/// Rejects zero and out-of-range fields (month 13, day 32, hour 25...).
fn checked(t: &exif::DateTime) -> Option<NaiveDateTime> {
    if t.year == 0 {
        return None;
    }
    NaiveDate::from_ymd_opt(i32::from(t.year), t.month.into(), t.day.into())?.and_hms_nano_opt(
        t.hour.into(),
        t.minute.into(),
        t.second.into(),
        t.nanosecond.unwrap_or(0),
    )
}
