//! Where `mtpull watch` learns that devices come and go: a channel of
//! [`DeviceEvent`]s, fed on USB by the transport's hotplug watch
//! ([`usb_events`]), and in tests by whoever plugs simulated phones in.

use std::fmt;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver};
use std::thread;

use crate::transport::hotplug::{self, Hotplug, WatchError};
use crate::transport::{self, Backend, DeviceSelector, DeviceSummary, OpenError, Transport};

/// How a device is opened (again, after a busy or failed attempt).
type Opener = dyn Fn() -> Result<Box<dyn Transport>, OpenError> + Send + Sync;

/// A phone or camera that has appeared, and how to open it.
#[derive(Clone)]
pub struct Arrival {
    /// Where it is plugged in ("1-4.2", as Linux names USB ports), unique
    /// while it stays plugged in; its departure names the same.
    pub id: String,
    /// How to call it in messages.
    pub name: String,
    /// The serial number USB reports, known before opening.
    pub usb_serial: Option<String>,
    open: Arc<Opener>,
}

impl fmt::Debug for Arrival {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Arrival")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("usb_serial", &self.usb_serial)
            .finish_non_exhaustive()
    }
}

impl Arrival {
    /// An arrival opened by `open`.
    pub fn new(
        id: impl Into<String>,
        name: impl Into<String>,
        usb_serial: Option<String>,
        open: impl Fn() -> Result<Box<dyn Transport>, OpenError> + Send + Sync + 'static,
    ) -> Arrival {
        Arrival {
            id: id.into(),
            name: name.into(),
            usb_serial,
            open: Arc::new(open),
        }
    }

    /// A device found on USB, opened through `backend` by its place (which a
    /// replugged device with the same serial elsewhere does not share).
    pub fn on_usb(summary: &DeviceSummary, backend: Backend) -> Arrival {
        let location = summary.usb.location();
        let selector = DeviceSelector::Named(location.clone());
        Arrival::new(
            location.clone(),
            format!("{} at USB {location}", summary.usb.describe()),
            summary.usb.serial.clone(),
            move || transport::open_device_with(backend, &selector).map(|opened| opened.transport),
        )
    }

    /// Opens the device and claims its MTP interface.
    pub fn open(&self) -> Result<Box<dyn Transport>, OpenError> {
        (self.open)()
    }

    /// What the one-backup-per-device lock is keyed by: the USB serial, or
    /// the place for a device without one or with one many devices share
    /// (two such phones plugged in together are both backed up).
    pub fn lock_key(&self) -> &str {
        self.usb_serial
            .as_deref()
            .filter(|s| !crate::pull::is_shared_serial(s))
            .unwrap_or(&self.id)
    }
}

/// A device came or went.
#[derive(Debug)]
pub enum DeviceEvent {
    /// A phone or camera is plugged in (or was, when watching started).
    Arrived(Arrival),
    /// The device that arrived with this id is gone.
    Left {
        /// The arrival's [`Arrival::id`].
        id: String,
    },
}

/// Starts watching USB through `backend`: the MTP/PTP devices already
/// connected arrive first, then each one plugged in later; departures follow.
/// The channel closes if the hotplug watch ends.
pub fn usb_events(backend: Backend) -> Result<Receiver<DeviceEvent>, WatchError> {
    let watch = hotplug::watch(backend)?;
    let (sender, receiver) = mpsc::channel();
    thread::Builder::new()
        .name("usb hotplug".into())
        .spawn(move || {
            for event in watch {
                let event = match event {
                    Hotplug::Arrived(summary) => DeviceEvent::Arrived(Arrival::on_usb(&summary, backend)),
                    Hotplug::Left { location } => DeviceEvent::Left { id: location },
                };
                if sender.send(event).is_err() {
                    return; // nobody listens any more
                }
            }
        })
        .map_err(WatchError::Hotplug)?;
    Ok(receiver)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_without_a_serial_are_locked_by_place() {
        let fails = || Err(OpenError::Disconnected { device: "x".into() });
        let blank = Arrival::new("1-4.2", "camera", Some("  ".into()), fails);
        assert_eq!(blank.lock_key(), "1-4.2");
        let none = Arrival::new("1-3", "camera", None, fails);
        assert_eq!(none.lock_key(), "1-3");
        let shared = Arrival::new("1-2", "phone", Some("0123456789ABCDEF".into()), fails);
        assert_eq!(shared.lock_key(), "1-2");
        let own = Arrival::new("1-1", "phone", Some("R58M1234567".into()), fails);
        assert_eq!(own.lock_key(), "R58M1234567");
        assert!(matches!(none.open(), Err(OpenError::Disconnected { .. })));
    }
}
