//! Which device a command talks to: the simulated phone (`--demo`, the
//! hidden `--sim PROFILE` for tests) or a phone on USB.

#[cfg(feature = "sim")]
use std::thread;
#[cfg(feature = "sim")]
use std::time::Duration;

use anyhow::Context;
use mtpull::auto::Arrival;
use mtpull::session::Session;
#[cfg(feature = "sim")]
use mtpull::sim::{self, Profile, SimDevice};
use mtpull::transport::{self, Backend, DeviceSelector, OpenError, OpenedDevice, Quirks};

use super::shared::exit::NoDevice;
use crate::cli::DeviceChoice;

/// The `--device` value that names the simulated demo phone.
const DEMO_SERIAL: &str = "demo";

/// An open device.
pub struct Device {
    /// The MTP session.
    pub session: Session,
    /// Where it is plugged in.
    pub usb: UsbPlace,
    /// How the USB transport treats it (none for a simulated device).
    pub quirks: Option<Quirks>,
}

impl Device {
    /// Whether it is the simulated phone (`--demo`, `--sim`), not one on USB.
    pub fn is_simulated(&self) -> bool {
        self.quirks.is_none()
    }

    /// The transport's quirks in one line, for `-v`.
    pub fn quirks_line(&self) -> String {
        match &self.quirks {
            Some(quirks) => format!("transport quirks: {quirks}"),
            None => "transport quirks: none (simulated device)".to_owned(),
        }
    }
}

/// What USB says about a device (not MTP: the device cannot lie about these).
pub struct UsbPlace {
    pub vendor_id: u16,
    pub product_id: u16,
    /// "bus 1, port 4", or a note that the device is simulated.
    pub location: String,
}

/// Opens the one device the command line designates: the simulated one, the
/// one whose serial `--device` gives, or the only one connected.
pub fn open_one(choice: &DeviceChoice) -> anyhow::Result<Device> {
    #[cfg(feature = "sim")]
    if let Some(profile) = simulated_profile(choice)? {
        return open_simulated(choice, profile);
    }
    #[cfg(not(feature = "sim"))]
    refuse_demo(choice)?;
    open_usb(choice)
}

/// Opens every device (`mtpull devices`); each may fail on its own.
pub fn open_all(choice: &DeviceChoice) -> anyhow::Result<Vec<anyhow::Result<Device>>> {
    #[cfg(feature = "sim")]
    let simulated = simulated_profile(choice)?.is_some();
    #[cfg(not(feature = "sim"))]
    let simulated = false;
    if simulated || choice.serial.is_some() {
        return Ok(vec![open_one(choice)]);
    }
    let backend = usb_backend()?;
    let discovery = transport::discover_with(backend).map_err(open_error)?;
    if discovery.devices.is_empty() {
        return Err(open_error(discovery.no_device_error()));
    }
    Ok(discovery
        .devices
        .iter()
        .map(|summary| {
            // Serial first; a device without one is found again by its location.
            let wanted = summary
                .usb
                .serial
                .clone()
                .unwrap_or_else(|| summary.usb.location());
            let opened =
                transport::open_device_with(backend, &DeviceSelector::Named(wanted)).map_err(open_error)?;
            session_on(opened)
        })
        .collect())
}

#[cfg(feature = "sim")]
fn simulated_profile(choice: &DeviceChoice) -> anyhow::Result<Option<Profile>> {
    if let Some(name) = &choice.sim {
        return name.parse().map(Some).map_err(anyhow::Error::msg);
    }
    let named_demo = choice.serial.as_deref().is_some_and(names_demo_phone);
    if choice.demo
        && let Some(serial) = choice.serial.as_deref().filter(|s| !names_demo_phone(s))
    {
        anyhow::bail!(
            "--demo talks to the simulated phone, whose serial is {}, not {serial:?}: \
             leave out --demo to use the device --device names",
            sim::demo::identity().serial
        );
    }
    Ok((choice.demo || named_demo).then_some(Profile::Android))
}

/// Whether a `--device` value names the demo phone: "demo", or the serial
/// `mtpull --demo devices` shows (any case).
#[cfg(feature = "sim")]
fn names_demo_phone(serial: &str) -> bool {
    serial.eq_ignore_ascii_case(DEMO_SERIAL) || serial.eq_ignore_ascii_case(&sim::demo::identity().serial)
}

/// The simulated device the command line asks for (`--demo`, `--sim`), if
/// any, as a device plugged in (each open is a replug).
#[cfg(feature = "sim")]
pub fn simulated_arrival(choice: &DeviceChoice) -> anyhow::Result<Option<Arrival>> {
    Ok(simulated_device(choice)?.map(|phone| phone.arrival()))
}

/// Without the simulator there is none; `--demo` says why.
#[cfg(not(feature = "sim"))]
pub fn simulated_arrival(choice: &DeviceChoice) -> anyhow::Result<Option<Arrival>> {
    refuse_demo(choice)?;
    Ok(None)
}

/// `--demo` (or `--device demo`) in a build without the simulator.
#[cfg(not(feature = "sim"))]
fn refuse_demo(choice: &DeviceChoice) -> anyhow::Result<()> {
    if choice.demo || choice.serial.as_deref() == Some(DEMO_SERIAL) {
        anyhow::bail!("--demo: this mtpull was built without the simulated phone (cargo feature `sim`)");
    }
    Ok(())
}

