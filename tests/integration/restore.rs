//! `restore` against the simulated phone: a backup restored to an empty phone
//! and backed up again is the same backup; a cut upload is cleaned up and
//! finished by the next run; an upload the phone never confirms (QEMU's
//! 64-byte fault) is read back or deleted; what is there already is skipped.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use chrono::{DateTime, Local};
use mtpull::ptp::OperationCode;
use mtpull::pull::BackupOptions;
use mtpull::restore::{
    self, DEFAULT_FOLDER, Event, FileOutcome, Journal, RestoreOptions, RestoreReport, scan,
};
use mtpull::session::Session;
use mtpull::sim::{Content, Fault, Profile, SimDevice};

use crate::backup_util::{at, empty_phone, phone, run_backup, samples, tree};

fn options(storage: u32) -> RestoreOptions {
    RestoreOptions {
        storage: mtpull::ptp::StorageId(storage),
        folder: DEFAULT_FOLDER.split('/').map(String::from).collect(),
        dry_run: false,
    }
}

/// Plugs in, restores `sources`, unplugs; returns the report and each file's outcome.
fn run_restore(
    phone: &SimDevice,
    sources: &[PathBuf],
    options: &RestoreOptions,
    journal: &Path,
    cancel: &AtomicBool,
    mut also: impl FnMut(&Event<'_>),
) -> (RestoreReport, Vec<(String, FileOutcome)>) {
    let scanned = scan(sources).unwrap();
    assert!(scanned.refused.is_empty(), "{:?}", scanned.refused);
    let mut session = Session::open(Box::new(phone.connect())).unwrap();
    let mut journal = Journal::open(journal).unwrap();
    let mut outcomes = Vec::new();
    let mut observer = |event: &Event<'_>| {
        if let Event::Finished { file, outcome } = event {
            outcomes.push((file.name.clone(), (*outcome).clone()));
        }
        also(event);
    };
    let report = restore::restore(
        &mut session,
        &scanned.files,
        options,
        &mut journal,
        cancel,
        &mut observer,
    );
    phone.unplug();
    (report, outcomes)
}

/// [`run_restore`] of one folder with [`options`], run to its end, unobserved.
fn restore_folder(
    phone: &SimDevice,
    folder: &Path,
    storage: u32,
    journal: &Path,
) -> (RestoreReport, Vec<(String, FileOutcome)>) {
    let never = AtomicBool::new(false);
    run_restore(
        phone,
        &[folder.to_owned()],
        &options(storage),
        journal,
        &never,
        |_| {},
    )
}

fn mtime(path: &Path) -> chrono::NaiveDateTime {
    let modified: SystemTime = fs::metadata(path).unwrap().modified().unwrap();
    DateTime::<Local>::from(modified).naive_local()
}

/// `len` bytes in a pattern that repeats only every 251 bytes (`seed` shifts it).
fn patterned_file(len: usize, seed: usize) -> Vec<u8> {
    (0..len).map(|i| ((i * 31 + seed) % 251) as u8).collect()
}

/// How many uploads the journal holds in flight for the device `serial`.
fn uploads_pending(journal: &Path, serial: &str) -> usize {
    Journal::open(journal).unwrap().pending_for(serial).len()
}

fn assert_no_upload_pending(journal: &Path, serial: &str) {
    assert_eq!(uploads_pending(journal, serial), 0, "an upload is left in flight");
}

#[test]
fn a_restored_backup_backs_up_to_the_same_files_and_dates() {
    let (original, _) = phone(Profile::Android);
    let first = tempfile::tempdir().unwrap();
    let (report, _) = run_backup(&original, first.path(), &BackupOptions::default());
    assert!(report.succeeded(), "{:?}", report.stopped);

    let (fresh, storage) = empty_phone(Profile::Android);
    let state = tempfile::tempdir().unwrap();
    let journal = state.path().join("uploads.json");
    let (report, outcomes) = restore_folder(&fresh, first.path(), storage, &journal);
    assert!(report.stopped.is_none(), "{:?}", report.stopped);
    assert_eq!(report.sent as usize, samples().len(), "{outcomes:?}");
    // The phone dates each file by its capture time, not by when it arrived.
    let a = fresh
        .content(storage, "DCIM/Restored/IMG_A.jpg")
        .expect("IMG_A restored");
    assert_eq!(a.len(), samples()[0].bytes.len() as u64);

    let second = tempfile::tempdir().unwrap();
    let (report, _) = run_backup(&fresh, second.path(), &BackupOptions::default());
    assert!(report.succeeded(), "{:?}", report.stopped);
    assert_eq!(
        tree(second.path()),
        tree(first.path()),
        "the round trip changed the backup"
    );
    for sample in samples() {
        let landed = second.path().join(sample.expected_dest);
        let date = &sample.expected_dest[..10].replace('/', "-");
        assert!(
            mtime(&landed).format("%Y-%m-%d").to_string() == *date,
            "{} is dated {} on the phone",
            sample.expected_dest,
            mtime(&landed)
        );
    }
    assert_eq!(
        mtime(&second.path().join("2023/03/04/IMG_A.jpg")),
        at(2023, 3, 4, 8, 0, 0)
    );
    assert_no_upload_pending(&journal, "SIM-ANDROID");
}

