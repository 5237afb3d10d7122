//! What real devices do at the USB and MTP level (issue 9's behaviours 3, 4,
//! 5, 6, 12, 13, 15 and 16), shown on the simulator's honest profiles: each
//! test fails without mtpull's handling of it.

use std::sync::atomic::AtomicBool;

use chrono::NaiveDate;
use mtpull::ptp::{ObjectHandle, OperationCode, StorageId};
use mtpull::pull::{BackupOptions, Event};
use mtpull::session::{Entry, Session};
use mtpull::sim::{Content, Fault, Profile, Quirks, SimConfig, SimDevice, StorageSpec, generated_bytes};

use crate::backup_util::{run_backup, run_backup_with};

fn when() -> chrono::NaiveDateTime {
    NaiveDate::from_ymd_opt(2024, 5, 26)
        .unwrap()
        .and_hms_opt(10, 15, 0)
        .unwrap()
}

/// A device of `profile` with `quirks` changed, holding `files` (path, size, seed).
fn device(
    profile: Profile,
    quirks: impl FnOnce(&mut Quirks),
    files: &[(&str, u64, u64)],
) -> (SimDevice, u32) {
    let mut changed = profile.quirks();
    quirks(&mut changed);
    let phone = SimConfig::new(profile).quirks(changed).build();
    let storage = phone.add_storage(StorageSpec::new("Internal shared storage"));
    for &(path, size, seed) in files {
        phone
            .add_file(storage, path, Content::generated(size, seed), when())
            .unwrap();
    }
    (phone, storage)
}

fn expected(seed: u64, offset: u64, len: usize) -> Vec<u8> {
    let mut bytes = vec![0; len];
    generated_bytes(seed, offset, &mut bytes);
    bytes
}

/// The entry of `name` in a walk of the storage.
fn entry(session: &mut Session, storage: u32, name: &str) -> Entry {
    let entries = session.walk(StorageId(storage), None).unwrap();
    entries
        .into_iter()
        .find(|e| e.name() == name)
        .unwrap_or_else(|| panic!("{name} not listed"))
}

fn get_object(session: &mut Session, handle: ObjectHandle) -> Vec<u8> {
    let mut bytes = Vec::new();
    session.get_object(handle, &mut bytes).unwrap();
    bytes
}

#[test]
fn a_data_header_sent_as_its_own_short_transfer_is_read_to_the_containers_length() {
    // Behaviour 4: iPhones converting HEIC, Garmin, old Android.
    let sizes = [1u64, 500, 3000, 1 << 20];
    let files: Vec<(String, u64, u64)> = sizes
        .iter()
        .enumerate()
        .map(|(i, &size)| (format!("DCIM/IMG_{i}.JPG"), size, i as u64))
        .collect();
    let files: Vec<(&str, u64, u64)> = files.iter().map(|(p, s, d)| (p.as_str(), *s, *d)).collect();
    let (phone, storage) = device(Profile::Android, |q| q.split_header = true, &files);
    let mut session = Session::open(Box::new(phone.connect())).unwrap();
    for (i, &size) in sizes.iter().enumerate() {
        let file = entry(&mut session, storage, &format!("IMG_{i}.JPG"));
        assert_eq!(file.size, size);
        let bytes = get_object(&mut session, file.handle);
        assert!(bytes == expected(i as u64, 0, size as usize), "IMG_{i}.JPG");
        let mut part = Vec::new();
        let sent = session
            .get_partial_object(file.handle, 0, 100, &mut part)
            .unwrap();
        assert_eq!(sent, size.min(100));
    }
}

/// Every file a backup into `dest` holds, by name.
fn backed_up(dest: &std::path::Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    crate::backup_util::tree(dest)
        .into_iter()
        .map(|(path, bytes)| (path.rsplit('/').next().unwrap().to_owned(), bytes))
        .collect()
}

#[test]
fn samsung_partial_reads_never_end_at_the_end_of_file_on_a_full_packet() {
    // Behaviour 6: a resume whose read reaches the end with (len + 12) % 512 == 0.
    let (phone, _) = device(Profile::Samsung, |_| {}, &[("DCIM/Camera/IMG_1.jpg", 1012, 7)]);
    let dest = tempfile::tempdir().unwrap();
    phone.arm(Fault::disconnect_after(600).during(OperationCode::GET_OBJECT));
    let (first, _) = run_backup(&phone, dest.path(), &BackupOptions::default());
    assert!(first.stopped.is_some(), "the cable was cut");
    let (second, seen) = run_backup(&phone, dest.path(), &BackupOptions::default());
    assert!(second.succeeded(), "{:?} {:?}", second.stopped, seen.outcomes);
    assert_eq!(second.summary.resumed, 1);
    assert!(backed_up(dest.path())["IMG_1.jpg"] == expected(7, 0, 1012));
    // The dry run's head read of a small file reaches its end too.
    let (phone, _) = device(Profile::Samsung, |_| {}, &[("DCIM/Camera/IMG_2.jpg", 500, 8)]);
    let dry = BackupOptions {
        dry_run: true,
        ..BackupOptions::default()
    };
    let (report, seen) = run_backup(&phone, tempfile::tempdir().unwrap().path(), &dry);
    assert!(report.succeeded(), "{:?}", report.stopped);
    assert_eq!(seen.would_copy.len(), 1);
}

