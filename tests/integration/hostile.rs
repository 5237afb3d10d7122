//! A hostile phone: names no file system should take (`/`, `..`, an absolute path, NUL,
//! control characters, a thousand bytes, two files with one name, mtpull's own state
//! folder), sizes that disagree with the data (more and less), a photo that claims to be
//! a folder or a text file, and dates that move on every read. `backup` (with and
//! without `--delete-after`), the listing and the preview finish, write nothing outside
//! DEST, and lose nothing: every photo whose data arrives whole is backed up once, and
//! nothing leaves the phone that DEST does not hold visibly. A size larger than DEST's
//! free space stops the run before anything is copied, lie or not
//! (`backup::a_plan_larger_than_the_free_space_stops_before_copying`).
//!
//! On the wire (`Fault::garble`): an answer with another transaction's id, a data
//! container whose header says 4 GiB or less than its own 12 bytes, a dataset of
//! garbage (DeviceInfo among them), a data phase longer than its header says, and a
//! folder that lists its own parent (a loop). Each, told on every answer to one
//! operation, ends the run with an error that says what the device did, or is got
//! round; nothing is written outside DEST or deleted from the phone without its copy,
//! the run takes a bounded number of transactions (no loop), and once the device
//! behaves, the next run backs everything up.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::sync::atomic::AtomicBool;

use mtpull::preview;
use mtpull::ptp::{ObjectFormat, OperationCode};
use mtpull::pull::{BackupOptions, FileOutcome, device_serial};
use mtpull::session::Session;
use mtpull::sim::{Content, Fault, Garble, Lie, Profile, SimDevice, StorageSpec};

use mtpull::pull::Manifest;

use crate::backup_util::{
    STORAGE, assert_all_backed_up, at, listed, phone, phone_files, photo, run_backup, tree,
};

/// One lie told about one photo.
struct Hostile {
    path: String,
    lie: Lie,
}

fn named(name: impl Into<String>) -> Lie {
    Lie {
        name: Some(name.into()),
        ..Lie::default()
    }
}

/// The lies; `outside` is a folder beside DEST that an absolute name points into.
fn lies(outside: &Path) -> Vec<Lie> {
    let size = |size| Lie {
        size: Some(size),
        ..Lie::default()
    };
    let format = |format| Lie {
        format: Some(format),
        ..Lie::default()
    };
    vec![
        named("../../../escaped.jpg"),
        named(format!("{}/escaped.jpg", outside.display())),
        named(".."),
        named("."),
        named(""),
        named("a/b/c.jpg"),
        named("back\\slash\\..\\..\\x.jpg"),
        named("nul\0byte.jpg"),
        named("bell\x07new\nline\ttab\x1b[31m.jpg"),
        named(format!("{}.jpg", "x".repeat(1000))),
        named(".mtpull"),
        named("twin.jpg"),
        named("twin.jpg"),
        named("TWIN.JPG"),
        size(0),
        size(1),
        size(4_000_000),
        size(u64::from(u32::MAX)),
        format(ObjectFormat::ASSOCIATION),
        format(ObjectFormat::TEXT),
        Lie {
            date_drift_secs: 86_400 * 40,
            ..Lie::default()
        },
        Lie {
            name: Some("../drift\0.jpg".into()),
            date_drift_secs: -3_600,
            ..Lie::default()
        },
    ]
}

/// A phone holding one distinct photo per lie, and an honest one.
fn hostile_phone(outside: &Path) -> (SimDevice, u32, Vec<Hostile>) {
    let phone = SimDevice::new(Profile::Android);
    let storage = phone.add_storage(StorageSpec::new(STORAGE));
    let mut hostile = Vec::new();
    for (i, lie) in lies(outside).into_iter().enumerate() {
        let path = format!("DCIM/Camera/IMG_{i:02}.jpg");
        let shade = u8::try_from(i * 9).unwrap();
        let taken = at(2023, 1 + u32::try_from(i % 12).unwrap(), 3, 8, 0, 0);
        phone
            .add_file(storage, &path, photo(taken, shade), at(2024, 6, 1, 20, 0, 0))
            .unwrap();
        phone.lie(storage, &path, lie.clone()).unwrap();
        hostile.push(Hostile { path, lie });
    }
    phone
        .add_file(
            storage,
            "DCIM/Camera/honest.jpg",
            photo(at(2022, 2, 2, 2, 2, 2), 250),
            at(2024, 6, 1, 20, 0, 0),
        )
        .unwrap();
    (phone, storage, hostile)
}

