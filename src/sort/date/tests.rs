use std::io::Write as _;

use chrono::{DateTime, FixedOffset, NaiveDateTime, Utc};
use proptest::prelude::*;

use super::*;
use crate::sort::testdata::*;

/// "Now" for every test: 2025-01-15 12:00:00 UTC.
fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_736_942_400, 0).unwrap()
}

fn zone(hours: i32) -> FixedOffset {
    FixedOffset::east_opt(hours * 3600).unwrap()
}

fn resolver(hours: i32) -> DateResolver<FixedOffset> {
    DateResolver::new(zone(hours), now())
}

fn at(text: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f").unwrap()
}

fn utc(text: &str) -> DateTime<Utc> {
    at(text).and_utc()
}

/// Dates bytes named `photo.bin` (a name with no date) in UTC, with no fallback.
fn date_of(bytes: &[u8]) -> Option<Dated> {
    resolver(0).resolve(bytes, "photo.bin", None)
}

fn exif_jpeg(exif: &[(u16, &str)]) -> Vec<u8> {
    jpeg(&tiff(&[], exif))
}

fn temp_file(bytes: &[u8]) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(bytes).unwrap();
    file
}

fn assert_dated(found: Option<Dated>, time: &str, source: DateSource) {
    let found = found.unwrap_or_else(|| panic!("undated; expected {time} from {source}"));
    assert_eq!((found.time, found.source), (at(time), source));
}

// --- EXIF ---

#[test]
fn date_time_original_beats_digitized_and_ifd0_date_time() {
    let block = tiff(
        &[(DATE_TIME, "2020:01:01 00:00:00")],
        &[
            (DATE_TIME_ORIGINAL, "2024:05:26 10:15:30"),
            (DATE_TIME_DIGITIZED, "2023:02:02 02:02:02"),
        ],
    );
    assert_dated(
        date_of(&jpeg(&block)),
        "2024-05-26 10:15:30",
        DateSource::ExifDateTimeOriginal,
    );
}

#[test]
fn digitized_then_ifd0_date_time_fill_in() {
    let digitized = exif_jpeg(&[(DATE_TIME_DIGITIZED, "2023:02:02 02:02:02")]);
    assert_dated(
        date_of(&digitized),
        "2023-02-02 02:02:02",
        DateSource::ExifDateTimeDigitized,
    );
    let ifd0 = jpeg(&tiff(&[(DATE_TIME, "2020:01:01 08:00:00")], &[]));
    assert_dated(date_of(&ifd0), "2020-01-01 08:00:00", DateSource::ExifDateTime);
}

#[test]
fn exif_is_wall_clock_with_subseconds_and_its_offset_recorded_not_applied() {
    let block = tiff(
        &[],
        &[
            (DATE_TIME_ORIGINAL, "2024:05:26 23:30:00"),
            (SUB_SEC_TIME_ORIGINAL, "25"),
            (OFFSET_TIME_ORIGINAL, "+09:00"),
        ],
    );
    // The resolver's zone (UTC-5) and the recorded offset (+9) both leave the time alone.
    let found = resolver(-5).resolve(&jpeg(&block), "x.jpg", None).unwrap();
    assert_eq!(found.time, at("2024-05-26 23:30:00.25"));
    assert_eq!(found.offset, Some(zone(9)));
}

#[test]
fn each_rejected_exif_value_falls_through_to_the_next_field() {
    let rejected = [
        "",
        "                   ",
        "    :  :     :  :  ",
        "0000:00:00 00:00:00",
        "0000:01:01 00:00:00",
        "2024:13:01 10:00:00",
        "2024:02:30 10:00:00",
        "2024:05:32 10:00:00",
        "2024:05:26 25:00:00",
        "2024:05:26 10:61:00",
        "2024-05-26 10:00:00",
        "garbage",
        "2025:01:16 12:00:01", // a day and a second ahead of now
        "2099:01:01 00:00:00",
    ];
    for value in rejected {
        let photo = exif_jpeg(&[
            (DATE_TIME_ORIGINAL, value),
            (DATE_TIME_DIGITIZED, "2023:02:02 02:02:02"),
        ]);
        assert_dated(
            date_of(&photo),
            "2023-02-02 02:02:02",
            DateSource::ExifDateTimeDigitized,
        );
    }
}