#[test]
fn a_cut_upload_is_deleted_and_finished_by_the_next_run() {
    let local = tempfile::tempdir().unwrap();
    let big = patterned_file(3_000_000, 0);
    fs::write(local.path().join("IMG_BIG.jpg"), &big).unwrap();
    fs::write(local.path().join("IMG_SMALL.jpg"), b"small").unwrap();
    // QEMU's usb-mtp writes an upload as it arrives, so a cut one stays behind.
    let (phone, storage) = empty_phone(Profile::Qemu);
    let state = tempfile::tempdir().unwrap();
    let journal = state.path().join("uploads.json");

    // The cable is pulled a megabyte into the big file's SendObject.
    phone.arm(Fault::disconnect_after(1_000_000).during(OperationCode::SEND_OBJECT));
    let (report, outcomes) = restore_folder(&phone, local.path(), storage, &journal);
    assert!(
        matches!(report.stopped, Some(restore::RestoreError::Device { .. })),
        "{:?}",
        report.stopped
    );
    assert!(outcomes.is_empty(), "{outcomes:?}");
    let Some(Content::Bytes(left)) = phone.content(storage, "DCIM/Restored/IMG_BIG.jpg") else {
        panic!("the phone kept nothing of the cut upload: the test cuts nothing");
    };
    assert!(
        !left.is_empty() && left.len() < 1_000_000 && left[..] == big[..left.len()],
        "the phone should keep the first {} bytes it wrote",
        left.len()
    );
    assert_eq!(uploads_pending(&journal, "SIM-QEMU"), 1);

    let (report, outcomes) = restore_folder(&phone, local.path(), storage, &journal);
    assert!(report.stopped.is_none(), "{:?}", report.stopped);
    assert_eq!(report.cleaned, 1);
    assert_eq!(
        outcomes,
        [
            ("IMG_BIG.jpg".to_owned(), FileOutcome::Sent),
            ("IMG_SMALL.jpg".to_owned(), FileOutcome::Sent)
        ]
    );
    let Some(Content::Bytes(on_phone)) = phone.content(storage, "DCIM/Restored/IMG_BIG.jpg") else {
        panic!("IMG_BIG.jpg missing after the rerun");
    };
    assert!(
        on_phone[..] == big[..],
        "the rerun's upload differs from the file"
    );
    assert_no_upload_pending(&journal, "SIM-QEMU");
}

#[test]
fn a_ctrl_c_mid_upload_leaves_it_to_the_next_run() {
    let local = tempfile::tempdir().unwrap();
    let big = patterned_file(3_000_000, 0);
    fs::write(local.path().join("IMG_BIG.jpg"), &big).unwrap();
    let (phone, storage) = empty_phone(Profile::Android);
    let state = tempfile::tempdir().unwrap();
    let journal = state.path().join("uploads.json");
    let cancel = AtomicBool::new(false);
    let mut sent = 0;
    let (report, _) = run_restore(
        &phone,
        &[local.path().to_owned()],
        &options(storage),
        &journal,
        &cancel,
        |event| {
            if let Event::Sent { bytes } = event {
                sent += bytes;
                if sent > 1_000_000 {
                    cancel.store(true, Ordering::Relaxed);
                }
            }
        },
    );
    assert!(
        matches!(report.stopped, Some(restore::RestoreError::Interrupted)),
        "{:?}",
        report.stopped
    );
    // Android drops what it received of a failed upload.
    assert!(phone.content(storage, "DCIM/Restored/IMG_BIG.jpg").is_none());
    assert_eq!(uploads_pending(&journal, "SIM-ANDROID"), 1);
    let (report, _) = restore_folder(&phone, local.path(), storage, &journal);
    assert!(report.stopped.is_none(), "{:?}", report.stopped);
    assert_eq!((report.sent, report.cleaned), (1, 0));
}

