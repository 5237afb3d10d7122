//! `mtpull auto`: the backup udev's unit starts for the device just plugged
//! in, with the user's settings; and the one-device job it shares with
//! `mtpull watch`: log lines on stderr (the journal), a desktop notification
//! at the end.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use mtpull::auto::{Arrival, Config, JobOutcome, JobSettings, Notifier, config, job, lock};
use mtpull::transport::{self, DeviceSelector};

use super::backup::{CANCEL, INTERRUPTED, Progress, catch_ctrl_c, exit_status};
use super::connect::{open_error, simulated_device};
use super::{FATAL, NO_DEVICE};
use crate::cli::{AutoArgs, Cli};

pub fn run(cli: &Cli, args: &AutoArgs) -> anyhow::Result<ExitCode> {
    let path = settings_path(args.config.as_deref())?;
    let Some(config) = Config::load(&path)? else {
        // udev starts the unit for every logged-in user; most have not asked for it.
        note!(
            "mtpull: no auto-backup settings at {}: nothing to do (`mtpull config init` sets them up)",
            path.display()
        );
        return Ok(ExitCode::SUCCESS);
    };
    let arrival = find_device(cli)?;
    catch_ctrl_c().context("installing the Ctrl-C handler")?;
    let notifier = if config.notify {
        Notifier::from_env()
    } else {
        Notifier::disabled()
    };
    let outcome = back_up(&arrival, &config, &lock::default_dir(), &notifier);
    Ok(ExitCode::from(exit_status_of(&outcome)))
}

/// The settings file `--config` names, or the usual one.
pub(super) fn settings_path(given: Option<&Path>) -> anyhow::Result<PathBuf> {
    match given {
        Some(path) => Ok(path.to_owned()),
        None => Ok(config::path_from_env()?),
    }
}

/// The device `--device` names (udev's unit passes the USB port), or the only
/// one; or the simulated one (`--sim`).
fn find_device(cli: &Cli) -> anyhow::Result<Arrival> {
    if let Some(phone) = simulated_device(cli)? {
        return Ok(Arrival::simulated(&phone));
    }
    let discovery = transport::discover().map_err(open_error)?;
    let index = discovery
        .select(&DeviceSelector::from_arg(cli.device.as_deref()))
        .map_err(open_error)?;
    Ok(Arrival::on_usb(&discovery.devices[index]))
}

/// Backs up one device: log lines prefixed with its name on stderr, and a
/// desktop notification of how it went.
pub(super) fn back_up(
    arrival: &Arrival,
    config: &Config,
    lock_dir: &Path,
    notifier: &Notifier,
) -> JobOutcome {
    let prefix = format!("{}: ", arrival.name);
    let mut progress = Progress::plain(&config.destination, prefix.clone());
    let mut log = |line: &str| note!("{prefix}{line}");
    let settings = JobSettings { config, lock_dir };
    let outcome = job::run(arrival, settings, &CANCEL, &mut progress, &mut log);
    log(&outcome.describe());
    if let Some(notice) = outcome.notice(&arrival.name, &config.destination) {
        if let Err(e) = notifier.send(&notice.summary, &notice.body, notice.urgent) {
            log(&format!("no desktop notification: {e}"));
        }
    }
    outcome
}

/// The exit status for how the job ended.
fn exit_status_of(outcome: &JobOutcome) -> u8 {
    match outcome {
        JobOutcome::Ran(report) => exit_status(report),
        JobOutcome::AlreadyRunning | JobOutcome::NotAllowed { .. } => 0,
        JobOutcome::StayedLocked { .. } => NO_DEVICE,
        JobOutcome::Cancelled => INTERRUPTED,
        JobOutcome::Failed(_) => FATAL,
    }
}
