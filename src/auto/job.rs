//! One automatic backup of one device, the same whether udev's unit or
//! `mtpull watch` started it: take the device's lock, open it, check it is
//! allowed, wait (a bounded time) for a locked phone to be unlocked, back up.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use super::arrivals::Arrival;
use super::config::Config;
use super::lock::lock_device;
use crate::pull::{BackupOptions, Observer, PullError, RunReport, backup, reported_serial};
use crate::session::Session;
use crate::transport::OpenError;

/// A device held by another program (gvfs, kio, libmtp's probe) is tried
/// again for this long: desktops grab phones the moment they appear.
const BUSY_PATIENCE: Duration = Duration::from_secs(6);
const BUSY_PAUSE: Duration = Duration::from_millis(500);

/// What a job needs besides the device.
#[derive(Debug, Clone, Copy)]
pub struct JobSettings<'a> {
    /// The user's settings.
    pub config: &'a Config,
    /// Where the per-device lock files live.
    pub lock_dir: &'a Path,
}

/// How a job ended.
#[derive(Debug)]
pub enum JobOutcome {
    /// The backup ran; its report says how far it got.
    Ran(Box<RunReport>),
    /// Another backup of this device is under way; it was left to it.
    AlreadyRunning,
    /// The settings do not list this device.
    NotAllowed {
        /// The serials the device goes by (MTP's, and USB's when it differs).
        serials: Vec<String>,
    },
    /// The phone showed no storage for the whole wait.
    StayedLocked {
        /// How long it was waited for.
        waited: Duration,
        /// What the user must do (unlock, or tap Trust on an iPhone).
        hint: &'static str,
    },
    /// Stopped (Ctrl-C, service stop) before the backup started.
    Cancelled,
    /// The device could not be locked, opened or asked who it is.
    Failed(String),
}

/// A desktop notification's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// The notification's title.
    pub summary: String,
    /// What it says.
    pub body: String,
    /// Something went wrong that the user should look at.
    pub urgent: bool,
}

impl JobOutcome {
    /// Whether everything the job set out to copy is in the destination.
    pub fn succeeded(&self) -> bool {
        matches!(self, JobOutcome::Ran(report) if report.succeeded())
    }

    /// One line for the log, after the device's name.
    pub fn describe(&self) -> String {
        match self {
            JobOutcome::Ran(report) => match &report.stopped {
                None if report.summary.failed == 0 => format!("backup finished: {}", report.summary),
                None => format!(
                    "backup finished with {} failed files (they are tried again next time): {}",
                    report.summary.failed, report.summary
                ),
                Some(reason) => format!("backup stopped: {reason}"),
            },
            JobOutcome::AlreadyRunning => "a backup of this device is already running; left to it".into(),
            JobOutcome::NotAllowed { serials } => format!(
                "not backed up: serial {} is not in the settings' devices list",
                serials.join(" / ")
            ),
            JobOutcome::StayedLocked { waited, hint } => format!(
                "not backed up: no storage appeared within {} s; the {hint}, then plug it in again",
                waited.as_secs()
            ),
            JobOutcome::Cancelled => "stopped before the backup began".into(),
            JobOutcome::Failed(reason) => format!("not backed up: {reason}"),
        }
    }

    /// The desktop notification this outcome deserves, if any: the user
    /// hears of every backup that ran or could not, not of devices left
    /// alone on purpose.
    pub fn notice(&self, name: &str, destination: &Path) -> Option<Notice> {
        let notice = |summary: String, body: String, urgent| Notice {
            summary,
            body,
            urgent,
        };
        match self {
            JobOutcome::Ran(report) => {
                let s = &report.summary;
                let copied = format!(
                    "{} ({}) copied to {}; {} already backed up.",
                    crate::human::count(s.copied, "new file"),
                    crate::human::bytes(s.bytes_copied),
                    destination.display(),
                    s.already
                );
                Some(match &report.stopped {
                    None if s.failed == 0 => notice(format!("Backed up {name}"), copied, false),
                    None => notice(
                        format!(
                            "Backed up {name}, {} failed",
                            crate::human::count(s.failed, "file")
                        ),
                        format!("{copied} The failed files are tried again next time."),
                        true,
                    ),
                    Some(PullError::Interrupted) => return None,
                    Some(reason) => notice(
                        format!("Backup of {name} stopped"),
                        format!("{reason}. {copied}"),
                        true,
                    ),
                })
            }
            JobOutcome::StayedLocked { hint, .. } => Some(notice(
                format!("{name} was not backed up"),
                format!("The {hint}, then plug it in again."),
                true,
            )),
            JobOutcome::Failed(reason) => {
                Some(notice(format!("{name} was not backed up"), reason.clone(), true))
            }
            JobOutcome::AlreadyRunning | JobOutcome::NotAllowed { .. } | JobOutcome::Cancelled => None,
        }
    }
}

