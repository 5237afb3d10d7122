//! Where `mtpull watch` learns that devices come and go: a channel of
//! [`DeviceEvent`]s, fed on USB by nusb's hotplug watch ([`usb_events`]), and
//! in tests by whoever plugs simulated phones in.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread;
use std::time::Duration;

use nusb::MaybeFuture;
use nusb::hotplug::HotplugEvent;

use crate::transport::{self, DeviceSelector, DeviceSummary, OpenError, Transport};

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

    /// A device found on USB, opened by its place (which a replugged device
    /// with the same serial elsewhere does not share).
    pub fn on_usb(summary: &DeviceSummary) -> Arrival {
        let location = summary.location();
        let selector = DeviceSelector::Named(location.clone());
        Arrival::new(
            location.clone(),
            format!("{} at USB {location}", summary.describe()),
            summary.serial.clone(),
            move || transport::open_device(&selector).map(|opened| opened.transport),
        )
    }

    /// Opens the device and claims its MTP interface.
    pub fn open(&self) -> Result<Box<dyn Transport>, OpenError> {
        (self.open)()
    }

    /// What the one-backup-per-device lock is keyed by: the USB serial, or
    /// the place for a device without one.
    pub fn lock_key(&self) -> &str {
        self.usb_serial
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .unwrap_or(&self.id)
    }
}

/// A device came or went.
#[derive(Debug)]
pub enum DeviceEvent {
    /// A phone or camera is plugged in (or was, when watching started).
    Arrived(Arrival),
    /// The device that arrived with this id is gone.
    Left { id: String },
}

/// How often, and how far apart, a new USB device is looked at before it is
/// taken for something that is not a phone: its interfaces and their names
/// can lag behind its arrival.
const SETTLE_TRIES: u32 = 4;
const SETTLE_PAUSE: Duration = Duration::from_millis(250);

/// Starts watching USB: the MTP/PTP devices already connected arrive first,
/// then each one plugged in later; departures follow. The channel closes if
/// the hotplug watch ends.
///
/// nusb hears of devices from udev's broadcast (after udev has applied its
/// rules and permissions), so udevd must be running.
pub fn usb_events() -> Result<Receiver<DeviceEvent>, WatchError> {
    // Watch first, then list: a device plugged in between is seen twice, never missed.
    let watch = nusb::watch_devices().map_err(|e| WatchError::Hotplug(e.into()))?;
    let discovery = transport::discover().map_err(WatchError::Discovery)?;
    let (sender, receiver) = mpsc::channel();
    let mut places = HashMap::new();
    let present = nusb::list_devices()
        .wait()
        .map_err(|e| WatchError::Hotplug(e.into()))?;
    for info in present {
        if let Some(summary) = discovery.devices.iter().find(|s| same_place(s, &info)) {
            places.insert(info.id(), summary.location());
            let _ = sender.send(DeviceEvent::Arrived(Arrival::on_usb(summary)));
        }
    }
    thread::Builder::new()
        .name("usb hotplug".into())
        .spawn(move || forward_hotplug(watch, places, &sender))
        .map_err(WatchError::Hotplug)?;
    Ok(receiver)
}

fn forward_hotplug(
    watch: nusb::hotplug::HotplugWatch,
    mut places: HashMap<nusb::DeviceId, String>,
    sender: &Sender<DeviceEvent>,
) {
    for event in futures_lite::stream::block_on(watch) {
        let sent = match event {
            HotplugEvent::Connected(info) => match settled_summary(&info) {
                Some(summary) => {
                    places.insert(info.id(), summary.location());
                    sender.send(DeviceEvent::Arrived(Arrival::on_usb(&summary)))
                }
                None => Ok(()),
            },
            HotplugEvent::Disconnected(id) => match places.remove(&id) {
                Some(location) => sender.send(DeviceEvent::Left { id: location }),
                None => Ok(()),
            },
        };
        if sent.is_err() {
            return; // nobody listens any more
        }
    }
}

/// The MTP/PTP device at `info`'s place, if it is one.
fn settled_summary(info: &nusb::DeviceInfo) -> Option<DeviceSummary> {
    for attempt in 1..=SETTLE_TRIES {
        if let Ok(discovery) = transport::discover()
            && let Some(summary) = discovery.devices.into_iter().find(|s| same_place(s, info))
        {
            return Some(summary);
        }
        if attempt < SETTLE_TRIES {
            thread::sleep(SETTLE_PAUSE);
        }
    }
    None
}

fn same_place(summary: &DeviceSummary, info: &nusb::DeviceInfo) -> bool {
    summary.port_chain == info.port_chain() && summary.bus_number == transport::nusb_backend::bus_number(info)
}

/// Why watching USB could not start.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// The hotplug watch or the device list failed.
    #[error("cannot watch USB for devices: {0}")]
    Hotplug(#[source] io::Error),
    /// Listing the devices already connected failed.
    #[error(transparent)]
    Discovery(OpenError),
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
        assert!(matches!(none.open(), Err(OpenError::Disconnected { .. })));
    }
}
