//! `mtpull install-udev [--uninstall] [--prefix DIR] [--dry-run]`: puts the
//! udev rule and the systemd user units in place (or takes them away) and
//! tells udev to reread its rules.

use std::io;
use std::path::Path;
use std::process::{Command, ExitCode};

use anyhow::Context;
use mtpull::auto::install;

use crate::cli::InstallUdevArgs;

pub fn run(args: &InstallUdevArgs) -> anyhow::Result<ExitCode> {
    if args.uninstall {
        uninstall(args)?;
    } else {
        install(args)?;
    }
    if args.prefix == Path::new("/") {
        reload_udev(args.dry_run);
    } else {
        let (reload, files) = match (args.dry_run, args.uninstall) {
            (true, false) => ("udev would not be reloaded", "would go under"),
            (true, true) => ("udev would not be reloaded", "would be removed from"),
            (false, false) => ("udev not reloaded", "went under"),
            (false, true) => ("udev not reloaded", "were removed from"),
        };
        println!("{reload}: the files {files} {}", args.prefix.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn install(args: &InstallUdevArgs) -> anyhow::Result<()> {
    let exe = std::env::current_exe()
        .and_then(|exe| exe.canonicalize())
        .context("finding this mtpull's path for the units")?;
    for file in install::plan(&args.prefix, &exe)? {
        if args.dry_run {
            println!("would write {}", file.path.display());
        } else {
            install::write(&file).map_err(root_hint)?;
            println!("wrote {}", file.path.display());
        }
    }
    if !args.dry_run {
        println!(
            "Phones and cameras plugged in from now on are backed up for each logged-in user who has \
             settings (`mtpull config init`); the units run {}.\n\
             Logs: journalctl --user -u 'mtpull-backup@*'. Turn it off: sudo mtpull install-udev --uninstall",
            exe.display()
        );
    }
    Ok(())
}

fn uninstall(args: &InstallUdevArgs) -> anyhow::Result<()> {
    for path in install::installed_paths(&args.prefix) {
        if args.dry_run {
            println!("would remove {}", path.display());
        } else if install::remove(&path).map_err(root_hint)? {
            println!("removed {}", path.display());
        } else {
            println!("{} was not installed", path.display());
        }
    }
    Ok(())
}

/// `udevadm control --reload`, so the next device plugged in meets the new
/// rules. Not fatal: without a running udevd, the rules are read when it starts.
fn reload_udev(dry_run: bool) {
    let command = ["udevadm", "control", "--reload"];
    if dry_run {
        println!("would run {}", command.join(" "));
        return;
    }
    match Command::new(command[0]).args(&command[1..]).output() {
        Ok(out) if out.status.success() => println!("ran {}", command.join(" ")),
        Ok(out) => note!(
            "mtpull: {} failed ({}): {}; udev reads the rules when it next starts",
            command.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(e) => note!("mtpull: cannot run udevadm ({e}); udev reads the rules when it next starts"),
    }
}

fn root_hint(error: io::Error) -> anyhow::Error {
    if error.kind() == io::ErrorKind::PermissionDenied {
        anyhow::Error::new(error).context(
            "udev's and systemd's folders belong to root: run `sudo mtpull install-udev` \
             (or pass --prefix DIR to write the files somewhere else)",
        )
    } else {
        error.into()
    }
}
