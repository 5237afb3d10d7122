//! Devices coming and going on USB: the MTP/PTP devices already connected,
//! then each one plugged in, and each one unplugged.
//!
//! The news comes from udev's broadcast (after udev has applied its rules and
//! permissions, so udevd must be running), heard through nusb's watch; what a
//! device is, is found with the backend asked for, the one that will open it.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::thread;
use std::time::Duration;

use futures_lite::stream::{self, BlockOn};
use nusb::MaybeFuture;
use nusb::hotplug::{HotplugEvent, HotplugWatch};

use super::{Backend, DeviceSummary, OpenError, discover_with, nusb_backend};

/// How often, and how far apart, a new USB device is looked at before it is
/// taken for something that is not a phone: its interfaces and their names
/// can lag behind its arrival.
const SETTLE_TRIES: u32 = 4;
const SETTLE_PAUSE: Duration = Duration::from_millis(250);

/// A device came or went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hotplug {
    /// An MTP/PTP device is plugged in (or was, when watching started).
    Arrived(DeviceSummary),
    /// The device that arrived at this place ([`DeviceSummary::location`]) is gone.
    Left {
        /// Where it was plugged in.
        location: String,
    },
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

/// The devices as they come and go, in order; blocks for the next one. Ends
/// only if the OS's watch ends.
pub struct Watch {
    backend: Backend,
    events: BlockOn<HotplugWatch>,
    /// Where each MTP/PTP device seen is plugged in, for its departure.
    places: HashMap<nusb::DeviceId, String>,
    /// The devices connected when watching started, not yet handed out.
    present: VecDeque<DeviceSummary>,
}

/// Starts watching: the MTP/PTP devices already connected come first.
pub fn watch(backend: Backend) -> Result<Watch, WatchError> {
    // Watch first, then list: a device plugged in between is seen twice, never missed.
    let events = nusb::watch_devices().map_err(|e| WatchError::Hotplug(e.into()))?;
    let discovery = discover_with(backend).map_err(WatchError::Discovery)?;
    let connected = nusb::list_devices()
        .wait()
        .map_err(|e| WatchError::Hotplug(e.into()))?;
    let mut places = HashMap::new();
    let mut present = VecDeque::new();
    for info in connected {
        if let Some(summary) = discovery.devices.iter().find(|s| same_place(s, &info)) {
            places.insert(info.id(), summary.usb.location());
            present.push_back(summary.clone());
        }
    }
    Ok(Watch {
        backend,
        events: stream::block_on(events),
        places,
        present,
    })
}

impl Iterator for Watch {
    type Item = Hotplug;

    fn next(&mut self) -> Option<Hotplug> {
        if let Some(summary) = self.present.pop_front() {
            return Some(Hotplug::Arrived(summary));
        }
        loop {
            match self.events.next()? {
                HotplugEvent::Connected(info) => {
                    if let Some(summary) = settled_summary(self.backend, &info) {
                        self.places.insert(info.id(), summary.usb.location());
                        return Some(Hotplug::Arrived(summary));
                    }
                }
                HotplugEvent::Disconnected(id) => {
                    if let Some(location) = self.places.remove(&id) {
                        return Some(Hotplug::Left { location });
                    }
                }
            }
        }
    }
}

/// The MTP/PTP device at `info`'s place, if it is one.
fn settled_summary(backend: Backend, info: &nusb::DeviceInfo) -> Option<DeviceSummary> {
    for attempt in 1..=SETTLE_TRIES {
        if let Ok(discovery) = discover_with(backend)
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
    summary.usb.port_chain == info.port_chain() && summary.usb.bus_number == nusb_backend::bus_number(info)
}
