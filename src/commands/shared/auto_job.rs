//! One automatic backup as `auto` and `watch` report it: log lines prefixed
//! with the device's name on stderr (the journal; with `--quiet`, errors only), a
//! desktop notification at the end.

use std::path::Path;
use std::sync::atomic::AtomicBool;

use mtpull::auto::{Arrival, Config, JobOutcome, JobSettings, Notifier, job};

use mtpull::pull::Observer;

use super::progress::Progress;
use super::quiet::FailuresOnly;

/// The notifier the settings ask for.
pub fn notifier(config: &Config) -> Notifier {
    if config.notify {
        Notifier::from_env()
    } else {
        Notifier::disabled()
    }
}

/// Backs up one device: log lines prefixed with its name on stderr (with `quiet`,
/// only what went wrong), and a desktop notification of how it went.
pub fn back_up(
    arrival: &Arrival,
    config: &Config,
    lock_dir: &Path,
    notifier: &Notifier,
    cancel: &AtomicBool,
    quiet: bool,
) -> JobOutcome {
    let prefix = format!("{}: ", arrival.name);
    let mut observer: Box<dyn Observer + '_> = match quiet {
        true => Box::new(FailuresOnly {
            prefix: prefix.clone(),
        }),
        false => Box::new(Progress::plain(&config.destination, prefix.clone())),
    };
    let log = |line: &str| note!("{prefix}{line}");
    let settings = JobSettings { config, lock_dir };
    let outcome = job::run(arrival, settings, cancel, &mut *observer, &mut |line| {
        if !quiet {
            log(line)
        }
    });
    if !quiet || went_wrong(&outcome) {
        log(&outcome.describe());
    }
    if let Some(notice) = outcome.notice(&arrival.name, &config.destination)
        && let Err(e) = notifier.send(&notice.summary, &notice.body, notice.urgent)
    {
        log(&format!("no desktop notification: {e}"));
    }
    outcome
}

/// Whether a job ended in something a person must hear of even with `--quiet`.
fn went_wrong(outcome: &JobOutcome) -> bool {
    match outcome {
        JobOutcome::Ran(report) => !report.succeeded(),
        JobOutcome::StayedLocked { .. } | JobOutcome::Failed(_) => true,
        JobOutcome::AlreadyRunning | JobOutcome::NotAllowed { .. } | JobOutcome::Cancelled => false,
    }
}