#[test]
fn less_than_a_day_ahead_is_accepted() {
    // Clocks and zones disagree by hours; only more than a day ahead is bogus.
    let photo = exif_jpeg(&[(DATE_TIME_ORIGINAL, "2025:01:16 11:59:59")]);
    assert_dated(
        date_of(&photo),
        "2025-01-16 11:59:59",
        DateSource::ExifDateTimeOriginal,
    );
}

#[test]
fn exif_is_read_from_every_photo_container() {
    let block = tiff(&[], &[(DATE_TIME_ORIGINAL, "2024:05:26 10:15:30")]);
    let containers = [
        ("jpeg", jpeg(&block)),
        ("png", png(&block)),
        ("webp", webp(&block)),
        ("tiff", block.clone()),
        ("heic", heic(&block, 0)),
    ];
    for (kind, bytes) in containers {
        let found = date_of(&bytes);
        assert_eq!(
            found.map(|d| d.source),
            Some(DateSource::ExifDateTimeOriginal),
            "{kind}"
        );
        let file = temp_file(&bytes);
        let found = resolver(0).resolve_path(file.path(), None).unwrap();
        assert_eq!(
            found.map(|d| d.time),
            Some(at("2024-05-26 10:15:30")),
            "{kind} from a file"
        );
    }
}

#[test]
fn exif_beyond_the_head_falls_through_to_the_name() {
    let block = tiff(&[], &[(DATE_TIME_ORIGINAL, "2024:05:26 10:15:30")]);
    let photo = jpeg_with_padding(&block, HEAD_LEN + 1000);
    let found = resolver(0).resolve(&photo, "IMG_20200101_090000.jpg", None);
    assert_dated(found, "2020-01-01 09:00:00", DateSource::FileName);
    // The file reader keeps to the same budget for JPEG.
    let file = temp_file(&photo);
    assert_eq!(resolver(0).resolve_path(file.path(), None).unwrap(), None);
}

#[test]
fn heic_exif_far_into_mdat_is_reached_by_seeking_from_a_file() {
    let block = tiff(&[], &[(DATE_TIME_ORIGINAL, "2024:05:26 10:15:30")]);
    let photo = heic(&block, 3 * HEAD_LEN);
    assert_eq!(date_of(&photo), None);
    let file = temp_file(&photo);
    let found = resolver(0).resolve_path(file.path(), None).unwrap();
    assert_dated(found, "2024-05-26 10:15:30", DateSource::ExifDateTimeOriginal);
}

#[test]
fn tiff_with_directories_after_the_image_data_is_read_further_from_a_file() {
    let photo = tiff_with_trailing_ifds(&[(DATE_TIME, "2024:05:26 10:15:30")], 2 * HEAD_LEN);
    assert_eq!(date_of(&photo), None);
    let file = temp_file(&photo);
    let found = resolver(0).resolve_path(file.path(), None).unwrap();
    assert_dated(found, "2024-05-26 10:15:30", DateSource::ExifDateTime);
}

// --- Video ---

fn mvhd_at(version: u8, when: &str) -> Vec<u8> {
    time_box(b"mvhd", version, since_1904(utc(when).timestamp() as u64))
}

fn secs(when: &str) -> u64 {
    since_1904(utc(when).timestamp() as u64)
}

#[test]
fn mvhd_version_0_is_utc_converted_to_the_zone_across_midnight() {
    let video = mp4(&[mvhd_at(0, "2024-05-26 20:00:00")], 100, true);
    let found = resolver(9).resolve(&video, "clip.mp4", None).unwrap();
    assert_eq!(
        (found.time, found.source),
        (at("2024-05-27 05:00:00"), DateSource::Mvhd)
    );
    assert_eq!(found.offset, Some(zone(9)));
}

