//! `mtpull devices`: who is connected, where, and how much room each storage has.

use std::io::{self, Write};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::Context;
use indicatif::HumanBytes;
use mtpull::session::Session;

use super::connect::{self, Device};
use super::shared::exit::{NO_DEVICE, SOME_FAILED, is_broken_pipe};
use crate::cli::DeviceChoice;

/// Prints each device and its storages. A phone without storage gets the
/// reason and the fix, and the exit code says "locked".
pub fn run(choice: &DeviceChoice, verbose: bool) -> anyhow::Result<ExitCode> {
    let mut devices = connect::open_all(choice)?;
    if devices.len() == 1 {
        // One device: its error is the command's, said once, with its exit status.
        let mut device = devices.pop().expect("one device")?;
        let has_storage = describe(&mut io::stdout().lock(), &mut device, verbose)?;
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
        if i > 0 {
            writeln!(out)?;
        }
        match device.and_then(|mut device| describe(&mut out, &mut device, verbose)) {
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

/// Writes one device; returns whether it showed any storage.
fn describe(out: &mut impl Write, device: &mut Device, verbose: bool) -> anyhow::Result<bool> {
    let session: &mut Session = &mut device.session;
    let info = session.device_info().clone();
    writeln!(out, "{} {}", info.manufacturer, info.model)?;
    writeln!(out, "  serial:  {}", info.serial_number)?;
    writeln!(
        out,
        "  usb:     {:04x}:{:04x}, {}",
        device.usb.vendor_id, device.usb.product_id, device.usb.location
    )?;
    // `devices` reports a locked phone rather than waiting for it.
    let storages = session
        .storages(Duration::ZERO, &AtomicBool::new(false), |_| {})
        .context("reading the storages")?;
    for skipped in session.skipped_storages() {
        writeln!(out, "  storage: not read — {skipped}")?;
    }
    if storages.is_empty() && session.skipped_storages().is_empty() {
        writeln!(out, "  storage: none — {}", session.no_storage_hint())?;
    }
    for storage in &storages {
        writeln!(
            out,
            "  storage: {} ({}): {} free of {}{}",
            storage.name,
            storage.id,
            HumanBytes(storage.info.free_space_bytes),
            HumanBytes(storage.info.max_capacity),
            if storage.info.is_writable() {
                ""
            } else {
                ", read-only"
            },
        )?;
    }
    if verbose {
        note!("{}: {}", info.serial_number, session.stats());
        note!("{}: {}", info.serial_number, device.quirks_line());
    }
    Ok(!storages.is_empty())
}
