//! One function per subcommand; each returns the process's exit status.

mod sort;

use std::process::ExitCode;

use crate::cli::{Cli, Command};

/// Exit status when some files failed and the others were handled.
pub const SOME_FAILED: u8 = 1;
/// Exit status when nothing could be done (clap uses it for usage errors too).
pub const FATAL: u8 = 2;

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match &cli.command {
        Command::Sort(args) => sort::run(&cli, args),
    }
}