#[test]
fn mvhd_version_1_is_utc_converted_to_the_zone_back_a_day() {
    let video = mp4(&[mvhd_at(1, "2024-05-26 03:00:00")], 100, true);
    let found = resolver(-7).resolve(&video, "clip.mp4", None);
    assert_dated(found, "2024-05-25 20:00:00", DateSource::Mvhd);
}

#[test]
fn quicktime_creationdate_beats_mvhd_and_files_by_its_own_wall_clock() {
    let meta = quicktime_creationdate("2024-05-26T23:30:00+0200");
    let video = mp4(&[mvhd_at(0, "2024-05-26 21:30:00"), meta], 100, true);
    let found = resolver(9).resolve(&video, "IMG_0001.MOV", None).unwrap();
    assert_eq!(found.time, at("2024-05-26 23:30:00"));
    assert_eq!(found.source, DateSource::QuickTimeCreationDate);
    assert_eq!(found.offset, Some(zone(2)));
}

#[test]
fn quicktime_creationdate_forms() {
    for (value, time) in [
        ("2024-05-26T23:30:00-07:00", "2024-05-26 23:30:00"),
        ("2024-05-26T23:30:00Z", "2024-05-26 23:30:00"),
        ("2024-05-26T23:30:00.500+0100", "2024-05-26 23:30:00.5"),
        ("2024-05-26T23:30:00", "2024-05-26 23:30:00"),
    ] {
        let video = mp4(&[quicktime_creationdate(value)], 0, true);
        assert_dated(date_of(&video), time, DateSource::QuickTimeCreationDate);
    }
    let broken = mp4(
        &[
            quicktime_creationdate("yesterday"),
            mvhd_at(0, "2024-05-26 10:00:00"),
        ],
        0,
        true,
    );
    assert_dated(date_of(&broken), "2024-05-26 10:00:00", DateSource::Mvhd);
}

#[test]
fn zero_or_pre_2000_mvhd_falls_back_to_tkhd_then_mdhd() {
    let t = secs("2024-05-26 10:00:00");
    let m = secs("2024-05-26 11:00:00");
    for mvhd in [0, secs("1999-12-31 23:59:59"), 1] {
        let video = mp4(&[time_box(b"mvhd", 0, mvhd), track(t, m)], 0, true);
        assert_dated(date_of(&video), "2024-05-26 10:00:00", DateSource::Tkhd);
    }
    let video = mp4(&[time_box(b"mvhd", 0, 0), track(0, m)], 0, true);
    assert_dated(date_of(&video), "2024-05-26 11:00:00", DateSource::Mdhd);
}

#[test]
fn a_future_mvhd_falls_back_to_tkhd() {
    let video = mp4(
        &[
            mvhd_at(1, "2030-01-01 00:00:00"),
            track(secs("2024-05-26 10:00:00"), 0),
        ],
        0,
        true,
    );
    assert_dated(date_of(&video), "2024-05-26 10:00:00", DateSource::Tkhd);
}

#[test]
fn moov_after_a_large_mdat_is_found_from_a_file_but_not_in_the_head() {
    let video = mp4(&[mvhd_at(0, "2024-05-26 10:00:00")], 4 * HEAD_LEN, false);
    let fallback = Some(Moment::Instant(utc("2024-06-01 00:00:00")));
    let found = resolver(0).resolve(&video, "clip.mp4", fallback);
    assert_dated(found, "2024-06-01 00:00:00", DateSource::Modified);
    let file = temp_file(&video);
    let found = resolver(0).resolve_path(file.path(), fallback).unwrap();
    assert_dated(found, "2024-05-26 10:00:00", DateSource::Mvhd);
}

// --- The zone where a UTC time was shot ---

/// 2024-05-26 11:30 UTC: 21:30 in Sydney (+10), 04:30 in Los Angeles (-7), 13:30 in Paris.
const SHOT: &str = "2024-05-26 11:30:00";

