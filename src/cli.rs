//! The command line: global flags and one subcommand per job, every
//! subcommand's arguments included. Parsing only: the commands live in
//! `crate::commands`, which imports this module (never the other way round).

use std::num::NonZeroUsize;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use mtpull::auto::{ConfigError, config};
use mtpull::session::StorageSelector;
use mtpull::sort::Template;

/// Copy photos and videos off a phone over MTP, filed by capture date.
#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// Say more (repeat for more still); -v prints transaction counts and
    /// the listing strategy.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Errors only: no progress, no per-file lines, no summary; the exit
    /// status tells how it went.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Given before the command (`mtpull --demo backup DEST`); the commands
    /// that open a device take the same options after their name too.
    #[command(flatten)]
    pub device: DeviceChoice,
}

/// Which device a command talks to: all a command that opens one needs to know.
/// Not global: only the top level and the commands that open a device list it,
/// so `sort`, `config` and `install-udev` neither show nor take it.
#[derive(Debug, Clone, Default, Args)]
pub struct DeviceChoice {
    /// Talk to a simulated phone with sample photos instead of USB hardware.
    #[arg(long)]
    pub demo: bool,

    /// The device to use, by USB serial number, when several are connected
    /// ("demo" is the simulated phone).
    #[arg(long = "device", value_name = "SERIAL")]
    pub serial: Option<String>,

    /// For tests and demos: talk to a simulated device of this profile
    /// (android, locked, samsung, ptp-camera, qemu, iphone, camera-quirky) instead of USB.
    #[cfg(feature = "sim")]
    #[arg(long, value_name = "PROFILE", hide = true)]
    pub sim: Option<String>,

    /// For tests: the simulated locked phone is unlocked after this many milliseconds.
    #[cfg(feature = "sim")]
    #[arg(long, value_name = "MS", hide = true)]
    pub sim_unlock_after: Option<u64>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List connected phones and cameras with their storages.
    ///
    /// Exit status: 0 listed, 1 some devices could not be read, 3 no device,
    /// or a phone is locked.
    Devices(DevicesArgs),
    /// List files on the device, like ls.
    ///
    /// Exit status: 0 listed, 1 some storages failed, 2 not found or failed,
    /// 3 no device, or the phone stayed locked.
    #[command(after_help = LS_EXAMPLES)]
    Ls(LsArgs),
    /// File the photos and videos of a local folder into date folders by capture time.
    ///
    /// Exit status: 0 all files filed (or duplicates), 1 some files failed, 2 the run
    /// could not start.
    #[command(after_help = SORT_EXAMPLES)]
    Sort(SortArgs),
    /// Copy the photos and videos not yet backed up off the phone into DEST, filed by
    /// capture date; resumable, verified, and recorded in DEST/.mtpull/.
    ///
    /// Exit status: 0 everything planned is backed up, 1 some files failed, 2 the run
    /// stopped (connection lost, disk full…; run again to resume), 3 no device or the
    /// phone is locked, 130 interrupted by Ctrl-C (run again to resume).
    #[command(after_help = BACKUP_EXAMPLES)]
    Backup(BackupArgs),
    /// Re-read every file backed up into DEST and check it against the hash recorded
    /// when it was copied: missing and changed files (bit rot, edits, deletions) are
    /// reported, never copied again.
    ///
    /// Exit status: 0 every file intact, 1 some missing or changed, 2 could not verify
    /// (no manifest in DEST).
    Verify(VerifyArgs),
    /// For the connected phone: how many photos and videos it holds, how many are
    /// backed up in DEST, which are not and why (not copied yet, failed, gone from
    /// DEST, rejected in a preview, skipped as junk), and the date through which
    /// everything is backed up. Changes nothing on either side.
    ///
    /// Exit status: 0 a backup would copy nothing, 1 some files are not backed up,
    /// 2 the status could not be read, 3 no device or the phone is locked.
    Status(StatusArgs),
    /// Write one offline HTML page of the device's photos and videos from their
    /// thumbnails (nothing is downloaded whole), on which pictures are ticked or
    /// unticked and the choice saved for `backup --selection`.
    ///
    /// Exit status: 0 written, 2 failed, 3 no device or the phone is locked,
    /// 130 interrupted by Ctrl-C.
    Preview(PreviewArgs),
    /// Send files, or whole date folders of a backup, to the phone, dated by
    /// capture time; what is there already (same name and size) is skipped, and
    /// an upload cut short is deleted and sent again by the next run.
    ///
    /// Exit status: 0 all sent (or there), 1 some files refused or failed, 2 the run
    /// stopped, 3 no device or the phone is locked, 130 interrupted by Ctrl-C.
    Restore(RestoreArgs),
    /// Delete files or folders on the device (asks first; --yes for scripts).
    ///
    /// Exit status: 0 deleted, 1 some could not be deleted, 2 not found, refused or
    /// not confirmed, 3 no device or the phone is locked.
    Rm(RmArgs),
    /// Back up the device just plugged in, as the auto-backup settings say
    /// (~/.config/mtpull/config.toml). The udev rule's mtpull-backup@.service runs
    /// it with --device set to the USB port. Log lines only, on stderr.
    ///
    /// Exit status: 0 backed up, or nothing to do (no settings, device not in
    /// the settings, a backup of it already running); 1 some files failed; 2 the
    /// backup stopped or the device could not be opened; 3 no device, or the
    /// phone stayed locked; 130 stopped by Ctrl-C or the service stopping.
    Auto(AutoArgs),
    /// Back up every phone or camera as it is plugged in, until Ctrl-C (or as a
    /// user service: mtpull-watch.service). Settings from config.toml when it exists.
    ///
    /// Exit status: 0 stopped by Ctrl-C, 2 could not watch USB or read the settings.
    Watch(WatchArgs),
    /// Create (init) or check (show) the auto-backup settings file.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Install the udev rule and the systemd user units that back up phones and
    /// cameras when they are plugged in (as root); --uninstall removes them.
    InstallUdev(InstallUdevArgs),
    /// Print a shell completion script, e.g.
    /// `mtpull completions bash > ~/.local/share/bash-completion/completions/mtpull`.
    Completions(CompletionsArgs),
    /// Print the man page, or write one page per command into a folder, e.g.
    /// `mtpull man --dir ~/.local/share/man/man1`.
    Man(ManArgs),
}

