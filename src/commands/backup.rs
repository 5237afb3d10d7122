//! `mtpull backup DEST`: copy what is new off the phone, filed by date, and
//! tell how it goes — progress bars on a terminal, log lines otherwise.

use std::io::{self, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use mtpull::human::{self, bytes, count};
use mtpull::pull::{BackupOptions, Event, FileOutcome, Observer, PullError, RunReport, Selection, backup};

use super::{FATAL, NO_DEVICE, SOME_FAILED, connect};
use crate::cli::{BackupArgs, Cli};

/// Exit status after Ctrl-C (128 + SIGINT, as shells report it).
pub const INTERRUPTED: u8 = 130;

/// Raised by the SIGINT handler; the run checks it between files and pieces.
pub(super) static CANCEL: AtomicBool = AtomicBool::new(false);

pub fn run(cli: &Cli, args: &BackupArgs) -> anyhow::Result<ExitCode> {
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
    let mut device = connect::open_one(cli)?;
    catch_ctrl_c().context("installing the Ctrl-C handler")?;
    let report = if args.dry_run {
        let mut printer = DryRunPrinter {
            out: io::stdout().lock(),
            dest: &args.dest,
            files: 0,
            bytes: 0,
        };
        let report = backup(&mut device.session, &args.dest, &options, &CANCEL, &mut printer);
        if report.stopped.is_none() {
            printer.totals()?;
        }
        report
    } else {
        let mut progress = Progress::new(&args.dest);
        let report = backup(&mut device.session, &args.dest, &options, &CANCEL, &mut progress);
        progress.finish();
        report
    };
    if cli.verbose > 0 {
        eprintln!("transactions: {}", device.session.stats());
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
        eprintln!("mtpull: {stopped}");
    }
    Ok(ExitCode::from(exit_status(report)))
}

/// The exit status a run's outcome calls for.
pub(super) fn exit_status(report: &RunReport) -> u8 {
    match &report.stopped {
        None if report.summary.failed > 0 => SOME_FAILED,
        None => 0,
        Some(PullError::Interrupted) => INTERRUPTED,
        Some(PullError::Locked) => NO_DEVICE,
        Some(PullError::Device { source, .. }) if source.is_locked() => NO_DEVICE,
        Some(_) => FATAL,
    }
}

/// Installs a SIGINT handler that raises [`CANCEL`]; a second Ctrl-C kills
/// at once (the handler resets itself), which still loses nothing.
pub(super) fn catch_ctrl_c() -> io::Result<()> {
    extern "C" fn on_sigint(_: libc::c_int) {
        CANCEL.store(true, Ordering::Relaxed);
    }
    // SAFETY: the handler only stores to an atomic (async-signal-safe); the
    // struct is zeroed then filled as sigaction(2) requires.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_sigint as *const () as libc::sighandler_t;
        action.sa_flags = libc::SA_RESETHAND | libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        if libc::sigaction(libc::SIGINT, &action, std::ptr::null_mut()) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Said while waiting; the hint itself comes once, with the error, if the wait is in vain.
fn locked_line(wait: Duration) -> String {
    format!(
        "mtpull: the phone shows no storage yet; waiting up to {}s for it to be unlocked and set to \
         File transfer (Ctrl-C stops)…",
        wait.as_secs()
    )
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
                eprintln!("{}", locked_line(*wait));
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

/// Progress on stderr: two bars on a terminal, one log line per file otherwise.
pub(super) struct Progress<'a> {
    dest: &'a Path,
    bars: Option<Bars>,
    total_files: u64,
    done_files: u64,
    /// Put before every log line (which device, when several back up at once).
    prefix: String,
}

struct Bars {
    _multi: MultiProgress,
    overall: ProgressBar,
    current: ProgressBar,
}

impl<'a> Progress<'a> {
    fn new(dest: &'a Path) -> Self {
        let bars = io::stderr().is_terminal().then(|| {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
            let overall = multi.add(ProgressBar::new(0).with_style(
                ProgressStyle::with_template(
                    "{prefix} [{bar:30}] {decimal_bytes}/{decimal_total_bytes} {decimal_bytes_per_sec} ETA {eta}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            ));
            let current = multi.add(ProgressBar::new_spinner().with_style(
                ProgressStyle::with_template("  {spinner} {wide_msg}").expect("valid template"),
            ));
            current.enable_steady_tick(Duration::from_millis(200));
            Bars { _multi: multi, overall, current }
        });
        Progress {
            dest,
            bars,
            total_files: 0,
            done_files: 0,
            prefix: String::new(),
        }
    }

    /// Log lines only, each after `prefix`, whatever stderr is: for the
    /// journal, and for several devices backing up side by side.
    pub(super) fn plain(dest: &'a Path, prefix: String) -> Self {
        Progress {
            dest,
            bars: None,
            total_files: 0,
            done_files: 0,
            prefix,
        }
    }

    fn log(&self, line: String) {
        match &self.bars {
            Some(bars) => bars.overall.println(line),
            None => eprintln!("{}{line}", self.prefix),
        }
    }

    fn finish(&self) {
        if let Some(bars) = &self.bars {
            bars.current.finish_and_clear();
            bars.overall.finish();
        }
    }
}

impl Observer for Progress<'_> {
    fn event(&mut self, event: &Event<'_>) {
        match event {
            Event::Planned {
                plan,
                resumable_bytes,
            } => {
                self.total_files = plan.to_copy.len() as u64;
                let mut line = format!(
                    "{} ({}) to copy, {} already backed up",
                    count(plan.to_copy.len() as u64, "new file"),
                    bytes(plan.bytes_to_copy()),
                    plan.already.len()
                );
                if *resumable_bytes > 0 {
                    line += &format!("; resuming {} already downloaded", bytes(*resumable_bytes));
                }
                if let Some(bars) = &self.bars {
                    bars.overall.set_length(plan.bytes_to_copy());
                    bars.overall.set_position(*resumable_bytes);
                    bars.overall.reset_eta();
                    bars.overall.set_prefix(format!("0/{} files", self.total_files));
                }
                self.log(line);
            }
            Event::Started { file, resume_from } => {
                if let Some(bars) = &self.bars {
                    let resume = if *resume_from > 0 {
                        format!(" (resuming at {})", bytes(*resume_from))
                    } else {
                        String::new()
                    };
                    bars.current
                        .set_message(format!("{}{resume}", human::name(&file.display_path())));
                }
            }
            Event::Received { bytes } => {
                if let Some(bars) = &self.bars {
                    bars.overall.inc(*bytes);
                }
            }
            Event::Finished { file, outcome } => {
                self.done_files += 1;
                if let Some(bars) = &self.bars {
                    bars.overall
                        .set_prefix(format!("{}/{} files", self.done_files, self.total_files));
                }
                let shown = |dest: &Path| human::path(&self.dest.join(dest));
                let line = match outcome {
                    FileOutcome::Copied { dest, .. } => {
                        if self.bars.is_some() {
                            return;
                        }
                        format!(
                            "copied {} -> {} ({})",
                            human::name(&file.display_path()),
                            shown(dest),
                            bytes(file.size)
                        )
                    }
                    FileOutcome::Duplicate { dest } => {
                        format!(
                            "duplicate {}: already in the backup as {}",
                            human::name(&file.display_path()),
                            shown(dest)
                        )
                    }
                    FileOutcome::Failed { error } => {
                        format!("failed {}: {error}", human::name(&file.display_path()))
                    }
                };
                self.log(line);
            }
            Event::Deleted { file, error } => match error {
                None if self.bars.is_none() => self.log(format!(
                    "deleted {} from the device",
                    human::name(&file.display_path())
                )),
                None => {}
                Some(error) => self.log(format!(
                    "kept {} on the device: {error}",
                    human::name(&file.display_path())
                )),
            },
            Event::Locked { wait } => self.log(locked_line(*wait)),
            Event::WouldCopy { .. } => {}
        }
    }
}
