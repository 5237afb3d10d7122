//! One function per subcommand; each returns the process's exit status.
//!
//! Exit statuses (README, "## Commands"): 0 done; 1 some items failed and
//! the others were handled; 2 usage error or a failure that stopped the
//! command; 3 no device found, or the phone is locked / not in File transfer mode.

mod auto;
mod backup;
mod config;
mod connect;
mod devices;
mod install_udev;
pub mod ls;
mod sort;
mod watch;

use std::process::ExitCode;

use mtpull::session::{LOCKED_HINT, SessionError};

use crate::cli::{Cli, Command};

/// Exit status when some items failed and the others were handled.
pub const SOME_FAILED: u8 = 1;
/// Exit status when nothing could be done (clap uses it for usage errors too).
pub const FATAL: u8 = 2;
/// Exit status when there is no device to talk to, or the phone is locked.
pub const NO_DEVICE: u8 = 3;

/// No device to talk to (none connected, none matching `--device`).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NoDevice(pub String);

/// The phone shows no storage: it is locked or not in File transfer mode.
#[derive(Debug, thiserror::Error)]
#[error("{LOCKED_HINT}")]
pub struct PhoneLocked;

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match &cli.command {
        Command::Devices => devices::run(&cli),
        Command::Ls(args) => ls::run(&cli, args),
        Command::Sort(args) => sort::run(&cli, args),
        Command::Backup(args) => backup::run(&cli, args),
        Command::Auto(args) => auto::run(&cli, args),
        Command::Watch(args) => watch::run(&cli, args),
        Command::Config(command) => config::run(command),
        Command::InstallUdev(args) => install_udev::run(args),
    }
}

/// The exit status for an error that stopped a command.
pub fn exit_code(error: &anyhow::Error) -> u8 {
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
