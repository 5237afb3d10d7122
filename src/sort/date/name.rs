//! Capture times that phone cameras and apps write into file names.
//!
//! - Pixel: `PXL_YYYYMMDD_HHMMSSmmm…` in UTC.
//! - Android cameras and screenshots: `IMG|VID|MVIMG|PANO|Screenshot` `[_-]YYYYMMDD[_-]HHMMSS…`,
//!   local time.
//! - Samsung: `YYYYMMDD_HHMMSS…` (optionally `_NNN`), local time.
//! - WhatsApp: `IMG-YYYYMMDD-WA<digits>…` (and `VID-` for videos): a date, no time.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime, Timelike};

use super::{Candidate, DateSource, Moment};

const CAMERA_PREFIXES: [&str; 5] = ["IMG", "VID", "MVIMG", "PANO", "Screenshot"];
const WHATSAPP_PREFIXES: [&str; 2] = ["IMG", "VID"];

/// The date a file name states, if it follows a known pattern.
pub(super) fn candidate(file_name: &str) -> Option<Candidate> {
    let name = file_name.as_bytes();
    let (moment, source) = pixel(name)
        .map(|utc| (Moment::Instant(utc.and_utc()), DateSource::FileName))
        .or_else(|| {
            camera(name)
                .or_else(|| samsung(name))
                .map(|t| (Moment::WallClock(t), DateSource::FileName))
        })
        .or_else(|| whatsapp(name).map(|t| (Moment::WallClock(t), DateSource::FileNameDate)))?;
    Some(Candidate {
        moment,
        source,
        offset: None,
    })
}

fn pixel(name: &[u8]) -> Option<NaiveDateTime> {
    let mut scan = Scan(name);
    scan.word("PXL_")?;
    let date = scan.date()?;
    scan.one_of(b"_")?;
    let time = scan.time()?;
    let millis = scan.number(3)?;
    Some(date.and_time(time.with_nanosecond(millis * 1_000_000)?))
}

fn camera(name: &[u8]) -> Option<NaiveDateTime> {
    CAMERA_PREFIXES.iter().find_map(|prefix| {
        let mut scan = Scan(name);
        scan.word(prefix)?;
        scan.one_of(b"_-")?;
        let date = scan.date()?;
        scan.one_of(b"_-")?;
        Some(date.and_time(scan.time()?))
    })
}

fn samsung(name: &[u8]) -> Option<NaiveDateTime> {
    let mut scan = Scan(name);
    let date = scan.date()?;
    scan.one_of(b"_")?;
    let time = scan.time()?;
    // A longer run of digits is some other number, not a time.
    scan.peek_is_not_digit().then(|| date.and_time(time))
}

fn whatsapp(name: &[u8]) -> Option<NaiveDateTime> {
    WHATSAPP_PREFIXES.iter().find_map(|prefix| {
        let mut scan = Scan(name);
        scan.word(prefix)?;
        scan.one_of(b"-")?;
        let date = scan.date()?;
        scan.word("-WA")?;
        scan.number(1)?;
        Some(date.and_time(NaiveTime::MIN))
    })
}

/// A left-to-right reader over the bytes of a name.
struct Scan<'a>(&'a [u8]);

impl Scan<'_> {
    /// Consumes `word`, ignoring ASCII case (`img_`, `Screenshot`, `SCREENSHOT` alike).
    fn word(&mut self, word: &str) -> Option<()> {
        let head = self.0.get(..word.len())?;
        head.eq_ignore_ascii_case(word.as_bytes())
            .then(|| self.0 = &self.0[word.len()..])
    }

    fn one_of(&mut self, separators: &[u8]) -> Option<()> {
        let (&first, rest) = self.0.split_first()?;
        separators.contains(&first).then(|| self.0 = rest)
    }

    /// Consumes exactly `digits` decimal digits.
    fn number(&mut self, digits: usize) -> Option<u32> {
        let head = self.0.get(..digits)?;
        if !head.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.0 = &self.0[digits..];
        Some(head.iter().fold(0, |n, d| n * 10 + u32::from(d - b'0')))
    }

    /// `YYYYMMDD`, rejecting impossible dates (month 13, day 32, year 0).
    fn date(&mut self) -> Option<NaiveDate> {
        let (year, month, day) = (self.number(4)?, self.number(2)?, self.number(2)?);
        if year == 0 {
            return None;
        }
        NaiveDate::from_ymd_opt(year.try_into().ok()?, month, day)
    }

    /// `HHMMSS`, rejecting impossible times (hour 25, minute 61).
    fn time(&mut self) -> Option<NaiveTime> {
        NaiveTime::from_hms_opt(self.number(2)?, self.number(2)?, self.number(2)?)
    }

    fn peek_is_not_digit(&self) -> bool {
        !self.0.first().is_some_and(u8::is_ascii_digit)
    }
}