/// Nothing but DEST beside DEST, and `outside` still empty.
fn nothing_outside(root: &Path, outside: &Path) {
    let beside: Vec<_> = fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(beside.len(), 2, "written beside DEST: {beside:?}");
    assert_eq!(fs::read_dir(outside).unwrap().count(), 0, "written outside DEST");
}

/// Every name in DEST is a plain, printable, short name.
fn names_are_plain(dest: &Path) {
    for name in tree(dest).keys() {
        for part in name.split('/') {
            assert!(!part.is_empty() && part != "." && part != "..", "{name:?}");
            assert!(!part.chars().any(char::is_control), "{name:?}");
            assert!(part.len() <= 255, "{} bytes: {name:?}", part.len());
        }
    }
}

/// Whether the photo must be backed up whatever the lie: not when the size disagrees
/// with the data (it fails, reported), when it claims to be a folder (it is walked as
/// an empty one: nothing says it is a file), or when it takes a twin's name.
fn must_arrive(lie: &Lie) -> bool {
    lie.size.is_none()
        && lie.format != Some(ObjectFormat::ASSOCIATION)
        && lie.name.as_deref() != Some("twin.jpg")
}

/// Every file in DEST is whole phone file, none twice, and every manifest record holds
/// the bytes of some phone file (the records' paths are what the device claimed).
fn consistent(originals: &BTreeMap<String, Content>, serial: &str, dest: &Path) {
    let mut sources = Vec::new();
    for (name, bytes) in tree(dest) {
        let source = originals
            .iter()
            .find(|(_, content)| content.matches(&bytes[..]).unwrap())
            .map(|(path, _)| path.clone())
            .unwrap_or_else(|| panic!("{name} ({} bytes) is no phone file", bytes.len()));
        assert!(!sources.contains(&source), "{source} is in DEST twice");
        sources.push(source);
    }
    let Some(manifest) = Manifest::open_read_only(dest).unwrap() else {
        return;
    };
    for key in manifest.keys_for(serial).unwrap() {
        let record = manifest.lookup(&key).unwrap().unwrap();
        let bytes = fs::read(dest.join(&record.dest)).unwrap();
        let holds = originals.values().any(|c| c.matches(&bytes[..]).unwrap());
        assert!(
            holds,
            "{:?} recorded at {}, which holds no phone file",
            key.path, record.dest
        );
    }
}

fn in_dest(dest: &Path, content: &Content) -> bool {
    tree(dest)
        .iter()
        .any(|(name, bytes)| !name.starts_with('.') && content.matches(&bytes[..]).unwrap())
}

#[test]
fn a_hostile_phone_is_backed_up_without_escapes_or_losses() {
    let root = tempfile::tempdir().unwrap();
    let (dest, outside) = (root.path().join("dest"), root.path().join("outside"));
    fs::create_dir(&outside).unwrap();
    let (phone, storage, hostile) = hostile_phone(&outside);
    let originals = phone_files(&phone, storage);
    let serial = phone.identity().serial;

    let (report, seen) = run_backup(&phone, &dest, &BackupOptions::default());
    assert!(report.stopped.is_none(), "the run stopped: {:?}", report.stopped);
    nothing_outside(root.path(), &outside);
    names_are_plain(&dest);
    consistent(&originals, &serial, &dest);
    assert!(in_dest(&dest, &originals["DCIM/Camera/honest.jpg"]));
    let mut failed = BTreeMap::new();
    for file in &hostile {
        let content = &originals[&file.path];
        if must_arrive(&file.lie) {
            assert!(
                in_dest(&dest, content),
                "{:?}: not backed up ({:?})",
                file.lie,
                seen.outcomes
            );
        } else if !in_dest(&dest, content) {
            failed.insert(file.path.clone(), format!("{:?}", file.lie));
        }
    }
    // A file whose data disagrees with its size is either copied whole or reported.
    for (path, lie) in &failed {
        let reported = seen
            .outcomes
            .iter()
            .any(|(_, outcome)| matches!(outcome, FileOutcome::Failed { error } if !error.is_empty()));
        assert!(
            reported,
            "{path} ({lie}) neither copied nor reported: {:?}",
            seen.outcomes
        );
    }

    let twin_reported = seen.outcomes.values().any(
        |outcome| matches!(outcome, FileOutcome::Failed { error } if error.contains("lists another file")),
    );
    assert!(twin_reported, "two files under one name, and no word of it");
    // A photo that claims to be a folder holds nothing and is not a file: not reported.

    // Run again: the drifting dates and the twins file nothing twice.
    let before = tree(&dest).len();
    let (rerun, _) = run_backup(&phone, &dest, &BackupOptions::default());
    assert!(rerun.stopped.is_none(), "{:?}", rerun.stopped);
    assert_eq!(tree(&dest).len(), before, "a rerun filed something again");
    consistent(&originals, &serial, &dest);
    nothing_outside(root.path(), &outside);
}

