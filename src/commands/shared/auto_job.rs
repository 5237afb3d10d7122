//! One automatic backup as `auto` and `watch` report it: log lines prefixed
//! with the device's name on stderr (the journal), a desktop notification at
//! the end.

use std::path::Path;
use std::sync::atomic::AtomicBool;

use mtpull::auto::{Arrival, Config, JobOutcome, JobSettings, Notifier, job};

use super::progress::Progress;

/// The notifier the settings ask for.
pub fn notifier(config: &Config) -> Notifier {
    if config.notify {
        Notifier::from_env()
    } else {
        Notifier::disabled()
    }
}

/// Backs up one device: log lines prefixed with its name on stderr, and a
/// desktop notification of how it went.
pub fn back_up(
    arrival: &Arrival,
    config: &Config,
    lock_dir: &Path,
    notifier: &Notifier,
    cancel: &AtomicBool,
) -> JobOutcome {
    let prefix = format!("{}: ", arrival.name);
    let mut progress = Progress::plain(&config.destination, prefix.clone());
    let mut log = |line: &str| note!("{prefix}{line}");
    let settings = JobSettings { config, lock_dir };
    let outcome = job::run(arrival, settings, cancel, &mut progress, &mut log);
    log(&outcome.describe());
    if let Some(notice) = outcome.notice(&arrival.name, &config.destination)
        && let Err(e) = notifier.send(&notice.summary, &notice.body, notice.urgent)
    {
        log(&format!("no desktop notification: {e}"));
    }
    outcome
}
