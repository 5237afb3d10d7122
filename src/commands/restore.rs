//! `mtpull restore SRC… [--to DEVICE_PATH]`: send files back to the phone
//! (see `mtpull::restore`), with a line per file.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use mtpull::human;
use mtpull::restore::{self, Event, FileOutcome, Journal, RestoreError, RestoreOptions, scan};
use mtpull::session::StorageSelector;

use super::connect;
use super::shared::exit::{INTERRUPTED, SOME_FAILED};
use super::shared::{interrupt, storages};
use crate::cli::{DeviceChoice, RestoreArgs};

pub fn run(choice: &DeviceChoice, quiet: bool, args: &RestoreArgs) -> anyhow::Result<ExitCode> {
    let scanned = scan(&args.sources).context("reading what to restore")?;
    for refused in &scanned.refused {
        note!("mtpull: not sent: {}: {}", refused.path.display(), refused.reason);
    }
    let mut device = connect::open_one(choice)?;
    let session = &mut device.session;
    let cancel = interrupt::cancel_on_ctrl_c().context("installing the Ctrl-C handler")?;
    let storages = storages::readable(session, Duration::from_secs(args.wait), &cancel)?;
    // "SD card/DCIM/Restored" names its storage; "DCIM/Restored" means the first one.
    let to = args.to.trim_matches('/');
    let (first, rest) = to.split_once('/').unwrap_or((to, ""));
    let (storage, folder) = match StorageSelector::new(first).pick(&storages) {
        Ok(storage) => (storage, rest),
        Err(_) => (&storages[0], to),
    };
    let folder: Vec<String> = folder
        .split('/')
        .filter(|n| !n.is_empty())
        .map(String::from)
        .collect();
    for name in &folder {
        if let Some(problem) = restore::name_problem(name) {
            anyhow::bail!("--to {}: the folder name {name:?} {problem}", args.to);
        }
    }
    let options = RestoreOptions {
        storage: storage.id,
        folder,
        dry_run: args.dry_run,
    };
    let mut journal = Journal::open(&journal_path()).context("opening the upload journal")?;
    let target = format!("{}/{}", storage.name, options.folder.join("/"));
    let dry = args.dry_run;
    let mut observer = |event: &Event<'_>| match event {
        // `--quiet`: only a file that failed is said.
        Event::Finished {
            file,
            outcome: FileOutcome::Failed(why),
        } => note!("failed {}: {why}", file.path.display()),
        _ if quiet => {}
        Event::Cleaned { path } if dry => note!("would delete {path}, left unfinished by a cut upload"),
        Event::Cleaned { path } => note!("deleted {path}, left unfinished by a cut upload"),
        Event::Planned {
            files,
            bytes,
            already,
        } => {
            note!(
                "{} ({}) to send to {target}, {already} there already",
                human::count(*files as u64, "file"),
                human::bytes(*bytes)
            )
        }
        Event::Finished { file, outcome } => match outcome {
            FileOutcome::Sent => note!("sent {} ({})", file.path.display(), human::bytes(file.size)),
            FileOutcome::WouldSend => println!(
                "{}  {}  -> {target}/{}",
                file.path.display(),
                human::bytes(file.size),
                file.name
            ),
            FileOutcome::Already => {}
            FileOutcome::Failed(_) => {}
        },
        Event::Started { .. } | Event::Sent { .. } => {}
    };
    let report = restore::restore(
        session,
        &scanned.files,
        &options,
        &mut journal,
        &cancel,
        &mut observer,
    );
    let verb = if dry { "would send" } else { "sent" };
    if !quiet {
        println!(
            "{verb} {} ({}), {} there already, {} failed, {} refused",
            report.sent,
            human::bytes(report.bytes),
            report.already,
            report.failed,
            scanned.refused.len()
        );
    }
    match report.stopped {
        Some(RestoreError::Interrupted) => {
            note!("mtpull: interrupted; run the same command again to finish");
            Ok(ExitCode::from(INTERRUPTED))
        }
        Some(error) => Err(error.into()),
        None if report.failed > 0 || !scanned.refused.is_empty() => Ok(ExitCode::from(SOME_FAILED)),
        None => Ok(ExitCode::SUCCESS),
    }
}

/// Where the uploads in flight are noted: `$XDG_STATE_HOME/mtpull/uploads.json`
/// (or `~/.local/state/mtpull/uploads.json`).
fn journal_path() -> PathBuf {
    let state = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local/state")))
        .unwrap_or_else(|| PathBuf::from("."));
    state.join("mtpull").join("uploads.json")
}