/// The environment variable that turns the demo phone's USB 2 pacing off
/// (`MTPULL_DEMO_PACE=off`), for tests of `--demo`.
#[cfg(feature = "sim")]
const DEMO_PACE_VAR: &str = "MTPULL_DEMO_PACE";

/// The environment variable that has `--sim PROFILE` serve a folder as the
/// phone's storage, written through (`MTPULL_SIM_FOLDER=DIR`): what the phone
/// holds then outlives the process, for tests that kill mtpull mid-run.
#[cfg(feature = "sim")]
const SIM_FOLDER_VAR: &str = "MTPULL_SIM_FOLDER";

/// The simulated device the command line asks for, if any: the demo phone
/// (`--demo`), the small sample tree on a device of a profile (`--sim`) or a
/// folder served as that device's storage (`--sim` and `MTPULL_SIM_FOLDER`),
/// unlocking itself after `--sim-unlock-after`.
#[cfg(feature = "sim")]
fn simulated_device(choice: &DeviceChoice) -> anyhow::Result<Option<SimDevice>> {
    let pace = match std::env::var(DEMO_PACE_VAR).as_deref() {
        Err(_) | Ok("" | "usb2") => sim::demo::Pace::Usb2,
        Ok("off") => sim::demo::Pace::Off,
        Ok(other) => anyhow::bail!("{DEMO_PACE_VAR}={other}: expected usb2 or off"),
    };
    let folder = std::env::var_os(SIM_FOLDER_VAR).map(std::path::PathBuf::from);
    let Some(profile) = simulated_profile(choice)? else {
        return Ok(None);
    };
    let phone = match (&choice.sim, folder) {
        (Some(_), Some(folder)) => sim::demo::device_serving(profile, &folder)
            .with_context(|| format!("{SIM_FOLDER_VAR}: serving {}", folder.display()))?,
        (Some(_), None) => sim::demo::device_with(profile),
        (None, _) => sim::demo::phone(pace),
    };
    if let Some(after) = choice.sim_unlock_after {
        unlock_later(phone.clone(), Duration::from_millis(after));
    }
    Ok(Some(phone))
}

#[cfg(feature = "sim")]
fn open_simulated(choice: &DeviceChoice, profile: Profile) -> anyhow::Result<Device> {
    let phone = simulated_device(choice)?.expect("a simulated profile was asked for");
    let identity = phone.identity();
    let session = Session::open(Box::new(phone.connect()))
        .with_context(|| format!("opening the simulated {profile} device"))?;
    Ok(Device {
        session,
        usb: UsbPlace {
            vendor_id: identity.vendor_id,
            product_id: identity.product_id,
            location: format!("bus {}, port {} (simulated)", identity.bus, identity.port),
        },
        quirks: None,
    })
}

/// Unlocks a simulated locked phone (or has a simulated iPhone trust this
/// computer) after `delay`, as a person would.
#[cfg(feature = "sim")]
fn unlock_later(phone: SimDevice, delay: Duration) {
    thread::spawn(move || {
        thread::sleep(delay);
        phone.unlock();
        phone.trust();
    });
}

fn open_usb(choice: &DeviceChoice) -> anyhow::Result<Device> {
    let selector = DeviceSelector::from_arg(choice.serial.as_deref());
    let opened = transport::open_device_with(usb_backend()?, &selector).map_err(open_error)?;
    session_on(opened)
}

/// The environment variable that picks the USB library, for tests that run the
/// same command through both: `nusb` (the default) or `libusb` (in builds with
/// the `libusb` feature). Not a user-facing option: nusb is the supported path.
const BACKEND_VAR: &str = "MTPULL_BACKEND";

pub fn usb_backend() -> anyhow::Result<Backend> {
    match std::env::var(BACKEND_VAR).as_deref() {
        Err(_) | Ok("" | "nusb") => Ok(Backend::Nusb),
        #[cfg(feature = "libusb")]
        Ok("libusb") => Ok(Backend::Libusb),
        #[cfg(not(feature = "libusb"))]
        Ok("libusb") => {
            anyhow::bail!("{BACKEND_VAR}=libusb: this mtpull was built without the `libusb` feature")
        }
        Ok(other) => anyhow::bail!("{BACKEND_VAR}={other}: expected nusb or libusb"),
    }
}

fn session_on(opened: OpenedDevice) -> anyhow::Result<Device> {
    let summary = opened.summary;
    let session = Session::open(opened.transport)
        .with_context(|| format!("starting an MTP session with {}", summary.usb.describe()))?;
    Ok(Device {
        session,
        usb: UsbPlace {
            vendor_id: summary.usb.vendor_id,
            product_id: summary.usb.product_id,
            location: format!("bus {}, port {}", summary.usb.bus_number, summary.usb.ports()),
        },
        quirks: Some(opened.quirks),
    })
}

/// Opening errors keep their words; "no device" also sets the exit status.
pub fn open_error(err: OpenError) -> anyhow::Error {
    match err {
        OpenError::NoDevice { .. } | OpenError::NoMatch { .. } | OpenError::NoUsbSubsystem => {
            NoDevice(err.to_string()).into()
        }
        other => other.into(),
    }
}