fn paris() -> DateResolver<chrono_tz::Tz> {
    DateResolver::new(chrono_tz::Europe::Paris, now())
}

fn shot_video(extra: &[Vec<u8>]) -> Vec<u8> {
    video_at_utc(utc(SHOT).timestamp() as u64, extra)
}

#[test]
fn a_utc_video_with_no_evidence_is_shown_in_the_computers_zone() {
    let found = paris().resolve(&shot_video(&[]), "clip.mp4", None).unwrap();
    assert_eq!(found.time, at("2024-05-26 13:30:00"));
    assert_eq!(found.zone, ZoneSource::Computer);
    assert_eq!(found.instant, Some(utc(SHOT)));
    assert!(found.zone_unknown());
}

#[test]
fn android_xyz_position_puts_a_utc_video_in_the_zone_where_it_was_shot() {
    let sydney = shot_video(&[android_position("-33.8688+151.2093/")]);
    let found = paris().resolve(&sydney, "VID_1.mp4", None).unwrap();
    assert_eq!(found.time, at("2024-05-26 21:30:00"));
    assert_eq!(found.source, DateSource::Mvhd);
    assert_eq!(found.zone, ZoneSource::Gps(chrono_tz::Australia::Sydney));
    assert_eq!(found.offset, Some(zone(10)));
}

#[test]
fn iphone_keys_location_puts_a_utc_video_in_the_zone_where_it_was_shot() {
    let keys = quicktime_keys(&[
        ("com.apple.quicktime.make", "Apple"),
        (
            "com.apple.quicktime.location.ISO6709",
            "+34.0522-118.2437+089.000/",
        ),
    ]);
    let la = shot_video(&[keys]);
    let found = paris().resolve(&la, "IMG_0001.MOV", None).unwrap();
    assert_eq!(found.time, at("2024-05-26 04:30:00"));
    assert_eq!(found.zone, ZoneSource::Gps(chrono_tz::America::Los_Angeles));
    assert_eq!(found.offset, Some(zone(-7)));
}

#[test]
fn an_offset_in_the_file_beats_its_position() {
    // The creation date cannot be used (it is in the future) but its offset can.
    let keys = quicktime_keys(&[
        ("com.apple.quicktime.creationdate", "2031-01-01T00:00:00+1000"),
        ("com.apple.quicktime.location.ISO6709", "+34.0522-118.2437/"),
    ]);
    let found = paris()
        .resolve(&shot_video(&[keys]), "IMG_0001.MOV", None)
        .unwrap();
    assert_eq!(found.time, at("2024-05-26 21:30:00"));
    assert_eq!(
        (found.source, found.zone),
        (DateSource::Mvhd, ZoneSource::FileOffset)
    );
}

#[test]
fn a_photo_without_a_wall_clock_uses_its_exif_offset_for_a_utc_time() {
    let block = tiff(&[], &[(OFFSET_TIME_ORIGINAL, "-07:00")]);
    let fallback = Some(Moment::Instant(utc(SHOT)));
    let found = paris().resolve(&jpeg(&block), "x.jpg", fallback).unwrap();
    assert_eq!(found.time, at("2024-05-26 04:30:00"));
    assert_eq!(
        (found.source, found.zone),
        (DateSource::Modified, ZoneSource::FileOffset)
    );
}

#[test]
fn wall_clocks_are_not_rezoned() {
    let block = tiff(
        &[],
        &[
            (DATE_TIME_ORIGINAL, "2024:05:26 21:30:00"),
            (OFFSET_TIME_ORIGINAL, "+10:00"),
        ],
    );
    let found = paris().resolve(&jpeg(&block), "x.jpg", None).unwrap();
    assert_eq!(
        (found.time, found.zone),
        (at("2024-05-26 21:30:00"), ZoneSource::FileOffset)
    );
    assert!(!found.zone_unknown());
    assert_eq!(found.photo_offset(), Some(zone(10)));
    assert_eq!(found.rezoned(zone(-7), ZoneSource::NearbyPhoto), found);
}