#[test]
fn samsung_lists_the_root_folder_by_folder_and_the_rest_by_property_lists() {
    // Behaviour 6: GetObjectPropList on handle 0 is refused, folders work.
    let (phone, storage) = device(
        Profile::Samsung,
        |_| {},
        &[("DCIM/Camera/IMG_1.jpg", 10, 1), ("Pictures/a.png", 10, 2)],
    );
    let mut session = Session::open(Box::new(phone.connect())).unwrap();
    let root = session.list_folder(StorageId(storage), None).unwrap();
    assert_eq!(root.len(), 2);
    let dcim = root.iter().find(|e| e.name() == "DCIM").unwrap().clone();
    phone.reset_stats();
    let inside = session.list_folder(StorageId(storage), Some(&dcim)).unwrap();
    assert_eq!(inside.len(), 1);
    assert_eq!(phone.transactions_of(OperationCode::GET_OBJECT_PROP_LIST), 1);
    assert_eq!(
        phone.transactions_of(OperationCode::GET_OBJECT_INFO),
        0,
        "no fallback below the root"
    );
}

#[test]
fn a_video_transcoded_by_get_object_is_copied_unconverted_with_a_note() {
    // Behaviour 13: Android's opt-in "convert videos to AVC".
    let (phone, _) = device(
        Profile::Android,
        |q| q.transcode_videos = true,
        &[
            ("DCIM/Camera/VID_1.mp4", 100_000, 3),
            ("DCIM/Camera/IMG_1.jpg", 5000, 4),
        ],
    );
    let dest = tempfile::tempdir().unwrap();
    let mut notes = Vec::new();
    let (report, seen) = run_backup_with(
        &phone,
        dest.path(),
        &BackupOptions::default(),
        &AtomicBool::new(false),
        |event| {
            if let Event::Note { file, note } = event {
                notes.push(format!("{}: {note}", file.path));
            }
        },
    );
    assert!(report.succeeded(), "{:?} {:?}", report.stopped, seen.outcomes);
    let files = backed_up(dest.path());
    assert!(
        files["VID_1.mp4"] == expected(3, 0, 100_000),
        "the original bytes"
    );
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(
        notes[0].contains("VID_1.mp4") && notes[0].contains("convert"),
        "{notes:?}"
    );
}

#[test]
fn a_get_partial_object_64_read_as_get_partial_object_falls_back_for_the_session() {
    // Behaviour 16: (handle, offset low, offset high, length) read as
    // (handle, offset, length) sends 0 bytes.
    let (phone, storage) = device(
        Profile::Android,
        |q| q.partial64_as_partial = true,
        &[("DCIM/IMG_1.jpg", 5000, 5)],
    );
    let mut session = Session::open(Box::new(phone.connect())).unwrap();
    let file = entry(&mut session, storage, "IMG_1.jpg");
    for offset in [100, 2000] {
        let mut bytes = Vec::new();
        let sent = session
            .get_partial_object(file.handle, offset, 1000, &mut bytes)
            .unwrap();
        assert_eq!(sent, 1000);
        assert!(bytes == expected(5, offset, 1000));
    }
    assert!(session.partial_64_broken());
    assert_eq!(
        phone.transactions_of(OperationCode::GET_PARTIAL_OBJECT_64),
        1,
        "remembered"
    );
}

/// Starts a GetObject that times out midway, then the client dies without a
/// word (a killed process, a double Ctrl-C): the device is left mid-phase.
fn abandon_a_download(phone: &SimDevice, storage: u32, name: &str) {
    let mut session = Session::open(Box::new(phone.connect())).unwrap();
    let file = entry(&mut session, storage, name);
    phone.arm(Fault::timeout_after(70_000).during(OperationCode::GET_OBJECT));
    assert!(session.get_object(file.handle, &mut Vec::new()).is_err());
    drop(session);
}

#[test]
fn an_android_wedged_by_a_dead_client_is_recovered_on_open_without_the_class_reset() {
    // Behaviour 3: the next client's command is NAKed until a Cancel.
    let (phone, storage) = device(Profile::Android, |_| {}, &[("DCIM/VID_1.mp4", 1 << 20, 9)]);
    abandon_a_download(&phone, storage, "VID_1.mp4");
    phone.reset_stats();
    let mut session = Session::open(Box::new(phone.attach())).expect("opens without a replug");
    let file = entry(&mut session, storage, "VID_1.mp4");
    assert!(get_object(&mut session, file.handle) == expected(9, 0, 1 << 20));
    let stats = phone.stats();
    assert_eq!(stats.connections, 0, "no replug");
    assert!(stats.cancels >= 1);
    assert_eq!(stats.class_resets, 0, "never 0x66 on Android");
}

