//! Faults mid-backup on the simulated phone — the cable cut at many byte
//! offsets, stalls, timeouts, device errors, Ctrl-C, a disk that fills up —
//! and what must hold after each: nothing under a final name but whole files,
//! the manifest consistent, and a rerun that completes byte-identical with
//! nothing filed twice.

use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use mtpull::ptp::{OperationCode, ResponseCode};
use mtpull::pull::{BackupOptions, Event, PullError, free_space};
use mtpull::sim::{Content, Fault, Profile, SimDevice};

use crate::backup_util::{
    assert_all_backed_up, assert_consistent, assert_consistent_with, at, phone, phone_files, run_backup,
    run_backup_with, samples, tree,
};
use crate::util::SmallDisk;

/// The data-phase container header that precedes each object's bytes.
const HEADER: u64 = 12;

/// Where each GetObject data phase starts in the stream of all of them, in
/// the order the backup fetches the samples (by path), and the stream's end.
fn phase_starts() -> (Vec<u64>, u64) {
    let mut sizes: Vec<(&str, u64)> = samples().iter().map(|s| (s.path, s.bytes.len() as u64)).collect();
    sizes.sort();
    let mut starts = Vec::new();
    let mut at = 0;
    for (_, size) in sizes {
        starts.push(at);
        at += HEADER + size;
    }
    (starts, at)
}

/// Cut offsets: the start, inside and around the first header, packet
/// boundaries, both sides of every file boundary, the middle of every file,
/// and the very last byte.
fn cut_offsets() -> Vec<u64> {
    let (starts, end) = phase_starts();
    let mut offsets = vec![0, 1, 11, 12, 13, 511, 512, 513, 1024, 4096, 65_536];
    let mut ends: Vec<u64> = starts[1..].to_vec();
    ends.push(end);
    for (start, end) in starts.iter().zip(&ends) {
        offsets.extend([
            start.saturating_sub(1),
            *start,
            start + 1,
            start + HEADER,
            (start + end) / 2,
        ]);
    }
    offsets.push(end - 1);
    offsets.sort();
    offsets.dedup();
    offsets
}

/// DEST holds every sample, each once, and no temp file.
fn assert_every_sample_once(phone: &SimDevice, storage: u32, dest: &Path, label: &str) {
    assert_all_backed_up(phone, storage, dest);
    assert_eq!(tree(dest).len(), samples().len(), "{label}: files filed twice?");
    assert_eq!(temp_files(dest), Vec::<String>::new(), "{label}: temp files left");
}