impl Command {
    /// The name the command is typed as.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Devices(_) => "devices",
            Command::Ls(_) => "ls",
            Command::Sort(_) => "sort",
            Command::Backup(_) => "backup",
            Command::Verify(_) => "verify",
            Command::Status(_) => "status",
            Command::Preview(_) => "preview",
            Command::Restore(_) => "restore",
            Command::Rm(_) => "rm",
            Command::Auto(_) => "auto",
            Command::Watch(_) => "watch",
            Command::Config(_) => "config",
            Command::InstallUdev(_) => "install-udev",
            Command::Completions(_) => "completions",
            Command::Man(_) => "man",
        }
    }
}

/// `mtpull completions` options.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

/// `mtpull man` options.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write mtpull.1 and one mtpull-COMMAND.1 per command into this folder
    /// instead of printing mtpull.1.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// `mtpull ls --help`'s examples (each is parsed by a test).
const LS_EXAMPLES: &str = "Examples:
  mtpull ls                                        # the storages
  mtpull ls \"Internal shared storage/DCIM/Camera\" -l   # one folder, with sizes and dates
  mtpull ls -r --storage 0x00010001                # everything on one storage
  mtpull ls -r --json                              # every file, as JSON for scripts
  mtpull --demo ls -r -l                           # the demo phone, no phone needed";

/// `mtpull sort --help`'s examples.
const SORT_EXAMPLES: &str = "Examples:
  mtpull sort ~/phone-dump ~/Pictures --dry-run    # what would go where, and why
  mtpull sort ~/phone-dump ~/Pictures              # copy into ~/Pictures/YYYY/MM/DD
  mtpull sort ~/phone-dump ~/Pictures --move       # move instead of copying
  mtpull sort ~/phone-dump ~/Pictures --only videos --template %Y/%Y-%m
  mtpull sort ~/phone-dump ~/Pictures --json       # one JSON object per file, then a summary";

