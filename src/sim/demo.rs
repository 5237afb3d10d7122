//! The sample phone behind `mtpull --demo`: a small, deterministic tree of
//! what a real phone holds — camera photos whose EXIF dates differ, a video,
//! screenshots, messenger images without EXIF, an edited picture and a couple
//! of documents.

use chrono::{Duration, NaiveDate, NaiveDateTime};

use super::media::{self, ExifTags};
use super::{Content, DeviceIdentity, Profile, SimConfig, SimDevice, StorageSpec};

/// The demo phone's name for its one storage.
pub const STORAGE_DESCRIPTION: &str = "Internal shared storage";

/// Who the demo phone says it is (vendor 0x1209 is pid.codes' open-source id).
pub fn identity() -> DeviceIdentity {
    DeviceIdentity {
        manufacturer: "mtpull".into(),
        model: "Demo Phone".into(),
        device_version: "1.0".into(),
        serial: "DEMO0001".into(),
        vendor_id: 0x1209,
        product_id: 0x4D54,
        bus: 1,
        port: 4,
    }
}

/// The demo phone, following Android's rules.
pub fn device() -> SimDevice {
    device_with(Profile::Android)
}

/// The demo phone's tree on a device of any profile (for trying each
/// profile's behaviour with the same files; the locked one starts locked).
pub fn device_with(profile: Profile) -> SimDevice {
    let phone = SimConfig::new(profile).identity(identity()).build();
    let storage = phone.add_storage(StorageSpec::new(STORAGE_DESCRIPTION).capacity(64_000_000_000));
    if profile == Profile::IPhone {
        for (path, content, mtime) in iphone_files() {
            if let Err(e) = phone.add_file(storage, &path, content, mtime) {
                unreachable!("demo file {path}: {e}");
            }
        }
        return phone;
    }
    for (path, content, mtime) in files() {
        // The paths are fixed and valid: a failure here is a bug in this list.
        if let Err(e) = phone.add_file(storage, &path, content, mtime) {
            unreachable!("demo file {path}: {e}");
        }
    }
    for folder in [
        "Alarms",
        "Music",
        "Movies",
        "Podcasts",
        "Ringtones",
        "Notifications",
    ] {
        if let Err(e) = phone.add_folder(storage, folder, at(2023, 1, 15, 9, 0, 0)) {
            unreachable!("demo folder {folder}: {e}");
        }
    }
    phone
}

fn at(year: i32, month: u32, day: u32, hour: u32, minute: u32, second: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(year, month, day)
        .and_then(|d| d.and_hms_opt(hour, minute, second))
        .unwrap_or_default()
}

fn camera(taken: NaiveDateTime) -> ExifTags {
    ExifTags {
        make: "mtpull".into(),
        model: "Demo Phone".into(),
        taken,
    }
}

/// When the demo photos were taken: spread over a year, on irregular days
/// and hours, with a burst of three on one evening.
pub fn camera_times() -> Vec<NaiveDateTime> {
    let start = at(2023, 3, 4, 8, 0, 0);
    let mut times: Vec<NaiveDateTime> = (0..27i64)
        .map(|i| {
            start
                + Duration::days(i * 13 + (i * i) % 5)
                + Duration::hours((i * 5) % 13)
                + Duration::minutes((i * 17) % 60)
                + Duration::seconds((i * 23) % 60)
        })
        .collect();
    let burst = at(2023, 12, 24, 19, 42, 10);
    times.extend((0..3).map(|i| burst + Duration::seconds(i * 2)));
    times
}

/// An iPhone's camera roll as its MTP view shows it: DCIM/1xxAPPLE folders,
/// photos as HEIC (their bytes here are a JPEG with EXIF: the simulator
/// makes no HEIF container), an edited photo's AAE sidecar beside it, and a
/// MOV video.
fn iphone_files() -> Vec<(String, Content, NaiveDateTime)> {
    let first = at(2024, 7, 2, 9, 41, 0);
    let second = at(2024, 7, 3, 18, 5, 30);
    let third = at(2024, 8, 1, 12, 0, 0);
    let sidecar = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<plist version=\"1.0\"><dict>\
                   <key>adjustmentFormatIdentifier</key><string>com.apple.photo</string></dict></plist>\n";
    vec![
        (
            "DCIM/100APPLE/IMG_0001.HEIC".into(),
            Content::from(media::jpeg(Some(&camera(first)), 90)),
            first,
        ),
        ("DCIM/100APPLE/IMG_0001.AAE".into(), Content::from(sidecar), first),
        (
            // QuickTime keeps its creation time in UTC; this phone is at UTC+2.
            "DCIM/100APPLE/IMG_0002.MOV".into(),
            Content::from(media::mp4(second - Duration::hours(2), 3000)),
            second,
        ),
        (
            "DCIM/101APPLE/IMG_0003.HEIC".into(),
            Content::from(media::jpeg(Some(&camera(third)), 150)),
            third,
        ),
    ]
}

