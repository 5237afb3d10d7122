//! A simulated phone with known photos and videos, and ways to run a backup
//! against it and look at what landed in DEST.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use chrono::{NaiveDate, NaiveDateTime};
use mtpull::pull::{
    BackupOptions, Event, FileOutcome, Listing, Manifest, RunReport, Selection, backup, list_files,
};
use mtpull::session::Session;
use mtpull::sim::media::{self, ExifTags};
use mtpull::sim::{Content, Profile, SimDevice, StorageSpec};

use crate::util;

pub const STORAGE: &str = "Internal shared storage";

pub fn at(year: i32, month: u32, day: u32, hour: u32, minute: u32, second: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(year, month, day)
        .unwrap()
        .and_hms_opt(hour, minute, second)
        .unwrap()
}

pub fn photo(taken: NaiveDateTime, shade: u8) -> Vec<u8> {
    let exif = ExifTags {
        make: "mtpull".into(),
        model: "Test Phone".into(),
        taken,
    };
    media::jpeg(Some(&exif), shade)
}

/// A phone file: where it is, what it holds, where the backup must file it.
pub struct Sample {
    pub path: &'static str,
    pub bytes: Vec<u8>,
    pub mtime: NaiveDateTime,
    pub expected_dest: &'static str,
}

/// Photos dated by EXIF (the phone's mtime says otherwise), a video dated by
/// its mvhd (noon UTC: the same day in any zone within ±11 h), a screenshot
/// dated by its name, a large file in pieces, and a document that is not media.
pub fn samples() -> Vec<Sample> {
    let restored = at(2024, 6, 1, 20, 0, 0);
    vec![
        Sample {
            path: "DCIM/Camera/IMG_A.jpg",
            bytes: photo(at(2023, 3, 4, 8, 0, 0), 40),
            mtime: restored,
            expected_dest: "2023/03/04/IMG_A.jpg",
        },
        Sample {
            path: "DCIM/Camera/IMG_B.jpg",
            bytes: photo(at(2023, 12, 24, 19, 42, 10), 90),
            mtime: restored,
            expected_dest: "2023/12/24/IMG_B.jpg",
        },
        Sample {
            path: "DCIM/Camera/clip.mp4",
            bytes: media::mp4(at(2023, 7, 14, 12, 0, 0), 1500),
            mtime: restored,
            expected_dest: "2023/07/14/clip.mp4",
        },
        Sample {
            path: "Pictures/Screenshots/Screenshot_20240102-101500.png",
            bytes: media::png(16, 16, 7),
            mtime: restored,
            expected_dest: "2024/01/02/Screenshot_20240102-101500.png",
        },
        Sample {
            // No EXIF, no date in the name: the phone's date files it.
            path: "DCIM/Camera/edited.jpg",
            bytes: [media::jpeg(None, 5), vec![0x5A; 300_000]].concat(),
            mtime: at(2022, 8, 9, 10, 11, 12),
            expected_dest: "2022/08/09/edited.jpg",
        },
    ]
}

/// A phone of `profile` with one empty storage (its id returned).
pub fn empty_phone(profile: Profile) -> (SimDevice, u32) {
    let phone = SimDevice::new(profile);
    let storage = phone.add_storage(StorageSpec::new(STORAGE));
    (phone, storage)
}

/// A session on `phone` and every file it lists, as the commands list it.
pub fn listed(phone: &SimDevice) -> (Session, Listing) {
    let mut session = Session::open(Box::new(phone.connect())).unwrap();
    let listing = list_files(
        &mut session,
        &Selection::new(),
        Duration::ZERO,
        &AtomicBool::new(false),
        |_| {},
    )
    .unwrap();
    (session, listing)
}

/// A phone of `profile` holding [`samples`] plus a text file (not media).
pub fn phone(profile: Profile) -> (SimDevice, u32) {
    let (phone, storage) = empty_phone(profile);
    for sample in samples() {
        phone
            .add_file(storage, sample.path, sample.bytes, sample.mtime)
            .unwrap();
    }
    phone
        .add_file(
            storage,
            "Documents/notes.txt",
            "not a photo",
            at(2024, 1, 1, 9, 0, 0),
        )
        .unwrap();
    (phone, storage)
}

/// A phone of `profile` (see [`phone`]) backed up once, successfully, into a
/// new DEST.
pub fn backed_up(profile: Profile) -> (SimDevice, u32, tempfile::TempDir) {
    let (phone, storage) = phone(profile);
    let dest = tempfile::tempdir().unwrap();
    let (report, seen) = run_backup(&phone, dest.path(), &BackupOptions::default());
    assert!(report.succeeded(), "{:?} {seen:?}", report.stopped);
    (phone, storage, dest)
}

