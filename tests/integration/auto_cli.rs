//! The auto-backup commands as a user (or udev's unit) runs them:
//! `config init|show`, `auto` on the simulated phone, `watch` until Ctrl-C,
//! and `install-udev` into a prefix.

use std::fs;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use mtpull::auto::lock_device;
use rustix::process::{Pid, Signal, kill_process};

use crate::{testing, util};

/// The demo phone's serial (`--sim PROFILE` serves the demo tree).
const DEMO_SERIAL: &str = "DEMO0001";

/// A user's world: settings, runtime folder, a PATH with a fake notify-send
/// that writes down what it was asked to show.
struct User {
    root: tempfile::TempDir,
}

struct Run {
    status: Option<i32>,
    stdout: String,
    stderr: String,
}

impl User {
    fn new() -> User {
        let user = User {
            root: tempfile::tempdir().unwrap(),
        };
        let bin = user.path("bin");
        fs::create_dir_all(&bin).unwrap();
        let notify = bin.join("notify-send");
        let log = user.path("notifications");
        fs::write(
            &notify,
            format!(
                "#!/bin/sh\nprintf '%s|' \"$@\" >> '{}'\necho >> '{}'\n",
                log.display(),
                log.display()
            ),
        )
        .unwrap();
        fs::set_permissions(&notify, fs::Permissions::from_mode(0o755)).unwrap();
        user
    }

    fn path(&self, name: &str) -> PathBuf {
        self.root.path().join(name)
    }

    fn dest(&self) -> PathBuf {
        self.path("Pictures/Phone")
    }

    fn settings(&self) -> PathBuf {
        self.path("config/mtpull/config.toml")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_mtpull"));
        command
            .args(args)
            .env_clear()
            .env("HOME", self.root.path())
            .env("XDG_CONFIG_HOME", self.path("config"))
            .env("XDG_RUNTIME_DIR", self.path("run"))
            .env("PATH", format!("{}:/usr/bin:/bin", self.path("bin").display()))
            .env("TZ", "UTC");
        command
    }