#[test]
fn a_hostile_phone_loses_no_photo_to_delete_after() {
    let root = tempfile::tempdir().unwrap();
    let (dest, outside) = (root.path().join("dest"), root.path().join("outside"));
    fs::create_dir(&outside).unwrap();
    let (phone, storage, _) = hostile_phone(&outside);
    let originals = phone_files(&phone, storage);
    let options = BackupOptions {
        delete_after: true,
        ..BackupOptions::default()
    };
    for run in 0..2 {
        let (report, seen) = run_backup(&phone, &dest, &options);
        assert!(report.stopped.is_none(), "{:?}", report.stopped);
        nothing_outside(root.path(), &outside);
        names_are_plain(&dest);
        let left = phone_files(&phone, storage);
        for (path, content) in &originals {
            if !left.contains_key(path) {
                assert!(
                    in_dest(&dest, content),
                    "{path} deleted from the phone, not in DEST"
                );
            }
        }
        if run == 0 {
            assert!(
                !seen.deleted.is_empty(),
                "nothing deleted: the test checks nothing"
            );
        }
        // Twins stay: which of them the record's copy holds cannot be told.
        assert!(left.contains_key("DCIM/Camera/IMG_11.jpg") && left.contains_key("DCIM/Camera/IMG_12.jpg"));
    }
}

#[test]
fn a_hostile_phone_is_listed_and_previewed() {
    let root = tempfile::tempdir().unwrap();
    let outside = root.path().join("outside");
    let (phone, _, hostile) = hostile_phone(&outside);
    let (mut session, listing) = listed(&phone);
    // Every object claiming to be a file is listed (the one claiming to be a folder is
    // walked as one, and holds nothing).
    assert!(
        listing.files.len() >= hostile.len(),
        "{} listed",
        listing.files.len()
    );
    let serial = device_serial(&session);
    let items = preview::collect(
        &mut session,
        &serial,
        &listing.files,
        &Default::default(),
        &AtomicBool::new(false),
        &mut |_: usize, _: usize, _: &mtpull::preview::Item| {},
    )
    .unwrap();
    assert!(!items.is_empty());
    phone.unplug();
}

/// The wire lies: each garbling on each operation a backup of `profile` uses (a phone
/// lists with GetObjectPropList, a camera with GetObjectHandles and GetObjectInfo). An
/// object's own bytes are its content, not a dataset: they are not garbled (nothing
/// can tell a phone's wrong bytes from its right ones).
fn garbles(profile: Profile) -> Vec<(OperationCode, Garble)> {
    let (datasets, objects): (&[OperationCode], &[OperationCode]) = match profile {
        Profile::PtpCamera => (
            &[OperationCode::GET_OBJECT_HANDLES, OperationCode::GET_OBJECT_INFO],
            &[OperationCode::GET_OBJECT],
        ),
        _ => (
            &[
                OperationCode::GET_DEVICE_INFO,
                OperationCode::OPEN_SESSION,
                OperationCode::GET_STORAGE_IDS,
                OperationCode::GET_STORAGE_INFO,
                OperationCode::GET_OBJECT_PROP_LIST,
                OperationCode::DELETE_OBJECT,
            ],
            &[OperationCode::GET_OBJECT, OperationCode::GET_PARTIAL_OBJECT_64],
        ),
    };
    let garbage: Vec<u8> = (0..300u32).map(|i| (i.wrapping_mul(7919) >> 3) as u8).collect();
    let mut all = Vec::new();
    for &op in datasets.iter().chain(objects) {
        let mut told = vec![
            Garble::WrongTransactionId,
            Garble::DataLength(u32::MAX),
            Garble::DataLength(0x8000_0000),
            Garble::DataLength(5),
        ];
        if datasets.contains(&op) {
            told.extend([
                Garble::DataPayload(garbage.clone()),
                Garble::DataPayload(vec![0xFF; 4]),
                Garble::DataLonger(1000),
            ]);
        }
        all.extend(told.into_iter().map(|garble| (op, garble)));
    }
    all
}

/// A short name for a garbling (not the garbage itself).
fn describe(op: OperationCode, garble: &Garble) -> String {
    match garble {
        Garble::DataPayload(bytes) => format!("{op:?}: a dataset of {} garbage bytes", bytes.len()),
        other => format!("{op:?}: {other:?}"),
    }
}

