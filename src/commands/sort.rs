//! `mtpull sort SRC DEST`: file a local folder by capture date, and tell what happened.

use std::io::{self, Write};
use std::num::NonZeroUsize;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};
use mtpull::sort::date::ZoneSource;
use mtpull::sort::{DateResolver, Event, FileReport, Mode, Outcome, Summary, TreeOptions, sort_tree};
use serde_json::json;

use super::shared::exit::SOME_FAILED;
use crate::cli::{DeviceChoice, SortArgs};

pub fn run(choice: &DeviceChoice, verbose: bool, args: &SortArgs) -> anyhow::Result<ExitCode> {
    if choice.is_given() {
        bail!("sort works on local folders; --demo and --device are for commands that talk to a phone");
    }
    let options = TreeOptions {
        template: args.template.clone(),
        mode: if args.move_files { Mode::Move } else { Mode::Copy },
        dry_run: args.dry_run,
        jobs: args
            .jobs
            .unwrap_or_else(|| std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN)),
    };
    let mut printer = Printer {
        out: io::stdout().lock(),
        json: args.json,
        verbose,
        failed: None,
    };
    let summary = sort_tree(
        &args.source,
        &args.dest,
        &options,
        &DateResolver::system(),
        |event| printer.event(event),
    )
    .with_context(|| format!("cannot sort {} into {}", shown(&args.source), shown(&args.dest)))?;
    printer.summary(&summary, args.dry_run)?;
    Ok(if summary.errors > 0 {
        ExitCode::from(SOME_FAILED)
    } else {
        ExitCode::SUCCESS
    })
}

/// Writes the per-file lines (text or JSON Lines) and the summary.
struct Printer<W> {
    out: W,
    json: bool,
    verbose: bool,
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
            (Event::Skipped { path, reason }, true) => writeln!(
                self.out,
                "{}",
                json!({ "source": path.to_string_lossy(), "outcome": "skipped", "reason": reason })
            ),
            (Event::Skipped { path, reason }, false) => {
                writeln!(self.out, "skipped   {}: {reason}", shown(path))
            }
        };
        self.failed = written.err();
    }

    fn file_text(&mut self, report: &FileReport) -> io::Result<()> {
        let filed = match &report.result {
            Ok(filed) => filed,
            // Errors go to stderr so that stdout stays a clean list of what was filed.
            Err(error) => {
                return writeln!(io::stderr(), "error     {}: {error}", shown(&report.source));
            }
        };
        let (status, arrow) = match filed.outcome {
            Outcome::Filed => ("filed", "->"),
            Outcome::Renamed(_) => ("renamed", "->"),
            Outcome::Duplicate => ("duplicate", "=="),
        };
        let source = shown(&report.source);
        let dest = shown(&filed.path);
        let why = match (&report.dated, &report.sidecar_of) {
            (_, Some(main)) => format!("with {}", shown(main)),
            (None, None) => "no date".to_owned(),
            (Some(dated), None) if self.verbose => {
                let offset = dated.offset.map(|o| format!(" {o}")).unwrap_or_default();
                format!("{}: {}{offset}", dated.why(), dated.time)
            }
            (Some(dated), None) => dated.why(),
        };
        writeln!(self.out, "{status:<9} {source} {arrow} {dest}  [{why}]")
    }

    fn summary(&mut self, summary: &Summary, dry_run: bool) -> anyhow::Result<()> {
        if let Some(error) = self.failed.take() {
            return Err(error).context("cannot write the report");
        }
        let written = if self.json {
            writeln!(self.out, "{}", summary_json(summary, dry_run))
        } else {
            let Summary {
                filed,
                renamed,
                duplicates,
                undated,
                skipped,
                errors,
            } = *summary;
            let dry = if dry_run {
                " (dry run: nothing was written)"
            } else {
                ""
            };
            writeln!(
                self.out,
                "filed {filed} ({renamed} renamed), {duplicates} duplicates, {undated} undated, \
                 {skipped} skipped, {errors} errors{dry}"
            )
        };
        written.context("cannot write the report")
    }
}

fn file_json(report: &FileReport) -> serde_json::Value {
    let (outcome, destination, error) = match &report.result {
        Ok(filed) => {
            let outcome = match filed.outcome {
                Outcome::Filed => "filed",
                Outcome::Renamed(_) => "renamed",
                Outcome::Duplicate => "duplicate",
            };
            (outcome, Some(filed.path.to_string_lossy()), None)
        }
        Err(error) => ("error", None, Some(error.to_string())),
    };
    json!({
        "source": report.source.to_string_lossy(),
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
        "sidecar_of": report.sidecar_of.as_ref().map(|p| p.to_string_lossy()),
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
        "errors": summary.errors,
        "dry_run": dry_run,
    }})
}

/// A path for a terminal: control characters in hostile names are escaped, not obeyed.
fn shown(path: &Path) -> String {
    let mut shown = String::new();
    for c in path.to_string_lossy().chars() {
        if c.is_control() {
            shown.extend(c.escape_default());
        } else {
            shown.push(c);
        }
    }
    shown
}