/// `mtpull backup --help`'s examples.
const BACKUP_EXAMPLES: &str = "Examples:
  mtpull backup ~/Pictures/Phone --dry-run         # what would be copied where
  mtpull backup ~/Pictures/Phone                   # copy what is new; run again to resume
  mtpull backup ~/Pictures/Phone --only videos --since 2024-05-01
  mtpull backup ~/Pictures/Phone --include DCIM --exclude Screenshots
  mtpull backup ~/Pictures/Phone --delete-after    # free the phone once copies are safe
  mtpull -q backup ~/Pictures/Phone                # errors only, for cron
  mtpull backup ~/Pictures/Phone --json            # one JSON object per file, then a summary
  mtpull --demo backup /tmp/photos                 # try it without a phone";

impl DeviceChoice {
    /// Whether the command line names a device at all.
    pub fn is_given(&self) -> bool {
        self.demo || self.serial.is_some()
    }

    /// The choice given before the command name together with the one given
    /// after it; naming two different devices is an error.
    pub fn with(&self, after: &DeviceChoice) -> Result<DeviceChoice, String> {
        Ok(DeviceChoice {
            demo: self.demo || after.demo,
            serial: one_of("--device", &self.serial, &after.serial)?,
            #[cfg(feature = "sim")]
            sim: one_of("--sim", &self.sim, &after.sim)?,
            #[cfg(feature = "sim")]
            sim_unlock_after: one_of(
                "--sim-unlock-after",
                &self.sim_unlock_after,
                &after.sim_unlock_after,
            )?,
        })
    }
}

/// The value given before or after the command name; two different ones clash.
fn one_of<T: Clone + PartialEq + std::fmt::Display>(
    option: &str,
    before: &Option<T>,
    after: &Option<T>,
) -> Result<Option<T>, String> {
    match (before, after) {
        (Some(a), Some(b)) if a != b => Err(format!(
            "{option} is given twice ({a} before the command, {b} after it): give it once"
        )),
        _ => Ok(before.clone().or_else(|| after.clone())),
    }
}

/// How long to wait for a locked phone, unless told.
const DEFAULT_WAIT_SECS: u64 = 30;

/// `mtpull devices` options.
#[derive(Debug, Args)]
pub struct DevicesArgs {
    #[command(flatten)]
    pub device: DeviceChoice,

    /// One JSON object per device (JSON Lines; fields in the README).
    #[arg(long)]
    pub json: bool,
}

/// `mtpull ls` options.
#[derive(Debug, Args)]
pub struct LsArgs {
    #[command(flatten)]
    pub device: DeviceChoice,

    /// What to list: a storage, then folders, e.g. "Internal shared storage/DCIM/Camera"
    /// (inside --storage when given). Nothing lists the storages.
    pub path: Option<String>,
    /// List folders' contents recursively, with full paths.
    #[arg(short, long)]
    pub recursive: bool,
    /// Long format: kind, size, modification date.
    #[arg(short, long)]
    pub long: bool,
    /// Print a JSON array (one object per file or folder).
    #[arg(long)]
    pub json: bool,
    /// Only this storage, by name or ID (e.g. 0x00010001); PATH is then inside it.
    #[arg(long, value_name = "NAME|ID")]
    pub storage: Option<StorageSelector>,
    /// Seconds to wait for a locked phone to be unlocked.
    #[arg(long, value_name = "SECS", default_value_t = DEFAULT_WAIT_SECS)]
    pub wait: u64,
}

/// `--config FILE`, shared by the commands that read the auto-backup settings.
#[derive(Debug, Args)]
pub struct SettingsFile {
    /// The settings file [default: $XDG_CONFIG_HOME/mtpull/config.toml or ~/.config/mtpull/config.toml].
    #[arg(long = "config", value_name = "FILE")]
    pub given: Option<PathBuf>,
}

