//! The nusb backend: enumeration, the OS descriptor probe, opening and claiming.

mod pipes;
mod transport;

use std::time::Duration;

use nusb::MaybeFuture;
use nusb::transfer::{ControlIn, ControlType, Recipient};

use super::classify::{self, CompatFunction, InterfaceFacts};
use super::discover::{
    self, DeviceSummary, Discovery, EndpointInfo, EndpointKind, Endpoints, RawDevice, RawInterface,
    UsbIdentity, UsbSpeed,
};
use super::error::{OpenError, OpenFailure};
use super::quirks::{self, Quirks};

pub(super) use transport::NusbTransport;

/// How long the descriptor probe waits for each control request.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// Lists the MTP/PTP devices on USB, with the nusb handle of each.
pub(crate) fn discover() -> Result<(Discovery, Vec<nusb::DeviceInfo>), OpenError> {
    discover::require_usb_subsystem()?;
    let devices = nusb::list_devices().wait().map_err(|e| OpenError::Usb {
        device: "USB".into(),
        context: "listing devices",
        message: e.to_string(),
    })?;
    let verdicts = devices.map(|info| {
        let verdict = discover::evaluate(raw_device(&info), || probe_os_descriptor(&info));
        (verdict, info)
    });
    Ok(discover::collect(verdicts))
}

fn raw_device(info: &nusb::DeviceInfo) -> RawDevice {
    #[cfg(target_os = "linux")]
    let (endpoints, driven) = (
        super::sysfs::read_endpoints(info.sysfs_path()),
        super::sysfs::kernel_driven_interfaces(info.sysfs_path()),
    );
    #[cfg(not(target_os = "linux"))]
    let (endpoints, driven) = (
        std::collections::BTreeMap::<u8, Endpoints>::new(),
        Vec::<u8>::new(),
    );

    let interfaces = info
        .interfaces()
        .map(|interface| {
            let number = interface.interface_number();
            RawInterface {
                number,
                facts: InterfaceFacts {
                    class: interface.class(),
                    subclass: interface.subclass(),
                    protocol: interface.protocol(),
                    interface_string: interface.get_interface_string().wait().ok().flatten(),
                    os_compat_id: None,
                },
                endpoints: endpoints.get(&number).copied(),
                has_kernel_driver: driven.contains(&number),
            }
        })
        .collect();
    RawDevice {
        usb: UsbIdentity {
            vendor_id: info.vendor_id(),
            product_id: info.product_id(),
            bus_number: bus_number(info),
            address: info.device_address(),
            port_chain: info.port_chain().to_vec(),
            manufacturer: info.manufacturer_string().map(str::to_owned),
            product: info.product_string().map(str::to_owned),
            serial: info.serial_number().map(str::to_owned),
            speed: info.speed().and_then(speed),
        },
        device_class: info.class(),
        interfaces,
    }
}

/// The bus a device sits on, as `UsbIdentity::bus_number` records it.
#[cfg(target_os = "linux")]
pub(crate) fn bus_number(info: &nusb::DeviceInfo) -> u8 {
    info.busnum()
}

/// The bus a device sits on, as `UsbIdentity::bus_number` records it.
#[cfg(not(target_os = "linux"))]
pub(crate) fn bus_number(info: &nusb::DeviceInfo) -> u8 {
    info.bus_id().parse().unwrap_or(0)
}

fn speed(speed: nusb::Speed) -> Option<UsbSpeed> {
    match speed {
        nusb::Speed::Low => Some(UsbSpeed::Low),
        nusb::Speed::Full => Some(UsbSpeed::Full),
        nusb::Speed::High => Some(UsbSpeed::High),
        nusb::Speed::Super => Some(UsbSpeed::Super),
        nusb::Speed::SuperPlus => Some(UsbSpeed::SuperPlus),
        _ => None,
    }
}

