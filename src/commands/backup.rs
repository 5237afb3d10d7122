//! `mtpull backup DEST`: copy what is new off the phone, filed by date, and
//! tell how it goes — progress bars on a terminal, log lines otherwise.

use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use mtpull::human::{self, bytes, count};
use mtpull::pull::{BackupOptions, Event, Observer, RunReport, Selection, backup};

use super::connect;
use super::shared::{exit, interrupt, progress};
use crate::cli::{BackupArgs, DeviceChoice};

pub fn run(choice: &DeviceChoice, verbose: bool, args: &BackupArgs) -> anyhow::Result<ExitCode> {
    let options = BackupOptions {
        selection: Selection {
            storages: args.storage.clone(),
            only: args.only,
            since: args.since,
            ..Selection::new()
        }
        .include(&args.include)?
        .exclude(&args.exclude)?,
        template: args.template.clone(),
        dry_run: args.dry_run,
        delete_after: args.delete_after,
        rescan: args.rescan,
        wait_for_unlock: Duration::from_secs(args.wait),
        create_parents: false,
    };
    let mut device = connect::open_one(choice)?;
    let cancel = interrupt::cancel_on_ctrl_c().context("installing the Ctrl-C handler")?;
    let report = if args.dry_run {
        let mut printer = DryRunPrinter {
            out: io::stdout().lock(),
            dest: &args.dest,
            files: 0,
            bytes: 0,
        };
        let report = backup(&mut device.session, &args.dest, &options, &cancel, &mut printer);
        if report.stopped.is_none() {
            printer.totals()?;
        }
        report
    } else {
        let mut progress = progress::Progress::new(&args.dest);
        let report = backup(&mut device.session, &args.dest, &options, &cancel, &mut progress);
        progress.finish();
        report
    };
    if verbose {
        note!("{}", device.quirks_line());
        note!("transactions: {}", device.session.stats());
    }
    conclude(&report, args.dry_run)
}

/// Prints the summary and the reason a run stopped; picks the exit status.
fn conclude(report: &RunReport, dry_run: bool) -> anyhow::Result<ExitCode> {
    let mut out = io::stdout().lock();
    if let Some(rescan) = &report.rescan {
        writeln!(
            out,
            "indexed {} ({}) in the destination; {} kept, {} dropped (their files are gone or changed)",
            count(rescan.files, "file"),
            bytes(rescan.bytes),
            count(rescan.records_kept, "record"),
            rescan.records_dropped
        )?;
    }
    for note in &report.notes {
        eprintln!("mtpull: note: {note}");
    }
    // A run stopped before it had a plan has nothing to sum up.
    let planned = report.stopped.is_none() || report.summary.planned + report.summary.already > 0;
    if !dry_run && planned {
        writeln!(out, "{}", report.summary)?;
    }
    if let Some(stopped) = &report.stopped {
        note!("mtpull: {stopped}");
    }
    Ok(ExitCode::from(exit::of_report(report)))
}

/// `--dry-run`: one line per file to stdout, then totals.
struct DryRunPrinter<'a, W: Write> {
    out: W,
    dest: &'a Path,
    files: u64,
    bytes: u64,
}

impl<W: Write> Observer for DryRunPrinter<'_, W> {
    fn event(&mut self, event: &Event<'_>) {
        let line = match event {
            Event::Locked { wait } => {
                note!("{}", progress::locked_line(*wait));
                return;
            }
            Event::Planned { plan, .. } if !plan.already.is_empty() => {
                format!(
                    "{} already backed up {} skipped",
                    count(plan.already.len() as u64, "file"),
                    if plan.already.len() == 1 { "is" } else { "are" }
                )
            }
            Event::WouldCopy { file, entry } => {
                self.files += 1;
                self.bytes += file.size;
                let source = entry.date_source.as_deref().unwrap_or("no date found");
                let note = if entry.maybe_duplicate {
                    ", probably already there"
                } else {
                    ""
                };
                format!(
                    "{}  {}  -> {}  ({source}{note})",
                    human::name(&file.display_path()),
                    bytes(file.size),
                    human::path(&self.dest.join(&entry.dest))
                )
            }
            _ => return,
        };
        let _ = writeln!(self.out, "{line}");
    }
}

impl<W: Write> DryRunPrinter<'_, W> {
    fn totals(&mut self) -> io::Result<()> {
        writeln!(
            self.out,
            "would copy {}, {}; nothing was written",
            count(self.files, "file"),
            bytes(self.bytes)
        )
    }
}
