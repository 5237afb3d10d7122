//! Desktop notifications through `notify-send` (libnotify), when it is
//! installed: the one dependency-free way to reach whatever notification
//! daemon the desktop runs. Without it, the journal has the same words.

use std::env;
use std::ffi::OsStr;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// How long `notify-send` may take (it waits on D-Bus; a wedged bus must not
/// hold up the next backup).
const TIMEOUT: Duration = Duration::from_secs(5);

/// Sends notifications, or does nothing where `notify-send` is missing.
#[derive(Debug, Clone)]
pub struct Notifier {
    program: Option<PathBuf>,
}

impl Notifier {
    /// Finds `notify-send` on this process's PATH.
    pub fn from_env() -> Notifier {
        Notifier::from_path_var(env::var_os("PATH").as_deref())
    }

    /// Finds `notify-send` on `path_var` (a PATH value).
    pub fn from_path_var(path_var: Option<&OsStr>) -> Notifier {
        let program = path_var.and_then(|paths| {
            env::split_paths(paths)
                .filter(|dir| dir.is_absolute())
                .map(|dir| dir.join("notify-send"))
                .find(|candidate| is_executable(candidate))
        });
        Notifier { program }
    }

    /// One that never notifies.
    pub fn disabled() -> Notifier {
        Notifier { program: None }
    }

    /// The program that would be run, if any.
    pub fn program(&self) -> Option<&Path> {
        self.program.as_deref()
    }

    /// Shows `summary` with `body`. `Ok(false)`: there is no notify-send.
    pub fn send(&self, summary: &str, body: &str, urgent: bool) -> io::Result<bool> {
        let Some(program) = &self.program else {
            return Ok(false);
        };
        let mut child = Command::new(program)
            .args(["--app-name=mtpull", "--icon=drive-removable-media"])
            .arg(if urgent {
                "--urgency=critical"
            } else {
                "--urgency=normal"
            })
            .arg("--")
            .arg(summary)
            .arg(body)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()?;
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(status) = child.try_wait()? {
                if status.success() {
                    return Ok(true);
                }
                let mut stderr = String::new();
                if let Some(mut pipe) = child.stderr.take() {
                    io::Read::read_to_string(&mut pipe, &mut stderr)?;
                }
                return Err(io::Error::other(format!(
                    "{} failed ({status}): {}",
                    program.display(),
                    stderr.trim()
                )));
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("{} did not finish within {TIMEOUT:?}", program.display()),
                ));
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    fn fake_notify_send(dir: &Path, script: &str) -> PathBuf {
        let program = dir.join("notify-send");
        fs::write(&program, format!("#!/bin/sh\n{script}\n")).unwrap();
        fs::set_permissions(&program, fs::Permissions::from_mode(0o755)).unwrap();
        program
    }

    #[test]
    fn notify_send_gets_the_words_as_separate_arguments() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("args");
        fake_notify_send(
            dir.path(),
            &format!(
                "for a in \"$@\"; do printf '%s\\n' \"$a\"; done > '{}'",
                log.display()
            ),
        );
        let path_var = std::env::join_paths(["/nonexistent", dir.path().to_str().unwrap()]).unwrap();
        let notifier = Notifier::from_path_var(Some(&path_var));
        assert_eq!(notifier.program(), Some(dir.path().join("notify-send").as_path()));
        let sent = notifier
            .send("Backed up Pixel 7", "-12 new files; $(rm -rf ~)", false)
            .unwrap();
        assert!(sent);
        assert_eq!(
            fs::read_to_string(&log).unwrap(),
            "--app-name=mtpull\n--icon=drive-removable-media\n--urgency=normal\n--\n\
             Backed up Pixel 7\n-12 new files; $(rm -rf ~)\n"
        );
    }

    #[test]
    fn without_notify_send_nothing_happens() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("notify-send"), "not executable").unwrap();
        let notifier = Notifier::from_path_var(Some(dir.path().as_os_str()));
        assert_eq!(notifier.program(), None);
        assert!(!notifier.send("a", "b", false).unwrap());
        assert!(!Notifier::from_path_var(None).send("a", "b", true).unwrap());
        assert!(!Notifier::disabled().send("a", "b", true).unwrap());
    }

    #[test]
    fn a_failing_notify_send_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        fake_notify_send(dir.path(), "echo 'no bus' >&2; exit 1");
        let notifier = Notifier::from_path_var(Some(dir.path().as_os_str()));
        let error = notifier.send("a", "b", false).unwrap_err();
        assert!(error.to_string().contains("no bus"), "{error}");
    }
}
