//! `mtpull watch`'s loop and the auto-backup job, driven by simulated phones
//! that are plugged in, pulled out mid-copy, plugged back, locked, unknown
//! to the settings, or plugged twice at once.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread;
use std::time::Duration;

use mtpull::auto::{Arrival, Config, DeviceEvent, DevicePolicy, JobOutcome, JobSettings, job, watch};
use mtpull::ptp::OperationCode;
use mtpull::pull::{Event, PullError, RunReport};
use mtpull::sim::{DeviceIdentity, Fault, Profile, SimConfig, SimDevice, StorageSpec};

use crate::backup_util::{STORAGE, assert_consistent, at, phone, photo, samples, tree};

/// How long a test waits for a job before calling it stuck.
const PATIENCE: Duration = Duration::from_secs(60);

/// What a finished job reports to the test.
struct Ended {
    id: String,
    outcome: JobOutcome,
}

/// A watch running on its own thread, fed and observed by the test.
struct Watching<'a> {
    plug: Sender<DeviceEvent>,
    ended: Receiver<Ended>,
    stop: &'a AtomicBool,
    log: &'a Mutex<Vec<String>>,
}

impl Watching<'_> {
    fn arrive(&self, device: &SimDevice) {
        self.plug.send(DeviceEvent::Arrived(device.arrival())).unwrap();
    }

    fn leave(&self, device: &SimDevice) {
        device.unplug();
        let id = device.arrival().id;
        self.plug.send(DeviceEvent::Left { id }).unwrap();
    }

    fn wait_for_log(&self, words: &str) {
        let deadline = std::time::Instant::now() + PATIENCE;
        while !self.log.lock().unwrap().iter().any(|line| line.contains(words)) {
            assert!(std::time::Instant::now() < deadline, "no log line says {words:?}");
            thread::sleep(Duration::from_millis(10));
        }
    }

    fn next_end(&self) -> Ended {
        self.ended.recv_timeout(PATIENCE).expect("a job ended")
    }
}

