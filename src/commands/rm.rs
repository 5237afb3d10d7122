//! `mtpull rm DEVICE_PATH…`: delete files or folders on the device, after
//! asking (or at once with `--yes`).

use std::io::{self, BufRead, IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use mtpull::session::Entry;

use super::connect;
use super::shared::exit::SOME_FAILED;
use super::shared::{interrupt, storages};
use crate::cli::{DeviceChoice, RmArgs};

pub fn run(choice: &DeviceChoice, args: &RmArgs) -> anyhow::Result<ExitCode> {
    let mut device = connect::open_one(choice)?;
    let session = &mut device.session;
    let cancel = interrupt::cancel_on_ctrl_c().context("installing the Ctrl-C handler")?;
    let storages = storages::readable(session, Duration::from_secs(args.wait), &cancel)?;
    let mut doomed: Vec<(String, Entry)> = Vec::new();
    for path in &args.paths {
        let place = session.resolve(&storages, path)?;
        let Some(object) = place.object else {
            bail!("{path}: is a whole storage; name the files or folders in it");
        };
        let shown = format!(
            "{}/{}{}",
            place.storage.name,
            object.path().join("/"),
            if object.is_folder() {
                "/ (and everything in it)"
            } else {
                ""
            }
        );
        doomed.push((shown, object));
    }
    if !args.yes {
        if !io::stdin().is_terminal() {
            bail!("not deleting without a confirmation: run it in a terminal, or add --yes");
        }
        for (shown, _) in &doomed {
            eprintln!("  {shown}");
        }
        eprint!(
            "Delete these {} from the phone? They cannot be brought back. [y/N] ",
            doomed.len()
        );
        io::stderr().flush()?;
        let mut answer = String::new();
        io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            bail!("nothing deleted");
        }
    }
    let mut failed = 0;
    for (shown, object) in &doomed {
        match session.delete_object(object.handle) {
            Ok(()) => println!("deleted {shown}"),
            Err(error) => {
                failed += 1;
                note!("mtpull: could not delete {shown}: {error}");
            }
        }
    }
    Ok(if failed > 0 {
        ExitCode::from(SOME_FAILED)
    } else {
        ExitCode::SUCCESS
    })
}