#[test]
fn an_upload_qemu_never_confirms_is_kept_when_it_reads_back_whole_and_deleted_otherwise() {
    // 12 + size a multiple of 64: QEMU's usb-mtp never ends the data phase.
    // 500 bytes: 512, so the host's zero-length packet is stalled; 1 MiB + 52:
    // the read of the response is stalled. The small one is on its disk whole,
    // the big one short of its last piece.
    let local = tempfile::tempdir().unwrap();
    let whole = patterned_file(500, 1);
    let cut = patterned_file((1 << 20) + 52, 2);
    let fine = patterned_file(1000, 3);
    fs::write(local.path().join("a_whole.jpg"), &whole).unwrap();
    fs::write(local.path().join("b_cut.jpg"), &cut).unwrap();
    fs::write(local.path().join("c_fine.jpg"), &fine).unwrap();
    let (phone, storage) = empty_phone(Profile::Qemu);
    let state = tempfile::tempdir().unwrap();
    let journal = state.path().join("uploads.json");
    let (report, outcomes) = restore_folder(&phone, local.path(), storage, &journal);
    assert!(report.stopped.is_none(), "{:?}", report.stopped);
    assert_eq!(outcomes[0], ("a_whole.jpg".to_owned(), FileOutcome::ReadBack));
    assert!(
        matches!(&outcomes[1], (name, FileOutcome::Failed(why))
            if name == "b_cut.jpg" && why.contains("did not confirm") && why.contains("deleted")),
        "{outcomes:?}"
    );
    assert_eq!(outcomes[2], ("c_fine.jpg".to_owned(), FileOutcome::Sent));
    let on_phone = |name: &str| match phone.content(storage, &format!("{DEFAULT_FOLDER}/{name}")) {
        Some(Content::Bytes(bytes)) => Some(bytes.to_vec()),
        _ => None,
    };
    assert_eq!(on_phone("a_whole.jpg").as_deref(), Some(&whole[..]));
    assert_eq!(
        on_phone("b_cut.jpg"),
        None,
        "the incomplete copy stayed on the phone"
    );
    assert_eq!(on_phone("c_fine.jpg").as_deref(), Some(&fine[..]));
    assert_no_upload_pending(&journal, "SIM-QEMU");
}

#[test]
fn files_already_there_are_skipped_and_a_dry_run_sends_nothing() {
    let local = tempfile::tempdir().unwrap();
    fs::write(local.path().join("a.jpg"), b"aaaa").unwrap();
    fs::write(local.path().join("b.jpg"), b"bbbb").unwrap();
    fs::write(local.path().join("c.jpg"), b"cccc").unwrap();
    let (phone, storage) = empty_phone(Profile::Android);
    let when = at(2024, 1, 1, 0, 0, 0);
    phone
        .add_file(storage, "DCIM/Restored/a.jpg", "aaaa", when)
        .unwrap();
    phone
        .add_file(storage, "DCIM/Restored/b.jpg", "not the same", when)
        .unwrap();
    let state = tempfile::tempdir().unwrap();
    let journal = state.path().join("uploads.json");
    let never = AtomicBool::new(false);
    let dry = RestoreOptions {
        dry_run: true,
        ..options(storage)
    };
    let before = phone.paths(storage);
    let (_, outcomes) = run_restore(&phone, &[local.path().to_owned()], &dry, &journal, &never, |_| {});
    assert_eq!(phone.paths(storage), before, "a dry run changed the phone");
    let outcome = |name: &str| outcomes.iter().find(|(n, _)| n == name).unwrap().1.clone();
    assert_eq!(outcome("a.jpg"), FileOutcome::Already);
    assert!(matches!(outcome("b.jpg"), FileOutcome::Failed(why) if why.contains("left as it is")));
    assert_eq!(outcome("c.jpg"), FileOutcome::WouldSend);

    let (report, _) = restore_folder(&phone, local.path(), storage, &journal);
    assert_eq!((report.sent, report.already, report.failed), (1, 1, 1));
    assert!(phone.content(storage, "DCIM/Restored/c.jpg").is_some());
    let Some(Content::Bytes(b)) = phone.content(storage, "DCIM/Restored/b.jpg") else {
        panic!()
    };
    assert_eq!(&b[..], b"not the same", "a different file was replaced");
}

#[test]
fn quiet_restore_says_nothing_but_refusals_and_failures() {
    let root = tempfile::tempdir().unwrap();
    let src = root.path().join("src");
    crate::util::put(&src.join("IMG_20240526_101500.jpg"), b"photo", 1_700_000_000);
    let restore = |extra: &[&str]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_mtpull"))
            .args(extra)
            .args(["--sim", "android", "restore"])
            .arg(&src)
            .env("XDG_STATE_HOME", root.path().join("state"))
            .env("TZ", "UTC")
            .output()
            .unwrap();
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (status, stdout, stderr) = restore(&[]);
    assert_eq!(status, Some(0), "{stderr}");
    assert!(stdout.starts_with("sent 1 "), "{stdout}");
    assert!(stderr.contains("1 file (5 B) to send"), "{stderr}");
    let (status, stdout, stderr) = restore(&["-q"]);
    assert_eq!((status, stdout.as_str(), stderr.as_str()), (Some(0), "", ""));
    // A name a phone would refuse is still said.
    crate::util::put(&src.join("what?.jpg"), b"photo", 1_700_000_000);
    let (status, stdout, stderr) = restore(&["-q"]);
    assert_eq!(status, Some(1), "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        stderr.contains("not sent") && stderr.contains("what?.jpg"),
        "{stderr}"
    );
}
