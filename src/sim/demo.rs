//! The phones behind `mtpull --demo` and the hidden `--sim PROFILE`.
//!
//! - [`phone`]: the demo phone, made to look like one: a few hundred camera
//!   photos with real pixels over two years, videos up to ~200 MB,
//!   screenshots, WhatsApp images, a trashed photo, documents. Every byte is
//!   made when it is read (nothing is stored, in git or in memory), and
//!   reads are paced like a USB 2 phone so that progress can be watched.
//! - [`device_with`]: a small sample tree (39 files of a few hundred bytes)
//!   for tests of every profile: camera photos whose EXIF dates differ, a
//!   video, screenshots, messenger images without EXIF, an edited picture
//!   and a couple of documents.
//! - [`device_serving`]: a device of any profile whose storage is a folder on
//!   disk, written through (deletions and uploads change the folder), so that
//!   what the phone holds outlives the process that talked to it.

use std::io::{self, Read};
use std::sync::Arc;
use std::time::{Duration as Elapsed, Instant};

use chrono::{Duration, NaiveDate, NaiveDateTime};

use super::media::{self, ExifTags, Photo};
use super::{
    Content, DeviceIdentity, Profile, SimConfig, SimDevice, StorageSpec, Synthesize, generated_bytes,
};

/// The demo phone's name for its one storage.
pub const STORAGE_DESCRIPTION: &str = "Internal shared storage";

/// Who the demo phone says it is (vendor 0x1209 is pid.codes' open-source id).
pub fn identity() -> DeviceIdentity {
    DeviceIdentity {
        manufacturer: "mtpull".into(),
        model: "Demo Phone".into(),
        device_version: "1.0".into(),
        serial: "DEMO0001".into(),
        usb_serial: None,
        vendor_id: 0x1209,
        product_id: 0x4D54,
        bus: 1,
        port: 4,
    }
}

/// The sample phone, following Android's rules.
pub fn device() -> SimDevice {
    device_with(Profile::Android)
}

/// The sample tree on a device of any profile (for trying each profile's
/// behaviour with the same files; the locked one starts locked).
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
    furnish(&phone, storage, files());
    phone
}

/// A device of `profile` (with the demo phone's identity) whose one storage
/// serves the folder `root`, writable: a phone whose deletions and uploads
/// survive the process, for the campaign's killed runs.
pub fn device_serving(profile: Profile, root: &std::path::Path) -> Result<SimDevice, super::SimError> {
    let phone = SimConfig::new(profile).identity(identity()).build();
    let spec = StorageSpec::new(STORAGE_DESCRIPTION).capacity(64_000_000_000);
    phone.serve_folder(spec, root, true)?;
    Ok(phone)
}

/// Puts `files` on `storage`, and the empty folders every Android phone has.
fn furnish(phone: &SimDevice, storage: u32, files: Vec<(String, Content, NaiveDateTime)>) {
    // The paths are fixed and valid: a failure here is a bug in these lists.
    for (path, content, mtime) in files {
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
    files.extend(documents());
    files
}

/// The two files on every demo phone that are no photo or video: `backup` leaves
/// them unless `--only all`.
fn documents() -> [(String, Content, NaiveDateTime); 2] {
    [
        (
            "Documents/notes.txt".into(),
            Content::from("Shopping list\n- coffee\n- batteries\n"),
            at(2024, 2, 3, 18, 5, 0),
        ),
        (
            "Download/boarding-pass.pdf".into(),
            Content::from("%PDF-1.4\n% mtpull demo: not a real boarding pass\n%%EOF\n"),
            at(2024, 5, 20, 6, 45, 0),
        ),
    ]
}

/// How fast the demo phone hands out file bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// Like a phone on USB 2 (high speed): [`USB2_BYTES_PER_SECOND`].
    Usb2,
    /// As fast as the computer makes them (tests).
    Off,
}