/// Asks for the Microsoft OS string descriptor, then the extended compat ID
/// descriptor. A device without them answers with an empty list.
#[cfg(any(target_os = "linux", target_os = "macos", target_os = "android"))]
fn probe_os_descriptor(info: &nusb::DeviceInfo) -> Result<Vec<CompatFunction>, String> {
    let device = info.open().wait().map_err(|e| match e.kind() {
        nusb::ErrorKind::PermissionDenied => "permission denied (a udev rule can grant access)".to_owned(),
        _ => format!("could not be opened: {e}"),
    })?;
    let os_string = device
        .control_in(
            ControlIn {
                control_type: ControlType::Standard,
                recipient: Recipient::Device,
                request: 0x06, // GET_DESCRIPTOR
                value: (0x03 << 8) | u16::from(classify::OS_STRING_INDEX),
                index: 0,
                length: 255,
            },
            PROBE_TIMEOUT,
        )
        .wait();
    let Some(vendor_code) = os_string
        .ok()
        .and_then(|bytes| classify::parse_os_string_descriptor(&bytes))
    else {
        return Ok(Vec::new());
    };
    let compat = device
        .control_in(
            ControlIn {
                control_type: ControlType::Vendor,
                recipient: Recipient::Device,
                request: vendor_code,
                value: 0,
                index: classify::EXTENDED_COMPAT_ID_INDEX,
                length: 1024,
            },
            PROBE_TIMEOUT,
        )
        .wait();
    Ok(compat
        .map(|bytes| classify::parse_extended_compat_id(&bytes))
        .unwrap_or_default())
}

#[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "android")))]
fn probe_os_descriptor(_info: &nusb::DeviceInfo) -> Result<Vec<CompatFunction>, String> {
    Err("the Microsoft OS descriptor cannot be read on this platform".to_owned())
}

/// Opens `summary`'s device and claims its MTP interface (detaching a kernel
/// driver on Linux), treating it as the quirks table says.
pub(crate) fn open(
    summary: &mut DeviceSummary,
    info: &nusb::DeviceInfo,
) -> Result<(NusbTransport, Quirks), OpenError> {
    let quirks = device_quirks(summary, info)?;
    if quirks.pin_to_interrupt_cpu {
        // Before the open, which starts nusb's event thread: it inherits this.
        quirks::keep_on_interrupt_cpu();
    }
    let device = info
        .open()
        .wait()
        .map_err(|e| open_error(summary, &e, "opening the device"))?;
    let interface = device
        .detach_and_claim_interface(summary.interface)
        .wait()
        .map_err(|e| open_error(summary, &e, "claiming the MTP interface"))?;
    let endpoints = interface
        .descriptor()
        .and_then(|descriptor| {
            Endpoints::from_descriptors(descriptor.endpoints().map(|endpoint| EndpointInfo {
                address: endpoint.address(),
                kind: EndpointKind::from_attributes(endpoint.attributes()),
                max_packet_size: endpoint.max_packet_size(),
            }))
        })
        .ok_or_else(|| OpenError::NoEndpoints {
            device: summary.usb.describe(),
            interface: summary.interface,
        })?;
    summary.endpoints = Some(endpoints);
    let transport = NusbTransport::new(interface, endpoints, &quirks).map_err(|e| OpenError::Usb {
        device: summary.usb.describe(),
        context: "opening the endpoints",
        message: e.to_string(),
    })?;
    Ok((transport, quirks))
}

fn device_quirks(summary: &DeviceSummary, info: &nusb::DeviceInfo) -> Result<Quirks, OpenError> {
    #[cfg(target_os = "linux")]
    let sysfs = Some(info.sysfs_path());
    #[cfg(not(target_os = "linux"))]
    let sysfs: Option<&std::path::Path> = {
        let _ = info;
        None
    };
    quirks::quirks_at(sysfs, summary.usb.vendor_id, summary.usb.product_id).map_err(|message| {
        OpenError::Usb {
            device: summary.usb.describe(),
            context: "reading the device quirks",
            message,
        }
    })
}

fn open_error(summary: &DeviceSummary, error: &nusb::Error, context: &'static str) -> OpenError {
    let failure = match error.kind() {
        nusb::ErrorKind::PermissionDenied => OpenFailure::PermissionDenied,
        nusb::ErrorKind::Busy => OpenFailure::Busy,
        nusb::ErrorKind::Disconnected => OpenFailure::Disconnected,
        _ => OpenFailure::Other(error.to_string()),
    };
    OpenError::opening(summary, context, failure)
}
