//! The command line, as clap derives it. Parsing only: the commands live in
//! `crate::commands`.

use clap::{Parser, Subcommand};

use crate::commands::ls::LsArgs;

/// Copy photos and videos off a phone over MTP, filed by capture date.
#[derive(Debug, Parser)]
#[command(name = "mtpull", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,

    /// Say more: -v prints transaction counts and the listing strategy.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Run against a simulated phone with sample photos (no phone needed).
    #[arg(long, global = true)]
    pub demo: bool,

    /// The device to use, by serial number, when several are connected
    /// ("demo" is the simulated phone).
    #[arg(long, global = true, value_name = "SERIAL")]
    pub device: Option<String>,

    /// For tests and demos: run against a simulator profile
    /// (android, locked, samsung, ptp-camera) instead of USB.
    #[arg(long, global = true, value_name = "PROFILE", hide = true)]
    pub sim: Option<String>,

    /// For tests: the simulated locked phone is unlocked after this many milliseconds.
    #[arg(long, global = true, value_name = "MS", hide = true)]
    pub sim_unlock_after: Option<u64>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List connected phones and cameras with their storages.
    Devices,
    /// List files on the device, like ls.
    Ls(LsArgs),
}
