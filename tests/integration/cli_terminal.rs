//! `mtpull backup` on a terminal: mtpull runs with its stderr on a
//! pseudo-terminal, and the tests read what it drew there.

use std::fs::File;
use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process};
use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
use rustix::termios::{Winsize, tcsetwinsize};

/// mtpull with its stderr on a terminal, and everything it drew there so far.
struct OnTerminal {
    child: Child,
    screen: Arc<Mutex<Vec<u8>>>,
    reader: JoinHandle<()>,
}

impl OnTerminal {
    fn start(args: &[&str]) -> OnTerminal {
        OnTerminal::sized(args, 120)
    }

    /// With a terminal `columns` wide.
    fn sized(args: &[&str], columns: u16) -> OnTerminal {
        let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).unwrap();
        grantpt(&master).unwrap();
        unlockpt(&master).unwrap();
        let size = Winsize {
            ws_row: 30,
            ws_col: columns,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        tcsetwinsize(&master, size).unwrap();
        let terminal = File::options()
            .read(true)
            .write(true)
            .open(ptsname(&master, Vec::new()).unwrap().to_str().unwrap())
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_mtpull"))
            .args(args)
            .env("TZ", "UTC")
            .env("TERM", "xterm-256color")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(terminal)
            .spawn()
            .unwrap();
        // Drained all along, so mtpull never blocks on a full terminal; ends
        // (EIO) when mtpull, the last holder of the terminal, exits.
        let screen = Arc::new(Mutex::new(Vec::new()));
        let drawn = Arc::clone(&screen);
        let reader = thread::spawn(move || {
            let mut master = File::from(master);
            let mut buffer = [0u8; 4096];
            while let Ok(n @ 1..) = master.read(&mut buffer) {
                drawn.lock().unwrap().extend_from_slice(&buffer[..n]);
            }
        });
        OnTerminal {
            child,
            screen,
            reader,
        }
    }

    fn drawn(&self) -> String {
        String::from_utf8_lossy(&self.screen.lock().unwrap()).into_owned()
    }

    /// Waits until what was drawn satisfies `ready`.
    fn wait_for(&self, what: &str, ready: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(300);
        while !ready(&self.drawn()) {
            assert!(Instant::now() < deadline, "never drew {what}:\n{}", self.drawn());
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for mtpull to exit; its status, stdout and all it drew.
    fn end(self) -> (Option<i32>, String, String) {
        let output = self.child.wait_with_output().unwrap();
        self.reader.join().unwrap();
        let drawn = String::from_utf8_lossy(&self.screen.lock().unwrap()).into_owned();
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            drawn,
        )
    }
}

/// Every "done/total" byte figure the totals bar drew, in order.
fn bar_figures(drawn: &str) -> Vec<(String, String)> {
    drawn
        .split("] ")
        .skip(1)
        .filter_map(|after_bar| {
            let figures = after_bar.split(" ETA").next()?;
            let (done, rest) = figures.split_once('/')?;
            // "1.88 GB 12.3 MB/s": the total is the first two words.
            let total: Vec<&str> = rest.split(' ').take(2).collect();
            Some((done.trim().to_owned(), total.join(" ")))
        })
        .collect()
}

#[test]
fn an_interrupted_backup_leaves_the_bar_where_it_stood() {
    let dest = tempfile::tempdir().unwrap();
    // The demo phone at USB 2 pace: 1.88 GB, far from done when interrupted.
    let run = OnTerminal::start(&["--demo", "backup", dest.path().to_str().unwrap()]);
    run.wait_for("a bar that moved", |drawn| {
        bar_figures(drawn).iter().any(|(done, _)| done != "0 B")
    });
    kill_process(Pid::from_child(&run.child), Signal::INT).unwrap();
    let (status, stdout, drawn) = run.end();
    assert_eq!(status, Some(130), "{drawn}");
    let figures = bar_figures(&drawn);
    let (done, total) = figures.last().unwrap();
    assert_eq!(total, "1.88 GB", "{figures:?}");
    assert_ne!(done, total, "the bar was filled after Ctrl-C:\n{drawn}");
    // The bar stops at what the summary says was received.
    assert!(stdout.contains(&format!("received {done} ")), "{done}: {stdout}");
}

#[test]
fn no_empty_bar_while_waiting_for_a_locked_phone_or_with_nothing_to_copy() {
    let dest = tempfile::tempdir().unwrap();
    let dest = dest.path().to_str().unwrap();
    let locked = OnTerminal::start(&["--sim", "locked", "backup", "--wait", "1", dest]);
    let (status, _, drawn) = locked.end();
    assert_eq!(status, Some(3), "{drawn}");
    assert!(!drawn.contains("0 B/0 B"), "{drawn}");
    assert_eq!(drawn.matches("pick \"File transfer\"").count(), 1, "{drawn}");

    let first = OnTerminal::start(&["--sim", "android", "backup", dest]);
    let (status, _, drawn) = first.end();
    assert_eq!(status, Some(0), "{drawn}");
    assert!(drawn.contains("39/39 files"), "{drawn}");
    let again = OnTerminal::start(&["--sim", "android", "backup", dest]);
    let (status, stdout, drawn) = again.end();
    assert_eq!(status, Some(0), "{drawn}");
    assert!(stdout.contains("39 already backed up"), "{stdout}");
    assert!(
        !drawn.contains("0/0 files") && !drawn.contains("0 B/0 B"),
        "{drawn}"
    );
}

#[test]
fn a_long_file_name_loses_its_middle_not_its_end() {
    let dest = tempfile::tempdir().unwrap();
    // 60 columns; the demo phone's first files are WhatsApp images ~100 characters deep.
    let run = OnTerminal::sized(&["--demo", "backup", dest.path().to_str().unwrap()], 60);
    run.wait_for("a file name cut short", |drawn| drawn.contains("WA0000"));
    kill_process(Pid::from_child(&run.child), Signal::INT).unwrap();
    let (_, _, drawn) = run.end();
    let cut = drawn
        .split('…')
        .skip(1)
        .find(|after| after.contains(".jpg"))
        .unwrap_or_else(|| panic!("no name cut in the middle:\n{drawn}"));
    let name = cut.split(".jpg").next().unwrap();
    assert!(name.ends_with("-WA0000"), "the end of the name was lost: {name}");
}