/// Runs `script` against a watch backing up with `config` (locks in
/// `lock_dir`), then closes the channel and waits for the watch to return.
fn with_watch(config: &Config, lock_dir: &Path, script: impl FnOnce(&Watching<'_>)) -> Vec<String> {
    let (plug, events) = mpsc::channel();
    let (report, ended) = mpsc::channel();
    let stop = AtomicBool::new(false);
    let log = Mutex::new(Vec::new());
    let report = Mutex::new(report);
    let job = |arrival: Arrival| {
        let settings = JobSettings { config, lock_dir };
        let mut lines = |line: &str| log.lock().unwrap().push(format!("{}: {line}", arrival.id));
        let outcome = job::run(&arrival, settings, &stop, &mut |_: &Event<'_>| {}, &mut lines);
        let id = arrival.id.clone();
        report.lock().unwrap().send(Ended { id, outcome }).unwrap();
    };
    let watcher_log = |line: &str| log.lock().unwrap().push(line.to_owned());
    thread::scope(|scope| {
        let (stop, job, watcher_log) = (&stop, &job, &watcher_log);
        scope.spawn(move || watch(&events, stop, job, watcher_log));
        let watching = Watching {
            plug,
            ended,
            stop,
            log: &log,
        };
        script(&watching);
        // Dropping `watching` closes the channel: the watch ends once its jobs have.
    });
    log.into_inner().unwrap()
}

fn settings(dest: &Path) -> Config {
    Config {
        unlock_timeout: Duration::from_secs(10),
        ..Config::defaults_for(dest.to_owned())
    }
}

fn named(profile: Profile, serial: &str) -> SimDevice {
    let identity = DeviceIdentity {
        serial: serial.into(),
        ..DeviceIdentity::simulated(profile)
    };
    let device = SimConfig::new(profile).identity(identity).build();
    let storage = device.add_storage(StorageSpec::new(STORAGE));
    for sample in samples() {
        device
            .add_file(storage, sample.path, sample.bytes, sample.mtime)
            .unwrap();
    }
    device
}

fn ran(outcome: &JobOutcome) -> &RunReport {
    match outcome {
        JobOutcome::Ran(report) => report,
        other => panic!("the backup did not run: {other:?}"),
    }
}

fn dirs() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let root = tempfile::tempdir().unwrap();
    let dest = root.path().join("dest");
    let locks = root.path().join("locks");
    (root, dest, locks)
}

#[test]
fn phones_come_and_go_and_each_is_backed_up_whole() {
    let (_root, dest, locks) = dirs();
    let (phone, storage) = phone(Profile::Android);
    let camera = SimConfig::new(Profile::PtpCamera)
        .identity(DeviceIdentity {
            serial: "CAMERA-1".into(),
            ..DeviceIdentity::simulated(Profile::PtpCamera)
        })
        .build();
    let card = camera.add_storage(StorageSpec::new("SD card"));
    let shot = photo(at(2021, 9, 5, 17, 30, 0), 200);
    camera
        .add_file(
            card,
            "DCIM/100CANON/IMG_0001.JPG",
            shot.clone(),
            at(2021, 9, 5, 17, 30, 0),
        )
        .unwrap();
    let config = settings(&dest);
    // The phone is pulled out while its first file's bytes are coming.
    phone.arm(Fault::disconnect_after(300).during(OperationCode::GET_OBJECT));

    let log = with_watch(&config, &locks, |w| {
        w.arrive(&phone);
        let cut = w.next_end();
        let report = ran(&cut.outcome);
        assert!(
            matches!(report.stopped, Some(PullError::Connection { .. })),
            "{:?}",
            report.stopped
        );
        assert!(!cut.outcome.succeeded());
        // Pulled out: nothing half-written has a final name, the manifest holds.
        assert_consistent(&phone, storage, &dest);
        w.leave(&phone);

        // A camera comes and goes meanwhile; it is backed up on its own.
        w.arrive(&camera);
        let camera_run = w.next_end();
        assert_eq!(camera_run.id, "sim-CAMERA-1");
        assert!(
            camera_run.outcome.succeeded(),
            "{}",
            camera_run.outcome.describe()
        );
        w.leave(&camera);

        // Plugged back: the backup resumes and completes.
        w.arrive(&phone);
        let resumed = w.next_end();
        assert!(resumed.outcome.succeeded(), "{}", resumed.outcome.describe());
        assert_eq!(
            ran(&resumed.outcome).summary.resumed,
            1,
            "the cut file was resumed, not restarted"
        );
        let filed = tree(&dest);
        assert!(
            samples()
                .iter()
                .all(|s| filed.get(s.expected_dest) == Some(&s.bytes))
        );

        // And again: nothing new.
        w.leave(&phone);
        w.arrive(&phone);
        let again = w.next_end();
        assert_eq!(ran(&again.outcome).summary.copied, 0);
        assert!(
            w.log
                .lock()
                .unwrap()
                .iter()
                .any(|l| l == "sim-SIM-ANDROID: disconnected")
        );
    });
    // Both devices' files, each once, byte for byte.
    let mut expected: BTreeMap<String, Vec<u8>> = samples()
        .into_iter()
        .map(|s| (s.expected_dest.to_owned(), s.bytes))
        .collect();
    expected.insert("2021/09/05/IMG_0001.JPG".into(), shot);
    assert_eq!(tree(&dest), expected);
    assert!(
        log.iter()
            .any(|l| l.ends_with("connected") && l.contains("Simulated camera")),
        "{log:#?}"
    );
}

#[test]
fn a_locked_phone_is_waited_for_and_backed_up_once_unlocked() {
    let (_root, dest, locks) = dirs();
    let phone = named(Profile::Locked, "LOCKED-1");
    let config = settings(&dest);
    let log = with_watch(&config, &locks, |w| {
        w.arrive(&phone);
        thread::sleep(Duration::from_millis(500));
        assert!(tree(&dest).is_empty());
        phone.unlock();
        let ended = w.next_end();
        assert!(ended.outcome.succeeded(), "{}", ended.outcome.describe());
    });
    assert_eq!(tree(&dest).len(), samples().len());
    assert!(
        log.iter()
            .any(|l| l.contains("no storage yet") && l.contains("Waiting up to 10 s")),
        "{log:#?}"
    );
    assert!(log.iter().any(|l| l.ends_with(": unlocked")), "{log:#?}");
}

#[test]
fn a_phone_that_stays_locked_is_given_up_on_after_the_timeout() {
    let (_root, dest, locks) = dirs();
    let phone = named(Profile::Locked, "LOCKED-2");
    let config = Config {
        unlock_timeout: Duration::from_secs(1),
        ..settings(&dest)
    };
    with_watch(&config, &locks, |w| {
        w.arrive(&phone);
        let ended = w.next_end();
        let JobOutcome::StayedLocked { waited, .. } = ended.outcome else {
            panic!("{:?}", ended.outcome)
        };
        assert!(
            waited >= Duration::from_secs(1) && waited < Duration::from_secs(5),
            "{waited:?}"
        );
        let notice = ended.outcome.notice("Phone", &dest).unwrap();
        assert!(notice.urgent && notice.body.contains("unlock it"), "{notice:?}");
    });
    assert!(!dest.exists(), "nothing written for a locked phone");
}

#[test]
fn only_the_devices_the_settings_name_are_backed_up() {
    let (_root, dest, locks) = dirs();
    let mine = named(Profile::Android, "MINE");
    let visitor = named(Profile::Samsung, "VISITOR");
    let config = Config {
        devices: DevicePolicy::Serials(vec!["MINE".into()]),
        ..settings(&dest)
    };
    with_watch(&config, &locks, |w| {
        w.arrive(&visitor);
        let ended = w.next_end();
        assert!(
            matches!(&ended.outcome, JobOutcome::NotAllowed { serials } if serials.contains(&"VISITOR".to_owned())),
            "{:?}",
            ended.outcome
        );
        assert!(
            ended.outcome.notice("Visitor", &dest).is_none(),
            "left alone quietly"
        );
        assert!(!dest.exists());
        w.arrive(&mine);
        assert!(w.next_end().outcome.succeeded());
    });
    assert_eq!(tree(&dest).len(), samples().len());
}

#[test]
fn one_device_announced_twice_is_backed_up_by_one_job_only() {
    let (_root, dest, locks) = dirs();
    let phone = named(Profile::Android, "TWICE");
    phone.set_latency(Duration::from_millis(20));
    let config = settings(&dest);
    with_watch(&config, &locks, |w| {
        // Two announcements under different ids (udev's unit and a watch,
        // say): the same serial, so the same lock.
        let first = phone.arrival();
        let mut second = first.clone();
        second.id = "elsewhere".into();
        w.plug.send(DeviceEvent::Arrived(first)).unwrap();
        thread::sleep(Duration::from_millis(100));
        w.plug.send(DeviceEvent::Arrived(second)).unwrap();
        let ends = [w.next_end(), w.next_end()];
        let outcomes: Vec<&JobOutcome> = ends.iter().map(|e| &e.outcome).collect();
        assert!(
            outcomes.iter().any(|o| matches!(o, JobOutcome::AlreadyRunning)),
            "{outcomes:?}"
        );
        assert!(outcomes.iter().any(|o| o.succeeded()), "{outcomes:?}");
    });
    assert_eq!(tree(&dest).len(), samples().len());
}

#[test]
fn stopping_the_watch_interrupts_a_backup_and_keeps_what_it_copied() {
    let (_root, dest, locks) = dirs();
    let (phone, storage) = phone(Profile::Android);
    phone.set_latency(Duration::from_millis(50));
    let config = settings(&dest);
    with_watch(&config, &locks, |w| {
        w.arrive(&phone);
        w.wait_for_log("backing up into");
        thread::sleep(Duration::from_millis(200));
        w.stop.store(true, Ordering::Relaxed);
        let ended = w.next_end();
        assert!(
            matches!(ran(&ended.outcome).stopped, Some(PullError::Interrupted)),
            "{}",
            ended.outcome.describe()
        );
        assert!(
            ended.outcome.notice("Phone", &dest).is_none(),
            "Ctrl-C is no news"
        );
    });
    assert_consistent(&phone, storage, &dest);
    assert!(tree(&dest).len() < samples().len(), "the stop came mid-backup");
}
