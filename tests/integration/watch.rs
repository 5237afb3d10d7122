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
use mtpull::pull::{Event, Manifest, PullError, RunReport, device_serial};
use mtpull::session::Session;
use mtpull::sim::{DeviceIdentity, Fault, Profile, SimConfig, SimDevice, StorageSpec};
use mtpull::sort::DestLock;

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

    /// The next job to end, which must have succeeded.
    fn next_success(&self) -> Ended {
        let ended = self.next_end();
        assert!(
            ended.outcome.succeeded(),
            "{}: {}",
            ended.id,
            ended.outcome.describe()
        );
        ended
    }
}

/// Runs `script` against a watch backing up with `config` (locks in
/// `lock_dir`), then closes the channel and waits for the watch to return.
fn with_watch(config: &Config, lock_dir: &Path, script: impl FnOnce(&Watching<'_>)) -> Vec<String> {
    with_watch_seeing(config, lock_dir, &|_, _, _| {}, script)
}

/// Sees a job's events: the job's id, the event, the log.
type Hook<'a> = dyn Fn(&str, &Event<'_>, &Mutex<Vec<String>>) + Sync + 'a;

/// [`with_watch`], with `hook` seeing each job's events (with the job's id and the
/// log) on the job's thread, before the log does.
fn with_watch_seeing(
    config: &Config,
    lock_dir: &Path,
    hook: &Hook<'_>,
    script: impl FnOnce(&Watching<'_>),
) -> Vec<String> {
    let (plug, events) = mpsc::channel();
    let (report, ended) = mpsc::channel();
    let stop = AtomicBool::new(false);
    let log = Mutex::new(Vec::new());
    let report = Mutex::new(report);
    let job = |arrival: Arrival| {
        let settings = JobSettings { config, lock_dir };
        let mut lines = |line: &str| log.lock().unwrap().push(format!("{}: {line}", arrival.id));
        let mut events = |event: &Event<'_>| {
            hook(&arrival.id, event, &log);
            let line = match event {
                Event::WaitingForDestination => "waiting for DEST".to_owned(),
                Event::DownloadedWhileWaiting { files, .. } => {
                    format!("downloaded {files} files while waiting")
                }
                _ => return,
            };
            log.lock().unwrap().push(format!("{}: {line}", arrival.id));
        };
        let outcome = job::run(&arrival, settings, &stop, &mut events, &mut lines);
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

/// QEMU's usb-mtp gives every device this MTP serial (and a USB serial of its port).
const QEMU_SERIAL: &str = "0123456789abcdef0123456789abcdef";

/// One of two phones plugged in together: a photo under the same path, size
/// and date as the other's but with other bytes (`shade`), a WhatsApp picture
/// both hold, and one of its own. Returns the phone and its files' bytes.
fn one_of_two(serial: &str, usb_serial: Option<&str>, shade: u8) -> (SimDevice, BTreeMap<String, Vec<u8>>) {
    let identity = DeviceIdentity {
        serial: serial.into(),
        usb_serial: usb_serial.map(str::to_owned),
        ..DeviceIdentity::simulated(Profile::Android)
    };
    let device = SimConfig::new(Profile::Android).identity(identity).build();
    let storage = device.add_storage(StorageSpec::new(STORAGE));
    let taken = at(2024, 5, 1, 9, 30, 0);
    // Same length on both phones, so that only the bytes differ.
    let mut same_key = photo(taken, shade);
    same_key.resize(64 * 1024, shade);
    let files = BTreeMap::from([
        ("DCIM/Camera/IMG_0001.jpg".to_owned(), same_key),
        (
            "Pictures/WhatsApp/IMG-20240102-WA0001.jpg".to_owned(),
            photo(at(2024, 1, 2, 18, 0, 0), 7),
        ),
        (
            format!("DCIM/Camera/own-{shade}.jpg"),
            photo(at(2024, 2, u32::from(shade % 28) + 1, 12, 0, 0), shade),
        ),
    ]);
    for (path, bytes) in &files {
        // The shared picture arrived on each phone at another moment.
        let mtime = at(2024, 6, 1, 10, u32::from(shade % 60), 0);
        let mtime = if path.contains("IMG_0001") { taken } else { mtime };
        device.add_file(storage, path, bytes.clone(), mtime).unwrap();
    }
    (device, files)
}

/// The name the manifest knows a phone by.
fn identity_of(device: &SimDevice) -> String {
    let session = Session::open(Box::new(device.connect())).unwrap();
    device_serial(&session)
}

/// Two phones plugged in while DEST is busy: both wait their turn and are
/// backed up whole; what both hold is filed once; each phone's records are
/// its own (the same path, size and date on the other phone is another file);
/// plugged in again, neither copies anything.
fn two_phones_at_once(
    first: (SimDevice, BTreeMap<String, Vec<u8>>),
    second: (SimDevice, BTreeMap<String, Vec<u8>>),
) {
    let (_root, dest, locks) = dirs();
    let config = settings(&dest);
    let phones = [&first.0, &second.0];
    let identities = phones.map(identity_of);
    // Another run holds DEST (a sort, a backup started by hand) until both phones wait.
    let busy = DestLock::acquire(&dest).unwrap();
    with_watch(&config, &locks, |w| {
        for phone in phones {
            w.arrive(phone);
        }
        for phone in phones {
            w.wait_for_log(&format!("{}: waiting for DEST", phone.arrival().id));
        }
        drop(busy);
        for _ in phones {
            w.next_success();
        }
        // Plugged in again: everything is known, under each phone's own keys.
        for phone in phones {
            w.leave(phone);
            w.arrive(phone);
            let again = w.next_end();
            let summary = &ran(&again.outcome).summary;
            assert_eq!((summary.copied, summary.already), (0, 3), "{}", again.id);
        }
    });

    filed_once_each(&dest, [&first, &second], identities);
}

/// Every distinct file of the two phones once in DEST, byte for byte (the shared
/// picture once), and each phone's records pointing at its own bytes.
fn filed_once_each(
    dest: &Path,
    [first, second]: [&(SimDevice, BTreeMap<String, Vec<u8>>); 2],
    identities: [String; 2],
) {
    let mut expected: Vec<&Vec<u8>> = first.1.values().chain(second.1.values()).collect();
    expected.sort();
    expected.dedup();
    assert_eq!(expected.len(), 5);
    let filed = tree(dest);
    let mut found: Vec<&Vec<u8>> = filed.values().collect();
    found.sort();
    assert_eq!(
        found,
        expected,
        "DEST holds {:?}",
        filed.keys().collect::<Vec<_>>()
    );
    // Each phone's records point at its own bytes.
    assert_ne!(identities[0], identities[1], "the two phones share keys");
    let manifest = Manifest::open_read_only(dest).unwrap().unwrap();
    for ((_, files), identity) in [first, second].into_iter().zip(&identities) {
        let keys = manifest.keys_for(identity).unwrap();
        assert_eq!(keys.len(), files.len(), "{identity}: {keys:?}");
        for key in keys {
            let record = manifest.lookup(&key).unwrap().unwrap();
            assert_eq!(
                &filed[&record.dest], &files[&key.path],
                "{identity}: {} recorded at {}",
                key.path, record.dest
            );
        }
    }
}

#[test]
fn two_phones_with_the_same_serial_plugged_in_together_are_both_backed_up_apart() {
    two_phones_at_once(
        one_of_two(QEMU_SERIAL, Some("34617-0000:00:04.0-1"), 40),
        one_of_two(QEMU_SERIAL, Some("34617-0000:00:04.0-2"), 200),
    );
}

#[test]
fn two_phones_plugged_in_together_are_both_backed_up_and_shared_pictures_filed_once() {
    two_phones_at_once(one_of_two("PHONE-A", None, 40), one_of_two("PHONE-B", None, 200));
}

/// What the run that took DEST first saw while it held it, the other phone waiting.
#[derive(Debug, Default)]
struct WhileHeld {
    /// The id of the run that held DEST.
    holder: String,
    /// The other phone's files read (GetObject, GetPartialObject) by then.
    reads: u64,
    /// Files under a final name in DEST by then.
    filed: usize,
    /// What went wrong, if the other phone did not download while it waited.
    problem: Option<String>,
}

fn reads(device: &SimDevice) -> u64 {
    device.transactions_of(OperationCode::GET_OBJECT)
        + device.transactions_of(OperationCode::GET_PARTIAL_OBJECT)
}

/// Two phones plugged in together: the one that gets DEST first holds it (its run
/// pauses on its plan, under the lock) until the other has downloaded every new file
/// while it waits; nothing is filed meanwhile. Then both finish: the waiting phone's
/// files are filed without being read from it again, the picture both hold once.
#[test]
fn a_waiting_phone_downloads_while_another_holds_dest_and_files_in_its_turn() {
    let (_root, dest, locks) = dirs();
    let config = settings(&dest);
    let (first, second) = (one_of_two("PHONE-A", None, 40), one_of_two("PHONE-B", None, 200));
    let phones = [&first.0, &second.0];
    let ids = phones.map(|phone| phone.arrival().id);
    let identities = phones.map(identity_of);
    let seen = Mutex::new(None::<WhileHeld>);
    let hook = |id: &str, event: &Event<'_>, log: &Mutex<Vec<String>>| {
        // A run's plan is announced once it holds DEST; the first to get there waits.
        if !matches!(event, Event::Planned { .. }) || seen.lock().unwrap().is_some() {
            return;
        }
        let other = usize::from(ids[0] == id);
        let words = format!("{}: downloaded 3 files while waiting", ids[other]);
        // Within the test's patience for the job, so that this is what a failure says.
        let deadline = std::time::Instant::now() + PATIENCE / 2;
        let mut problem = None;
        while !log.lock().unwrap().contains(&words) {
            if std::time::Instant::now() > deadline {
                problem = Some(format!("no log line says {words:?}: {:#?}", log.lock().unwrap()));
                break;
            }
            thread::sleep(Duration::from_millis(10));
        }
        *seen.lock().unwrap() = Some(WhileHeld {
            holder: id.to_owned(),
            reads: reads(phones[other]),
            filed: tree(&dest).len(),
            problem,
        });
    };
    with_watch_seeing(&config, &locks, &hook, |w| {
        for phone in phones {
            w.arrive(phone);
        }
        for _ in phones {
            let ended = w.next_success();
            let summary = &ran(&ended.outcome).summary;
            assert_eq!(
                summary.copied + summary.duplicates,
                3,
                "{}: {summary:?}",
                ended.id
            );
            assert_eq!(
                summary.resumed, 0,
                "{}: a download made while waiting is no resume",
                ended.id
            );
            assert!(
                ran(&ended.outcome).rescan.is_none(),
                "{}: DEST indexed again, though the run before made its manifest",
                ended.id
            );
        }
    });
    let seen = seen.into_inner().unwrap().expect("a run held DEST");
    assert_eq!(seen.problem, None);
    assert_eq!(seen.filed, 0, "nothing filed while the other phone downloaded");
    let waited = usize::from(ids[0] == seen.holder);
    assert_eq!(
        seen.reads, 3,
        "the waiting phone's three files were read while DEST was held"
    );
    assert_eq!(
        reads(phones[waited]),
        seen.reads,
        "nothing read from the waiting phone again in its turn"
    );
    filed_once_each(&dest, [&first, &second], identities);
    let staging = dest.join(".mtpull/staging");
    assert_eq!(
        std::fs::read_dir(&staging).unwrap().count(),
        0,
        "staging left behind"
    );
}
