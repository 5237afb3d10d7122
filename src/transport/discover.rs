//! Finding MTP/PTP devices: what a backend reports about each USB device, how
//! that becomes a [`DeviceSummary`], and how `--device` picks one.
//!
//! The backends (nusb, libusb) only gather raw device facts and answer the OS
//! descriptor probe; the decisions here are shared and pure.

use std::fmt;
use std::path::PathBuf;

use super::classify::{
    self, Classification, CompatFunction, Evidence, InterfaceFacts, Protocol, compat_id_for_interface,
};
use super::error::OpenError;
use super::holders::usbfs_node;

/// USB vendor id of the devices QEMU emulates (usb-mtp is 46f4:0004).
pub(super) const QEMU_USB_VENDOR: u16 = 0x46f4;

/// The endpoints of an MTP/PTP interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoints {
    /// The bulk IN endpoint's address.
    pub bulk_in: u8,
    /// The bulk OUT endpoint's address.
    pub bulk_out: u8,
    /// The event endpoint. PTP requires one; a few devices leave it out.
    pub interrupt_in: Option<u8>,
    /// wMaxPacketSize of the bulk IN endpoint.
    pub bulk_max_packet_size: usize,
    /// wMaxPacketSize of the interrupt endpoint (0 when there is none).
    pub interrupt_max_packet_size: usize,
}

/// How an endpoint moves data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointKind {
    /// Control.
    Control,
    /// Isochronous.
    Isochronous,
    /// Bulk.
    Bulk,
    /// Interrupt.
    Interrupt,
}

impl EndpointKind {
    /// From the low two bits of bmAttributes.
    pub fn from_attributes(attributes: u8) -> Self {
        match attributes & 0x03 {
            0 => Self::Control,
            1 => Self::Isochronous,
            2 => Self::Bulk,
            _ => Self::Interrupt,
        }
    }
}

/// One endpoint descriptor's essentials: address (bit 7 set = IN), kind, wMaxPacketSize.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndpointInfo {
    /// bEndpointAddress (bit 7: IN).
    pub address: u8,
    /// Its transfer type.
    pub kind: EndpointKind,
    /// wMaxPacketSize.
    pub max_packet_size: usize,
}

impl Endpoints {
    /// Picks the first bulk IN, bulk OUT and interrupt IN endpoint;
    /// `None` without a bulk pair.
    pub fn from_descriptors(endpoints: impl IntoIterator<Item = EndpointInfo>) -> Option<Self> {
        let (mut bulk_in, mut bulk_out, mut interrupt_in) = (None, None, None);
        for endpoint in endpoints {
            let is_in = endpoint.address & 0x80 != 0;
            let slot = match (endpoint.kind, is_in) {
                (EndpointKind::Bulk, true) => &mut bulk_in,
                (EndpointKind::Bulk, false) => &mut bulk_out,
                (EndpointKind::Interrupt, true) => &mut interrupt_in,
                _ => continue,
            };
            slot.get_or_insert(endpoint);
        }
        let (bulk_in, bulk_out) = (bulk_in?, bulk_out?);
        Some(Self {
            bulk_in: bulk_in.address,
            bulk_out: bulk_out.address,
            interrupt_in: interrupt_in.map(|e| e.address),
            bulk_max_packet_size: bulk_in.max_packet_size,
            interrupt_max_packet_size: interrupt_in.map_or(0, |e| e.max_packet_size),
        })
    }

    /// Whether these are the three endpoints MTP uses.
    pub fn have_mtp_shape(&self) -> bool {
        self.interrupt_in.is_some()
    }
}

impl fmt::Display for Endpoints {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "bulk in 0x{:02x}, bulk out 0x{:02x}",
            self.bulk_in, self.bulk_out
        )?;
        if let Some(interrupt) = self.interrupt_in {
            write!(f, ", interrupt in 0x{interrupt:02x}")?;
        }
        write!(f, " ({} byte packets)", self.bulk_max_packet_size)
    }
}

/// Connection speed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum UsbSpeed {
    /// 1.5 Mbit/s.
    Low,
    /// 12 Mbit/s.
    Full,
    /// 480 Mbit/s.
    High,
    /// 5 Gbit/s.
    Super,
    /// 10 Gbit/s or more.
    SuperPlus,
}