impl SettingsFile {
    /// The file `--config` names, or the usual one.
    pub fn path(&self) -> Result<PathBuf, ConfigError> {
        match &self.given {
            Some(path) => Ok(path.clone()),
            None => config::path_from_env(),
        }
    }
}

#[derive(Debug, Args)]
pub struct AutoArgs {
    #[command(flatten)]
    pub device: DeviceChoice,

    #[command(flatten)]
    pub settings: SettingsFile,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    #[command(flatten)]
    pub device: DeviceChoice,

    /// Folder to back up into [default: the settings' destination].
    pub dest: Option<PathBuf>,

    #[command(flatten)]
    pub settings: SettingsFile,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Write a settings file with the defaults, every key explained.
    Init {
        /// Where backups go [default: ~/Pictures/Phone backup].
        #[arg(long, value_name = "DIR")]
        destination: Option<PathBuf>,

        /// Replace an existing settings file.
        #[arg(long)]
        force: bool,

        #[command(flatten)]
        settings: SettingsFile,
    },
    /// Check the settings file and print what it means.
    ///
    /// Exit status: 0 valid, 2 missing or invalid.
    Show {
        #[command(flatten)]
        settings: SettingsFile,
    },
}

#[derive(Debug, Args)]
pub struct InstallUdevArgs {
    /// Remove the rule and the units instead.
    #[arg(long)]
    pub uninstall: bool,

    /// Install under this folder instead of / (for packaging, or to look first);
    /// udev is then not reloaded.
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub prefix: PathBuf,

    /// Say what would be written, removed and run; change nothing.
    #[arg(short = 'n', long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    #[command(flatten)]
    pub device: DeviceChoice,

    /// Folder to back up into: DEST/<template>/NAME, or DEST/undated/NAME.
    pub dest: PathBuf,

    /// Show each file that would be copied, its size and destination; write nothing.
    #[arg(short = 'n', long)]
    pub dry_run: bool,

    /// One JSON object per file on stdout, then a summary object (JSON Lines;
    /// fields in the README); no progress bars.
    #[arg(long)]
    pub json: bool,

    /// Which files: photos, videos, media (photos and videos) or all.
    #[arg(long, value_name = "KIND", default_value = "media")]
    pub only: mtpull::pull::Only,

    /// Only device paths matching this glob (repeatable), e.g. 'DCIM/**'.
    #[arg(long, value_name = "GLOB")]
    pub include: Vec<String>,

    /// Skip device paths matching this glob (repeatable), e.g. '**/Screenshots/**'.
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,

    /// Also copy what Android's raw view shows besides your photos: its trash
    /// (.trashed-*), files still being written (.pending-*), .thumbnails
    /// folders and apps' data (Android/data, Android/obb). Skipped and counted
    /// by default.
    #[arg(long)]
    pub include_junk: bool,

    /// Only files the device dates at or after this (2024-05-26 or 2024-05-26T10:15).
    #[arg(long, value_name = "DATE", value_parser = mtpull::pull::parse_since)]
    pub since: Option<chrono::NaiveDateTime>,

    /// Only this storage, by name or ID (repeatable) [default: all].
    #[arg(long, value_name = "NAME|ID")]
    pub storage: Vec<StorageSelector>,

    /// Folder layout: a chrono strftime pattern with the tokens {device} (the phone's
    /// model) and {folder} (the folder on the phone: Camera, Screenshots…); {name}
    /// (original name) and {seq} (0001, 0002… per folder) in the last level make it
    /// the file's name, e.g. '{device}/%Y/%Y%m%d_{seq}'.
    #[arg(long, value_name = "PATTERN", default_value = mtpull::sort::DEFAULT_TEMPLATE)]
    pub template: Template,

    /// Delete each file from the phone once its copy is verified and recorded
    /// (with --dry-run: list what would be deleted).
    #[arg(long)]
    pub delete_after: bool,

    /// Rebuild the manifest from what DEST holds before planning.
    #[arg(long, conflicts_with = "dry_run")]
    pub rescan: bool,

    /// Copy exactly the pictures ticked in this selection file (saved from
    /// `mtpull preview`'s page); the unticked ones are remembered as rejected.
    #[arg(long, value_name = "FILE")]
    pub selection: Option<PathBuf>,

