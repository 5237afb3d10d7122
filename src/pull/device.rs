//! Reading the device for a backup: who it is and which files its chosen storages hold.

use chrono::{Local, TimeZone};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use super::error::PullError;
use super::remote::RemoteFile;
use super::select::Selection;
use crate::ptp::DeviceTime;
use crate::session::{Entry, Session, SkippedStorage};

/// The files on the chosen storages of one device.
#[derive(Debug, Clone)]
pub struct Listing {
    /// The device's serial number (falls back to manufacturer + model when blank).
    pub serial: String,
    /// Every file (not folder) on the chosen storages.
    pub files: Vec<RemoteFile>,
    /// Storages listed but not read (empty card slots, not available).
    pub skipped_storages: Vec<SkippedStorage>,
    /// The names of every storage the device shows now, chosen or not.
    pub storage_names: Vec<String>,
}

/// The name a device goes by in the manifest.
pub fn device_serial(session: &Session) -> String {
    let info = session.device_info();
    let serial = info.serial_number.trim();
    if serial.is_empty() {
        // Some cameras report no serial; model names keep two of them apart
        // at least as well as nothing.
        format!("{} {}", info.manufacturer.trim(), info.model.trim())
    } else {
        serial.to_owned()
    }
}

/// The device's model, for a folder template's `{device}` (its manufacturer, or
/// its serial, when it gives no model).
pub(super) fn device_model(session: &Session) -> String {
    let info = session.device_info();
    [&info.model, &info.manufacturer, &info.serial_number]
        .into_iter()
        .map(|text| text.trim())
        .find(|text| !text.is_empty())
        .unwrap_or("unknown device")
        .to_owned()
}

/// Lists the files on every storage `selection` wants. A phone showing no
/// storage (locked, or an iPhone not trusting this computer yet) is waited
/// for up to `wait`, after `waiting` is called with what the user must do.
/// Storages that cannot be read (an empty card slot, one not available) are
/// skipped and listed in the answer; the others are read. A `--storage` that
/// names none of the device's storages stops the run, naming those there are.
pub fn list_files(
    session: &mut Session,
    selection: &Selection,
    wait: Duration,
    cancel: &AtomicBool,
    waiting: impl FnOnce(&'static str),
) -> Result<Listing, PullError> {
    let device = |context: String| move |source| PullError::Device { context, source };
    let storages = session
        .storages(wait, cancel, waiting)
        .map_err(device("reading the storages".into()))?;
    if storages.is_empty() && cancel.load(Ordering::Relaxed) {
        return Err(PullError::Interrupted);
    }
    if storages.is_empty() && session.skipped_storages().is_empty() {
        return Err(PullError::Locked {
            hint: session.no_storage_hint(),
        });
    }
    for wanted in &selection.storages {
        let skipped = session.skipped_storages().iter().any(|s| wanted.matches_id(s.id));
        if !skipped {
            wanted.pick(&storages)?;
        }
    }
    let mut files = Vec::new();
    for storage in storages.iter().filter(|s| selection.wants_storage(s)) {
        let entries = session
            .walk(storage.id, None)
            .map_err(device(format!("listing {}", storage.name)))?;
        files.extend(
            entries
                .into_iter()
                .filter(|e| !e.is_folder())
                .map(|e| remote_file(e, &storage.name)),
        );
    }
    Ok(Listing {
        serial: device_serial(session),
        files,
        skipped_storages: session.skipped_storages().to_vec(),
        storage_names: storages.into_iter().map(|s| s.name).collect(),
    })
}

fn remote_file(entry: Entry, storage: &str) -> RemoteFile {
    RemoteFile {
        storage_id: entry.storage_id,
        storage: storage.to_owned(),
        path: entry.path().join("/"),
        handle: entry.handle,
        format: entry.format,
        size: entry.size,
        modified: entry.modified,
    }
}

/// The device's date as an instant: exact when it gave a zone, else read as
/// this machine's local time (as Android means it).
pub(super) fn device_instant(time: &DeviceTime) -> Option<SystemTime> {
    let instant = match time.offset {
        Some(offset) => offset.from_local_datetime(&time.local).single()?.into(),
        None => Local.from_local_datetime(&time.local).earliest()?.into(),
    };
    Some(instant)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{FixedOffset, NaiveDateTime};

    #[test]
    fn zoned_device_dates_are_exact() {
        let local = NaiveDateTime::parse_from_str("2024-05-26 10:15:00", "%Y-%m-%d %H:%M:%S").unwrap();
        let zoned = DeviceTime {
            local,
            offset: FixedOffset::east_opt(2 * 3600),
        };
        let expected = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_716_711_300);
        assert_eq!(device_instant(&zoned), Some(expected));
        assert!(device_instant(&DeviceTime { local, offset: None }).is_some());
    }
}
