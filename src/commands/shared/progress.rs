//! Progress on stderr while a backup runs: bars on a terminal, one log line
//! per file otherwise (and always in the journal).

use std::io::{self, IsTerminal};
use std::path::Path;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use mtpull::human::{self, bytes, count};
use mtpull::pull::{Event, FileOutcome, Observer};

/// The line said while waiting for a locked phone (or an untrusted iPhone):
/// `hint` says what to do (and is not said again if the wait is in vain).
pub fn locked_line(wait: Duration, hint: &str) -> String {
    format!(
        "mtpull: the phone shows no storage: {hint}. Waiting up to {}s (Ctrl-C stops)…",
        wait.as_secs()
    )
}

/// Columns of the terminal on stderr (80 when it does not say).
fn terminal_width() -> usize {
    rustix::termios::tcgetwinsize(io::stderr())
        .ok()
        .map(|size| usize::from(size.ws_col))
        .filter(|&columns| columns > 0)
        .unwrap_or(80)
}

/// Progress on stderr: two bars on a terminal, one log line per file otherwise.
pub struct Progress<'a> {
    dest: &'a Path,
    /// Whether bars may be drawn (stderr is a terminal).
    terminal: bool,
    /// Drawn once there is something to copy: no `0 B/0 B` bar while waiting
    /// for a locked phone, nor when everything is backed up already.
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

impl Bars {
    /// The totals bar over `total` bytes, `done` of them there already, and
    /// the current file's line below it.
    fn new(total: u64, done: u64) -> Bars {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let overall = multi.add(ProgressBar::new(total).with_style(
            ProgressStyle::with_template(
                "{prefix} [{bar:30}] {decimal_bytes}/{decimal_total_bytes} {decimal_bytes_per_sec} ETA {eta}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        ));
        overall.set_position(done);
        overall.reset_eta();
        let current = multi.add(
            ProgressBar::new_spinner()
                .with_style(ProgressStyle::with_template("  {spinner} {wide_msg}").expect("valid template")),
        );
        current.enable_steady_tick(Duration::from_millis(200));
        Bars {
            _multi: multi,
            overall,
            current,
        }
    }
}

impl<'a> Progress<'a> {
    /// Bars when stderr is a terminal, log lines otherwise.
    pub fn new(dest: &'a Path) -> Self {
        Progress {
            dest,
            terminal: io::stderr().is_terminal(),
            bars: None,
            total_files: 0,
            done_files: 0,
            prefix: String::new(),
        }
    }

    /// Log lines only, each after `prefix`, whatever stderr is: for the
    /// journal, and for several devices backing up side by side.
    pub fn plain(dest: &'a Path, prefix: String) -> Self {
        Progress {
            dest,
            terminal: false,
            bars: None,
            total_files: 0,
            done_files: 0,
            prefix,
        }
    }

    fn log(&self, line: String) {
        match &self.bars {
            Some(bars) => bars.overall.println(line),
            None => note!("{}{line}", self.prefix),
        }
    }

    /// Clears the current file's line and leaves the totals where they
    /// stand: full after a complete run, short of it after Ctrl-C or a failure.
    pub fn finish(&self) {
        if let Some(bars) = &self.bars {
            bars.current.finish_and_clear();
            bars.overall.abandon();
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
                self.log(line);
                if self.terminal && self.total_files > 0 {
                    let bars = Bars::new(plan.bytes_to_copy(), *resumable_bytes);
                    bars.overall.set_prefix(format!("0/{} files", self.total_files));
                    self.bars = Some(bars);
                }
            }
            Event::Started { file, resume_from } => {
                if let Some(bars) = &self.bars {
                    let resume = if *resume_from > 0 {
                        format!(" (resuming at {})", bytes(*resume_from))
                    } else {
                        String::new()
                    };
                    // The spinner and its margin take 4 columns; the file name's end matters most.
                    let room = terminal_width().saturating_sub(4 + resume.chars().count());
                    let shown = human::middle(&human::name(&file.display_path()), room);
                    bars.current.set_message(format!("{shown}{resume}"));
                }
            }
            Event::Note { file, note } => self.log(format!("{}: {note}", file.display_path())),
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
            Event::Locked { wait, hint } => self.log(locked_line(*wait, hint)),
            Event::WaitingForDestination => {
                self.log("waiting for the backup of another device into the same folder to finish".into())
            }
            Event::DownloadedWhileWaiting { files, bytes: held } if *files > 0 => self.log(format!(
                "downloaded {} ({}) while waiting; filing them when the other backup ends",
                count(*files, "new file"),
                bytes(*held)
            )),
            Event::DownloadedWhileWaiting { .. } => {}
            Event::WouldCopy { .. } | Event::WouldDelete { .. } => {}
        }
    }
}
