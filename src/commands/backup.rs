//! `mtpull backup DEST`: copy what is new off the phone, filed by date, and
//! tell how it goes — progress bars on a terminal, log lines otherwise.

use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use mtpull::human::{self, bytes, count};
use mtpull::pull::{
    BackupOptions, Choice, Event, FileOutcome, Observer, PullError, RunReport, Selection, backup,
};
use serde_json::json;

use super::connect;
use super::shared::quiet::FailuresOnly;
use super::shared::{exit, interrupt, progress};
use crate::cli::{BackupArgs, DeviceChoice};

pub fn run(choice: &DeviceChoice, verbose: bool, quiet: bool, args: &BackupArgs) -> anyhow::Result<ExitCode> {
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
        // A person at the prompt is told DEST is busy instead of left waiting.
        wait_for_destination: false,
    };
    let mut device = connect::open_one(choice)?;
    let cancel = interrupt::cancel_on_ctrl_c().context("installing the Ctrl-C handler")?;
    let shown = Shown::from(args, quiet);
    let mut reporter = match shown {
        Shown::Json => Reporter::Json(JsonLines {
            out: io::stdout().lock(),
            dest: &args.dest,
        }),
        Shown::Quiet => Reporter::FailuresOnly(FailuresOnly {
            prefix: "mtpull: ".into(),
        }),
        Shown::Text if args.dry_run => Reporter::DryRun(DryRunPrinter {
            out: io::stdout().lock(),
            dest: &args.dest,
            files: 0,
            bytes: 0,
        }),
        Shown::Text => Reporter::Progress(progress::Progress::new(&args.dest)),
    };
    let mut watched = Waited::on(&mut reporter);
    let report = backup(&mut device.session, &args.dest, &options, &cancel, &mut watched);
    let waited = watched.waited;
    match &mut reporter {
        Reporter::DryRun(printer) if report.stopped.is_none() => printer.totals()?,
        Reporter::Progress(progress) => progress.finish(),
        _ => {}
    }
    drop(reporter);
    if verbose {
        note!("{}", device.quirks_line());
        note!("transactions: {}", device.session.stats());
    }
    conclude(&report, args.dry_run, waited, shown)
}

/// How a run is told: as text (bars or log lines, or a dry run's list),
/// errors only (`--quiet`), or JSON Lines (`--json`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shown {
    Text,
    Quiet,
    Json,
}

impl Shown {
    fn from(args: &BackupArgs, quiet: bool) -> Shown {
        match (args.json, quiet) {
            (true, _) => Shown::Json,
            (false, true) => Shown::Quiet,
            (false, false) => Shown::Text,
        }
    }
}

/// The observer each way of telling uses.
enum Reporter<'a> {
    Progress(progress::Progress<'a>),
    DryRun(DryRunPrinter<'a, io::StdoutLock<'static>>),
    Json(JsonLines<'a>),
    FailuresOnly(FailuresOnly),
}

impl Observer for Reporter<'_> {
    fn event(&mut self, event: &Event<'_>) {
        match self {
            Reporter::Progress(progress) => progress.event(event),
            Reporter::DryRun(printer) => printer.event(event),
            Reporter::Json(lines) => lines.event(event),
            Reporter::FailuresOnly(failures) => failures.event(event),
        }
    }
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
fn conclude(
    report: &RunReport,
    dry_run: bool,
    waited: Option<Duration>,
    shown: Shown,
) -> anyhow::Result<ExitCode> {
    let mut out = io::stdout().lock();
    match shown {
        Shown::Text => {
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
        }
        Shown::Json => writeln!(out, "{}", json_summary(report, dry_run))?,
        Shown::Quiet => {}
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

/// `--json`: one object per file as it is done (or would be), then
/// [`json_summary`]. The README lists every field.
struct JsonLines<'a> {
    out: io::StdoutLock<'static>,
    dest: &'a Path,
}

impl Observer for JsonLines<'_> {
    fn event(&mut self, event: &Event<'_>) {
        let shown = |dest: &Path| human::path(&self.dest.join(dest));
        let line = match event {
            Event::Finished { file, outcome } => match outcome {
                FileOutcome::Copied { dest, undated, .. } => json!({
                    "event": "copied",
                    "source": file.display_path(),
                    "size": file.size,
                    "destination": shown(dest),
                    "undated": undated,
                }),
                FileOutcome::Duplicate { dest } => json!({
                    "event": "duplicate",
                    "source": file.display_path(),
                    "size": file.size,
                    "destination": shown(dest),
                }),
                FileOutcome::Failed { error } => json!({
                    "event": "failed",
                    "source": file.display_path(),
                    "size": file.size,
                    "error": error,
                }),
            },
            Event::WouldCopy { file, entry } => json!({
                "event": "would_copy",
                "source": file.display_path(),
                "size": file.size,
                "destination": shown(&entry.dest),
                "date_source": entry.date_source,
                "maybe_duplicate": entry.maybe_duplicate,
            }),
            Event::WouldDelete { file, after_copy } => json!({
                "event": "would_delete",
                "source": file.display_path(),
                "after_copy": after_copy,
            }),
            Event::Deleted { file, error: None } => json!({
                "event": "deleted",
                "source": file.display_path(),
            }),
            Event::Deleted {
                file,
                error: Some(error),
            } => json!({
                "event": "kept",
                "source": file.display_path(),
                "error": error,
            }),
            // A locked phone is still said on stderr: a person may be watching.
            Event::Locked { wait, hint } => {
                note!("{}", progress::locked_line(*wait, hint));
                return;
            }
            _ => return,
        };
        let _ = writeln!(self.out, "{line}");
    }
}

/// The last line of `--json`: the run's counts, notes and why it stopped.
fn json_summary(report: &RunReport, dry_run: bool) -> serde_json::Value {
    let s = &report.summary;
    json!({ "summary": {
        "dry_run": dry_run,
        "planned": s.planned,
        "planned_bytes": s.planned_bytes,
        "copied": s.copied,
        "bytes_copied": s.bytes_copied,
        "already": s.already,
        "duplicates": s.duplicates,
        "undated": s.undated,
        "failed": s.failed,
        "resumed": s.resumed,
        "bytes_received": s.bytes_received,
        "deleted": s.deleted,
        "bytes_freed": s.bytes_freed,
        "delete_failed": s.delete_failed,
        "junk": s.junk,
        "skipped_storages": s.skipped_storages.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "seconds": s.elapsed.as_secs_f64(),
        "indexed": report.rescan.as_ref().map(|r| r.files),
        "notes": report.notes,
        "stopped": report.stopped.as_ref().map(ToString::to_string),
    }})
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