#[test]
fn a_nearby_photos_offset_rezones_a_video_with_no_other_evidence() {
    let found = paris().resolve(&shot_video(&[]), "clip.mp4", None).unwrap();
    let rezoned = found.rezoned(zone(10), ZoneSource::NearbyPhoto);
    assert_eq!(rezoned.time, at("2024-05-26 21:30:00"));
    assert_eq!(rezoned.offset, Some(zone(10)));
    assert_eq!(rezoned.zone, ZoneSource::NearbyPhoto);
}

#[test]
fn a_64_bit_box_size_is_followed() {
    let mut video = bx(b"ftyp", b"isom\0\0\0\0isom");
    video.extend(1u32.to_be_bytes());
    video.extend(b"mdat");
    video.extend(116u64.to_be_bytes());
    video.extend([0; 100]);
    video.extend(bx(b"moov", &mvhd_at(0, "2024-05-26 10:00:00")));
    assert_dated(date_of(&video), "2024-05-26 10:00:00", DateSource::Mvhd);
}

#[test]
fn a_box_overrunning_its_parent_stops_the_walk() {
    let mut lying = bx(b"trak", &time_box(b"tkhd", 0, secs("2024-05-26 10:00:00")));
    lying[3] = 0xff; // the trak now claims more than the moov holds
    let video = mp4(&[lying], 0, true);
    assert_eq!(date_of(&video), None);
}

// --- File names ---

#[test]
fn file_name_patterns() {
    let cases = [
        (
            "IMG_20240526_101500.jpg",
            "2024-05-26 10:15:00",
            DateSource::FileName,
        ),
        (
            "IMG-20240526-101500.jpg",
            "2024-05-26 10:15:00",
            DateSource::FileName,
        ),
        (
            "VID_20240526_101500.mp4",
            "2024-05-26 10:15:00",
            DateSource::FileName,
        ),
        (
            "MVIMG_20190101_120000.jpg",
            "2019-01-01 12:00:00",
            DateSource::FileName,
        ),
        (
            "PANO_20240526_101500.jpg",
            "2024-05-26 10:15:00",
            DateSource::FileName,
        ),
        (
            "Screenshot_20240526-101500_Chrome.png",
            "2024-05-26 10:15:00",
            DateSource::FileName,
        ),
        (
            "Screenshot_20240526_101500.png",
            "2024-05-26 10:15:00",
            DateSource::FileName,
        ),
        ("20240526_101500.jpg", "2024-05-26 10:15:00", DateSource::FileName),
        (
            "20240526_101500_001.jpg",
            "2024-05-26 10:15:00",
            DateSource::FileName,
        ),
        (
            "IMG-20240526-WA0001.jpg",
            "2024-05-26 00:00:00",
            DateSource::FileNameDate,
        ),
        (
            "VID-20240526-WA0012.mp4",
            "2024-05-26 00:00:00",
            DateSource::FileNameDate,
        ),
    ];
    for (name, time, source) in cases {
        // Local-time patterns are filed as written whatever the zone.
        assert_dated(resolver(9).resolve(&[], name, None), time, source);
    }
}

#[test]
fn pixel_names_are_utc_converted_to_the_zone() {
    let found = resolver(9).resolve(&[], "PXL_20240526_201500123.MP.jpg", None);
    assert_dated(found, "2024-05-27 05:15:00.123", DateSource::FileName);
    let found = resolver(-4).resolve(&[], "PXL_20240526_021500000.mp4", None);
    assert_dated(found, "2024-05-25 22:15:00", DateSource::FileName);
}

#[test]
fn names_that_only_look_dated_are_not() {
    for name in [
        "IMG_20241326_101500.jpg",
        "IMG_20240532_101500.jpg",
        "IMG_20240526_251500.jpg",
        "IMG_00000000_000000.jpg",
        "PXL_20240526_101500.jpg",
        "20240526_1015001.jpg",
        "IMG-20240526-WA.jpg",
        "DSC_0001.JPG",
        "IMG_2024.jpg",
        "",
        "IMG_20990101_000000.jpg",
    ] {
        assert_eq!(resolver(0).resolve(&[], name, None), None, "{name}");
    }
}

