//! `mtpull status [DEST]`: what of the connected phone is backed up in DEST, what
//! is not and why, and the date through which everything is. Changes nothing.

use std::io::{self, Write};
use std::path::{self, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use mtpull::auto::Config;
use mtpull::human::{self, count};
use mtpull::pull::{Count, Missing, Status, status};
use mtpull::pull::{Event, PullError, RemoteFile, Selection};
use serde_json::json;

use super::connect;
use super::shared::exit::{self, PhoneLocked};
use super::shared::{interrupt, progress};
use crate::cli::{DeviceChoice, StatusArgs};

pub fn run(choice: &DeviceChoice, args: &StatusArgs) -> anyhow::Result<ExitCode> {
    let dest = destination(args)?;
    let selection = Selection {
        storages: args.storage.clone(),
        only: args.only,
        ..Selection::new()
    };
    let mut device = connect::open_one(choice)?;
    let cancel = interrupt::cancel_on_ctrl_c().context("installing the Ctrl-C handler")?;
    let wait = Duration::from_secs(args.wait);
    let mut observer = |event: &Event<'_>| {
        if let Event::Locked { wait, hint } = event {
            note!("{}", progress::locked_line(*wait, hint));
        }
    };
    let found = match status(
        &mut device.session,
        &dest,
        &selection,
        wait,
        &cancel,
        &mut observer,
    ) {
        Ok(found) => found,
        Err(PullError::Interrupted) => return Ok(ExitCode::from(exit::INTERRUPTED)),
        Err(PullError::Locked { hint }) => return Err(PhoneLocked(hint).into()),
        Err(error) => {
            return Err(error).with_context(|| format!("cannot compare the phone with {}", dest.display()));
        }
    };
    let mut out = io::stdout().lock();
    if args.json {
        writeln!(out, "{}", status_json(&found, &dest))?;
    } else {
        write_text(&mut out, &found, &dest)?;
    }
    Ok(if found.is_complete() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(exit::SOME_FAILED)
    })
}

/// DEST as given, or the settings' destination.
fn destination(args: &StatusArgs) -> anyhow::Result<PathBuf> {
    if let Some(dest) = &args.dest {
        return path::absolute(dest).with_context(|| format!("{}", dest.display()));
    }
    let settings = args.settings.path()?;
    match Config::load(&settings)? {
        Some(config) => Ok(config.destination),
        None => bail!(
            "which backup? Give a folder (mtpull status DEST), or set a destination in {} (mtpull config init)",
            settings.display()
        ),
    }
}

fn write_text(out: &mut impl Write, found: &Status, dest: &std::path::Path) -> io::Result<()> {
    writeln!(out, "device {} compared with {}", found.serial, dest.display())?;
    if !found.has_manifest {
        writeln!(
            out,
            "  (no backup there yet: nothing is recorded in its .mtpull/ manifest)"
        )?;
    }
    for (kind, count) in [
        ("photos", found.photos),
        ("videos", found.videos),
        ("others", found.others),
    ] {
        if kind != "others" || count.on_phone > 0 {
            writeln!(
                out,
                "  {kind:<7} {:>6} on the phone, {:>6} backed up",
                count.on_phone, count.in_dest
            )?;
        }
    }
    for skipped in &found.skipped_storages {
        writeln!(out, "  not read: {skipped}")?;
    }
    let mut junk: u64 = 0;
    for (file, why) in &found.missing {
        if *why == Missing::Junk {
            junk += 1;
            continue;
        }
        writeln!(
            out,
            "{:<15} {}  ({}{})",
            label(why),
            human::name(&file.display_path()),
            date_text(found, file),
            explain(why)
        )?;
    }
    if junk > 0 {
        writeln!(
            out,
            "{} in Android's trash, unfinished files, thumbnails or app data {} left out \
             (--json lists them; backup --include-junk copies them)",
            count(junk, "file"),
            if junk == 1 { "is" } else { "are" }
        )?;
    }
    let through = found
        .backed_up_through
        .map(|date| format!("backed up through {}", date.format("%Y-%m-%d %H:%M:%S")));
    if found.is_complete() {
        let through = through.map_or(String::new(), |t| format!(" ({t}, by capture dates)"));
        writeln!(out, "everything is backed up{through}")
    } else {
        let through = through.unwrap_or_else(|| "nothing backed up before the oldest file missing".into());
        writeln!(
            out,
            "{through} (by capture dates); {} to copy: run mtpull backup {}",
            count(found.pending() as u64, "file"),
            dest.display()
        )
    }
}

fn label(why: &Missing) -> &'static str {
    match why {
        Missing::New => "not copied yet",
        Missing::Failed(_) => "failed",
        Missing::GoneFromDest => "gone from DEST",
        Missing::Rejected => "rejected",
        Missing::Junk => "junk",
    }
}

fn explain(why: &Missing) -> String {
    match why {
        Missing::New | Missing::Junk => String::new(),
        Missing::Failed(error) => format!("; the last backup failed: {error}"),
        Missing::GoneFromDest => "; copied once, its copy was deleted or changed since".into(),
        Missing::Rejected => "; rejected in a preview: backup --include-rejected copies it".into(),
    }
}

/// When a missing file was captured, if it was read (a file a backup would copy, once
/// something is backed up), else the phone's date for it.
fn date_text(found: &Status, file: &RemoteFile) -> String {
    match (found.captured.get(&file.handle), file.modified) {
        (Some(Some(taken)), _) => format!("captured {}", taken.format("%Y-%m-%d %H:%M:%S")),
        (_, Some(time)) => format!("phone date {}", time.local.format("%Y-%m-%d %H:%M:%S")),
        (_, None) => "no date".into(),
    }
}

fn count_json(count: Count) -> serde_json::Value {
    json!({"on_phone": count.on_phone, "in_dest": count.in_dest})
}

fn status_json(found: &Status, dest: &std::path::Path) -> serde_json::Value {
    let missing: Vec<_> = found
        .missing
        .iter()
        .map(|(file, why)| {
            json!({
                "storage": file.storage,
                "path": file.path,
                "size": file.size,
                "device_date": file.modified.map(|t| t.local.format("%Y-%m-%dT%H:%M:%S").to_string()),
                "capture_date": found.captured.get(&file.handle).copied().flatten()
                    .map(|t| t.format("%Y-%m-%dT%H:%M:%S").to_string()),
                "reason": why.as_str(),
                "error": match why { Missing::Failed(error) => Some(error), _ => None },
            })
        })
        .collect();
    json!({
        "device": found.serial,
        "dest": dest,
        "has_manifest": found.has_manifest,
        "photos": count_json(found.photos),
        "videos": count_json(found.videos),
        "others": count_json(found.others),
        "missing": missing,
        "to_copy": found.pending(),
        "complete": found.is_complete(),
        "backed_up_through": found.backed_up_through.map(|d| d.format("%Y-%m-%dT%H:%M:%S").to_string()),
        "skipped_storages": found.skipped_storages.iter().map(ToString::to_string).collect::<Vec<_>>(),
    })
}