    /// Also copy pictures rejected in earlier previews.
    #[arg(long)]
    pub include_rejected: bool,

    /// Seconds to wait for a locked phone to be unlocked.
    #[arg(long, value_name = "SECS", default_value_t = DEFAULT_WAIT_SECS)]
    pub wait: u64,
}

/// `mtpull verify` options.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The backup folder (holding .mtpull/manifest.sqlite3).
    pub dest: PathBuf,

    /// Print the report as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// `mtpull status` options.
#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub device: DeviceChoice,

    /// The backup folder [default: the settings' destination].
    pub dest: Option<PathBuf>,

    /// Print the status as one JSON object, every file not backed up included.
    #[arg(long)]
    pub json: bool,

    /// Which files count: photos, videos, media (photos and videos) or all.
    #[arg(long, value_name = "KIND", default_value = "media")]
    pub only: mtpull::pull::Only,

    /// Only this storage, by name or ID (repeatable) [default: all].
    #[arg(long, value_name = "NAME|ID")]
    pub storage: Vec<StorageSelector>,

    /// Seconds to wait for a locked phone to be unlocked.
    #[arg(long, value_name = "SECS", default_value_t = DEFAULT_WAIT_SECS)]
    pub wait: u64,

    #[command(flatten)]
    pub settings: SettingsFile,
}

#[derive(Debug, Args)]
pub struct SortArgs {
    /// Folder to sort (walked recursively; links are not followed).
    pub source: PathBuf,

    /// Folder to file into: DEST/<template>/NAME, or DEST/undated/NAME.
    pub dest: PathBuf,

    /// Show what would be filed where, and from which date source; write nothing.
    #[arg(short = 'n', long)]
    pub dry_run: bool,

    /// Print one JSON object per file and a summary object, for scripts.
    #[arg(long)]
    pub json: bool,

    /// Which files: photos, videos, media (photos and videos) or all (also
    /// documents and hidden files). The others are left where they are.
    #[arg(long, value_name = "KIND", default_value = "media")]
    pub only: mtpull::pull::Only,

    /// Move files instead of copying them (duplicates stay where they are).
    #[arg(long = "move")]
    pub move_files: bool,

    /// Folder layout: a chrono strftime pattern with the token {folder} (the folder
    /// holding the file in SOURCE); {name} (original name) and {seq} (0001, 0002… per
    /// folder) in the last level make it the file's name, e.g. '%Y/{folder}/%m%d_{seq}'.
    #[arg(long, value_name = "PATTERN", default_value = mtpull::sort::DEFAULT_TEMPLATE)]
    pub template: Template,

    /// Threads that read file headers [default: number of cores].
    #[arg(short, long, value_name = "N", value_parser = threads)]
    pub jobs: Option<NonZeroUsize>,
}

/// `-j N`: a count of threads, at least one.
fn threads(text: &str) -> Result<NonZeroUsize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("at least one thread is needed (or leave -j out: one per core)".to_owned()),
        Ok(n) => Ok(NonZeroUsize::new(n).expect("not zero")),
        Err(_) => Err("expected a whole number of threads, such as 4".to_owned()),
    }
}

#[derive(Debug, Args)]
pub struct PreviewArgs {
    #[command(flatten)]
    pub device: DeviceChoice,

    /// Only under these device paths, e.g. "Internal shared storage/DCIM/Camera"
    /// [default: everything].
    #[arg(value_name = "PATH")]
    pub paths: Vec<String>,

    /// The page to write.
    #[arg(short, long, value_name = "FILE", default_value = "preview.html")]
    pub output: PathBuf,

    /// The backup to compare with: pictures in its manifest are marked as
    /// backed up, and pictures rejected earlier are left out.
    #[arg(long, value_name = "DEST")]
    pub dest: Option<PathBuf>,

    /// Show pictures rejected in earlier choices too.
    #[arg(long)]
    pub include_rejected: bool,

