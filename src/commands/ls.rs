//! `mtpull ls`: list what is on the device, with paths like
//! `Internal shared storage/DCIM/Camera`.

use std::borrow::Cow;
use std::io::{self, Write};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use indicatif::HumanBytes;
use mtpull::ptp::StorageId;
use mtpull::ptp::time::DeviceTime;
use mtpull::session::{Entry, Session};
use serde::Serialize;

use super::connect;
use super::shared::exit::{PhoneLocked, SOME_FAILED};
use super::shared::progress::locked_line;
use crate::cli::{DeviceChoice, LsArgs};

/// One storage, and the path to list inside it.
struct Target<'a> {
    id: StorageId,
    description: String,
    inner: Vec<&'a str>,
}

/// One line of output (or one JSON object).
#[derive(Serialize)]
struct Row {
    storage_id: u32,
    storage: String,
    /// The storage's description, then the names down to this object.
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
    let storages = storages(session, Duration::from_secs(args.wait))?;
    let components: Vec<&str> = args
        .path
        .as_deref()
        .unwrap_or("")
        .split('/')
        .filter(|c| !c.is_empty())
        .collect();
    let targets = targets(&storages, args.storage, &components)?;

    let mut rows = Vec::new();
    let mut failed = 0;
    if args.storage.is_none() && components.is_empty() && !args.recursive {
        rows.extend(
            storages
                .iter()
                .map(|(id, description)| storage_row(*id, description)),
        );
    } else {
        for target in &targets {
            match list_target(session, target, args.recursive) {
                Ok(entries) => rows.extend(entries.iter().map(|e| row(&target.description, e))),
                // With one target, its failure is the command's.
                Err(err) if targets.len() == 1 => return Err(err),
                Err(err) => {
                    failed += 1;
                    eprintln!("mtpull: {}: {err:#}", target.description);
                }
            }
        }
    }
    rows.sort_by(|a, b| a.path.cmp(&b.path));
    print(&rows, args).context("writing the listing")?;
    if verbose {
        if let Some(strategy) = session.listing_strategy() {
            eprintln!("listing: {strategy}");
        }
        eprintln!("{}", session.stats());
    }
    if failed > 0 {
        return Ok(ExitCode::from(SOME_FAILED));
    }
    Ok(ExitCode::SUCCESS)
}

/// The storages' ids and descriptions, after waiting for a locked phone.
fn storages(session: &mut Session, wait: Duration) -> anyhow::Result<Vec<(StorageId, String)>> {
    let mut ids = session.storage_ids().context("reading the storage list")?;
    if ids.is_empty() && !wait.is_zero() {
        eprintln!("{}", locked_line(wait));
        ids = session.wait_for_storages(wait).context("waiting for the phone")?;
    }
    if ids.is_empty() {
        return Err(PhoneLocked.into());
    }
    ids.into_iter()
        .map(|id| {
            let info = session
                .storage_info(id)
                .with_context(|| format!("reading storage {id}"))?;
            Ok((id, info.description))
        })
        .collect()
}

fn targets<'a>(
    storages: &[(StorageId, String)],
    chosen: Option<StorageId>,
    components: &[&'a str],
) -> anyhow::Result<Vec<Target<'a>>> {
    let names = || {
        storages
            .iter()
            .map(|(id, d)| format!("\"{d}\" ({id})"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let target = |(id, description): &(StorageId, String), inner: &[&'a str]| Target {
        id: *id,
        description: description.clone(),
        inner: inner.to_vec(),
    };
    if let Some(id) = chosen {
        let Some(storage) = storages.iter().find(|(s, _)| *s == id) else {
            bail!("the device has no storage {id}; it has {}", names());
        };
        return Ok(vec![target(storage, components)]);
    }
    let Some((first, inner)) = components.split_first() else {
        return Ok(storages.iter().map(|s| target(s, &[])).collect());
    };
    match storages.iter().find(|(_, description)| description == first) {
        Some(storage) => Ok(vec![target(storage, inner)]),
        None => bail!("no storage named \"{first}\"; the device has {}", names()),
    }
}

fn list_target(session: &mut Session, target: &Target<'_>, recursive: bool) -> anyhow::Result<Vec<Entry>> {
    let folder = if target.inner.is_empty() {
        None
    } else {
        let found = session.find(target.id, &target.inner)?;
        let Some(entry) = found else {
            bail!(
                "{}/{}: no such file or folder",
                target.description,
                target.inner.join("/")
            );
        };
        if !entry.is_folder() {
            return Ok(vec![entry]);
        }
        Some(entry)
    };
    let entries = if recursive {
        session.walk(target.id, folder.as_ref())?
    } else {
        session.list_folder(target.id, folder.as_ref())?
    };
    Ok(entries)
}

fn row(storage: &str, entry: &Entry) -> Row {
    let mut path = storage.to_string();
    for name in &entry.path {
        path.push('/');
        path.push_str(name);
    }
    Row {
        storage_id: entry.storage_id.0,
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

fn storage_row(id: StorageId, description: &str) -> Row {
    Row {
        storage_id: id.0,
        storage: description.to_string(),
        path: description.to_string(),
        name: description.to_string(),
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
    let mut out = io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, rows)?;
        writeln!(out)?;
        return Ok(());
    }
    for row in rows {
        let shown = if args.recursive { &row.path } else { &row.name };
        let slash = if row.folder { "/" } else { "" };
        if args.long {
            let size = if row.folder {
                "-".to_string()
            } else {
                HumanBytes(row.size).to_string()
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
    Ok(())
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

    #[test]
    fn the_first_component_names_the_storage() {
        let storages = vec![
            (StorageId(1), "Internal shared storage".to_string()),
            (StorageId(2), "SD card".to_string()),
        ];
        let picked = targets(&storages, None, &["SD card", "DCIM"]).unwrap();
        assert_eq!(
            (picked[0].id, picked[0].inner.clone()),
            (StorageId(2), vec!["DCIM"])
        );
        let err = targets(&storages, None, &["Nope"]).err().unwrap().to_string();
        assert!(err.contains("\"SD card\" (0x00000002)"), "{err}");
        assert_eq!(targets(&storages, None, &[]).unwrap().len(), 2);
        assert_eq!(
            targets(&storages, Some(StorageId(1)), &["DCIM"]).unwrap()[0].inner,
            ["DCIM"]
        );
    }
}
