//! `mtpull ls`: list what is on the device, with paths like
//! `Internal shared storage/DCIM/Camera`.

use std::borrow::Cow;
use std::fmt;
use std::io::{self, BufWriter, Write};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::Context;
use mtpull::human::bytes;
use mtpull::ptp::{DeviceTime, ObjectFormat, StorageId};
use mtpull::session::{Entry, Place, Session, Storage};
use serde::{Serialize, Serializer};

use super::connect;
use super::shared::exit::{PhoneLocked, SOME_FAILED};
use super::shared::progress::locked_line;
use crate::cli::{DeviceChoice, LsArgs};

/// One line of output (or one JSON object). It borrows what it shows and
/// formats ids, formats and dates only when JSON asks for them: a phone of
/// 20,000 files should cost one string (its path) per file, not eight.
#[derive(Serialize)]
struct Row<'a> {
    /// "0x00010001", as every other output writes a storage's id.
    #[serde(serialize_with = "as_text")]
    storage_id: StorageId,
    storage: &'a str,
    /// The storage's name, then the names down to this object.
    path: String,
    name: &'a str,
    folder: bool,
    #[serde(serialize_with = "as_text")]
    format: Format,
    size: u64,
    #[serde(serialize_with = "as_iso_date")]
    modified: Option<DeviceTime>,
    handle: u32,
    parent: u32,
}

/// What the JSON's `format` says: an object's format, or "Storage".
enum Format {
    Object(ObjectFormat),
    Storage,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Format::Object(format) => format.fmt(f),
            Format::Storage => f.write_str("Storage"),
        }
    }
}

fn as_text<S: Serializer>(value: &impl fmt::Display, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}

fn as_iso_date<S: Serializer>(time: &Option<DeviceTime>, serializer: S) -> Result<S::Ok, S::Error> {
    match time {
        Some(time) => serializer.serialize_some(&iso_date(*time)),
        None => serializer.serialize_none(),
    }
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
    let mut listed = Vec::new();
    let mut failed = 0;
    let list_storages = args.storage.is_none() && path.trim_matches('/').is_empty() && !args.recursive;
    if !list_storages {
        let places = places(session, &storages, args)?;
        let only_one = places.len() == 1;
        for place in places {
            match list_place(session, &place, args.recursive) {
                Ok(entries) => listed.push((place, entries)),
                // With one place, its failure is the command's.
                Err(err) if only_one => return Err(err),
                Err(err) => {
                    failed += 1;
                    note!("mtpull: {}: {err:#}", place.storage.name);
                }
            }
        }
    }
    let mut rows: Vec<Row<'_>> = if list_storages {
        storages.iter().map(storage_row).collect()
    } else {
        listed
            .iter()
            .flat_map(|(place, entries)| entries.iter().map(|e| row(&place.storage.name, e)))
            .collect()
    };
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

fn row<'a>(storage: &'a str, entry: &'a Entry) -> Row<'a> {
    let mut path = String::with_capacity(storage.len() + 64);
    path.push_str(storage);
    for name in entry.folder.iter().chain([&entry.name]) {
        path.push('/');
        path.push_str(name);
    }
    Row {
        storage_id: entry.storage_id,
        storage,
        path,
        name: entry.name(),
        folder: entry.is_folder(),
        format: Format::Object(entry.format),
        size: entry.size,
        modified: entry.modified,
        handle: entry.handle.0,
        parent: entry.parent.0,
    }
}

fn storage_row(storage: &Storage) -> Row<'_> {
    Row {
        storage_id: storage.id,
        storage: &storage.name,
        path: storage.name.clone(),
        name: &storage.name,
        folder: true,
        format: Format::Storage,
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

fn print(rows: &[Row<'_>], args: &LsArgs) -> io::Result<()> {
    // Buffered: stdout alone writes each line with its own system call.
    let mut out = BufWriter::with_capacity(1 << 16, io::stdout().lock());
    if args.json {
        serde_json::to_writer_pretty(&mut out, rows)?;
        writeln!(out)?;
        return out.flush();
    }
    for row in rows {
        let shown = if args.recursive { &row.path } else { row.name };
        let slash = if row.folder { "/" } else { "" };
        if args.long {
            let size = if row.folder {
                "-".to_string()
            } else {
                bytes(row.size)
            };
            let date = row.modified.map(iso_date);
            let date = date.as_deref().map_or("-", |d| d.get(..16).unwrap_or(d));
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
    // The bytes first, as nearly every name has none: a control character is a
    // byte below 0x20, 0x7F, or U+0080-U+009F, which UTF-8 leads with 0xC2.
    let may_hold_one = name.bytes().any(|b| b < 0x20 || b == 0x7F || b == 0xC2);
    if may_hold_one && name.chars().any(char::is_control) {
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
        // C1 controls (U+009B is a terminal's one-byte CSI) and DEL; not the
        // printable characters whose UTF-8 shares their 0xC2 lead byte.
        assert_eq!(printable("x\u{9b}2J\u{7f}"), "x\\u{9b}2J\\u{7f}");
        assert_eq!(printable("© 2024\u{a0}Été"), "© 2024\u{a0}Été");
    }
}
