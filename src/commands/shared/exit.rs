//! Exit statuses (README, "## Commands"): 0 done; 1 some items failed and
//! the others were handled; 2 usage error or a failure that stopped the
//! command; 3 no device found, or the phone is locked / not in File transfer
//! mode; 130 interrupted by Ctrl-C.

use mtpull::pull::{PullError, RunReport};
use mtpull::session::SessionError;

/// Exit status when some items failed and the others were handled.
pub const SOME_FAILED: u8 = 1;
/// Exit status when nothing could be done (clap uses it for usage errors too).
pub const FATAL: u8 = 2;
/// Exit status when there is no device to talk to, or the phone is locked.
pub const NO_DEVICE: u8 = 3;
/// Exit status after Ctrl-C (128 + SIGINT, as shells report it).
pub const INTERRUPTED: u8 = 130;

/// No device to talk to (none connected, none matching `--device`).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NoDevice(pub String);

/// The phone shows no storage: it is locked or not in File transfer mode.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PhoneLocked(pub &'static str);

/// The exit status for an error that stopped a command.
pub fn of_error(error: &anyhow::Error) -> u8 {
    let locked = error.chain().any(|cause| {
        cause
            .downcast_ref::<SessionError>()
            .is_some_and(SessionError::is_locked)
    });
    if locked || error.is::<NoDevice>() || error.is::<PhoneLocked>() {
        NO_DEVICE
    } else {
        FATAL
    }
}

/// The exit status a backup run's outcome calls for.
pub fn of_report(report: &RunReport) -> u8 {
    match &report.stopped {
        None if report.summary.failed > 0 || report.summary.storage_failed() => SOME_FAILED,
        None => 0,
        Some(PullError::Interrupted) => INTERRUPTED,
        Some(PullError::Locked { .. }) => NO_DEVICE,
        Some(PullError::Device { source, .. }) if source.is_locked() => NO_DEVICE,
        Some(_) => FATAL,
    }
}

/// Whether writing to stdout failed because its reader went away
/// (`mtpull ls | head`): not a failure, and said nowhere.
pub fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error
        .chain()
        .filter_map(|cause| cause.downcast_ref::<std::io::Error>())
        .any(|cause| cause.kind() == std::io::ErrorKind::BrokenPipe)
}
