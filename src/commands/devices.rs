//! `mtpull devices`: who is connected, where, and how much room each storage has.

use std::io::{self, Write};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::Context;
use mtpull::human::bytes;
use mtpull::session::Session;
use serde_json::json;

use super::connect::{self, Device};
use super::shared::exit::{NO_DEVICE, SOME_FAILED, is_broken_pipe};
use crate::cli::{DeviceChoice, DevicesArgs};

/// Prints each device and its storages. A phone without storage gets the
/// reason and the fix, and the exit code says "locked".
pub fn run(choice: &DeviceChoice, verbose: bool, args: &DevicesArgs) -> anyhow::Result<ExitCode> {
    let mut devices = connect::open_all(choice)?;
    if devices.len() == 1 {
        // One device: its error is the command's, said once, with its exit status.
        let mut device = devices.pop().expect("one device")?;
        let has_storage = describe(&mut io::stdout().lock(), &mut device, verbose, args.json)?;
        return Ok(if has_storage {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(NO_DEVICE)
        });
    }
    let total = devices.len();
    let mut failed = 0;
    let mut locked = false;
    let mut out = io::stdout().lock();
    for (i, device) in devices.into_iter().enumerate() {
        if i > 0 && !args.json {
            writeln!(out)?;
        }
        match device.and_then(|mut device| describe(&mut out, &mut device, verbose, args.json)) {
            Ok(has_storage) => locked |= !has_storage,
            // A reader that quit (`devices | head`) ends the listing quietly.
            Err(err) if is_broken_pipe(&err) => return Err(err),
            Err(err) => {
                failed += 1;
                note!("mtpull: {err:#}");
            }
        }
    }
    if failed == total {
        anyhow::bail!("none of the {total} devices could be read");
    }
    if locked {
        // The reason and the fix are printed beside the device.
        return Ok(ExitCode::from(NO_DEVICE));
    }
    if failed > 0 {
        return Ok(ExitCode::from(SOME_FAILED));
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes one device (text, or one JSON line); returns whether it showed any storage.
fn describe(out: &mut impl Write, device: &mut Device, verbose: bool, json: bool) -> anyhow::Result<bool> {
    let session: &mut Session = &mut device.session;
    let info = session.device_info().clone();
    // `devices` reports a locked phone rather than waiting for it.
    let storages = session
        .storages(Duration::ZERO, &AtomicBool::new(false), |_| {})
        .context("reading the storages")?;
    let skipped: Vec<String> = session
        .skipped_storages()
        .iter()
        .map(ToString::to_string)
        .collect();
    let no_storage = (storages.is_empty() && skipped.is_empty()).then(|| session.no_storage_hint());
    if verbose {
        note!("{}: {}", info.serial_number, session.stats());
        note!("{}: {}", info.serial_number, device.quirks_line());
    }
    if json {
        let line = json!({
            "manufacturer": info.manufacturer,
            "model": info.model,
            "serial": info.serial_number,
            "vendor_id": format!("{:04x}", device.usb.vendor_id),
            "product_id": format!("{:04x}", device.usb.product_id),
            "location": device.usb.location,
            "storages": storages.iter().map(|storage| json!({
                "id": storage.id.to_string(),
                "name": storage.name,
                "free_bytes": storage.info.free_space_bytes,
                "capacity_bytes": storage.info.max_capacity,
                "writable": storage.info.is_writable(),
            })).collect::<Vec<_>>(),
            "skipped_storages": skipped,
            "no_storage": no_storage,
        });
        writeln!(out, "{line}")?;
        return Ok(!storages.is_empty());
    }
    writeln!(out, "{} {}", info.manufacturer, info.model)?;
    writeln!(out, "  serial:  {}", info.serial_number)?;
    writeln!(
        out,
        "  usb:     {:04x}:{:04x}, {}",
        device.usb.vendor_id, device.usb.product_id, device.usb.location
    )?;
    for skipped in &skipped {
        writeln!(out, "  storage: not read — {skipped}")?;
    }
    if let Some(hint) = no_storage {
        writeln!(out, "  storage: none — {hint}")?;
    }
    for storage in &storages {
        writeln!(
            out,
            "  storage: {} ({}): {} free of {}{}",
            storage.name,
            storage.id,
            bytes(storage.info.free_space_bytes),
            bytes(storage.info.max_capacity),
            if storage.info.is_writable() {
                ""
            } else {
                ", read-only"
            },
        )?;
    }
    Ok(!storages.is_empty())
}