    /// Seconds to wait for a locked phone to be unlocked.
    #[arg(long, value_name = "SECS", default_value_t = DEFAULT_WAIT_SECS)]
    pub wait: u64,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    #[command(flatten)]
    pub device: DeviceChoice,

    /// Files or folders to send (folders are walked; hidden entries such as
    /// .mtpull/ are left out).
    #[arg(value_name = "SRC", required = true)]
    pub sources: Vec<PathBuf>,

    /// The folder on the phone, with or without its storage's name first.
    #[arg(long, value_name = "DEVICE_PATH", default_value = mtpull::restore::DEFAULT_FOLDER)]
    pub to: String,

    /// Say what would be sent; change nothing on the phone.
    #[arg(short = 'n', long)]
    pub dry_run: bool,

    /// Seconds to wait for a locked phone to be unlocked.
    #[arg(long, value_name = "SECS", default_value_t = DEFAULT_WAIT_SECS)]
    pub wait: u64,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    #[command(flatten)]
    pub device: DeviceChoice,

    /// What to delete, storage first, e.g. "Internal shared storage/DCIM/Camera/IMG_1.jpg".
    #[arg(value_name = "DEVICE_PATH", required = true)]
    pub paths: Vec<String>,

    /// Do not ask: delete at once (for scripts).
    #[arg(short, long)]
    pub yes: bool,

    /// Seconds to wait for a locked phone to be unlocked.
    #[arg(long, value_name = "SECS", default_value_t = DEFAULT_WAIT_SECS)]
    pub wait: u64,
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;

    /// Splits an example into words: double quotes group, `#` starts a comment.
    fn words(example: &str) -> Vec<String> {
        let command = example.split(" #").next().unwrap();
        let mut words = Vec::new();
        for (i, part) in command.split('"').enumerate() {
            if i % 2 == 1 {
                words.push(part.to_owned());
            } else {
                words.extend(part.split_whitespace().map(str::to_owned));
            }
        }
        words
    }

    #[test]
    fn every_help_example_parses() {
        let mut seen = 0;
        for examples in [LS_EXAMPLES, SORT_EXAMPLES, BACKUP_EXAMPLES] {
            for example in examples.lines().skip(1) {
                let parsed = Cli::try_parse_from(words(example));
                assert!(parsed.is_ok(), "{example}: {}", parsed.unwrap_err());
                seen += 1;
            }
        }
        assert_eq!(seen, 18);
    }

    /// Every `mtpull --demo …` and `mtpull --device …` the README shows: the
    /// device options go before the command as well as after it.
    #[test]
    fn the_readmes_device_forms_parse() {
        let readme = include_str!("../README.md");
        let mut seen = 0;
        for start in ["mtpull --demo ", "mtpull --device "] {
            for (at, _) in readme.match_indices(start) {
                let line = readme[at..].lines().next().unwrap();
                let example = line.split('`').next().unwrap().split(" >").next().unwrap();
                let parsed = Cli::try_parse_from(words(example));
                assert!(parsed.is_ok(), "{example}: {}", parsed.unwrap_err());
                assert!(parsed.unwrap().device.is_given(), "{example}");
                seen += 1;
            }
        }
        assert!(seen >= 8, "only {seen} forms found in the README");
    }

    #[test]
    fn device_options_before_and_after_the_command_combine() {
        let cli = Cli::try_parse_from(["mtpull", "--demo", "ls", "--device", "demo"]).unwrap();
        let Command::Ls(args) = &cli.command else {
            panic!("{cli:?}")
        };
        let both = cli.device.with(&args.device).unwrap();
        assert!(both.demo);
        assert_eq!(both.serial.as_deref(), Some("demo"));
        let cli = Cli::try_parse_from(["mtpull", "--device", "A", "ls", "--device", "B"]).unwrap();
        let Command::Ls(args) = &cli.command else {
            panic!("{cli:?}")
        };
        assert!(cli.device.with(&args.device).is_err());
        for local in [
            &["mtpull", "sort", "--demo", "a", "b"][..],
            &["mtpull", "config", "show", "--device", "X"],
        ] {
            assert!(Cli::try_parse_from(local).is_err(), "{local:?}");
        }
    }

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
