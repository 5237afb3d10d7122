//! `mtpull backup DEST`: copy what is new off the phone, filed by date, and
//! tell how it goes — progress bars on a terminal, log lines otherwise.

use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use mtpull::human::{self, bytes, count};
use mtpull::pull::{BackupOptions, Choice, Event, Observer, PullError, RunReport, Selection, backup};

use super::connect;
use super::shared::{exit, interrupt, progress};
use crate::cli::{BackupArgs, DeviceChoice};

pub fn run(choice: &DeviceChoice, verbose: bool, args: &BackupArgs) -> anyhow::Result<ExitCode> {
    let options = BackupOptions {
        selection: Selection {
            storages: args.storage.clone(),
            only: args.only,
            since: args.since,
            include_junk: args.include_junk,
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
        choice: args.selection.as_deref().map(Choice::read).transpose()?,
        choice_path: args.selection.clone(),
        include_rejected: args.include_rejected,
        batch_time: None,
    };
    let mut device = connect::open_one(choice)?;
    let cancel = interrupt::cancel_on_ctrl_c().context("installing the Ctrl-C handler")?;
    let (report, waited) = if args.dry_run {
        let mut printer = DryRunPrinter {
            out: io::stdout().lock(),
            dest: &args.dest,
            files: 0,
            bytes: 0,
        };
        let mut watched = Waited::on(&mut printer);
        let report = backup(&mut device.session, &args.dest, &options, &cancel, &mut watched);
        let waited = watched.waited;
        if report.stopped.is_none() {
            printer.totals()?;
        }
        (report, waited)
    } else {
        let mut progress = progress::Progress::new(&args.dest);
        let mut watched = Waited::on(&mut progress);
        let report = backup(&mut device.session, &args.dest, &options, &cancel, &mut watched);
        let waited = watched.waited;
        progress.finish();
        (report, waited)
    };
    if verbose {
        note!("{}", device.quirks_line());
        note!("transactions: {}", device.session.stats());
    }
    conclude(&report, args.dry_run, waited)
}

/// Passes events on, noting whether the run waited for a locked phone.
struct Waited<'o> {
    inner: &'o mut dyn Observer,
    waited: Option<Duration>,
}

impl<'o> Waited<'o> {
    fn on(inner: &'o mut dyn Observer) -> Self {
        Waited { inner, waited: None }
    }
}

impl Observer for Waited<'_> {
    fn event(&mut self, event: &Event<'_>) {
        if let Event::Locked { wait, .. } = event {
            self.waited = Some(*wait);
        }
        self.inner.event(event);
    }
}

/// Prints the summary and the reason a run stopped; picks the exit status.
/// After a wait for a locked phone in vain, the hint (said when the wait
/// began) is not said again.
fn conclude(report: &RunReport, dry_run: bool, waited: Option<Duration>) -> anyhow::Result<ExitCode> {
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
        note!("mtpull: note: {note}");
    }
    // A run stopped before it had a plan has nothing to sum up.
    let planned = report.stopped.is_none() || report.summary.planned + report.summary.already > 0;
    if !dry_run && planned {
        writeln!(out, "{}", report.summary)?;
    }
    match (&report.stopped, waited) {
        (Some(PullError::Locked { .. }), Some(wait)) => note!(
            "mtpull: the phone still shows no storage after {}s; nothing was copied",
            wait.as_secs()
        ),
        (Some(stopped), _) => note!("mtpull: {stopped}"),
        (None, _) => {}
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
            Event::Locked { wait, hint } => {
                note!("{}", progress::locked_line(*wait, hint));
                return;
            }
            Event::Planned { plan, .. } => {
                let mut skipped = Vec::new();
                if !plan.already.is_empty() {
                    skipped.push(format!(
                        "{} already backed up {} skipped",
                        count(plan.already.len() as u64, "file"),
                        if plan.already.len() == 1 { "is" } else { "are" }
                    ));
                }
                if !plan.junk.is_empty() {
                    skipped.push(format!(
                        "{} in Android's trash, unfinished files, thumbnails or app data {} \
                         skipped (--include-junk copies them)",
                        count(plan.junk.len() as u64, "file"),
                        if plan.junk.len() == 1 { "is" } else { "are" }
                    ));
                }
                skipped.extend(plan.skipped_storages.iter().map(|s| format!("not read: {s}")));
                if skipped.is_empty() {
                    return;
                }
                skipped.join("\n")
            }
            Event::WouldCopy { file, entry } => {
                self.files += 1;
                self.bytes = self.bytes.saturating_add(file.size);
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
            Event::WouldDelete { file, after_copy } => format!(
                "would delete from the phone: {}{}",
                file.display_path(),
                if *after_copy {
                    " (once its copy is verified)"
                } else {
                    " (backed up already)"
                }
            ),
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
