//! In which zone was a UTC time (a video's `mvhd`, a Pixel file name) shot?
//!
//! The evidence, best first, and the one that won is recorded in [`ZoneSource`]:
//! 1. a UTC offset stored in the file itself (QuickTime `creationdate`, EXIF `OffsetTime*`);
//! 2. the GPS position in the file (QuickTime `©xyz` or `location.ISO6709`, EXIF GPS),
//!    looked up in the time-zone boundary table built into the binary;
//! 3. the offset of the nearest photo in time from the same source that recorded one
//!    ([`ZoneHints`], applied by the caller once every file of a run is dated);
//! 4. the computer's zone.

use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

use chrono::{DateTime, FixedOffset, NaiveDateTime, Offset, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;

/// How far in time a photo's offset is trusted for a video taken near it.
pub(crate) const NEARBY_PHOTO_WINDOW: TimeDelta = TimeDelta::hours(6);

/// Which evidence set the wall-clock time of a dated file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZoneSource {
    /// The file states a local wall-clock time and no offset (EXIF, QuickTime
    /// `creationdate`, a file name): filed as written.
    WallClock,
    /// The file states its offset: beside a wall clock (filed as written), or beside a
    /// UTC time (converted with it).
    FileOffset,
    /// A UTC time, converted with the zone at the GPS position the file records.
    Gps(Tz),
    /// A UTC time, converted with the offset of the nearest photo in time from the same
    /// source (within [`NEARBY_PHOTO_WINDOW`]).
    NearbyPhoto,
    /// A UTC time, converted with the computer's zone: no better evidence.
    Computer,
}

impl ZoneSource {
    /// A stable identifier for scripts (`--json`).
    pub fn as_str(self) -> &'static str {
        match self {
            ZoneSource::WallClock => "wall_clock",
            ZoneSource::FileOffset => "file_offset",
            ZoneSource::Gps(_) => "gps",
            ZoneSource::NearbyPhoto => "nearby_photo",
            ZoneSource::Computer => "computer",
        }
    }
}

impl fmt::Display for ZoneSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ZoneSource::WallClock => f.write_str("wall clock as written"),
            ZoneSource::FileOffset => f.write_str("offset in the file"),
            ZoneSource::Gps(zone) => write!(f, "GPS: {}", zone.name()),
            ZoneSource::NearbyPhoto => f.write_str("nearest photo's offset"),
            ZoneSource::Computer => f.write_str("this computer's zone"),
        }
    }
}

/// A position on Earth in decimal degrees, as a file records it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeoPoint {
    /// Degrees north (negative: south).
    pub latitude: f64,
    /// Degrees east (negative: west).
    pub longitude: f64,
}

impl GeoPoint {
    /// A point inside the valid ranges; `(0, 0)` is an unset receiver, not a place.
    pub fn new(latitude: f64, longitude: f64) -> Option<GeoPoint> {
        let valid = (-90.0..=90.0).contains(&latitude)
            && (-180.0..=180.0).contains(&longitude)
            && !(latitude == 0.0 && longitude == 0.0);
        valid.then_some(GeoPoint { latitude, longitude })
    }

    /// ISO 6709 as phones write it: `+33.8688+151.2093/` (Android `©xyz`) or
    /// `+33.8688+151.2093+012.345/` (iPhone `location.ISO6709`), decimal degrees.
    pub fn from_iso6709(text: &str) -> Option<GeoPoint> {
        let text = text.trim_matches(|c: char| c == '\0' || c.is_whitespace());
        let text = text.strip_suffix('/').unwrap_or(text);
        let starts: Vec<usize> = text.match_indices(['+', '-']).map(|(at, _)| at).collect();
        if starts.len() < 2 || starts[0] != 0 {
            return None;
        }
        let end_of_longitude = starts.get(2).copied().unwrap_or(text.len());
        let latitude = decimal_degrees(&text[..starts[1]], 2)?;
        let longitude = decimal_degrees(&text[starts[1]..end_of_longitude], 3)?;
        GeoPoint::new(latitude, longitude)
    }

    /// The IANA zone at this point, from the built-in boundary table.
    pub fn zone(self) -> Option<Tz> {
        // Building the finder parses the table (a few MB in the binary): done once, and
        // only when a file needs it.
        static FINDER: LazyLock<tzf_rs::EmbeddedFinder> = LazyLock::new(tzf_rs::EmbeddedFinder::new);
        let name = FINDER.get_tz_name(self.longitude, self.latitude);
        Tz::from_str(name).ok()
    }
}