/// What a phone on a USB 2 port delivers in practice (MTP over high speed
/// moves 30–40 MB/s).
pub const USB2_BYTES_PER_SECOND: u64 = 35_000_000;

/// The camera's pictures: 4:3, 2 megapixels, small enough to encode on the
/// fly at USB 2 pace (the file size, 2–5 MB, is reached with data after the
/// image, as motion photos carry).
const PHOTO_SIZE: (u16, u16) = (1600, 1200);
/// WhatsApp recompresses to about 1600 pixels on the long side.
const MESSENGER_SIZE: (u16, u16) = (1280, 960);

/// The demo phone: Android, paced as `pace` says.
pub fn phone(pace: Pace) -> SimDevice {
    let phone = SimConfig::new(Profile::Android)
        .identity(identity())
        .latency(match pace {
            // A phone takes a millisecond or two to answer any request.
            Pace::Usb2 => Elapsed::from_millis(1),
            Pace::Off => Elapsed::ZERO,
        })
        .build();
    let storage = phone.add_storage(StorageSpec::new(STORAGE_DESCRIPTION).capacity(128_000_000_000));
    furnish(&phone, storage, phone_files(pace));
    phone
}

/// A number from 0 to `n - 1` that `seed` and `salt` pick, always the same.
fn pick(seed: u64, salt: u64, n: u64) -> u64 {
    let x = (seed ^ salt.wrapping_mul(0xA24B_AED4_963E_E407)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (x ^ (x >> 29)) % n.max(1)
}

/// When the camera photos were taken: outings of 1–12 shots on ~70 days
/// over two years, at daytime hours, a few seconds to minutes apart.
pub fn photo_times() -> Vec<NaiveDateTime> {
    let mut times = Vec::new();
    let mut day = at(2023, 1, 7, 0, 0, 0);
    for outing in 0..72u64 {
        day += Duration::days(3 + pick(outing, 1, 14) as i64);
        let mut shot = day
            + Duration::hours(8 + pick(outing, 2, 12) as i64)
            + Duration::minutes(pick(outing, 3, 60) as i64);
        for n in 0..1 + pick(outing, 4, 12) {
            shot += Duration::seconds(2 + pick(outing * 31 + n, 5, 400) as i64);
            times.push(shot);
        }
    }
    times
}

/// Every file of the demo phone: (path, content, mtime on the phone).
fn phone_files(pace: Pace) -> Vec<(String, Content, NaiveDateTime)> {
    let mut files = Vec::new();
    let camera = |taken| {
        Some(ExifTags {
            make: "mtpull".into(),
            model: "Demo Phone".into(),
            taken,
        })
    };
    let restored = at(2024, 9, 1, 20, 0, 0);
    for (i, taken) in photo_times().into_iter().enumerate() {
        let seed = i as u64;
        let (width, height) = PHOTO_SIZE;
        let photo = Photo {
            tags: camera(taken),
            seed,
            width,
            height,
        };
        let size = 2_000_000 + pick(seed, 6, 3_000_000);
        // A restore from a cloud backup re-dated some files: wrong mtime, right EXIF.
        let mtime = if i % 23 == 5 {
            restored
        } else {
            taken + Duration::seconds(1)
        };
        let name = format!("DCIM/Camera/IMG_{}.jpg", taken.format("%Y%m%d_%H%M%S"));
        files.push((name, synthetic(PhotoFile { photo, size, pace }), mtime));
    }
    // Android 11+ keeps a deleted photo 30 days under this name.
    let trashed = Photo {
        tags: camera(at(2024, 8, 30, 18, 5, 0)),
        seed: 9_999,
        width: PHOTO_SIZE.0,
        height: PHOTO_SIZE.1,
    };
    files.push((
        "DCIM/Camera/.trashed-1727715900-IMG_20240830_180500.jpg".into(),
        synthetic(PhotoFile {
            photo: trashed,
            size: 2_400_000,
            pace,
        }),
        at(2024, 8, 31, 9, 0, 0),
    ));
    // Phones store a video's creation time in UTC; this phone is at UTC+2.
    for (i, (local, size)) in [
        (at(2023, 7, 14, 19, 2, 11), 201_326_592),
        (at(2023, 12, 24, 19, 45, 0), 48_234_496),
        (at(2024, 5, 26, 10, 16, 30), 21_495_808),
        (at(2024, 8, 3, 16, 40, 2), 9_437_184),
    ]
    .into_iter()
    .enumerate()
    {
        let video = VideoFile {
            created_utc: local - Duration::hours(2),
            size,
            seed: 50_000 + i as u64,
            pace,
        };
        let name = format!("DCIM/Camera/VID_{}.mp4", local.format("%Y%m%d_%H%M%S"));
        files.push((name, synthetic(video), local + Duration::seconds(5)));
    }
    for i in 0..12u64 {
        let shot = at(2023, 2, 1, 9, 0, 0)
            + Duration::days((i * 53 + pick(i, 7, 20)) as i64)
            + Duration::minutes(pick(i, 8, 600) as i64);
        files.push((
            format!(
                "Pictures/Screenshots/Screenshot_{}.png",
                shot.format("%Y%m%d-%H%M%S")
            ),
            Content::from(media::png(108, 234, 40 + (i * 17 % 200) as u8)),
            shot,
        ));
    }
    // WhatsApp strips EXIF; the name carries the date, the mtime is when the
    // phone saved it.
    for i in 0..40u64 {
        let sent = at(2023, 3, 1, 0, 0, 0) + Duration::days((i * 17 + pick(i, 9, 9)) as i64);
        let saved = sent + Duration::hours(7 + pick(i, 10, 12) as i64);
        let photo = Photo {
            tags: None,
            seed: 20_000 + i,
            width: MESSENGER_SIZE.0,
            height: MESSENGER_SIZE.1,
        };
        let name = format!(
            "Android/media/com.whatsapp/WhatsApp/Media/WhatsApp Images/IMG-{}-WA{:04}.jpg",
            sent.format("%Y%m%d"),
            pick(i, 11, 30)
        );
        let size = 180_000 + pick(i, 12, 250_000);
        files.push((name, synthetic(PhotoFile { photo, size, pace }), saved));
    }
    files.extend(documents());
    files
}

fn synthetic(made: impl Synthesize + 'static) -> Content {
    Content::Synthetic(Arc::new(made))
}

/// A JPEG of `size` bytes: the photo, then opaque data after its
/// end-of-image marker (where motion photos keep their clip) up to `size`.
struct PhotoFile {
    photo: Photo,
    size: u64,
    pace: Pace,
}

impl Synthesize for PhotoFile {
    fn len(&self) -> u64 {
        self.size
    }

    fn reader_at(&self, offset: u64) -> Box<dyn Read + Send> {
        let reader = LazyPhoto {
            photo: self.photo.clone(),
            head: self.photo.head(),
            jpeg: None,
            size: self.size,
            position: offset,
        };
        paced(reader, self.pace)
    }

    fn thumbnail(&self) -> Option<Vec<u8>> {
        // Android serves the EXIF thumbnail; a picture without EXIF has none.
        self.photo.tags.is_some().then(|| self.photo.thumbnail())
    }
}

/// Reads a [`PhotoFile`]: the head is cheap; the picture is encoded only
/// when a read goes past it (once per reader).
struct LazyPhoto {
    photo: Photo,
    head: Vec<u8>,
    jpeg: Option<Vec<u8>>,
    size: u64,
    position: u64,
}

impl Read for LazyPhoto {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.size.saturating_sub(self.position);
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        if want == 0 {
            return Ok(0);
        }
        let at = self.position as usize;
        let bytes: &[u8] = if at < self.head.len() {
            &self.head[at..]
        } else {
            let photo = &self.photo;
            let jpeg = self.jpeg.get_or_insert_with(|| photo.jpeg());
            jpeg.get(at..).unwrap_or_default()
        };
        let n = if bytes.is_empty() {
            let past = self.position - self.jpeg.as_ref().map_or(0, |j| j.len() as u64);
            generated_bytes(self.photo.seed, past, &mut buf[..want]);
            want
        } else {
            let n = want.min(bytes.len());
            buf[..n].copy_from_slice(&bytes[..n]);
            n
        };
        self.position += n as u64;
        Ok(n)
    }
}