#[test]
fn a_camera_busy_after_cancel_is_polled_until_ready() {
    // Behaviour 12: SIC cameras answer Device Busy after a Cancel until
    // Get Device Status is polled.
    let (phone, storage) = device(
        Profile::PtpCamera,
        |_| {},
        &[("DCIM/100CANON/IMG_1.JPG", 1 << 20, 4)],
    );
    abandon_a_download(&phone, storage, "IMG_1.JPG");
    phone.reset_stats();
    let mut session = Session::open(Box::new(phone.attach())).expect("opens after the busy spell");
    let file = entry(&mut session, storage, "IMG_1.JPG");
    assert!(get_object(&mut session, file.handle) == expected(4, 0, 1 << 20));
    let stats = phone.stats();
    assert!(stats.status_requests >= 2, "polled while busy: {stats:?}");
    assert_eq!(stats.class_resets, 0);
}

#[test]
fn a_file_the_phone_cannot_read_fails_alone_and_is_tried_last_next_time() {
    // Behaviour 5: a read error is a stall of both bulk endpoints and no
    // response; Get Device Status says 0x201F.
    let disk = tempfile::tempdir().unwrap();
    let broken = disk.path().join("IMG_2.jpg");
    std::fs::write(&broken, expected(2, 0, 200_000)).unwrap();
    let (phone, storage) = device(
        Profile::Android,
        |_| {},
        &[
            ("DCIM/Camera/IMG_1.jpg", 100_000, 1),
            ("DCIM/Camera/IMG_3.jpg", 100_000, 3),
        ],
    );
    phone
        .add_file(
            storage,
            "DCIM/Camera/IMG_2.jpg",
            Content::file(&broken).unwrap(),
            when(),
        )
        .unwrap();
    // The phone's flash fails under the file: its reads stop after 1000 bytes.
    std::fs::write(&broken, expected(2, 0, 1000)).unwrap();
    let dest = tempfile::tempdir().unwrap();
    let (first, seen) = run_backup(&phone, dest.path(), &BackupOptions::default());
    assert!(first.stopped.is_none(), "{:?}", first.stopped);
    assert_eq!(first.summary.failed, 1, "{:?}", seen.outcomes);
    let failure = format!("{:?}", seen.outcomes["DCIM/Camera/IMG_2.jpg"]);
    assert!(failure.contains("could not read this file"), "{failure}");
    assert!(
        backed_up(dest.path()).contains_key("IMG_3.jpg"),
        "the run went on"
    );
    // Next run: the file reads again, and a new photo came in.
    std::fs::write(&broken, expected(2, 0, 200_000)).unwrap();
    phone
        .add_file(
            storage,
            "DCIM/Camera/IMG_4.jpg",
            Content::generated(5000, 4),
            when(),
        )
        .unwrap();
    let mut order = Vec::new();
    let (second, _) = run_backup_with(
        &phone,
        dest.path(),
        &BackupOptions::default(),
        &AtomicBool::new(false),
        |event| {
            if let Event::Started { file, .. } = event {
                order.push(file.name().to_owned());
            }
        },
    );
    assert!(second.succeeded(), "{:?}", second.stopped);
    assert_eq!(order, ["IMG_4.jpg", "IMG_2.jpg"], "what failed goes last");
    assert!(backed_up(dest.path())["IMG_2.jpg"] == expected(2, 0, 200_000));
}

#[test]
fn partial_reads_that_send_nothing_are_given_up_for_get_object_with_a_note() {
    // Behaviour 16's last step: neither partial read sends data where it is due.
    let (phone, _) = device(
        Profile::Android,
        |q| q.partial_reads_empty = true,
        &[("DCIM/Camera/IMG_1.jpg", 100_000, 6)],
    );
    let dest = tempfile::tempdir().unwrap();
    phone.arm(Fault::disconnect_after(30_000).during(OperationCode::GET_OBJECT));
    let (first, _) = run_backup(&phone, dest.path(), &BackupOptions::default());
    assert!(first.stopped.is_some(), "the cable was cut");
    let mut notes = Vec::new();
    let (second, seen) = run_backup_with(
        &phone,
        dest.path(),
        &BackupOptions::default(),
        &AtomicBool::new(false),
        |event| {
            if let Event::Note { note, .. } = event {
                notes.push(note.to_string());
            }
        },
    );
    assert!(second.succeeded(), "{:?} {:?}", second.stopped, seen.outcomes);
    assert!(backed_up(dest.path())["IMG_1.jpg"] == expected(6, 0, 100_000));
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes[0].contains("fault of its MTP server"), "{notes:?}");
}
