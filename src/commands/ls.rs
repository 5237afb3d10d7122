//! `mtpull ls`: list what is on the device, with paths like
//! `Internal shared storage/DCIM/Camera`.

use std::borrow::Cow;
use std::io::{self, Write};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::Context;
use mtpull::human::bytes;
use mtpull::ptp::DeviceTime;
use mtpull::session::{Entry, Place, Session, Storage};
use serde::Serialize;

use super::connect;
use super::shared::exit::{PhoneLocked, SOME_FAILED};
use super::shared::progress::locked_line;
use crate::cli::{DeviceChoice, LsArgs};

/// One line of output (or one JSON object).
#[derive(Serialize)]
struct Row {
    /// "0x00010001", as every other output writes a storage's id.
    storage_id: String,
    storage: String,
    /// The storage's name, then the names down to this object.
    path: String,
    name: String,
    folder: bool,
    format: String,
    size: u64,
    modified: Option<String>,
    handle: u32,
    parent: u32,
}

pub fn run(choice: &DeviceChoice, verbose: bool, args: &LsArgs) -> anyhow::Result<ExitCode> {
    let mut device = connect::open_one(choice)?;
    let session = &mut device.session;
    let wait = Duration::from_secs(args.wait);
    // ls installs no Ctrl-C handler: Ctrl-C ends it at once.
    let storages = session
        .storages(wait, &AtomicBool::new(false), |hint| {
            note!("{}", locked_line(wait, hint))
        })
        .context("reading the storages")?;
    for skipped in session.skipped_storages() {
        note!("mtpull: not read: {skipped}");
    }
    if storages.is_empty() {
        return Err(PhoneLocked(session.no_storage_hint()).into());
    }
    let path = args.path.as_deref().unwrap_or("");
    let mut rows = Vec::new();
    let mut failed = 0;
    if args.storage.is_none() && path.trim_matches('/').is_empty() && !args.recursive {
        rows.extend(storages.iter().map(storage_row));
    } else {
        let places = places(session, &storages, args)?;
        for place in &places {
            match list_place(session, place, args.recursive) {
                Ok(entries) => rows.extend(entries.iter().map(|e| row(&place.storage.name, e))),
                // With one place, its failure is the command's.
                Err(err) if places.len() == 1 => return Err(err),
                Err(err) => {
                    failed += 1;
                    note!("mtpull: {}: {err:#}", place.storage.name);
                }
            }
        }
    }
    rows.sort_by(|a, b| a.path.cmp(&b.path));
    print(&rows, args).context("writing the listing")?;
    if verbose {
        if let Some(strategy) = session.listing_strategy() {
            note!("listing: {strategy}");
        }
        note!("{}", session.stats());
        note!("{}", device.quirks_line());
    }
    if failed > 0 {
        return Ok(ExitCode::from(SOME_FAILED));
    }
    Ok(ExitCode::SUCCESS)
}

/// What to list: PATH inside `--storage`, PATH from its storage, or every storage.
fn places(session: &mut Session, storages: &[Storage], args: &LsArgs) -> anyhow::Result<Vec<Place>> {
    let path = args.path.as_deref().unwrap_or("");
    let place = match &args.storage {
        Some(chosen) => session.resolve_in(chosen.pick(storages)?, path)?,
        None if path.trim_matches('/').is_empty() => {
            let root = |storage: &Storage| Place {
                storage: storage.clone(),
                object: None,
            };
            return Ok(storages.iter().map(root).collect());
        }
        None => session.resolve(storages, path)?,
    };
    Ok(vec![place])
}

/// The object itself when it is a file; else what its folder holds.
fn list_place(session: &mut Session, place: &Place, recursive: bool) -> anyhow::Result<Vec<Entry>> {
    let folder = match &place.object {
        Some(file) if !file.is_folder() => return Ok(vec![file.clone()]),
        folder => folder.as_ref(),
    };
    let storage = place.storage.id;
    let entries = if recursive {
        session.walk(storage, folder)?
    } else {
        session.list_folder(storage, folder)?
    };
    Ok(entries)
}

fn row(storage: &str, entry: &Entry) -> Row {
    let mut path = storage.to_string();
    for name in entry.path() {
        path.push('/');
        path.push_str(name);
    }
    Row {
        storage_id: entry.storage_id.to_string(),
        storage: storage.to_string(),
        path,
        name: entry.name().to_string(),
        folder: entry.is_folder(),
        format: entry.format.to_string(),
        size: entry.size,
        modified: entry.modified.map(iso_date),
        handle: entry.handle.0,
        parent: entry.parent.0,
    }
}

fn storage_row(storage: &Storage) -> Row {
    Row {
        storage_id: storage.id.to_string(),
        storage: storage.name.clone(),
        path: storage.name.clone(),
        name: storage.name.clone(),
        folder: true,
        format: "Storage".into(),
        size: 0,
        modified: None,
        handle: 0,
        parent: 0,
    }
}

fn iso_date(time: DeviceTime) -> String {
    match time.offset {
        Some(offset) => match time.local.and_local_timezone(offset).single() {
            Some(zoned) => zoned.to_rfc3339(),
            None => time.local.format("%Y-%m-%dT%H:%M:%S").to_string(),
        },
        None => time.local.format("%Y-%m-%dT%H:%M:%S").to_string(),
    }
}

fn print(rows: &[Row], args: &LsArgs) -> io::Result<()> {
    // The rows are all known: one write per buffer, not one system call per line
    // (stdout alone flushes at every newline).
    let mut out = io::BufWriter::new(io::stdout().lock());
    if args.json {
        serde_json::to_writer_pretty(&mut out, rows)?;
        writeln!(out)?;
        return out.flush();
    }
    for row in rows {
        let shown = if args.recursive { &row.path } else { &row.name };
        let slash = if row.folder { "/" } else { "" };
        if args.long {
            let size = if row.folder {
                "-".to_string()
            } else {
                bytes(row.size)
            };
            let date = row.modified.as_deref().map_or("-", |d| d.get(..16).unwrap_or(d));
            let kind = if row.folder { 'd' } else { '-' };
            writeln!(
                out,
                "{kind} {size:>11}  {:16}  {}{slash}",
                date.replacen('T', " ", 1),
                printable(shown)
            )?;
        } else {
            writeln!(out, "{}{slash}", printable(shown))?;
        }
    }
    out.flush()
}

/// Names come from the device: control characters are shown escaped so
/// that a hostile name cannot drive the terminal.
fn printable(name: &str) -> Cow<'_, str> {
    if name.chars().any(char::is_control) {
        Cow::Owned(
            name.chars()
                .map(|c| {
                    if c.is_control() {
                        c.escape_default().to_string()
                    } else {
                        c.to_string()
                    }
                })
                .collect(),
        )
    } else {
        Cow::Borrowed(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_in_names_are_escaped() {
        assert_eq!(printable("IMG_1.jpg"), "IMG_1.jpg");
        assert_eq!(printable("a\u{1b}[2Jb\n"), "a\\u{1b}[2Jb\\n");
    }
}