/// An MP4 of `size` bytes: `ftyp`, `moov` with the creation time, and an
/// `mdat` of opaque data (no frames: a browser will not play it).
struct VideoFile {
    created_utc: NaiveDateTime,
    size: u64,
    seed: u64,
    pace: Pace,
}

impl VideoFile {
    fn head(&self) -> Vec<u8> {
        let mut head = media::mp4(self.created_utc, 60_000);
        // Replace the sample's small mdat with a header for the whole rest.
        let mdat = head
            .windows(4)
            .rposition(|w| w == b"mdat")
            .map_or(head.len(), |at| at - 4);
        head.truncate(mdat);
        let rest = self.size - head.len() as u64;
        head.extend((rest as u32).to_be_bytes());
        head.extend(b"mdat");
        head
    }
}

impl Synthesize for VideoFile {
    fn len(&self) -> u64 {
        self.size
    }

    fn reader_at(&self, offset: u64) -> Box<dyn Read + Send> {
        let head = self.head();
        let reader = HeadThenGenerated {
            head,
            seed: self.seed,
            size: self.size,
            position: offset,
        };
        paced(reader, self.pace)
    }
}

/// A fixed head, then generated bytes up to `size`.
struct HeadThenGenerated {
    head: Vec<u8>,
    seed: u64,
    size: u64,
    position: u64,
}