/// Every file one run reported, by device path.
#[derive(Debug, Default)]
pub struct Seen {
    pub outcomes: BTreeMap<String, FileOutcome>,
    pub would_copy: BTreeMap<String, String>,
    pub deleted: Vec<String>,
}

/// Plugs in, runs one backup, unplugs.
pub fn run_backup(phone: &SimDevice, dest: &Path, options: &BackupOptions) -> (RunReport, Seen) {
    run_backup_with(phone, dest, options, &AtomicBool::new(false), |_| {})
}

/// [`run_backup`] with a cancel flag and a look at every event.
pub fn run_backup_with(
    phone: &SimDevice,
    dest: &Path,
    options: &BackupOptions,
    cancel: &AtomicBool,
    mut also: impl FnMut(&Event<'_>),
) -> (RunReport, Seen) {
    let mut session = Session::open(Box::new(phone.connect())).expect("session opens");
    let mut seen = Seen::default();
    let report = backup(&mut session, dest, options, cancel, &mut |event: &Event<'_>| {
        match event {
            Event::Finished { file, outcome } => {
                seen.outcomes.insert(file.path.clone(), (*outcome).clone());
            }
            Event::WouldCopy { file, entry } => {
                seen.would_copy
                    .insert(file.path.clone(), entry.dest.to_string_lossy().into_owned());
            }
            Event::Deleted { file, error: None } => seen.deleted.push(file.path.clone()),
            _ => {}
        }
        also(event);
    });
    phone.unplug();
    (report, seen)
}

/// Every file under DEST but mtpull's own state, with its bytes.
pub fn tree(dest: &Path) -> BTreeMap<String, Vec<u8>> {
    util::tree(dest).into_iter().collect()
}

/// Every file on the phone (not folders), with its content.
pub fn phone_files(phone: &SimDevice, storage: u32) -> BTreeMap<String, Content> {
    phone
        .paths(storage)
        .into_iter()
        .filter(|path| !path.ends_with('/'))
        .map(|path| {
            let content = phone.content(storage, &path).unwrap();
            (path, content)
        })
        .collect()
}

/// The invariants that hold after any run, finished or cut: every file under
/// a final name is exactly some phone file (no half files), none twice, and
/// every manifest record points at a file holding its bytes.
pub fn assert_consistent(phone: &SimDevice, storage: u32, dest: &Path) {
    assert_consistent_with(&phone_files(phone, storage), &phone.identity().serial, dest);
}

/// [`assert_consistent`] against the phone's files as they were (before `--delete-after`).
pub fn assert_consistent_with(files: &BTreeMap<String, Content>, serial: &str, dest: &Path) {
    let mut matched = BTreeMap::new();
    for (name, bytes) in tree(dest) {
        let source = files
            .iter()
            .find(|(_, content)| content.len() == bytes.len() as u64 && content.matches(&bytes[..]).unwrap())
            .map(|(path, _)| path.clone());
        let source =
            source.unwrap_or_else(|| panic!("{name} ({} bytes) is no phone file: a half file?", bytes.len()));
        if let Some(earlier) = matched.insert(source.clone(), name.clone()) {
            panic!("{source} is in DEST twice: {earlier} and {name}");
        }
    }
    if let Some(manifest) = Manifest::open_read_only(dest).unwrap() {
        for key in manifest.keys_for(serial).unwrap() {
            let record = manifest.lookup(&key).unwrap().unwrap();
            let on_disk = fs::read(dest.join(&record.dest)).unwrap_or_else(|_| {
                panic!(
                    "the manifest records {} at {}, which is missing",
                    key.path, record.dest
                )
            });
            assert!(
                files[&key.path].matches(&on_disk[..]).unwrap(),
                "{} recorded with other bytes",
                key.path
            );
        }
    }
}

/// After a complete backup: every media file on the phone is in DEST, byte-identical.
pub fn assert_all_backed_up(phone: &SimDevice, storage: u32, dest: &Path) {
    assert_consistent(phone, storage, dest);
    let in_dest = tree(dest);
    for (path, content) in phone_files(phone, storage) {
        if path.ends_with(".txt") {
            continue;
        }
        let found = in_dest.values().any(|bytes| content.matches(&bytes[..]).unwrap());
        assert!(found, "{path} is not in the backup");
    }
}
