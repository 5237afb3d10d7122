//! `mtpull sort SRC DEST`: file a local folder by capture date, and tell what happened.

use std::io::{self, Write};
use std::num::NonZeroUsize;
use std::process::ExitCode;

use anyhow::Context;
use mtpull::human::{self, count};
use mtpull::sort::ZoneSource;
use mtpull::sort::{
    DateResolver, Event, FileReport, Mode, Outcome, SortError, Sorted, Summary, TreeOptions, sort_tree,
};
use serde_json::json;

use super::shared::exit::{FATAL, INTERRUPTED, SOME_FAILED};
use super::shared::interrupt;
use crate::cli::SortArgs;

pub fn run(verbose: bool, quiet: bool, args: &SortArgs) -> anyhow::Result<ExitCode> {
    let options = TreeOptions {
        template: args.template.clone(),
        mode: if args.move_files { Mode::Move } else { Mode::Copy },
        dry_run: args.dry_run,
        jobs: args
            .jobs
            .unwrap_or_else(|| std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN)),
        only: args.only,
    };
    let mut printer = Printer {
        out: io::stdout().lock(),
        json: args.json,
        quiet: quiet && !args.json,
        verbose,
        dry_run: args.dry_run,
        failed: None,
    };
    let cancel = interrupt::cancel_on_ctrl_c().context("installing the Ctrl-C handler")?;
    let Sorted { summary, stopped } = sort_tree(
        &args.source,
        &args.dest,
        &options,
        &DateResolver::system(),
        &cancel,
        |event| printer.event(event),
    )
    .with_context(|| {
        format!(
            "cannot sort {} into {}",
            human::path(&args.source),
            human::path(&args.dest)
        )
    })?;
    printer.summary(&summary)?;
    Ok(ExitCode::from(match stopped {
        Some(SortError::Interrupted) => {
            eprintln!("mtpull: {}", SortError::Interrupted);
            INTERRUPTED
        }
        Some(error) if error.is_disk_full() => {
            eprintln!(
                "mtpull: stopped: {error}: {} is full; free some space and run the same command again (what was filed stays filed)",
                human::path(&args.dest)
            );
            FATAL
        }
        Some(error) => {
            eprintln!("mtpull: stopped: {error}");
            FATAL
        }
        None if summary.errors > 0 => SOME_FAILED,
        None => 0,
    }))
}

/// Writes the per-file lines (text or JSON Lines) and the summary.
struct Printer<W> {
    out: W,
    json: bool,
    /// `--quiet` (text only): per-file errors, nothing else.
    quiet: bool,
    verbose: bool,
    dry_run: bool,
    /// The first write error; later lines are dropped and the run still finishes.
    failed: Option<io::Error>,
}

impl<W: Write> Printer<W> {
    fn event(&mut self, event: &Event) {
        if self.failed.is_some() {
            return;
        }
        let written = match (event, self.json) {
            (Event::File(report), true) => writeln!(self.out, "{}", file_json(report)),
            (Event::File(report), false) => self.file_text(report),
            (_, false) if self.quiet => Ok(()),
            (Event::Skipped { path, reason }, true) => writeln!(
                self.out,
                "{}",
                json!({ "source": human::path(path), "outcome": "skipped", "reason": reason })
            ),
            (Event::Skipped { path, reason }, false) => {
                writeln!(self.out, "skipped   {}: {reason}", human::path(path))
            }
            (Event::Ignored { path, reason }, true) => writeln!(
                self.out,
                "{}",
                json!({ "source": human::path(path), "outcome": "ignored", "reason": reason })
            ),
            // Documents and hidden files are many and expected: counted, listed with -v.
            (Event::Ignored { path, reason }, false) if self.verbose => {
                writeln!(self.out, "ignored   {}: {reason}", human::path(path))
            }
            (Event::Ignored { .. }, false) => Ok(()),
        };
        self.failed = written.err();
    }