// --- Order and fallback ---

#[test]
fn content_beats_name_beats_fallback() {
    let photo = exif_jpeg(&[(DATE_TIME_ORIGINAL, "2024:05:26 10:15:30")]);
    let fallback = Some(Moment::Instant(utc("2024-12-01 00:00:00")));
    let r = resolver(0);
    assert_eq!(
        r.resolve(&photo, "IMG_20200101_000000.jpg", fallback)
            .unwrap()
            .source,
        DateSource::ExifDateTimeOriginal
    );
    assert_eq!(
        r.resolve(&plain_jpeg(1), "IMG_20200101_000000.jpg", fallback)
            .unwrap()
            .source,
        DateSource::FileName
    );
    assert_dated(
        r.resolve(&plain_jpeg(1), "DSC_1.jpg", fallback),
        "2024-12-01 00:00:00",
        DateSource::Modified,
    );
}

#[test]
fn fallback_instants_are_converted_and_wall_clocks_kept() {
    let r = resolver(9);
    let instant = Some(Moment::Instant(utc("2024-05-26 20:00:00")));
    assert_dated(
        r.resolve(&[], "a.bin", instant),
        "2024-05-27 05:00:00",
        DateSource::Modified,
    );
    let wall = Some(Moment::WallClock(at("2024-05-26 20:00:00")));
    assert_dated(
        r.resolve(&[], "a.bin", wall),
        "2024-05-26 20:00:00",
        DateSource::Modified,
    );
}

#[test]
fn zero_and_future_fallbacks_leave_the_file_undated() {
    let r = resolver(0);
    for fallback in [
        Moment::Instant(DateTime::UNIX_EPOCH),
        Moment::WallClock(at("1970-01-01 00:00:00")),
        Moment::Instant(utc("2025-01-17 00:00:00")),
    ] {
        assert_eq!(r.resolve(&[], "a.bin", Some(fallback)), None, "{fallback:?}");
    }
}

#[test]
fn unopenable_files_are_errors() {
    let error = resolver(0).resolve_path(Path::new("/nonexistent/IMG_1.jpg"), None);
    assert!(matches!(error, Err(SortError::Io { action: "open", .. })));
}

#[test]
fn the_budget_reads_as_end_of_file_once_spent() {
    let data = vec![7u8; 100];
    let mut budget = Budget::new(Cursor::new(&data), 30);
    let mut out = Vec::new();
    budget.read_to_end(&mut out).unwrap();
    assert_eq!(out.len(), 30);
    budget.seek(SeekFrom::Start(0)).unwrap();
    assert_eq!(budget.read(&mut [0; 10]).unwrap(), 0);
}

// --- Hostile input ---