/// `+33.8688` with `degree_digits` digits before the point (DD.D, not DDMM.M forms).
fn decimal_degrees(text: &str, degree_digits: usize) -> Option<f64> {
    let unsigned = &text[1..];
    let whole = unsigned.split('.').next()?;
    if whole.len() != degree_digits || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let value: f64 = text.parse().ok()?;
    value.is_finite().then_some(value)
}

/// The local wall clock and offset of `instant` in `zone`.
pub(crate) fn local_in<Z: TimeZone>(zone: &Z, instant: DateTime<Utc>) -> (NaiveDateTime, FixedOffset) {
    let local = zone.from_utc_datetime(&instant.naive_utc());
    (local.naive_local(), local.offset().fix())
}

/// The offsets photos recorded, by the instant they were taken: evidence for videos of
/// the same source that carry only UTC.
#[derive(Debug, Clone, Default)]
pub struct ZoneHints {
    /// Sorted by instant once [`ZoneHints::offset_near`] is first asked.
    hints: Vec<(DateTime<Utc>, FixedOffset)>,
    sorted: bool,
}

impl ZoneHints {
    /// No hints yet.
    pub fn new() -> ZoneHints {
        ZoneHints::default()
    }

    /// Notes a photo's wall clock and the offset it recorded.
    pub fn add(&mut self, wall_clock: NaiveDateTime, offset: FixedOffset) {
        if let Some(instant) = wall_clock.and_local_timezone(offset).single() {
            self.hints.push((instant.to_utc(), offset));
            self.sorted = false;
        }
    }

    /// The offset recorded nearest in time to `instant`, if within
    /// [`NEARBY_PHOTO_WINDOW`].
    pub fn offset_near(&mut self, instant: DateTime<Utc>) -> Option<FixedOffset> {
        if !self.sorted {
            self.hints.sort_by_key(|&(at, _)| at);
            self.sorted = true;
        }
        let after = self.hints.partition_point(|&(at, _)| at < instant);
        let before = after.checked_sub(1);
        [before, Some(after)]
            .into_iter()
            .flatten()
            .filter_map(|i| self.hints.get(i))
            .map(|&(at, offset)| ((at - instant).abs(), offset))
            .filter(|&(distance, _)| distance <= NEARBY_PHOTO_WINDOW)
            .min_by_key(|&(distance, _)| distance)
            .map(|(_, offset)| offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso6709_as_android_and_iphone_write_it() {
        let sydney = GeoPoint::from_iso6709("+33.8688+151.2093/").unwrap();
        assert_eq!((sydney.latitude, sydney.longitude), (33.8688, 151.2093));
        let la = GeoPoint::from_iso6709("+34.0522-118.2437+089.000/").unwrap();
        assert_eq!((la.latitude, la.longitude), (34.0522, -118.2437));
        let south = GeoPoint::from_iso6709("-33.8688+151.2093/\0").unwrap();
        assert_eq!(south.latitude, -33.8688);
        for bad in [
            "",
            "/",
            "+33.8688",
            "33.8688+151.2093/",
            "+3352.13+15112.56/",
            "+95.0000+010.0000/",
            "+00.0000+000.0000/",
            "+aa.bbbb+ccc.dddd/",
        ] {
            assert_eq!(GeoPoint::from_iso6709(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn positions_map_to_their_zones() {
        let zone = |lat, lon| GeoPoint::new(lat, lon).and_then(GeoPoint::zone);
        assert_eq!(zone(-33.8688, 151.2093), Some(chrono_tz::Australia::Sydney));
        assert_eq!(zone(34.0522, -118.2437), Some(chrono_tz::America::Los_Angeles));
        assert_eq!(zone(35.6762, 139.6503), Some(chrono_tz::Asia::Tokyo));
        assert_eq!(zone(48.8566, 2.3522), Some(chrono_tz::Europe::Paris));
    }

    #[test]
    fn the_nearest_photo_within_the_window_lends_its_offset() {
        let at = |text| NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap();
        let plus10 = FixedOffset::east_opt(10 * 3600).unwrap();
        let minus7 = FixedOffset::west_opt(7 * 3600).unwrap();
        let mut hints = ZoneHints::new();
        hints.add(at("2024-05-26 21:00"), plus10); // 11:00 UTC
        hints.add(at("2024-05-30 09:00"), minus7); // 16:00 UTC
        let utc = |text| at(text).and_utc();
        assert_eq!(hints.offset_near(utc("2024-05-26 12:30")), Some(plus10));
        assert_eq!(hints.offset_near(utc("2024-05-30 12:00")), Some(minus7));
        assert_eq!(hints.offset_near(utc("2024-05-28 12:00")), None);
        assert_eq!(ZoneHints::new().offset_near(utc("2024-05-28 12:00")), None);
    }
}
