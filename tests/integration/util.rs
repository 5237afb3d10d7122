//! Running the binary and looking at what it left behind.

use std::ffi::OsStr;
use std::fs::{self, File};
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, SystemTime};

/// Runs `mtpull` with `TZ` set, so that dates do not depend on the machine's zone.
pub fn mtpull<I, S>(args: I, tz: &str) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    Command::new(env!("CARGO_BIN_EXE_mtpull"))
        .args(args)
        .env("TZ", tz)
        .output()
        .expect("cannot run mtpull")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("stdout is UTF-8")
}

/// Every line of a `--json` run, parsed.
pub fn json_lines(output: &Output) -> Vec<serde_json::Value> {
    stdout(output)
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect()
}

/// The last line of a `--json` run.
pub fn summary(output: &Output) -> serde_json::Value {
    json_lines(output).pop().expect("a summary line")["summary"].clone()
}

/// Writes a file (making its folders) with the given mtime in Unix seconds.
pub fn put(path: &Path, content: &[u8], mtime: u64) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, content).unwrap();
    let when = SystemTime::UNIX_EPOCH + Duration::from_secs(mtime);
    File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(when)
        .unwrap();
}

pub(crate) use crate::testing::{cannot_run, tree};

/// Runs `mtpull` as a user without privileges over `root` (made readable for
/// it): as `nobody` through setpriv(1) when the tests run as root, as is
/// when they do not. Root would write anywhere, which is not what users meet.
pub fn as_unprivileged_user<S: AsRef<OsStr>>(root: &Path, args: &[S]) -> Output {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(root, fs::Permissions::from_mode(0o755)).unwrap();
    let binary = env!("CARGO_BIN_EXE_mtpull");
    let mut command = if rustix::process::getuid().is_root() {
        let mut command = Command::new("setpriv");
        command.args(["--reuid=65534", "--regid=65534", "--clear-groups", binary]);
        command
    } else {
        Command::new(binary)
    };
    command
        .args(args)
        .env("TZ", "UTC")
        .output()
        .expect("cannot run setpriv (util-linux), which the tests need when run as root")
}

/// A small tmpfs mounted for one test, unmounted when dropped: a disk that fills up.
/// Needs root (CI runs as root).
pub struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    /// A tmpfs of `bytes`, or `None` (after [`cannot_run`]) when it cannot be mounted.
    pub fn mount(bytes: u64) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
            .arg(dir.path())
            .output();
        match mounted {
            Ok(out) if out.status.success() => Some(SmallDisk { dir }),
            Ok(out) => {
                cannot_run(&format!(
                    "cannot mount a small tmpfs: {}",
                    String::from_utf8_lossy(&out.stderr)
                ));
                None
            }
            Err(e) => {
                cannot_run(&format!("cannot run mount: {e}"));
                None
            }
        }
    }

    /// Where it is mounted.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Grows (or shrinks) it to `bytes`, keeping what it holds.
    pub fn resize(&self, bytes: u64) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,size={bytes}")])
            .arg(self.dir.path())
            .status()
            .unwrap();
        assert!(status.success(), "cannot resize the tmpfs");
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}