impl fmt::Display for UsbSpeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UsbSpeed::Low => "1.5 Mb/s (USB 1 low speed)",
            UsbSpeed::Full => "12 Mb/s (USB 1 full speed)",
            UsbSpeed::High => "480 Mb/s (USB 2 high speed)",
            UsbSpeed::Super => "5 Gb/s (USB 3 SuperSpeed)",
            UsbSpeed::SuperPlus => "10 Gb/s (USB 3 SuperSpeed+)",
        })
    }
}

/// What USB says about a device, whatever its interfaces: who made it, where it
/// is plugged in, and its strings. Both a backend's raw view of a device and a
/// found MTP/PTP device carry one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsbIdentity {
    /// idVendor.
    pub vendor_id: u16,
    /// idProduct.
    pub product_id: u16,
    /// The bus number (Linux and libusb number buses from 1).
    pub bus_number: u8,
    /// The device's address on its bus.
    pub address: u8,
    /// Hub ports from the root to the device; stable for a given socket.
    pub port_chain: Vec<u8>,
    /// The manufacturer string, when the device gives one.
    pub manufacturer: Option<String>,
    /// The product string, when the device gives one.
    pub product: Option<String>,
    /// The serial number string, when the device gives one.
    pub serial: Option<String>,
    /// The link speed, when the OS says.
    pub speed: Option<UsbSpeed>,
}

impl UsbIdentity {
    /// `vvvv:pppp` in hex, as lsusb prints it.
    pub fn vid_pid(&self) -> String {
        format!("{:04x}:{:04x}", self.vendor_id, self.product_id)
    }

    /// The hub ports from the root to the device, as Linux writes them: `4.2`.
    pub fn ports(&self) -> String {
        let ports: Vec<String> = self.port_chain.iter().map(u8::to_string).collect();
        ports.join(".")
    }

    /// Where it is plugged in, as Linux names it in sysfs: `1-4.2` is bus 1, port 4
    /// of the root hub, then port 2 of the hub there.
    pub fn location(&self) -> String {
        format!("{}-{}", self.bus_number, self.ports())
    }

    /// "Manufacturer Product", or the vid:pid when the device names neither.
    pub fn name(&self) -> String {
        let words: Vec<&str> = [self.manufacturer.as_deref(), self.product.as_deref()]
            .into_iter()
            .flatten()
            .map(str::trim)
            .filter(|w| !w.is_empty())
            .collect();
        if words.is_empty() {
            self.vid_pid()
        } else {
            words.join(" ")
        }
    }

    /// The device's name with its vid:pid, for messages.
    pub fn describe(&self) -> String {
        let name = self.name();
        let vid_pid = self.vid_pid();
        if name == vid_pid {
            name
        } else {
            format!("{name} ({vid_pid})")
        }
    }

    /// The usbfs device node (Linux).
    pub fn usbfs_node(&self) -> PathBuf {
        usbfs_node(self.bus_number, self.address)
    }

    /// Whether `--device WANTED` means this device: its serial number, or its
    /// location for devices without one.
    pub fn matches(&self, wanted: &str) -> bool {
        self.serial.as_deref() == Some(wanted) || self.location() == wanted
    }
}

/// An MTP/PTP device found on USB, and the interface mtpull will use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceSummary {
    /// What USB says about the device.
    pub usb: UsbIdentity,
    /// bInterfaceNumber of the MTP/PTP interface.
    pub interface: u8,
    /// MTP or plain PTP.
    pub protocol: Protocol,
    /// What told us so.
    pub evidence: Evidence,
    /// The Microsoft OS descriptor's compatible ID for the interface, when asked:
    /// "PTP" on an Android phone means it is in PTP mode (DCIM and Pictures only).
    pub os_compat_id: Option<String>,
    /// Known from sysfs before opening on Linux, and always after opening.
    pub endpoints: Option<Endpoints>,
}

impl DeviceSummary {
    /// One line for lists: serial (or location), name, vid:pid, location.
    pub fn one_line(&self) -> String {
        let usb = &self.usb;
        let id = usb.serial.clone().unwrap_or_else(|| usb.location());
        format!(
            "{id}  {} ({}, {}) at {}",
            usb.name(),
            usb.vid_pid(),
            self.protocol,
            usb.location()
        )
    }
}

/// What `--device` asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceSelector {
    /// The only MTP/PTP device connected.
    Only,
    /// The device with this serial number (or, failing that, this location).
    Named(String),
}

impl DeviceSelector {
    /// From an optional `--device` argument.
    pub fn from_arg(arg: Option<&str>) -> Self {
        arg.map_or(Self::Only, |wanted| Self::Named(wanted.to_owned()))
    }
}