fn valid_samples() -> Vec<Vec<u8>> {
    let block = tiff(
        &[(DATE_TIME, "2020:01:01 00:00:00")],
        &[(DATE_TIME_ORIGINAL, "2024:05:26 10:15:30")],
    );
    vec![
        jpeg(&block),
        png(&block),
        webp(&block),
        heic(&block, 10),
        block,
        mp4(
            &[
                mvhd_at(1, "2024-05-26 10:00:00"),
                quicktime_creationdate("2024-05-26T10:00:00Z"),
                track(secs("2024-05-26 10:00:00"), 1),
            ],
            20,
            false,
        ),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048), name in ".{0,40}") {
        if let Some(found) = resolver(0).resolve(&bytes, &name, None) {
            prop_assert!(found.time <= at("2025-01-16 12:00:00"));
        }
    }

    #[test]
    fn damaged_media_never_panics(
        sample in proptest::sample::select(valid_samples()),
        damage in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..12),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = sample;
        for (position, value) in damage {
            let i = position.index(bytes.len());
            bytes[i] = value;
        }
        bytes.truncate(cut.index(bytes.len() + 1));
        if let Some(found) = resolver(0).resolve(&bytes, "x", None) {
            prop_assert!(found.time <= at("2025-01-16 12:00:00"));
        }
    }

    /// Names shaped like the patterns the parser knows, with any digits, separators and
    /// tails: a date is a real calendar date no later than a day after "now", and a name
    /// whose digits spell a valid past local time is dated by exactly those digits.
    #[test]
    fn dated_looking_names_give_real_dates_or_none(
        prefix in "(IMG|VID|MVIMG|PANO|Screenshot|PXL|)[_-]?",
        date in "[0-9]{8}",
        separator in "[_-]",
        time in "[0-9]{6,9}|WA[0-9]{0,4}",
        tail in "(\\.MP)?(\\.jpg|\\.mp4|_[0-9]{3}\\.jpg|[^/]{0,8})",
    ) {
        let name = format!("{prefix}{date}{separator}{time}{tail}");
        let found = resolver(0).resolve(&[], &name, None);
        if let Some(found) = &found {
            prop_assert!(found.time <= at("2025-01-16 12:00:00"), "{name}: {found:?}");
        }
        let digits = |range: std::ops::Range<usize>| date.get(range).and_then(|d| d.parse::<u32>().ok());
        let spelled = chrono::NaiveDate::from_ymd_opt(
            i32::try_from(digits(0..4).unwrap()).unwrap(),
            digits(4..6).unwrap(),
            digits(6..8).unwrap(),
        )
        .filter(|d| chrono::Datelike::year(d) > 0)
        .and_then(|d| {
            let t = |r: std::ops::Range<usize>| time.get(r).and_then(|x| x.parse::<u32>().ok());
            d.and_hms_opt(t(0..2)?, t(2..4)?, t(4..6)?)
        })
        .filter(|t| *t != chrono::DateTime::UNIX_EPOCH.naive_utc() && *t <= at("2025-01-16 12:00:00"));
        let camera = ["IMG", "VID", "MVIMG", "PANO", "Screenshot"]
            .iter()
            .any(|p| prefix == format!("{p}_") || prefix == format!("{p}-"));
        let samsung = prefix.is_empty() && separator == "_" && time.len() == 6 && !tail.starts_with(|c: char| c.is_ascii_digit());
        if (camera || samsung) && !time.starts_with('W') && let Some(spelled) = spelled {
            prop_assert_eq!(found.map(|f| f.time), Some(spelled), "{}", name);
        }
    }
}

#[test]
fn samsungs_utc_offset_key_puts_a_utc_video_in_the_zone_where_it_was_shot() {
    let keys = quicktime_keys(&[
        ("com.android.version", "14"),
        ("com.samsung.android.utc_offset", "+1000"),
    ]);
    let found = paris()
        .resolve(&shot_video(&[keys]), "20240526_213000.mp4", None)
        .unwrap();
    assert_eq!(found.time, at("2024-05-26 21:30:00"));
    assert_eq!(
        (found.source, found.zone, found.offset),
        (DateSource::Mvhd, ZoneSource::FileOffset, Some(zone(10)))
    );
}

#[test]
fn sonys_xml_creation_date_gives_its_offset() {
    let xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
        <NonRealTimeMeta xmlns=\"urn:schemas-professionalDisc:nonRealTimeMeta:ver.2.20\">\n\
        <CreationDate value=\"2024-05-26T04:30:00-07:00\"/>\n</NonRealTimeMeta>\n";
    let handler = full_box(b"hdlr", 0, b"\0\0\0\0nrtm\0\0\0\0\0\0\0\0\0\0\0\0\0");
    let meta = full_box(b"meta", 0, &[handler, bx(b"xml ", xml.as_bytes())].concat());
    let video = [shot_video(&[]), meta].concat();
    let found = paris().resolve(&video, "C0001.MP4", None).unwrap();
    assert_eq!(found.time, at("2024-05-26 04:30:00"));
    assert_eq!(
        (found.zone, found.offset),
        (ZoneSource::FileOffset, Some(zone(-7)))
    );
}

