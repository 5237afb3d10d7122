//! Output into a pipe whose reader has gone (`mtpull backup 2>&1 | head -1`):
//! the copy goes on, nothing panics, and the exit status is the run's.

use std::io::{BufRead, BufReader, PipeReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::testdata::plain_jpeg;
use crate::util::{self, put};

/// How long the reader reads before it quits: not at all, or one line (`head -1`).
#[derive(Clone, Copy, Debug)]
enum Reader {
    GoneAtOnce,
    OneLine,
}

/// Runs mtpull with stdout (and stderr too when `both`) into one pipe that
/// `reader` closes; returns its exit status.
fn run_into_closed_pipe(args: &[&std::ffi::OsStr], both: bool, reader: Reader) -> Option<i32> {
    let (pipe, writer) = std::io::pipe().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_mtpull"));
    command
        .args(args)
        .env("TZ", "UTC")
        .stdin(Stdio::null())
        .stdout(writer.try_clone().unwrap());
    command.stderr(if both { Stdio::from(writer) } else { Stdio::null() });
    let child: Child = command.spawn().unwrap();
    // The parent's copies of the writing end go, so the reader's quitting is seen.
    drop(command);
    quit_after(pipe, reader);
    child.wait_with_output().unwrap().status.code()
}

fn quit_after(pipe: PipeReader, reader: Reader) {
    if let Reader::OneLine = reader {
        let mut line = String::new();
        BufReader::new(&pipe).read_line(&mut line).unwrap();
        assert!(!line.is_empty(), "mtpull printed nothing");
    }
}

fn os(args: &[&str]) -> Vec<std::ffi::OsString> {
    args.iter().map(Into::into).collect()
}

fn refs(args: &[std::ffi::OsString]) -> Vec<&std::ffi::OsStr> {
    args.iter().map(AsRef::as_ref).collect()
}

fn filed(dest: &Path) -> usize {
    util::tree(dest)
        .into_iter()
        .filter(|(name, _)| !name.starts_with(".mtpull"))
        .count()
}

#[test]
fn a_backup_logging_into_a_closed_pipe_copies_everything_and_exits_0() {
    for reader in [Reader::GoneAtOnce, Reader::OneLine] {
        let dest = tempfile::tempdir().unwrap();
        let mut args = os(&["--sim", "android", "backup"]);
        args.push(dest.path().into());
        let status = run_into_closed_pipe(&refs(&args), true, reader);
        assert_eq!(status, Some(0), "{reader:?}");
        assert_eq!(filed(dest.path()), 39, "{reader:?}: not every file was copied");
    }
}

#[test]
fn a_dry_run_into_a_closed_pipe_exits_0() {
    for reader in [Reader::GoneAtOnce, Reader::OneLine] {
        let dest = tempfile::tempdir().unwrap();
        let mut args = os(&["--sim", "android", "backup", "--dry-run"]);
        args.push(dest.path().into());
        assert_eq!(
            run_into_closed_pipe(&refs(&args), false, reader),
            Some(0),
            "{reader:?}"
        );
        assert_eq!(filed(dest.path()), 0);
    }
}

#[test]
fn a_sort_into_a_closed_pipe_files_everything_and_exits_0() {
    for (reader, both) in [(Reader::GoneAtOnce, true), (Reader::OneLine, false)] {
        let root = tempfile::tempdir().unwrap();
        let (src, dest) = (root.path().join("src"), root.path().join("dest"));
        for n in 0..20 {
            put(
                &src.join(format!("IMG_20240526_1015{n:02}.jpg")),
                &plain_jpeg(n),
                1_700_000_000,
            );
        }
        let args = vec![std::ffi::OsString::from("sort"), src.into(), dest.clone().into()];
        let status = run_into_closed_pipe(&refs(&args), both, reader);
        assert_eq!(status, Some(0), "{reader:?}");
        assert_eq!(filed(&dest), 20, "{reader:?}: not every file was filed");
    }
}

#[test]
fn listing_devices_into_a_closed_pipe_says_nothing_and_exits_0() {
    let (pipe, writer) = std::io::pipe().unwrap();
    drop(pipe);
    let output = Command::new(env!("CARGO_BIN_EXE_mtpull"))
        .args(["--demo", "devices"])
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
}
