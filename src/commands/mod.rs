//! One module per subcommand; each `run` returns the process's exit status
//! (see [`shared::exit`]). What several commands need lives in [`shared`] and
//! [`connect`]: commands never import each other.

mod auto;
mod backup;
mod config;
mod connect;
mod devices;
mod docs;
mod install_udev;
mod ls;
mod preview;
mod restore;
mod rm;
mod shared;
mod sort;
mod status;
mod verify;
mod watch;

use std::process::ExitCode;

use anyhow::bail;

use crate::cli::{Cli, Command, DeviceChoice};

pub use shared::exit::{is_broken_pipe, of_error as exit_code};

/// Runs the subcommand the command line names.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let before = &cli.device;
    let device = |after: &DeviceChoice| before.with(after).map_err(anyhow::Error::msg);
    let verbose = cli.verbose > 0;
    let quiet = cli.quiet;
    match &cli.command {
        Command::Devices(args) => devices::run(&device(&args.device)?, verbose, args),
        Command::Ls(args) => ls::run(&device(&args.device)?, verbose, args),
        Command::Backup(args) => backup::run(&device(&args.device)?, verbose, quiet, args),
        Command::Auto(args) => auto::run(&device(&args.device)?, quiet, args),
        Command::Status(args) => status::run(&device(&args.device)?, args),
        Command::Preview(args) => preview::run(&device(&args.device)?, quiet, args),
        Command::Restore(args) => restore::run(&device(&args.device)?, quiet, args),
        Command::Rm(args) => rm::run(&device(&args.device)?, args),
        Command::Watch(args) => watch::run(&device(&args.device)?, quiet, args),
        local if before.is_given() => bail!(
            "{} works on local files; --demo and --device are for commands that talk to a phone",
            local.name()
        ),
        Command::Sort(args) => sort::run(verbose, quiet, args),
        Command::Verify(args) => verify::run(args),
        Command::Config(command) => config::run(command),
        Command::InstallUdev(args) => install_udev::run(args),
        Command::Completions(args) => docs::completions(args),
        Command::Man(args) => docs::man(args),
    }
}