    fn file_text(&mut self, report: &FileReport) -> io::Result<()> {
        let filed = match &report.result {
            Ok(filed) => filed,
            // Errors go to stderr so that stdout stays a clean list of what was filed.
            Err(error) => {
                let _ = writeln!(io::stderr(), "error     {}: {error}", human::path(&report.source));
                return Ok(());
            }
        };
        if self.quiet {
            return Ok(());
        }
        let (status, arrow) = match (filed.outcome, self.dry_run) {
            (Outcome::Filed, false) => ("filed", "->"),
            (Outcome::Filed, true) => ("would file", "->"),
            (Outcome::Renamed(_), false) => ("renamed", "->"),
            (Outcome::Renamed(_), true) => ("would rename", "->"),
            (Outcome::Duplicate, _) => ("duplicate", "=="),
        };
        let source = human::path(&report.source);
        let dest = human::path(&filed.path);
        let why = match (&report.dated, &report.sidecar_of) {
            (_, Some(main)) => format!("with {}", human::path(main)),
            (None, None) => "no date".to_owned(),
            (Some(dated), None) if self.verbose => {
                let offset = dated.offset.map(|o| format!(" {o}")).unwrap_or_default();
                format!("{}: {}{offset}", dated.why(), dated.time)
            }
            (Some(dated), None) => dated.why(),
        };
        let width = if self.dry_run { 12 } else { 9 };
        writeln!(self.out, "{status:<width$} {source} {arrow} {dest}  [{why}]")
    }

    fn summary(&mut self, summary: &Summary) -> anyhow::Result<()> {
        if let Some(error) = self.failed.take() {
            return Err(error).context("cannot write the report");
        }
        let written = if self.json {
            writeln!(self.out, "{}", summary_json(summary, self.dry_run))
        } else if self.quiet {
            Ok(())
        } else {
            writeln!(self.out, "{}", summary_text(summary, self.dry_run))
        };
        written.context("cannot write the report")
    }
}

/// `filed 9 files (1 renamed), 1 duplicate, …` — or, in a dry run, what would be.
fn summary_text(summary: &Summary, dry_run: bool) -> String {
    let Summary {
        filed,
        renamed,
        duplicates,
        undated,
        skipped,
        ignored,
        errors,
    } = *summary;
    let n = |n: usize| n as u64;
    let verb = if dry_run { "would file" } else { "filed" };
    let dry = if dry_run {
        " (dry run: nothing was written)"
    } else {
        ""
    };
    format!(
        "{verb} {} ({renamed} renamed), {}, {undated} undated, {skipped} skipped, {} left alone, {}{dry}",
        count(n(filed), "file"),
        count(n(duplicates), "duplicate"),
        count(n(ignored), "other file"),
        count(n(errors), "error"),
    )
}

fn file_json(report: &FileReport) -> serde_json::Value {
    let (outcome, destination, error) = match &report.result {
        Ok(filed) => {
            let outcome = match filed.outcome {
                Outcome::Filed => "filed",
                Outcome::Renamed(_) => "renamed",
                Outcome::Duplicate => "duplicate",
            };
            (outcome, Some(human::path(&filed.path)), None)
        }
        Err(error) => ("error", None, Some(error.to_string())),
    };
    json!({
        "source": human::path(&report.source),
        "destination": destination,
        "outcome": outcome,
        "time": report.dated.map(|d| d.time.format("%Y-%m-%dT%H:%M:%S%.f").to_string()),
        "offset": report.dated.and_then(|d| d.offset).map(|o| o.to_string()),
        "date_source": report.dated.map(|d| d.source.as_str()),
        "zone_source": report.dated.map(|d| d.zone.as_str()),
        "zone": report.dated.and_then(|d| match d.zone {
            ZoneSource::Gps(zone) => Some(zone.name()),
            _ => None,
        }),
        "sidecar_of": report.sidecar_of.as_ref().map(|p| human::path(p)),
        "error": error,
    })
}

fn summary_json(summary: &Summary, dry_run: bool) -> serde_json::Value {
    json!({ "summary": {
        "filed": summary.filed,
        "renamed": summary.renamed,
        "duplicates": summary.duplicates,
        "undated": summary.undated,
        "skipped": summary.skipped,
        "ignored": summary.ignored,
        "errors": summary.errors,
        "dry_run": dry_run,
    }})
}