/// Every file of the demo tree: (path, content, mtime on the phone).
fn files() -> Vec<(String, Content, NaiveDateTime)> {
    let mut files = Vec::new();
    // A restore from a cloud backup re-dated some files on the phone: their
    // mtime is wrong, their EXIF date right.
    let restored = at(2024, 6, 1, 20, 0, 0);
    for (i, taken) in camera_times().into_iter().enumerate() {
        let name = format!("DCIM/Camera/IMG_{}.jpg", taken.format("%Y%m%d_%H%M%S"));
        let mtime = if i % 7 == 3 {
            restored
        } else {
            taken + Duration::seconds(1)
        };
        let shade = (40 + i * 6) as u8;
        files.push((
            name,
            Content::from(media::jpeg(Some(&camera(taken)), shade)),
            mtime,
        ));
    }
    let pixel = at(2024, 5, 26, 10, 15, 0);
    files.push((
        "DCIM/Camera/PXL_20240526_101500123.jpg".into(),
        Content::from(media::jpeg(Some(&camera(pixel)), 222)),
        pixel + Duration::seconds(1),
    ));
    // Phones store the video's creation time in UTC; this phone is at UTC+2.
    files.push((
        "DCIM/Camera/VID_20240526_101630.mp4".into(),
        Content::from(media::mp4(at(2024, 5, 26, 8, 16, 30), 4000)),
        at(2024, 5, 26, 10, 16, 35),
    ));
    for (i, shot) in [
        at(2024, 3, 12, 10, 15, 0),
        at(2024, 4, 1, 21, 30, 5),
        at(2024, 7, 15, 8, 0, 0),
    ]
    .into_iter()
    .enumerate()
    {
        files.push((
            format!(
                "Pictures/Screenshots/Screenshot_{}.png",
                shot.format("%Y%m%d-%H%M%S")
            ),
            Content::from(media::png(9, 16, 60 + 70 * i as u8)),
            shot,
        ));
    }
    // WhatsApp strips EXIF; the name carries the date, the mtime is when
    // the phone saved it.
    for (i, (name, saved)) in [
        ("IMG-20230704-WA0003.jpg", at(2023, 7, 5, 7, 12, 0)),
        ("IMG-20230704-WA0004.jpg", at(2023, 7, 5, 7, 12, 1)),
        ("IMG-20231225-WA0000.jpg", at(2024, 1, 2, 11, 0, 0)),
    ]
    .into_iter()
    .enumerate()
    {
        files.push((
            format!("Android/media/com.whatsapp/WhatsApp/Media/WhatsApp Images/{name}"),
            Content::from(media::jpeg(None, 100 + 20 * i as u8)),
            saved,
        ));
    }
    files.push((
        "Pictures/Edited/edited_photo.jpg".into(),
        Content::from(media::jpeg(None, 180)),
        at(2024, 4, 20, 14, 0, 0),
    ));
    files.push((
        "Documents/notes.txt".into(),
        Content::from("Shopping list\n- coffee\n- batteries\n"),
        at(2024, 2, 3, 18, 5, 0),
    ));
    files.push((
        "Download/boarding-pass.pdf".into(),
        Content::from("%PDF-1.4\n% mtpull demo: not a real boarding pass\n%%EOF\n"),
        at(2024, 5, 20, 6, 45, 0),
    ));
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_phone_holds_what_the_tour_promises() {
        let phone = device();
        let storage = phone.storage_ids()[0];
        let paths = phone.paths(storage);
        let jpegs = paths.iter().filter(|p| p.ends_with(".jpg")).count();
        assert!(jpegs >= 30, "{jpegs} JPEGs");
        for expected in [
            "DCIM/Camera/PXL_20240526_101500123.jpg",
            "DCIM/Camera/VID_20240526_101630.mp4",
            "Pictures/Screenshots/Screenshot_20240312-101500.png",
            "Android/media/com.whatsapp/WhatsApp/Media/WhatsApp Images/IMG-20230704-WA0003.jpg",
            "Documents/notes.txt",
            "Music/",
        ] {
            assert!(paths.iter().any(|p| p == expected), "{expected} missing");
        }
        assert_eq!(phone.identity().serial, "DEMO0001");
    }

    #[test]
    fn camera_photos_have_distinct_exif_dates_over_months() {
        let times = camera_times();
        let mut unique = times.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), times.len());
        let months: std::collections::BTreeSet<_> =
            times.iter().map(|t| t.format("%Y-%m").to_string()).collect();
        assert!(months.len() >= 8, "{months:?}");
        let phone = device();
        let storage = phone.storage_ids()[0];
        let name = format!("DCIM/Camera/IMG_{}.jpg", times[5].format("%Y%m%d_%H%M%S"));
        let Some(Content::Bytes(bytes)) = phone.content(storage, &name) else {
            panic!("{name} is not an in-memory file");
        };
        let exif = exif::Reader::new()
            .read_from_container(&mut std::io::Cursor::new(&bytes[..]))
            .unwrap();
        let original = exif
            .get_field(exif::Tag::DateTimeOriginal, exif::In::PRIMARY)
            .unwrap();
        assert_eq!(
            original.display_value().to_string(),
            times[5].format("%Y-%m-%d %H:%M:%S").to_string()
        );
    }

    #[test]
    fn the_demo_is_deterministic() {
        let (a, b) = (device(), device());
        let storage = a.storage_ids()[0];
        assert_eq!(a.paths(storage), b.paths(storage));
        for path in a.paths(storage).iter().filter(|p| !p.ends_with('/')) {
            let (Some(Content::Bytes(x)), Some(Content::Bytes(y))) =
                (a.content(storage, path), b.content(storage, path))
            else {
                panic!("{path}");
            };
            assert_eq!(x, y, "{path}");
        }
    }
}
