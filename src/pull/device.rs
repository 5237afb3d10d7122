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

/// The name a device goes by in the manifest: the key its files are
/// "already backed up" under. Its MTP serial, unless that serial is one many
/// devices share (blank, QEMU's usb-mtp, Android's unset default, one digit
/// repeated): then the USB serial number joins it, when the device gives one
/// that differs. Two such devices must never share keys: one's files would
/// count as backed up for the other, and `--delete-after` would delete them.
/// The USB serial of a device whose MTP serial is shared may depend on the
/// port (QEMU's does): plugged into another port, it is a new device to
/// mtpull, and its files are copied again but filed once (by content).
pub fn device_serial(session: &Session) -> String {
    let reported = reported_serial(session);
    // A blank serial's fallback (manufacturer + model) is shared by every unit of a model.
    let shared = session.device_info().serial_number.trim().is_empty() || is_shared_serial(&reported);
    identity(&reported, shared, session.usb_serial())
}

/// The serial the device reports (falls back to manufacturer + model when
/// blank): what a person recognises, and what the settings' devices list names.
pub fn reported_serial(session: &Session) -> String {
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

/// `reported`, qualified by the USB serial when `reported` is `shared`.
fn identity(reported: &str, shared: bool, usb_serial: Option<&str>) -> String {
    let usb = usb_serial.map(str::trim).filter(|usb| !is_shared_serial(usb));
    match usb {
        Some(usb) if shared && usb != reported => format!("{reported} (USB {usb})"),
        _ => reported.to_owned(),
    }
}

/// Whether many devices report this serial: blank, one character repeated,
/// or a run of `0123456789abcdef` (QEMU's usb-mtp reports it twice over;
/// Android's default when a phone's maker set none is `0123456789ABCDEF`).
pub(crate) fn is_shared_serial(serial: &str) -> bool {
    const COUNTING: &str = "0123456789abcdef";
    let serial = serial.trim();
    let lower = serial.to_ascii_lowercase();
    let counting = lower.len() >= 8
        && lower
            .as_bytes()
            .chunks(COUNTING.len())
            .all(|chunk| COUNTING.as_bytes().starts_with(chunk));
    let mut chars = serial.chars();
    let repeated = chars.next().is_none_or(|first| chars.all(|c| c == first));
    counting || repeated
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
    fn a_shared_serial_is_told_apart_by_the_usb_serial() {
        const QEMU: &str = "0123456789abcdef0123456789abcdef";
        let shared = |reported| identity(reported, is_shared_serial(reported), Some("usb-1"));
        let first = identity(QEMU, true, Some("34617-0000:00:04.0-1"));
        let second = identity(QEMU, true, Some("34617-0000:00:04.0-2"));
        assert_ne!(first, second);
        assert!(
            first.starts_with(QEMU) && first.ends_with("(USB 34617-0000:00:04.0-1)"),
            "{first}"
        );
        assert_ne!(
            identity("0123456789ABCDEF", true, Some("R58A")),
            identity("0123456789ABCDEF", true, Some("R58B"))
        );
        assert_ne!(
            identity("Canon EOS 80D", true, Some("083044000123")),
            identity("Canon EOS 80D", true, Some("083044000124")),
            "two cameras reporting no serial"
        );
        for reported in [QEMU, "0123456789ABCDEF", "00000000", "FFFFFFFF"] {
            assert_ne!(shared(reported), reported, "{reported}");
        }
    }

    #[test]
    fn a_serial_of_its_own_is_the_identity_whatever_usb_says() {
        // Existing manifests keep their keys: a phone's MTP serial is its own.
        assert_eq!(identity("R58M1234567", false, Some("R58M1234567")), "R58M1234567");
        assert_eq!(identity("R58M1234567", false, Some("other")), "R58M1234567");
        assert_eq!(identity("R58M1234567", false, None), "R58M1234567");
        // Nothing better to add: left as reported.
        assert_eq!(identity(QEMU_LIKE, true, None), QEMU_LIKE);
        assert_eq!(identity(QEMU_LIKE, true, Some("  ")), QEMU_LIKE);
        assert_eq!(
            identity(QEMU_LIKE, true, Some("0000")),
            QEMU_LIKE,
            "a shared USB serial adds nothing"
        );
        assert_eq!(identity(QEMU_LIKE, true, Some(QEMU_LIKE)), QEMU_LIKE);
    }

    const QEMU_LIKE: &str = "0123456789abcdef";

    #[test]
    fn shared_serials_are_recognised() {
        for shared in [
            "",
            "0123456789abcdef0123456789abcdef",
            "0123456789ABCDEF",
            "01234567",
            "0000000000",
            "FFFFFFFF",
        ] {
            assert!(is_shared_serial(shared), "{shared:?}");
        }
        for own in [
            "R58M1234567",
            "0123456789abcdeX",
            "0123456",
            "28101FDH2000XY",
            "Canon EOS 80D",
        ] {
            assert!(!is_shared_serial(own), "{own:?}");
        }
    }

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
