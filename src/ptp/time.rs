//! PTP date strings: `YYYYMMDDThhmmss(.s)(Z|±hhmm)?`.

use chrono::{FixedOffset, NaiveDate, NaiveDateTime};

/// A device date: the wall-clock time, and the zone when the device gave one
/// (many omit it, and then the time is the device's local time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceTime {
    /// Wall-clock time as written.
    pub local: NaiveDateTime,
    /// The zone, when the string had one.
    pub offset: Option<FixedOffset>,
}

/// Parses a PTP date string; `None` for blank, malformed or impossible dates.
pub fn parse_ptp_time(text: &str) -> Option<DeviceTime> {
    let text = text.trim_end_matches('\0').trim();
    let digits = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = text.get(range)?;
        part.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    if text.as_bytes().get(8) != Some(&b'T') {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(digits(0..4)? as i32, digits(4..6)?, digits(6..8)?)?;
    let time = date.and_hms_opt(digits(9..11)?, digits(11..13)?, digits(13..15)?)?;
    let mut rest = &text[15..];
    if let Some(tenths) = rest.strip_prefix('.') {
        let end = tenths.find(|c: char| !c.is_ascii_digit()).unwrap_or(tenths.len());
        rest = &tenths[end..];
    }
    let offset = parse_zone(rest)?;
    Some(DeviceTime { local: time, offset })
}

/// `Ok(None)`-like for "no zone": the outer `Option` is a parse failure.
fn parse_zone(rest: &str) -> Option<Option<FixedOffset>> {
    match rest {
        "" => Some(None),
        "Z" => Some(FixedOffset::east_opt(0)),
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let hhmm = rest
                .get(1..5)
                .filter(|s| rest.len() == 5 && s.bytes().all(|b| b.is_ascii_digit()))?;
            let hours: i32 = hhmm[..2].parse().ok()?;
            let minutes: i32 = hhmm[2..].parse().ok()?;
            FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60)).map(Some)
        }
    }
}

/// Formats a wall-clock time as a PTP date string (no zone, as Android does).
pub fn format_ptp_time(time: NaiveDateTime) -> String {
    time.format("%Y%m%dT%H%M%S").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_form() {
        let plain = parse_ptp_time("20240526T101500").unwrap();
        assert_eq!(format_ptp_time(plain.local), "20240526T101500");
        assert_eq!(plain.offset, None);
        assert_eq!(parse_ptp_time("20240526T101500.3").unwrap().local, plain.local);
        assert_eq!(
            parse_ptp_time("20240526T101500Z").unwrap().offset,
            FixedOffset::east_opt(0)
        );
        let zoned = parse_ptp_time("20240526T101500.0-0230").unwrap();
        assert_eq!(zoned.offset, FixedOffset::west_opt(9000));
    }

    #[test]
    fn refuses_blank_and_impossible_dates() {
        for bad in [
            "",
            "0",
            "00000000T000000",
            "20241326T101500",
            "20240526T251500",
            "20240526 101500",
            "20240526T101500+1",
            "２0240526T101500",
        ] {
            assert_eq!(parse_ptp_time(bad), None, "{bad}");
        }
    }
}
