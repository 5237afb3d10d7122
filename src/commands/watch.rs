//! `mtpull watch [DEST]`: back up every phone or camera as it is plugged in,
//! until Ctrl-C (or `systemctl --user stop mtpull-watch`, which sends the same
//! signal). Needs no root and no udev rule of its own.

use std::path::{self, Path};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::mpsc;

use anyhow::{Context, bail};
use mtpull::auto::{Arrival, Config, DeviceEvent, lock, usb_events, watch};

use super::connect::{simulated_arrival, usb_backend};
use super::shared::auto_job::{back_up, notifier};
use super::shared::interrupt;
use crate::cli::{DeviceChoice, WatchArgs};

/// udevd's control socket: there while udevd runs.
const UDEV_CONTROL: &str = "/run/udev/control";

/// `quiet`: errors only (a backup that went wrong, a missing udevd), nothing else.
pub fn run(choice: &DeviceChoice, quiet: bool, args: &WatchArgs) -> anyhow::Result<ExitCode> {
    let path = args.settings.path()?;
    let config = match (Config::load(&path)?, &args.dest) {
        (Some(config), None) => config,
        (Some(config), Some(dest)) => Config {
            destination: absolute(dest)?,
            ..config
        },
        (None, Some(dest)) => Config::defaults_for(absolute(dest)?),
        (None, None) => bail!(
            "where to? Give a folder (mtpull watch DEST), or set a destination in {} (mtpull config init)",
            path.display()
        ),
    };
    let cancel = interrupt::cancel_on_ctrl_c().context("installing the Ctrl-C handler")?;
    // The sender stays alive with this function: only Ctrl-C ends a watch.
    let (_plugged, events) = match simulated_arrival(choice)? {
        Some(arrival) => {
            let (sender, events) = mpsc::channel();
            sender.send(DeviceEvent::Arrived(arrival))?;
            (Some(sender), events)
        }
        None => {
            if !Path::new(UDEV_CONTROL).exists() {
                note!(
                    "mtpull: udevd does not seem to be running ({UDEV_CONTROL} is missing): \
                     devices plugged in are heard of through udev, so none may be seen"
                );
            }
            (None, usb_events(usb_backend()?)?)
        }
    };
    let say = |line: &str| {
        if !quiet {
            note!("mtpull: {line}")
        }
    };
    say(&format!(
        "watching for phones and cameras (devices: {}); backups go to {}; Ctrl-C stops",
        config.devices,
        config.destination.display()
    ));
    let notifier = notifier(&config);
    let lock_dir = lock::default_dir();
    let job = |arrival: Arrival| {
        back_up(&arrival, &config, &lock_dir, &notifier, &cancel, quiet);
    };
    watch(&events, &cancel, &job, &say);
    if cancel.load(Ordering::Relaxed) {
        say("stopped watching; backups cut short resume next time");
        Ok(ExitCode::SUCCESS)
    } else {
        bail!("the USB hotplug watch ended")
    }
}

fn absolute(dest: &Path) -> anyhow::Result<std::path::PathBuf> {
    path::absolute(dest).with_context(|| format!("{}", dest.display()))
}