/// Fails with [`OpenError::NoUsbSubsystem`] on a Linux without `/sys/bus/usb`
/// (a container or VM without USB), before a backend reports something vaguer.
pub(crate) fn require_usb_subsystem() -> Result<(), OpenError> {
    let missing = cfg!(target_os = "linux") && !std::path::Path::new("/sys/bus/usb").exists();
    if missing {
        Err(OpenError::NoUsbSubsystem)
    } else {
        Ok(())
    }
}

/// What enumeration found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Discovery {
    /// The MTP/PTP devices, by where they are plugged in.
    pub devices: Vec<DeviceSummary>,
    /// Android phones that show no MTP interface (charging only / debugging only).
    pub phones_without_mtp: Vec<String>,
    /// Devices that might speak MTP but could not be asked, with the reason.
    pub not_inspected: Vec<String>,
}

impl Discovery {
    /// The error to show when no device is found, with what was seen instead.
    pub fn no_device_error(&self) -> OpenError {
        OpenError::NoDevice {
            phones_without_mtp: self.phones_without_mtp.clone(),
            not_inspected: self.not_inspected.clone(),
        }
    }

    /// Picks the device `selector` names; its index in `devices`.
    pub fn select(&self, selector: &DeviceSelector) -> Result<usize, OpenError> {
        let listed = || self.devices.iter().map(DeviceSummary::one_line).collect();
        match selector {
            DeviceSelector::Only => match self.devices.len() {
                0 => Err(self.no_device_error()),
                1 => Ok(0),
                _ => Err(OpenError::SeveralDevices { connected: listed() }),
            },
            DeviceSelector::Named(wanted) => {
                let by_serial = self
                    .devices
                    .iter()
                    .position(|d| d.usb.serial.as_deref() == Some(wanted.as_str()));
                by_serial
                    .or_else(|| self.devices.iter().position(|d| d.usb.matches(wanted)))
                    .ok_or_else(|| OpenError::NoMatch {
                        wanted: wanted.clone(),
                        connected: listed(),
                    })
            }
        }
    }
}

/// One interface as a backend sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawInterface {
    pub number: u8,
    pub facts: InterfaceFacts,
    pub endpoints: Option<Endpoints>,
    /// A kernel driver (not a user program through usbfs) is bound to it.
    pub has_kernel_driver: bool,
}

/// One USB device as a backend sees it, before any decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawDevice {
    pub usb: UsbIdentity,
    pub device_class: u8,
    pub interfaces: Vec<RawInterface>,
}

impl RawDevice {
    fn describe(&self) -> String {
        format!("{} at {}", self.usb.describe(), self.usb.location())
    }
}

/// The outcome for one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    Found(DeviceSummary),
    PhoneWithoutMtp(String),
    NotInspected(String),
    Unrelated,
}

const CLASS_HUB: u8 = 0x09;

/// Decides about one device. `probe_os_descriptor` is called only when the
/// Microsoft OS descriptor could change the verdict; it returns the extended
/// compat ID functions (empty when the device has no OS descriptor), or why the
/// device could not be asked.
pub(crate) fn evaluate(
    device: RawDevice,
    probe_os_descriptor: impl FnOnce() -> Result<Vec<CompatFunction>, String>,
) -> Verdict {
    if device.device_class == CLASS_HUB {
        return Verdict::Unrelated;
    }
    let mut interfaces = device.interfaces.clone();
    let settled = interfaces
        .iter()
        .any(|i| classify::classify(&i.facts).is_some_and(|c| c.protocol == Protocol::Mtp));
    let wants_probe = !settled
        && interfaces.iter().any(|i| {
            let fits = i.endpoints.is_none_or(|e| e.have_mtp_shape());
            classify::wants_os_descriptor(&i.facts, fits, i.has_kernel_driver)
        });
    let mut probe_failure = None;
    if wants_probe {
        match probe_os_descriptor() {
            Ok(functions) => {
                for interface in &mut interfaces {
                    interface.facts.os_compat_id =
                        compat_id_for_interface(&functions, interface.number).map(str::to_owned);
                }
            }
            Err(reason) => probe_failure = Some(reason),
        }
    }
    let best = interfaces
        .iter()
        .filter_map(|i| classify::classify(&i.facts).map(|c| (i, c)))
        .min_by_key(|(i, c)| (c.protocol, i.number));
    match (best, probe_failure) {
        (Some((interface, classification)), _) => Verdict::Found(summary(&device, interface, classification)),
        (None, Some(reason)) => Verdict::NotInspected(format!("{}: {reason}", device.describe())),
        (None, None)
            if interfaces
                .iter()
                .any(|i| classify::is_android_debug_bridge(&i.facts)) =>
        {
            Verdict::PhoneWithoutMtp(device.describe())
        }
        (None, None) => Verdict::Unrelated,
    }
}