fn temp_files(dest: &Path) -> Vec<String> {
    match fs::read_dir(dest.join(".mtpull/tmp")) {
        Ok(entries) => entries
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Arms `faults`, runs a backup that they cut, checks the wreckage, then reruns to completion.
fn cut_then_rerun(profile: Profile, faults: impl IntoIterator<Item = Fault>, label: &str) {
    let (phone, storage) = phone(profile);
    let dest = tempfile::tempdir().unwrap();
    for fault in faults {
        phone.arm(fault);
    }
    let (cut, _) = run_backup(&phone, dest.path(), &BackupOptions::default());
    assert_eq!(phone.armed_faults(), 0, "{label}: the fault never fired");
    let stopped = cut
        .stopped
        .as_ref()
        .unwrap_or_else(|| panic!("{label}: the run did not notice the fault"));
    assert!(
        matches!(stopped, PullError::Connection { .. }),
        "{label}: {stopped}"
    );
    assert!(
        stopped
            .to_string()
            .contains("run the same command again to resume"),
        "{label}: {stopped}"
    );
    assert_consistent(&phone, storage, dest.path());

    let (rerun, _) = run_backup(&phone, dest.path(), &BackupOptions::default());
    assert!(
        rerun.succeeded(),
        "{label}: the rerun failed: {:?}",
        rerun.stopped
    );
    assert_every_sample_once(&phone, storage, dest.path(), label);
    assert_eq!(
        cut.summary.copied + rerun.summary.copied,
        samples().len() as u64,
        "{label}"
    );
}

#[test]
fn a_cut_at_any_byte_resumes_to_identical_files() {
    let offsets = cut_offsets();
    assert!(offsets.len() >= 25, "{offsets:?}");
    for offset in offsets {
        let fault = Fault::disconnect_after(offset).during(OperationCode::GET_OBJECT);
        cut_then_rerun(
            Profile::Android,
            [fault],
            &format!("android, cut after {offset} bytes"),
        );
    }
}

#[test]
fn cuts_on_the_samsung_and_camera_profiles_resume_too() {
    let (starts, end) = phase_starts();
    // Mid-way through the large file, whose resume reads from an offset.
    let large = (starts[3] + starts[4]) / 2;
    for profile in [Profile::Samsung, Profile::PtpCamera] {
        for offset in [0, 13, starts[1] + 1, large, end - 1] {
            let fault = Fault::disconnect_after(offset).during(OperationCode::GET_OBJECT);
            cut_then_rerun(profile, [fault], &format!("{profile}, cut after {offset} bytes"));
        }
    }
}

#[test]
fn a_stall_or_timeout_mid_file_is_taken_up_again_in_the_same_run() {
    let (starts, _) = phase_starts();
    let all: u64 = samples().iter().map(|s| s.bytes.len() as u64).sum();
    for offset in [0, 512, starts[2] + 100, (starts[3] + starts[4]) / 2] {
        for (kind, fault) in [
            ("stall", Fault::stall_after(offset)),
            ("timeout", Fault::timeout_after(offset)),
        ] {
            let label = format!("{kind} after {offset} bytes");
            let (phone, storage) = phone(Profile::Android);
            let dest = tempfile::tempdir().unwrap();
            phone.arm(fault.during(OperationCode::GET_OBJECT));
            let (run, _) = run_backup(&phone, dest.path(), &BackupOptions::default());
            assert_eq!(phone.armed_faults(), 0, "{label}: the fault never fired");
            assert!(run.succeeded(), "{label}: {:?}", run.stopped);
            assert_every_sample_once(&phone, storage, dest.path(), &label);
            assert_eq!(run.summary.copied, samples().len() as u64, "{label}");
            // Taken up from where it stopped: what came before the cut came once,
            // plus at most the 64 KiB read again to check the tail.
            assert!(
                run.summary.bytes_received <= all + (64 << 10),
                "{label}: {} bytes for {all}",
                run.summary.bytes_received
            );
        }
    }
}

#[test]
fn a_second_stall_in_the_taken_up_download_stops_the_run_and_the_next_one_resumes() {
    let (starts, _) = phase_starts();
    let large = (starts[3] + starts[4]) / 2;
    let again = Fault::stall_after(20_000).during(OperationCode::GET_PARTIAL_OBJECT_64);
    let first = Fault::stall_after(large).during(OperationCode::GET_OBJECT);
    cut_then_rerun(
        Profile::Android,
        [first, again],
        "a stall, then another while taking it up",
    );
    let timeout = Fault::timeout_after(large).during(OperationCode::GET_OBJECT);
    let again = Fault::timeout_after(20_000).during(OperationCode::GET_PARTIAL_OBJECT_64);
    cut_then_rerun(
        Profile::Android,
        [timeout, again],
        "a timeout, then another while taking it up",
    );
}

#[test]
fn a_resume_cut_again_resumes_again() {
    let (starts, _) = phase_starts();
    let (phone, storage) = phone(Profile::Android);
    let dest = tempfile::tempdir().unwrap();
    // Cut inside the large file (edited.jpg, fetched fourth), then cut its resume twice.
    phone.arm(Fault::disconnect_after(starts[3] + 50_000).during(OperationCode::GET_OBJECT));
    let (first, _) = run_backup(&phone, dest.path(), &BackupOptions::default());
    assert!(
        matches!(first.stopped, Some(PullError::Connection { .. })),
        "{:?}",
        first.stopped
    );
    for cut in [70_000, 100] {
        phone.arm(Fault::disconnect_after(cut).during(OperationCode::GET_PARTIAL_OBJECT_64));
        let (again, _) = run_backup(&phone, dest.path(), &BackupOptions::default());
        assert!(
            matches!(again.stopped, Some(PullError::Connection { .. })),
            "{:?}",
            again.stopped
        );
        assert_eq!(again.summary.resumed, 1);
        assert_consistent(&phone, storage, dest.path());
    }
    let (last, _) = run_backup(&phone, dest.path(), &BackupOptions::default());
    assert!(last.succeeded(), "{:?}", last.stopped);
    assert_eq!(last.summary.resumed, 1);
    // Only what was missing came over (plus the 64 KiB re-read to check the tail).
    let edited = samples()[4].bytes.len() as u64;
    assert!(
        last.summary.bytes_received < edited,
        "{} ≥ {edited}",
        last.summary.bytes_received
    );
    assert_all_backed_up(&phone, storage, dest.path());
}

#[test]
fn a_temp_file_with_a_corrupt_tail_is_fetched_again() {
    let (starts, _) = phase_starts();
    let (phone, storage) = phone(Profile::Android);
    let dest = tempfile::tempdir().unwrap();
    phone.arm(Fault::disconnect_after(starts[3] + 200_000).during(OperationCode::GET_OBJECT));
    assert!(
        !run_backup(&phone, dest.path(), &BackupOptions::default())
            .0
            .succeeded()
    );
    // As if the last writes never reached the disk but the length did.
    let temps = temp_files(dest.path());
    assert_eq!(temps.len(), 1);
    let temp = dest.path().join(".mtpull/tmp").join(&temps[0]);
    let mut bytes = fs::read(&temp).unwrap();
    let len = bytes.len();
    bytes[len - 1000..].fill(0);
    fs::write(&temp, bytes).unwrap();

    let (rerun, _) = run_backup(&phone, dest.path(), &BackupOptions::default());
    assert!(rerun.succeeded(), "{:?}", rerun.stopped);
    assert_all_backed_up(&phone, storage, dest.path());
}

#[test]
fn a_device_error_fails_one_file_and_the_rerun_gets_it() {
    for code in [ResponseCode::GENERAL_ERROR, ResponseCode::INCOMPLETE_TRANSFER] {
        let (phone, storage) = phone(Profile::Android);
        let dest = tempfile::tempdir().unwrap();
        phone.arm(Fault::respond(OperationCode::GET_OBJECT, code));
        let (first, _) = run_backup(&phone, dest.path(), &BackupOptions::default());
        assert!(
            first.stopped.is_none(),
            "a refused file does not stop the run: {:?}",
            first.stopped
        );
        assert_eq!((first.summary.copied, first.summary.failed), (4, 1));
        assert!(!first.succeeded());
        assert_consistent(&phone, storage, dest.path());
        let (rerun, _) = run_backup(&phone, dest.path(), &BackupOptions::default());
        assert!(rerun.succeeded(), "{:?}", rerun.stopped);
        assert_eq!((rerun.summary.copied, rerun.summary.already), (1, 4));
        assert_all_backed_up(&phone, storage, dest.path());
    }
}

#[test]
fn ctrl_c_mid_file_keeps_the_download_and_the_rerun_resumes_it() {
    let phone = SimDevice::new(Profile::Android);
    let storage = phone.add_storage(mtpull::sim::StorageSpec::new("Internal shared storage"));
    let size = 70 << 20; // more than one 64 MiB piece
    phone
        .add_file(
            storage,
            "DCIM/Camera/VID_big.mp4",
            Content::generated(size, 42),
            at(2024, 5, 26, 10, 0, 0),
        )
        .unwrap();
    let dest = tempfile::tempdir().unwrap();
    let cancel = AtomicBool::new(false);
    let (stopped, _) = run_backup_with(&phone, dest.path(), &BackupOptions::default(), &cancel, |event| {
        if let Event::Received { .. } = event {
            cancel.store(true, Ordering::Relaxed);
        }
    });
    assert!(
        matches!(stopped.stopped, Some(PullError::Interrupted)),
        "{:?}",
        stopped.stopped
    );
    assert!(tree(dest.path()).is_empty(), "nothing under a final name");
    let temps = temp_files(dest.path());
    assert_eq!(temps.len(), 1);
    let kept = fs::metadata(dest.path().join(".mtpull/tmp").join(&temps[0]))
        .unwrap()
        .len();
    assert_eq!(kept, 64 << 20, "the piece under way is finished and kept");

    let (rerun, _) = run_backup(&phone, dest.path(), &BackupOptions::default());
    assert!(rerun.succeeded(), "{:?}", rerun.stopped);
    assert_eq!(rerun.summary.resumed, 1);
    // Only the missing bytes are stored (the 64 KiB re-read to check the tail is compared, not counted).
    assert_eq!(rerun.summary.bytes_received, size - kept);
    let pulled = fs::File::open(dest.path().join("2024/05/26/VID_big.mp4")).unwrap();
    assert!(Content::generated(size, 42).matches(pulled).unwrap());
}

#[test]
fn a_disk_that_fills_mid_run_stops_cleanly_and_the_rerun_completes() {
    let Some(disk) = SmallDisk::mount(4 << 20) else {
        return;
    };
    let dest = disk.path().join("backup");
    let (phone, storage) = phone(Profile::Android);
    let filler = disk.path().join("filler");
    // Once the plan has passed the free-space check and copying started,
    // something else fills the disk, leaving 200 KB: the large file cannot fit.
    let (full, _) = run_backup_with(
        &phone,
        &dest,
        &BackupOptions::default(),
        &AtomicBool::new(false),
        |event| {
            if let Event::Started { .. } = event
                && !filler.exists()
            {
                let free = free_space(disk.path()).unwrap();
                fs::write(&filler, vec![1u8; (free - 200_000) as usize]).unwrap();
            }
        },
    );
    let stopped = full.stopped.expect("a full disk stops the run");
    assert!(
        stopped.to_string().contains("the destination is full"),
        "{stopped}"
    );
    assert!(matches!(stopped, PullError::Disk { .. }));
    // The three files before the large one were downloaded and waited for their fsync
    // while it downloaded: the stop still files and records them.
    assert_eq!(full.summary.copied, 3, "{:?}", full.summary);
    assert_consistent(&phone, storage, &dest);

    fs::remove_file(&filler).unwrap();
    let (rerun, _) = run_backup(&phone, &dest, &BackupOptions::default());
    assert!(rerun.succeeded(), "{:?}", rerun.stopped);
    assert_all_backed_up(&phone, storage, &dest);
}

#[test]
fn a_cut_after_several_committed_batches_loses_nothing() {
    // 150 files: two batches of 64 are committed before the cut at file 140.
    let phone = SimDevice::new(Profile::Android);
    let storage = phone.add_storage(mtpull::sim::StorageSpec::new("Internal shared storage"));
    for i in 0..150u64 {
        let when = at(2024, 1 + (i % 12) as u32, 1 + (i % 28) as u32, 12, 0, 0);
        phone
            .add_file(
                storage,
                &format!("DCIM/Camera/IMG_{i:04}.jpg"),
                Content::generated(1000 + i, i),
                when,
            )
            .unwrap();
    }
    let originals = phone_files(&phone, storage);
    let serial = phone.identity().serial;
    let dest = tempfile::tempdir().unwrap();
    let per_file = |i: u64| HEADER + 1000 + i;
    let cut = (0..140).map(per_file).sum::<u64>() + 500;
    phone.arm(Fault::disconnect_after(cut).during(OperationCode::GET_OBJECT));
    let options = BackupOptions {
        delete_after: true,
        // Batches of 64 files exactly, however slowly this machine copies them.
        batch_time: Some(std::time::Duration::from_secs(3600)),
        ..BackupOptions::default()
    };
    let (first, _) = run_backup(&phone, dest.path(), &options);
    assert!(
        matches!(first.stopped, Some(PullError::Connection { .. })),
        "{:?}",
        first.stopped
    );
    assert_eq!(first.summary.copied, 140);
    // Every filed file was recorded, even those of the batch still open when
    // the cable went; those could not be deleted from the phone any more.
    assert_eq!(first.summary.deleted, 128);
    assert_eq!(
        first.summary.delete_failed, 1,
        "one try, then no more on a dead link"
    );
    let manifest = mtpull::pull::Manifest::open_read_only(dest.path())
        .unwrap()
        .unwrap();
    assert_eq!(manifest.keys_for(&serial).unwrap().len(), 140);
    assert_consistent_with(&originals, &serial, dest.path());

    let (rerun, _) = run_backup(&phone, dest.path(), &options);
    assert!(rerun.succeeded(), "{:?}", rerun.stopped);
    assert_eq!(rerun.summary.copied, 10);
    assert_eq!(
        rerun.summary.deleted,
        10 + 12,
        "the new files and the 12 recorded before"
    );
    assert_eq!(tree(dest.path()).len(), 150);
    assert_consistent_with(&originals, &serial, dest.path());
    assert!(
        phone.paths(storage).iter().all(|p| p.ends_with('/')),
        "only folders are left on the phone"
    );
}
