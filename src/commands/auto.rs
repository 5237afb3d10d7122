//! `mtpull auto`: the backup udev's unit starts for the device just plugged
//! in, with the user's settings.

use std::process::ExitCode;

use anyhow::Context;
use mtpull::auto::{Arrival, Config, JobOutcome, lock};
use mtpull::transport::{self, DeviceSelector};

use super::connect::{open_error, simulated_arrival, usb_backend};
use super::shared::auto_job::{back_up, notifier};
use super::shared::exit::{self, FATAL, INTERRUPTED, NO_DEVICE};
use super::shared::interrupt;
use crate::cli::{AutoArgs, DeviceChoice};

/// `quiet`: errors only (what went wrong with the backup), nothing else.
pub fn run(choice: &DeviceChoice, quiet: bool, args: &AutoArgs) -> anyhow::Result<ExitCode> {
    let path = args.settings.path()?;
    let Some(config) = Config::load(&path)? else {
        // udev starts the unit for every logged-in user; most have not asked for it.
        if quiet {
            return Ok(ExitCode::SUCCESS);
        }
        note!(
            "mtpull: no auto-backup settings at {}: nothing to do (`mtpull config init` sets them up)",
            path.display()
        );
        return Ok(ExitCode::SUCCESS);
    };
    let arrival = find_device(choice)?;
    let cancel = interrupt::cancel_on_ctrl_c().context("installing the Ctrl-C handler")?;
    let outcome = back_up(
        &arrival,
        &config,
        &lock::default_dir(),
        &notifier(&config),
        &cancel,
        quiet,
    );
    Ok(ExitCode::from(exit_status_of(&outcome)))
}

/// The device `--device` names (udev's unit passes the USB port), or the only
/// one; or the simulated one (`--sim`).
fn find_device(choice: &DeviceChoice) -> anyhow::Result<Arrival> {
    if let Some(arrival) = simulated_arrival(choice)? {
        return Ok(arrival);
    }
    let backend = usb_backend()?;
    let discovery = transport::discover_with(backend).map_err(open_error)?;
    let index = discovery
        .select(&DeviceSelector::from_arg(choice.serial.as_deref()))
        .map_err(open_error)?;
    Ok(Arrival::on_usb(&discovery.devices[index], backend))
}

/// The exit status for how the job ended.
fn exit_status_of(outcome: &JobOutcome) -> u8 {
    match outcome {
        JobOutcome::Ran(report) => exit::of_report(report),
        JobOutcome::AlreadyRunning | JobOutcome::NotAllowed { .. } => 0,
        JobOutcome::StayedLocked { .. } => NO_DEVICE,
        JobOutcome::Cancelled => INTERRUPTED,
        JobOutcome::Failed(_) => FATAL,
    }
}