    fn run(&self, args: &[&str]) -> Run {
        let output = self.command(args).output().unwrap();
        Run {
            status: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// `config init` (afresh) into [`User::dest`], then `edit` applied to the file.
    fn configure(&self, edit: impl FnOnce(String) -> String) {
        let dest = self.dest();
        self.run(&[
            "config",
            "init",
            "--force",
            "--destination",
            dest.to_str().unwrap(),
        ])
        .expect(0);
        let text = fs::read_to_string(self.settings()).unwrap();
        fs::write(self.settings(), edit(text)).unwrap();
    }

    fn notifications(&self) -> Vec<String> {
        fs::read_to_string(self.path("notifications"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn files_in_dest(&self) -> usize {
        util::tree(&self.dest()).len()
    }
}

impl Run {
    fn expect(self, status: i32) -> Run {
        assert_eq!(
            self.status,
            Some(status),
            "stdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
}

#[test]
fn config_init_writes_a_valid_file_once_and_show_explains_it() {
    let user = User::new();
    user.run(&["config", "show"])
        .expect(2)
        .stderr
        .contains("mtpull config init")
        .then_some(())
        .expect("show points at init");
    let init = user.run(&["config", "init"]).expect(0);
    assert!(init.stdout.contains("install-udev"), "{}", init.stdout);
    let show = user.run(&["config", "show"]).expect(0);
    let home_dest = user.path("Pictures/Phone backup");
    assert!(
        show.stdout
            .contains(&format!("destination:    {}", home_dest.display())),
        "{}",
        show.stdout
    );
    assert!(show.stdout.contains("devices:        any"));
    assert!(
        show.stdout.contains("notify:         yes ("),
        "notify-send was found: {}",
        show.stdout
    );
    let again = user.run(&["config", "init"]).expect(2);
    assert!(again.stderr.contains("--force"), "{}", again.stderr);
    user.run(&["config", "init", "--force", "--destination", "relative/dir"])
        .expect(0);
    let show = user.run(&["config", "show"]).expect(0);
    assert!(show.stdout.contains("relative/dir") && !show.stdout.contains("destination:    relative"));
    fs::write(user.settings(), "destination = \"/x\"\nonly = \"songs\"\n").unwrap();
    let bad = user.run(&["config", "show"]).expect(2);
    assert!(bad.stderr.contains("only"), "{}", bad.stderr);
}

#[test]
fn auto_without_settings_leaves_the_device_alone() {
    let user = User::new();
    let run = user.run(&["--sim", "android", "auto"]).expect(0);
    assert!(run.stderr.contains("nothing to do"), "{}", run.stderr);
    assert!(!user.dest().exists());
    assert!(user.notifications().is_empty());
}

#[test]
fn auto_backs_up_logs_each_file_and_notifies_once_done() {
    let user = User::new();
    user.configure(|text| text);
    let first = user.run(&["--sim", "android", "auto"]).expect(0);
    let files = user.files_in_dest();
    assert!(files > 10, "{}", first.stderr);
    assert!(
        first
            .stderr
            .lines()
            .all(|l| l.starts_with("Demo Phone (simulated): ")),
        "{}",
        first.stderr
    );
    assert!(
        first.stderr.contains(": copied "),
        "a log line per file: {}",
        first.stderr
    );
    assert!(first.stderr.contains("backup finished"));
    assert!(!first.stderr.contains('\r'), "no progress bars");
    let notes = user.notifications();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(
        notes[0].contains("--urgency=normal|--|Backed up Demo Phone (simulated)|")
            && notes[0].contains(&format!("{files} new files")),
        "{notes:?}"
    );

    let second = user.run(&["--sim", "android", "auto"]).expect(0);
    assert!(second.stderr.contains("copied 0"), "{}", second.stderr);
    assert_eq!(user.files_in_dest(), files);

    user.configure(|text| text.replace("notify = true", "notify = false"));
    user.run(&["--sim", "android", "auto"]).expect(0);
    assert_eq!(user.notifications().len(), 2, "no notification when turned off");
}

#[test]
fn auto_waits_for_a_locked_phone_for_the_configured_time() {
    let user = User::new();
    user.configure(|text| text.replace("unlock_timeout_secs = 120", "unlock_timeout_secs = 1"));
    let locked = user.run(&["--sim", "locked", "auto"]).expect(3);
    assert!(
        locked.stderr.contains("no storage appeared within 1 s"),
        "{}",
        locked.stderr
    );
    assert!(locked.stderr.contains("unlock it"));
    assert!(!user.dest().exists());
    let notes = user.notifications();
    assert!(
        notes[0].contains("--urgency=critical|--|Demo Phone (simulated) was not backed up|"),
        "{notes:?}"
    );

    user.configure(|text| text.replace("unlock_timeout_secs = 120", "unlock_timeout_secs = 30"));
    let unlocked = user
        .run(&["--sim", "locked", "--sim-unlock-after", "300", "auto"])
        .expect(0);
    assert!(
        unlocked.stderr.contains("Waiting up to 30 s"),
        "{}",
        unlocked.stderr
    );
    assert!(unlocked.stderr.contains(": unlocked"));
    assert!(user.files_in_dest() > 10);
}

#[test]
fn auto_leaves_devices_the_settings_do_not_name() {
    let user = User::new();
    user.configure(|text| text.replace("devices = \"any\"", "devices = [\"SOMEONE-ELSE\"]"));
    let run = user.run(&["--sim", "android", "auto"]).expect(0);
    assert!(
        run.stderr
            .contains(&format!("serial {DEMO_SERIAL} is not in the settings")),
        "{}",
        run.stderr
    );
    assert!(!user.dest().exists());
    assert!(user.notifications().is_empty());

    user.configure(|text| text.replace("devices = \"any\"", &format!("devices = [\"{DEMO_SERIAL}\"]")));
    user.run(&["--sim", "android", "auto"]).expect(0);
    assert!(user.files_in_dest() > 10);
}

#[test]
fn auto_leaves_a_device_whose_backup_is_already_running() {
    let user = User::new();
    user.configure(|text| text);
    // This test process stands for the other backup holding the device's lock.
    let held = lock_device(&user.path("run/mtpull"), DEMO_SERIAL)
        .unwrap()
        .unwrap();
    let run = user.run(&["--sim", "android", "auto"]).expect(0);
    assert!(run.stderr.contains("already running"), "{}", run.stderr);
    assert!(!user.dest().exists());
    drop(held);
    user.run(&["--sim", "android", "auto"]).expect(0);
    assert!(user.files_in_dest() > 10);
}

/// Starts `mtpull watch`; its stderr lines come through the channel.
fn spawn_watch(user: &User, args: &[&str]) -> (Child, mpsc::Receiver<String>) {
    let mut child = user
        .command(args)
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (lines, receiver) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            if lines.send(line.unwrap()).is_err() {
                return;
            }
        }
    });
    (child, receiver)
}

fn wait_for_line(lines: &mpsc::Receiver<String>, words: &str, seen: &mut Vec<String>) {
    while let Ok(line) = lines.recv_timeout(Duration::from_secs(60)) {
        let found = line.contains(words);
        seen.push(line);
        if found {
            return;
        }
    }
    panic!("no line with {words:?}: {seen:#?}");
}

#[test]
fn watch_backs_up_what_arrives_and_ctrl_c_stops_it_cleanly() {
    let user = User::new();
    let dest = user.dest();
    let (mut child, lines) = spawn_watch(&user, &["--sim", "android", "watch", dest.to_str().unwrap()]);
    let mut seen = Vec::new();
    wait_for_line(&lines, "Ctrl-C stops", &mut seen);
    wait_for_line(&lines, "backup finished", &mut seen);
    thread::sleep(Duration::from_millis(300));
    assert!(
        child.try_wait().unwrap().is_none(),
        "still watching after the backup: {seen:#?}"
    );
    kill_process(Pid::from_child(&child), Signal::INT).unwrap();
    wait_for_line(&lines, "stopped watching", &mut seen);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{seen:#?}");
    assert!(user.files_in_dest() > 10);
    assert_eq!(user.notifications().len(), 1, "defaults notify");
}

#[test]
fn watch_without_a_destination_says_where_to_set_one() {
    let user = User::new();
    let run = user.run(&["--sim", "android", "watch"]).expect(2);
    assert!(run.stderr.contains("mtpull config init"), "{}", run.stderr);
}

#[test]
fn install_udev_writes_rule_and_units_under_a_prefix_and_removes_them() {
    let user = User::new();
    let prefix = user.path("stage");
    let staged = |name: &str| prefix.join(name);
    let rule = staged("etc/udev/rules.d/69-mtpull.rules");
    let backup_unit = staged("etc/systemd/user/mtpull-backup@.service");
    let watch_unit = staged("etc/systemd/user/mtpull-watch.service");
    let prefix_arg = prefix.to_str().unwrap();

    let dry = user
        .run(&["install-udev", "--prefix", prefix_arg, "--dry-run"])
        .expect(0);
    assert!(
        dry.stdout.contains(&format!("would write {}", rule.display())),
        "{}",
        dry.stdout
    );
    assert!(!prefix.exists(), "a dry run writes nothing");
    assert!(
        dry.stdout.contains(&format!(
            "udev would not be reloaded: the files would go under {prefix_arg}"
        )),
        "{}",
        dry.stdout
    );

    user.run(&["install-udev", "--prefix", prefix_arg]).expect(0);
    assert_eq!(fs::read_to_string(&rule).unwrap(), mtpull::auto::install::RULES);
    let exe = fs::canonicalize(env!("CARGO_BIN_EXE_mtpull")).unwrap();
    let unit = fs::read_to_string(&backup_unit).unwrap();
    assert!(
        unit.contains(&format!("ExecStart={} --device %i auto", exe.display())),
        "{unit}"
    );
    verify_units(&[&backup_unit, &watch_unit]);

    let removed = user
        .run(&["install-udev", "--prefix", prefix_arg, "--uninstall"])
        .expect(0);
    assert!(removed.stdout.contains("removed"));
    assert!(!rule.exists() && !backup_unit.exists() && !watch_unit.exists());
    let again = user
        .run(&["install-udev", "--prefix", prefix_arg, "--uninstall"])
        .expect(0);
    assert!(again.stdout.contains("was not installed"));
}

/// `systemd-analyze verify` on the installed units (an instance for the
/// template), where systemd is installed.
fn verify_units(units: &[&Path]) {
    if Command::new("systemd-analyze").arg("--version").output().is_err() {
        return testing::cannot_run("systemd-analyze is not installed (Debian package systemd)");
    }
    let dir = tempfile::tempdir().unwrap();
    let mut names = Vec::new();
    for unit in units {
        let name = unit
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .replace("@.", "@1-4.2.");
        fs::copy(unit, dir.path().join(&name)).unwrap();
        names.push(dir.path().join(name));
    }
    let output = Command::new("systemd-analyze")
        .args(["verify", "--man=no", "--recursive-errors=no"])
        .args(&names)
        .env("SYSTEMD_LOG_LEVEL", "warning")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let complaints: Vec<&str> = stderr.lines().filter(|l| l.contains("mtpull")).collect();
    assert!(output.status.success() && complaints.is_empty(), "{stderr}");
}

#[test]
fn watch_logging_into_a_closed_pipe_backs_up_and_stops_cleanly() {
    let user = User::new();
    let dest = user.dest();
    let (reader, writer) = std::io::pipe().unwrap();
    // The log's reader is gone before watch says a word (`mtpull watch 2>&1 | head -0`).
    drop(reader);
    let mut command = user.command(&["--sim", "android", "watch", dest.to_str().unwrap()]);
    command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(writer);
    let mut child = command.spawn().unwrap();
    drop(command);
    // The end of the backup is the desktop notification it sends.
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while user.notifications().is_empty() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "watch ended with a closed log"
        );
        assert!(std::time::Instant::now() < deadline, "the backup never finished");
        thread::sleep(Duration::from_millis(20));
    }
    kill_process(Pid::from_child(&child), Signal::INT).unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0));
    let media = util::tree(&dest)
        .into_iter()
        .filter(|(name, _)| !name.starts_with(".mtpull"))
        .count();
    assert_eq!(media, 39);
}

#[test]
fn quiet_auto_says_only_what_went_wrong() {
    let user = User::new();
    let unset = user.run(&["-q", "--sim", "android", "auto"]).expect(0);
    assert_eq!(unset.stderr, "", "no settings: nothing to do, nothing said");
    user.configure(|text| text.replace("unlock_timeout_secs = 120", "unlock_timeout_secs = 1"));
    let run = user.run(&["-q", "--sim", "android", "auto"]).expect(0);
    assert_eq!((run.stdout.as_str(), run.stderr.as_str()), ("", ""));
    assert!(user.files_in_dest() > 10);
    assert_eq!(
        user.notifications().len(),
        1,
        "the notification is no terminal output"
    );
    // A phone that stays locked is not backed up: that is said, and only that.
    let locked = user.run(&["-q", "--sim", "locked", "auto"]).expect(3);
    let lines: Vec<&str> = locked.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}", locked.stderr);
    assert!(
        lines[0].contains("no storage appeared within 1 s"),
        "{}",
        locked.stderr
    );
}

#[test]
fn quiet_watch_backs_up_without_a_word() {
    let user = User::new();
    let dest = user.dest();
    let (mut child, lines) = spawn_watch(
        &user,
        &["-q", "--sim", "android", "watch", dest.to_str().unwrap()],
    );
    // The end of the backup is the desktop notification it sends.
    let deadline = std::time::Instant::now() + Duration::from_secs(300);
    while user.notifications().is_empty() {
        assert!(child.try_wait().unwrap().is_none(), "watch ended early");
        assert!(std::time::Instant::now() < deadline, "the backup never finished");
        thread::sleep(Duration::from_millis(20));
    }
    kill_process(Pid::from_child(&child), Signal::INT).unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0));
    let said: Vec<String> = lines.try_iter().collect();
    assert!(said.is_empty(), "{said:#?}");
    assert!(user.files_in_dest() > 10);
}