fn summary(device: &RawDevice, interface: &RawInterface, classification: Classification) -> DeviceSummary {
    DeviceSummary {
        usb: device.usb.clone(),
        interface: interface.number,
        protocol: classification.protocol,
        evidence: classification.evidence,
        os_compat_id: interface.facts.os_compat_id.clone(),
        endpoints: interface.endpoints,
    }
}

/// Collects verdicts into a [`Discovery`], keeping each found device's handle
/// (the backend's own device object) beside its summary. Devices are listed by
/// where they are plugged in, whatever order the OS enumerated them in.
pub(crate) fn collect<H>(verdicts: impl IntoIterator<Item = (Verdict, H)>) -> (Discovery, Vec<H>) {
    let mut discovery = Discovery::default();
    let mut found = Vec::new();
    for (verdict, handle) in verdicts {
        match verdict {
            Verdict::Found(summary) => found.push((summary, handle)),
            Verdict::PhoneWithoutMtp(description) => discovery.phones_without_mtp.push(description),
            Verdict::NotInspected(description) => discovery.not_inspected.push(description),
            Verdict::Unrelated => {}
        }
    }
    found.sort_by(|(a, _), (b, _)| {
        let place = |d: &DeviceSummary| (d.usb.bus_number, d.usb.port_chain.clone());
        place(a).cmp(&place(b))
    });
    let (devices, handles) = found.into_iter().unzip();
    discovery.devices = devices;
    (discovery, handles)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(address: u8, kind: EndpointKind, max_packet_size: usize) -> EndpointInfo {
        EndpointInfo {
            address,
            kind,
            max_packet_size,
        }
    }

    fn mtp_endpoints() -> Endpoints {
        Endpoints::from_descriptors([
            endpoint(0x81, EndpointKind::Bulk, 512),
            endpoint(0x02, EndpointKind::Bulk, 512),
            endpoint(0x83, EndpointKind::Interrupt, 28),
        ])
        .unwrap()
    }

    #[test]
    fn endpoints_are_picked_by_kind_and_direction() {
        let endpoints = mtp_endpoints();
        assert_eq!(
            endpoints,
            Endpoints {
                bulk_in: 0x81,
                bulk_out: 0x02,
                interrupt_in: Some(0x83),
                bulk_max_packet_size: 512,
                interrupt_max_packet_size: 28
            }
        );
        assert!(endpoints.have_mtp_shape());
        assert_eq!(
            endpoints.to_string(),
            "bulk in 0x81, bulk out 0x02, interrupt in 0x83 (512 byte packets)"
        );
        let no_bulk_out = Endpoints::from_descriptors([endpoint(0x81, EndpointKind::Bulk, 512)]);
        assert_eq!(no_bulk_out, None);
        let no_events = Endpoints::from_descriptors([
            endpoint(0x02, EndpointKind::Bulk, 64),
            endpoint(0x81, EndpointKind::Bulk, 64),
        ])
        .unwrap();
        assert!(!no_events.have_mtp_shape());
        assert_eq!(EndpointKind::from_attributes(0x02), EndpointKind::Bulk);
        assert_eq!(EndpointKind::from_attributes(0x03), EndpointKind::Interrupt);
    }

    fn interface(number: u8, class: u8, subclass: u8, protocol: u8, string: Option<&str>) -> RawInterface {
        RawInterface {
            number,
            facts: InterfaceFacts {
                class,
                subclass,
                protocol,
                interface_string: string.map(str::to_owned),
                os_compat_id: None,
            },
            endpoints: Some(mtp_endpoints()),
            has_kernel_driver: false,
        }
    }

    /// Android's ADB interface: vendor class 0xFF/0x42/0x01, two bulk endpoints.
    fn adb_interface(number: u8) -> RawInterface {
        RawInterface {
            endpoints: Endpoints::from_descriptors([
                endpoint(0x84, EndpointKind::Bulk, 512),
                endpoint(0x05, EndpointKind::Bulk, 512),
            ]),
            ..interface(number, 0xFF, 0x42, 1, Some("ADB Interface"))
        }
    }

    fn device(serial: Option<&str>, interfaces: Vec<RawInterface>) -> RawDevice {
        RawDevice {
            usb: UsbIdentity {
                vendor_id: 0x18d1,
                product_id: 0x4ee2,
                bus_number: 1,
                address: 5,
                port_chain: vec![4, 2],
                manufacturer: Some("Google".into()),
                product: Some("Pixel 7".into()),
                serial: serial.map(str::to_owned),
                speed: Some(UsbSpeed::High),
            },
            device_class: 0,
            interfaces,
        }
    }

    fn must_not_probe() -> Result<Vec<CompatFunction>, String> {
        panic!("the OS descriptor was asked for although it could not change the verdict")
    }

    fn compat(first_interface: u8, id: &str) -> CompatFunction {
        CompatFunction {
            first_interface,
            compatible_id: id.into(),
            sub_compatible_id: String::new(),
        }
    }

    #[test]
    fn pixel_with_mtp_and_adb_is_found_on_its_mtp_interface_without_probing() {
        let pixel = device(
            Some("28101FDH2000XY"),
            vec![interface(0, 6, 1, 1, Some("MTP")), adb_interface(1)],
        );
        let Verdict::Found(summary) = evaluate(pixel, must_not_probe) else {
            panic!("not found")
        };
        assert_eq!(summary.interface, 0);
        assert_eq!(summary.protocol, Protocol::Mtp);
        assert_eq!(summary.evidence, Evidence::InterfaceString);
        assert_eq!(summary.usb.vid_pid(), "18d1:4ee2");
        assert_eq!(summary.usb.ports(), "4.2");
        assert_eq!(summary.usb.location(), "1-4.2");
        assert_eq!(summary.usb.name(), "Google Pixel 7");
        assert_eq!(summary.usb.describe(), "Google Pixel 7 (18d1:4ee2)");
        let unnamed = UsbIdentity {
            manufacturer: None,
            product: None,
            ..summary.usb.clone()
        };
        assert_eq!(unnamed.describe(), "18d1:4ee2");
        assert_eq!(
            summary.one_line(),
            "28101FDH2000XY  Google Pixel 7 (18d1:4ee2, MTP) at 1-4.2"
        );
        assert_eq!(summary.usb.usbfs_node(), PathBuf::from("/dev/bus/usb/001/005"));
        assert_eq!(summary.endpoints, Some(mtp_endpoints()));
    }

    #[test]
    fn unnamed_still_image_interfaces_are_found_as_ptp_without_the_os_descriptor_probe() {
        // A camera, an iPhone, a phone in PTP mode: string 0xEE is never asked.
        for name in [None, Some("PTP")] {
            let camera = device(None, vec![interface(0, 6, 1, 1, name)]);
            let Verdict::Found(summary) = evaluate(camera, must_not_probe) else {
                panic!()
            };
            assert_eq!(summary.protocol, Protocol::Ptp);
            assert_eq!(summary.os_compat_id, None);
        }
    }

    #[test]
    fn vendor_class_player_is_found_through_the_os_descriptor() {
        let player = device(None, vec![interface(0, 0xFF, 0xFF, 0, None)]);
        let Verdict::Found(summary) = evaluate(player, || Ok(vec![compat(0, "MTP")])) else {
            panic!()
        };
        assert_eq!(
            (summary.protocol, summary.evidence),
            (Protocol::Mtp, Evidence::OsDescriptor)
        );
    }

    #[test]
    fn vendor_class_device_that_could_not_be_asked_is_reported_as_not_inspected() {
        let unknown = device(None, vec![interface(0, 0xFF, 0xFF, 0, None)]);
        let verdict = evaluate(unknown, || Err("permission denied".into()));
        assert_eq!(
            verdict,
            Verdict::NotInspected("Google Pixel 7 (18d1:4ee2) at 1-4.2: permission denied".into())
        );
    }

    #[test]
    fn driven_vendor_interfaces_and_hubs_are_left_alone() {
        let mut serial_adapter = interface(0, 0xFF, 0xFF, 0xFF, None);
        serial_adapter.has_kernel_driver = true;
        assert_eq!(
            evaluate(device(None, vec![serial_adapter]), must_not_probe),
            Verdict::Unrelated
        );
        let mut hub = device(None, vec![interface(0, 9, 0, 0, None)]);
        hub.device_class = CLASS_HUB;
        assert_eq!(evaluate(hub, must_not_probe), Verdict::Unrelated);
    }

    #[test]
    fn charge_only_phone_with_adb_is_reported_as_a_phone_without_mtp() {
        let phone = device(None, vec![adb_interface(0)]);
        let verdict = evaluate(phone, must_not_probe);
        assert_eq!(
            verdict,
            Verdict::PhoneWithoutMtp("Google Pixel 7 (18d1:4ee2) at 1-4.2".into())
        );
    }

    #[test]
    fn keyboard_and_mass_storage_are_unrelated() {
        for (class, subclass, protocol) in [(3, 1, 1), (8, 6, 0x50)] {
            let verdict = evaluate(
                device(None, vec![interface(0, class, subclass, protocol, None)]),
                must_not_probe,
            );
            assert_eq!(verdict, Verdict::Unrelated);
        }
    }

    #[test]
    fn mtp_interface_is_preferred_over_a_ptp_one() {
        let both = device(
            None,
            vec![
                interface(0, 6, 1, 1, None),
                interface(2, 0xFF, 0xFF, 0, Some("MTP")),
            ],
        );
        let Verdict::Found(summary) = evaluate(both, must_not_probe) else {
            panic!()
        };
        assert_eq!(summary.interface, 2);
    }

    fn found(serial: Option<&str>, ports: Vec<u8>) -> DeviceSummary {
        let mut raw = device(serial, vec![interface(0, 6, 1, 1, Some("MTP"))]);
        raw.usb.port_chain = ports;
        match evaluate(raw, must_not_probe) {
            Verdict::Found(summary) => summary,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn selecting_the_only_device_or_one_by_serial_or_location() {
        let one = Discovery {
            devices: vec![found(Some("A"), vec![1])],
            ..Default::default()
        };
        assert_eq!(one.select(&DeviceSelector::Only).unwrap(), 0);

        let two = Discovery {
            devices: vec![found(Some("A"), vec![1]), found(None, vec![3])],
            ..Default::default()
        };
        assert!(
            matches!(two.select(&DeviceSelector::Only), Err(OpenError::SeveralDevices { connected }) if connected.len() == 2)
        );
        assert_eq!(two.select(&DeviceSelector::from_arg(Some("A"))).unwrap(), 0);
        assert_eq!(two.select(&DeviceSelector::from_arg(Some("1-3"))).unwrap(), 1);
        assert!(matches!(
            two.select(&DeviceSelector::from_arg(Some("Z"))),
            Err(OpenError::NoMatch { .. })
        ));
    }

    #[test]
    fn a_serial_wins_over_a_location_that_looks_the_same() {
        let tricky = Discovery {
            devices: vec![found(None, vec![2]), found(Some("1-2"), vec![7])],
            ..Default::default()
        };
        assert_eq!(tricky.select(&DeviceSelector::from_arg(Some("1-2"))).unwrap(), 1);
    }

    #[test]
    fn selecting_from_nothing_explains_what_was_seen() {
        let empty = Discovery {
            phones_without_mtp: vec!["Pixel".into()],
            ..Default::default()
        };
        let error = empty.select(&DeviceSelector::Only).unwrap_err();
        assert!(error.to_string().contains("Connected without file transfer"));
    }

    #[test]
    fn collect_lists_devices_by_location() {
        let verdicts = vec![
            (Verdict::Found(found(Some("B"), vec![2])), 'b'),
            (Verdict::Found(found(Some("C"), vec![1, 3])), 'c'),
            (Verdict::Found(found(Some("A"), vec![1])), 'a'),
        ];
        let (discovery, handles) = collect(verdicts);
        assert_eq!(handles, vec!['a', 'c', 'b']);
        let serials: Vec<_> = discovery
            .devices
            .iter()
            .map(|d| d.usb.serial.clone().unwrap())
            .collect();
        assert_eq!(serials, ["A", "C", "B"]);
    }

    #[test]
    fn collect_keeps_handles_beside_found_devices() {
        let verdicts = vec![
            (Verdict::Unrelated, 'a'),
            (Verdict::Found(found(Some("A"), vec![1])), 'b'),
            (Verdict::NotInspected("x".into()), 'c'),
            (Verdict::PhoneWithoutMtp("y".into()), 'd'),
        ];
        let (discovery, handles) = collect(verdicts);
        assert_eq!(handles, vec!['b']);
        assert_eq!(discovery.devices.len(), 1);
        assert_eq!(discovery.not_inspected, vec!["x".to_owned()]);
        assert_eq!(discovery.phones_without_mtp, vec!["y".to_owned()]);
    }
}