impl Read for HeadThenGenerated {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.size.saturating_sub(self.position);
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let at = self.position as usize;
        let n = match self.head.get(at..).filter(|rest| !rest.is_empty()) {
            Some(rest) => {
                let n = want.min(rest.len());
                buf[..n].copy_from_slice(&rest[..n]);
                n
            }
            None => {
                generated_bytes(self.seed, self.position, &mut buf[..want]);
                want
            }
        };
        self.position += n as u64;
        Ok(n)
    }
}

fn paced(reader: impl Read + Send + 'static, pace: Pace) -> Box<dyn Read + Send> {
    match pace {
        Pace::Off => Box::new(reader),
        Pace::Usb2 => Box::new(Paced {
            inner: reader,
            started: Instant::now(),
            delivered: 0,
        }),
    }
}

/// Holds a reader to [`USB2_BYTES_PER_SECOND`].
struct Paced<R> {
    inner: R,
    started: Instant,
    delivered: u64,
}

impl<R: Read> Read for Paced<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.delivered += n as u64;
        let due = Elapsed::from_secs_f64(self.delivered as f64 / USB2_BYTES_PER_SECOND as f64);
        let ahead = due.saturating_sub(self.started.elapsed());
        if ahead > Elapsed::from_millis(2) {
            std::thread::sleep(ahead);
        }
        Ok(n)
    }
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

    fn read_all(content: &Content, offset: u64, len: usize) -> Vec<u8> {
        let mut out = vec![0; len];
        content.reader_at(offset).unwrap().read_exact(&mut out).unwrap();
        out
    }

    #[test]
    fn the_demo_phone_looks_like_a_phone() {
        let phone = phone(Pace::Off);
        let storage = phone.storage_ids()[0];
        let paths = phone.paths(storage);
        let count = |prefix: &str, suffix: &str| {
            paths
                .iter()
                .filter(|p| p.starts_with(prefix) && p.ends_with(suffix))
                .count()
        };
        assert!(
            count("DCIM/Camera/IMG_", ".jpg") >= 300,
            "{} photos",
            count("DCIM/Camera/IMG_", ".jpg")
        );
        assert_eq!(count("DCIM/Camera/VID_", ".mp4"), 4);
        assert_eq!(count("DCIM/Camera/.trashed-", ".jpg"), 1);
        assert!(count("Pictures/Screenshots/", ".png") >= 10);
        assert!(
            count(
                "Android/media/com.whatsapp/WhatsApp/Media/WhatsApp Images/",
                ".jpg"
            ) >= 30
        );
        let mut largest_video = 0;
        for path in &paths {
            let Some(content) = phone.content(storage, path) else {
                continue;
            };
            if path.starts_with("DCIM/Camera/IMG_") {
                assert!(
                    (2_000_000..=5_000_000).contains(&content.len()),
                    "{path}: {}",
                    content.len()
                );
            }
            if path.ends_with(".mp4") {
                largest_video = largest_video.max(content.len());
            }
        }
        assert!(largest_video >= 200_000_000, "{largest_video}");
    }

    #[test]
    fn a_demo_photo_is_a_real_jpeg_with_its_date_and_thumbnail() {
        let phone = phone(Pace::Off);
        let storage = phone.storage_ids()[0];
        let taken = photo_times()[7];
        let name = format!("DCIM/Camera/IMG_{}.jpg", taken.format("%Y%m%d_%H%M%S"));
        let content = phone.content(storage, &name).unwrap();
        let bytes = read_all(&content, 0, content.len() as usize);
        let exif = exif::Reader::new()
            .read_from_container(&mut std::io::Cursor::new(&bytes[..]))
            .unwrap();
        let original = exif
            .get_field(exif::Tag::DateTimeOriginal, exif::In::PRIMARY)
            .unwrap();
        assert_eq!(
            original.display_value().to_string(),
            taken.format("%Y-%m-%d %H:%M:%S").to_string()
        );
        let mut decoder = jpeg_decoder::Decoder::new(&bytes[..]);
        decoder.decode().unwrap();
        let info = decoder.info().unwrap();
        assert_eq!((info.width, info.height), PHOTO_SIZE);
        // GetThumb serves the EXIF thumbnail.
        let thumb = content.thumbnail().unwrap();
        let offset = exif
            .get_field(exif::Tag::JPEGInterchangeFormat, exif::In::THUMBNAIL)
            .and_then(|f| f.value.get_uint(0))
            .unwrap() as usize;
        assert!(
            exif.buf()[offset..].starts_with(&thumb),
            "the served thumbnail is the one in the file"
        );
        // Any range reads the same bytes as the whole.
        assert_eq!(read_all(&content, 100, 50), bytes[100..150]);
        let late = bytes.len() - 5000;
        assert_eq!(read_all(&content, late as u64, 4000), bytes[late..late + 4000]);
    }

    #[test]
    fn the_demo_phone_is_deterministic_and_paced_like_usb_2() {
        let (a, b) = (phone(Pace::Off), phone(Pace::Usb2));
        let storage = a.storage_ids()[0];
        assert_eq!(a.paths(storage), b.paths(storage));
        let video = "DCIM/Camera/VID_20230714_190211.mp4";
        let (x, y) = (
            a.content(storage, video).unwrap(),
            b.content(storage, video).unwrap(),
        );
        assert_eq!(x.len(), y.len());
        let started = Instant::now();
        let chunk = 3_500_000;
        assert_eq!(read_all(&x, 1 << 20, chunk), read_all(&y, 1 << 20, chunk));
        // 3.5 MB at 35 MB/s takes at least a tenth of a second.
        assert!(
            started.elapsed() >= Elapsed::from_millis(90),
            "{:?}",
            started.elapsed()
        );
        let head = read_all(&x, 0, 64);
        assert_eq!(&head[4..8], b"ftyp");
    }
}