/// Backs up the device that `arrival` announced, as `settings` say. Log
/// lines about the job (not the files) go to `log`; the backup's own events
/// to `observer`.
pub fn run(
    arrival: &Arrival,
    settings: JobSettings<'_>,
    cancel: &AtomicBool,
    observer: &mut dyn Observer,
    log: &mut dyn FnMut(&str),
) -> JobOutcome {
    let config = settings.config;
    let _lock = match lock_device(settings.lock_dir, arrival.lock_key()) {
        Ok(Some(lock)) => lock,
        Ok(None) => return JobOutcome::AlreadyRunning,
        Err(e) => return JobOutcome::Failed(format!("cannot take the device's lock: {e}")),
    };
    let transport = match open_patiently(arrival, cancel, log) {
        Ok(transport) => transport,
        Err(outcome) => return outcome,
    };
    let mut session = match Session::open(transport) {
        Ok(session) => session,
        Err(e) => return JobOutcome::Failed(format!("starting an MTP session: {e}")),
    };
    // The MTP serial (what `mtpull devices` shows) and the USB one: they differ on some devices.
    let mut serials = vec![reported_serial(&session)];
    serials.extend(arrival.usb_serial.clone().filter(|usb| *usb != serials[0]));
    if !config.devices.allows(serials.iter().map(String::as_str)) {
        let _ = session.close();
        return JobOutcome::NotAllowed { serials };
    }
    if let Err(outcome) = wait_until_unlocked(&mut session, config.unlock_timeout, cancel, log) {
        let _ = session.close();
        return outcome;
    }
    log(&format!("backing up into {}", config.destination.display()));
    // Phones plugged in together take turns at DEST.
    let options = BackupOptions {
        wait_for_destination: true,
        ..config.backup.clone()
    };
    let report = backup(&mut session, &config.destination, &options, cancel, observer);
    // A device unplugged mid-way cannot be told goodbye; nothing is lost by that.
    let _ = session.close();
    JobOutcome::Ran(Box::new(report))
}

/// Opens the device, trying again while another program holds it.
fn open_patiently(
    arrival: &Arrival,
    cancel: &AtomicBool,
    log: &mut dyn FnMut(&str),
) -> Result<Box<dyn crate::transport::Transport>, JobOutcome> {
    let started = Instant::now();
    let mut told = false;
    loop {
        match arrival.open() {
            Ok(transport) => return Ok(transport),
            Err(OpenError::Busy { .. }) if started.elapsed() < BUSY_PATIENCE => {
                if !told {
                    log("in use by another program; trying again for a few seconds");
                    told = true;
                }
                if cancel.load(Ordering::Relaxed) {
                    return Err(JobOutcome::Cancelled);
                }
                thread::sleep(BUSY_PAUSE);
            }
            Err(e) => return Err(JobOutcome::Failed(e.to_string())),
        }
    }
}

/// Returns once the device shows a storage; a locked phone is waited for up
/// to `timeout` (StoreAdded arrives when the user unlocks it).
fn wait_until_unlocked(
    session: &mut Session,
    timeout: Duration,
    cancel: &AtomicBool,
    log: &mut dyn FnMut(&str),
) -> Result<(), JobOutcome> {
    let started = Instant::now();
    let mut waited = false;
    let storages = session
        .storages(timeout, cancel, |hint| {
            waited = true;
            log(&format!(
                "no storage yet: the {hint}. Waiting up to {} s",
                timeout.as_secs()
            ));
        })
        .map_err(|e| JobOutcome::Failed(format!("asking for the storages: {e}")))?;
    match (storages.is_empty(), cancel.load(Ordering::Relaxed)) {
        (false, _) if waited => log("unlocked"),
        (false, _) => {}
        (true, true) => return Err(JobOutcome::Cancelled),
        (true, false) => {
            return Err(JobOutcome::StayedLocked {
                waited: started.elapsed(),
                hint: session.no_storage_hint(),
            });
        }
    }
    Ok(())
}
