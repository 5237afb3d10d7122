//! `mtpull verify DEST`: re-read every backed-up file and check it against the hash the
//! manifest recorded; report what is missing or changed, and touch nothing.

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use mtpull::pull::{Problem, VerifyReport, verify};
use serde_json::json;

use super::shared::exit;
use crate::cli::VerifyArgs;

/// How often the progress line is redrawn (or, off a terminal, printed).
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

pub fn run(args: &VerifyArgs) -> anyhow::Result<ExitCode> {
    let on_terminal = io::stderr().is_terminal();
    let mut last = Instant::now();
    let report = verify(&args.dest, |done, total, bytes| {
        if last.elapsed() >= PROGRESS_EVERY || done == total {
            last = Instant::now();
            let line = format!("verified {done} of {total} files ({} MB read)", bytes / 1_000_000);
            if on_terminal {
                eprint!("\r{line}");
                if done == total {
                    eprintln!();
                }
            } else {
                eprintln!("{line}");
            }
        }
    })
    .with_context(|| format!("cannot verify {}", args.dest.display()))?;
    let Some(report) = report else {
        bail!(
            "{} has no backup manifest (.mtpull/manifest.sqlite3): nothing was backed up there",
            args.dest.display()
        );
    };
    let mut out = io::stdout().lock();
    if args.json {
        writeln!(out, "{}", report_json(&report))?;
    } else {
        for (dest, problem) in &report.problems {
            writeln!(out, "{:<10} {dest}  [{}]", problem.as_str(), describe(problem))?;
        }
        let VerifyReport { checked, intact, .. } = report;
        writeln!(
            out,
            "{checked} files checked: {intact} intact, {} missing or changed (nothing was copied or repaired)",
            report.problems.len()
        )?;
    }
    Ok(if report.problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(exit::SOME_FAILED)
    })
}

fn describe(problem: &Problem) -> String {
    match problem {
        Problem::Missing => "recorded in the manifest, not in DEST".to_owned(),
        Problem::Changed {
            recorded_bytes,
            found_bytes,
        } if recorded_bytes == found_bytes => format!("same size ({found_bytes} bytes), other bytes"),
        Problem::Changed {
            recorded_bytes,
            found_bytes,
        } => format!("{found_bytes} bytes, {recorded_bytes} were copied"),
        Problem::Unreadable(error) => error.clone(),
    }
}

fn report_json(report: &VerifyReport) -> serde_json::Value {
    let problems: Vec<_> = report
        .problems
        .iter()
        .map(|(dest, problem)| {
            let (recorded, found) = match problem {
                Problem::Changed {
                    recorded_bytes,
                    found_bytes,
                } => (Some(*recorded_bytes), Some(*found_bytes)),
                _ => (None, None),
            };
            json!({
                "path": dest,
                "problem": problem.as_str(),
                "recorded_bytes": recorded,
                "found_bytes": found,
                "error": match problem { Problem::Unreadable(e) => Some(e), _ => None },
            })
        })
        .collect();
    json!({
        "checked": report.checked,
        "intact": report.intact,
        "bytes_read": report.bytes,
        "problems": problems,
    })
}