/// What one backup against a garbling phone ended with: the error that stopped it
/// (opening the session included), if any.
fn backup_against(phone: &SimDevice, dest: &Path) -> Option<String> {
    let mut session = match Session::open(Box::new(phone.connect())) {
        Ok(session) => session,
        Err(error) => return Some(format!("opening the session: {error}")),
    };
    let options = BackupOptions {
        delete_after: true,
        ..BackupOptions::default()
    };
    let report = mtpull::pull::backup(
        &mut session,
        dest,
        &options,
        &AtomicBool::new(false),
        &mut |_: &mtpull::pull::Event<'_>| {},
    );
    phone.unplug();
    report.stopped.map(|error| error.to_string())
}

#[test]
fn a_phone_that_breaks_the_protocol_ends_in_clear_errors_and_loses_nothing() {
    let mut stopped = 0;
    for profile in [Profile::Android, Profile::PtpCamera] {
        stopped += breaking_the_protocol(profile);
    }
    assert!(stopped > 0, "no garbling stopped a run: the faults are not told");
}

/// Backs up a phone of `profile` once per garbling; returns how many runs stopped.
fn breaking_the_protocol(profile: Profile) -> usize {
    let (honest, storage) = phone(profile);
    let (report, _) = run_backup(
        &honest,
        tempfile::tempdir().unwrap().path(),
        &BackupOptions::default(),
    );
    assert!(report.succeeded());
    let honest_transactions = honest.transactions();
    let mut stopped = 0;
    for (op, garble) in garbles(profile) {
        let label = format!("{profile}, {}", describe(op, &garble));
        let (phone, _) = phone(profile);
        let originals = phone_files(&phone, storage);
        let root = tempfile::tempdir().unwrap();
        let dest = root.path().join("dest");
        phone.arm(Fault::garble(op, garble).always());
        let error = backup_against(&phone, &dest);
        if let Some(error) = &error {
            stopped += 1;
            assert!(
                !error.trim().is_empty() && !error.contains("panicked"),
                "{label}: {error:?}"
            );
        }
        eprintln!(
            "hostile wire: {label}: {}",
            error.as_deref().unwrap_or("got round")
        );
        // Bounded work: a loop or an endless retry would take far more.
        assert!(
            phone.transactions() <= 20 * honest_transactions,
            "{label}: {} transactions (an honest run takes {honest_transactions})",
            phone.transactions()
        );
        let beside: Vec<_> = fs::read_dir(root.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(beside.len() <= 1, "{label}: written beside DEST: {beside:?}");
        if dest.exists() {
            crate::backup_util::assert_consistent_with(&originals, &phone.identity().serial, &dest);
            names_are_plain(&dest);
        }
        let left = phone_files(&phone, storage);
        for (path, content) in &originals {
            if !left.contains_key(path) {
                assert!(
                    dest.exists() && in_dest(&dest, content),
                    "{label}: {path} deleted, not in DEST"
                );
            }
        }
        // The device behaves again: everything is backed up.
        phone.disarm_all();
        let (rerun, _) = run_backup(&phone, &dest, &BackupOptions::default());
        assert!(rerun.succeeded(), "{label}: the rerun: {:?}", rerun.stopped);
        crate::backup_util::assert_consistent_with(&originals, &phone.identity().serial, &dest);
        for (path, content) in originals.iter().filter(|(p, _)| !p.ends_with(".txt")) {
            assert!(
                in_dest(&dest, content),
                "{label}: {path} not backed up after the rerun"
            );
        }
    }
    stopped
}

#[test]
fn a_folder_that_lists_its_parent_is_walked_once() {
    let (phone, storage) = phone(Profile::Android);
    let loops = Lie {
        lists_its_parent: true,
        ..Lie::default()
    };
    phone.lie(storage, "DCIM/Camera", loops).unwrap();
    let dest = tempfile::tempdir().unwrap();
    let (report, _) = run_backup(&phone, dest.path(), &BackupOptions::default());
    assert!(report.succeeded(), "{:?}", report.stopped);
    assert_all_backed_up(&phone, storage, dest.path());
    let (_, listing) = listed(&phone);
    let paths: Vec<&str> = listing.files.iter().map(|f| f.path.as_str()).collect();
    let mut unique = paths.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(paths.len(), unique.len(), "listed twice: {paths:?}");
    assert_eq!(paths.len(), phone_files(&phone, storage).len(), "{paths:?}");
}
