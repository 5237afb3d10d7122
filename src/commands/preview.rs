//! `mtpull preview [PATH…] -o preview.html`: thumbnails from the device into
//! one offline page (see `mtpull::preview`).

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use mtpull::preview::{self, Item, PreviewError};
use mtpull::pull::{Manifest, Selection, device_serial, list_files};

use super::connect;
use super::shared::exit::INTERRUPTED;
use super::shared::interrupt;
use super::shared::progress::locked_line;
use crate::cli::{DeviceChoice, PreviewArgs};

/// `quiet`: errors only; no progress, no closing line.
pub fn run(choice: &DeviceChoice, quiet: bool, args: &PreviewArgs) -> anyhow::Result<ExitCode> {
    let mut device = connect::open_one(choice)?;
    let session = &mut device.session;
    let cancel = interrupt::cancel_on_ctrl_c().context("installing the Ctrl-C handler")?;
    let wait = Duration::from_secs(args.wait);
    let listing = list_files(session, &Selection::new(), wait, &cancel, |hint| {
        if !quiet {
            note!("{}", locked_line(wait, hint))
        }
    })?;
    let serial = device_serial(session);
    let manifest = match &args.dest {
        Some(dest) => Manifest::open_read_only(dest)?,
        None => None,
    };
    let (backed_up, rejected) = match &manifest {
        Some(manifest) if !args.include_rejected => {
            (manifest.keys_for(&serial)?, manifest.rejected_for(&serial)?)
        }
        Some(manifest) => (manifest.keys_for(&serial)?, HashSet::new()),
        None => Default::default(),
    };
    let wanted: Vec<String> = args
        .paths
        .iter()
        .map(|p| p.trim_matches('/').to_owned())
        .collect();
    let files: Vec<_> = listing
        .files
        .into_iter()
        .filter(|file| {
            let shown = file.display_path();
            let under = |p: &String| {
                [&shown, &file.path]
                    .iter()
                    .any(|s| s.as_str() == p || s.starts_with(&format!("{p}/")))
            };
            (wanted.is_empty() || wanted.iter().any(under))
                // Android's trash: the gallery hides these, so does the page.
                && !file.name().starts_with(".trashed-")
                && !rejected.contains(&file.key(&serial))
        })
        .collect();
    let terminal = std::io::stderr().is_terminal() && !quiet;
    let mut progress = |done: usize, total: usize, _: &Item| {
        if quiet {
            return;
        }
        if terminal {
            eprint!("\rthumbnails: {done}/{total}");
        } else if done.is_multiple_of(100) || done == total {
            note!("thumbnails: {done}/{total}");
        }
    };
    let items = match preview::collect(session, &serial, &files, &backed_up, &cancel, &mut progress) {
        Ok(items) => items,
        Err(PreviewError::Interrupted) => {
            note!("\nmtpull: interrupted; no page written");
            return Ok(ExitCode::from(INTERRUPTED));
        }
        Err(error) => return Err(error.into()),
    };
    if terminal {
        eprintln!();
    }
    let info = session.device_info();
    let name = format!("{} {}", info.manufacturer.trim(), info.model.trim());
    let file = File::create(&args.output).with_context(|| format!("creating {}", args.output.display()))?;
    let mut out = BufWriter::new(file);
    preview::render(&mut out, &name, &serial, &items)
        .and_then(|()| out.flush())
        .with_context(|| format!("writing {}", args.output.display()))?;
    if quiet {
        return Ok(ExitCode::SUCCESS);
    }
    let from_device = items.iter().filter(|i| i.thumbnail.jpeg.is_some()).count();
    println!(
        "wrote {}: {} pictures and videos ({} with a thumbnail, {} backed up already)",
        args.output.display(),
        items.len(),
        from_device,
        items.iter().filter(|i| i.backed_up).count()
    );
    Ok(ExitCode::SUCCESS)
}