#[test]
fn the_user_media_time_zone_entry_gives_its_offset() {
    // MTDT: one entry of 12 bytes, tag 0x0b, language 0x15c7, encoding 0, +540 minutes.
    let mut mtdt = 1u16.to_be_bytes().to_vec();
    mtdt.extend(12u16.to_be_bytes());
    mtdt.extend(0x0bu32.to_be_bytes());
    mtdt.extend(0x15c7u16.to_be_bytes());
    mtdt.extend(0u16.to_be_bytes());
    mtdt.extend(540i16.to_be_bytes());
    let usmt = bx(
        b"uuid",
        &[
            b"USMT\x21\xd2\x4f\xce\xbb\x88\x69\x5c\xfa\xc9\xc7\x40".to_vec(),
            bx(b"MTDT", &mtdt),
        ]
        .concat(),
    );
    let found = paris()
        .resolve(&shot_video(&[usmt]), "MAH00001.MP4", None)
        .unwrap();
    assert_eq!(found.time, at("2024-05-26 20:30:00"));
    assert_eq!(
        (found.zone, found.offset),
        (ZoneSource::FileOffset, Some(zone(9)))
    );
}

#[test]
fn offsets_in_maker_fields_are_read_strictly() {
    for (text, minutes) in [("+0900", Some(540)), ("+09:00", Some(540)), ("-0430", Some(-270))] {
        let keys = quicktime_keys(&[("com.samsung.android.utc_offset", text)]);
        let found = paris().resolve(&shot_video(&[keys]), "v.mp4", None).unwrap();
        assert_eq!(
            found.offset,
            minutes.map(|m| FixedOffset::east_opt(m * 60).unwrap()),
            "{text}"
        );
    }
    for bad in ["0900", "+9", "+09:60", "+ab:cd", ""] {
        let keys = quicktime_keys(&[("com.samsung.android.utc_offset", bad)]);
        let found = paris().resolve(&shot_video(&[keys]), "v.mp4", None).unwrap();
        assert_eq!(found.zone, ZoneSource::Computer, "{bad:?}");
    }
}

#[test]
fn apples_live_photo_identifier_is_read_from_the_photo_and_its_video() {
    let id = "8A5B4E5C-1F3D-4A7B-9C2E-0123456789AB";
    let photo = heic(
        &tiff_with_maker_note(
            &[(DATE_TIME_ORIGINAL, "2024:05:26 10:00:00")],
            &apple_maker_note(id),
        ),
        8,
    );
    let keys = quicktime_keys(&[("com.apple.quicktime.content.identifier", id)]);
    let video = shot_video(&[keys]);
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in [("IMG_1.HEIC", &photo), ("IMG_2.MOV", &video)] {
        std::fs::write(dir.path().join(name), bytes).unwrap();
        assert_eq!(
            content_identifier(&dir.path().join(name)).as_deref(),
            Some(id),
            "{name}"
        );
    }
    // The photo is still dated by its EXIF.
    let found = paris().resolve(&photo, "IMG_1.HEIC", None).unwrap();
    assert_eq!(found.time, at("2024-05-26 10:00:00"));
    // Another maker's note, or none: no identifier.
    let other = heic(
        &tiff_with_maker_note(
            &[(DATE_TIME_ORIGINAL, "2024:05:26 10:00:00")],
            b"Nikon\0\x02\x10\0\0MM",
        ),
        8,
    );
    std::fs::write(dir.path().join("other.HEIC"), other).unwrap();
    assert_eq!(content_identifier(&dir.path().join("other.HEIC")), None);
    std::fs::write(dir.path().join("plain.mp4"), shot_video(&[])).unwrap();
    assert_eq!(content_identifier(&dir.path().join("plain.mp4")), None);
}
