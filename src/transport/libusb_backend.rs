//! The libusb backend (rusb, with its bundled libusb): for platforms where
//! libusb is the way in. Synchronous, one bulk transfer at a time.

use std::ffi::c_int;
use std::path::Path;
use std::time::{Duration, Instant};

use rusb::{Context, Device, DeviceHandle, Direction, Recipient, RequestType, TransferType, UsbContext};

use super::classify::{self, CompatFunction, InterfaceFacts};
use super::discover::{
    self, DeviceSummary, Discovery, EndpointInfo, EndpointKind, Endpoints, RawDevice, RawInterface,
    UsbIdentity, UsbSpeed,
};
use super::error::{OpenError, OpenFailure};
use super::phase::{PhaseReader, Received};
use super::quirks::{self, Quirks};
use super::{DEFAULT_TIMEOUT, DeviceStatus, Transport, TransportError, class_request};

/// Bytes per bulk transfer, both ways.
const TRANSFER_SIZE: usize = 512 * 1024;
/// How long discovery waits for each descriptor request.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// Lists the MTP/PTP devices on USB, with the libusb handle of each.
pub(crate) fn discover() -> Result<(Discovery, Vec<Device<Context>>), OpenError> {
    discover::require_usb_subsystem()?;
    let usb_error = |e: rusb::Error| OpenError::Usb {
        device: "USB".into(),
        context: "listing devices",
        message: e.to_string(),
    };
    let context = Context::new().map_err(usb_error)?;
    let devices = context.devices().map_err(usb_error)?;
    let verdicts: Vec<_> = devices
        .iter()
        .filter_map(|device| {
            let (raw, handle) = raw_device(&device)?;
            let verdict = discover::evaluate(raw, || match &handle {
                Some(handle) => Ok(probe_os_descriptor(handle)),
                None => {
                    Err("could not be opened (permission denied? a udev rule can grant access)".to_owned())
                }
            });
            Some((verdict, device))
        })
        .collect();
    Ok(discover::collect(verdicts))
}

/// The device as libusb sees it, and an open handle when it may speak MTP
/// (strings and the OS descriptor need one; other devices are not opened).
fn raw_device(device: &Device<Context>) -> Option<(RawDevice, Option<DeviceHandle<Context>>)> {
    let descriptor = device.device_descriptor().ok()?;
    let config = device.active_config_descriptor().ok();
    let candidate = config.as_ref().is_some_and(|config| {
        config.interfaces().flat_map(|i| i.descriptors()).any(|alt| {
            matches!(
                alt.class_code(),
                classify::CLASS_STILL_IMAGE | classify::CLASS_VENDOR
            )
        })
    });
    let handle = candidate.then(|| device.open().ok()).flatten();
    let language = handle
        .as_ref()
        .and_then(|h| h.read_languages(PROBE_TIMEOUT).ok()?.first().copied());
    let read = |index: Option<u8>| -> Option<String> {
        let (handle, language, index) = (handle.as_ref()?, language?, index?);
        handle.read_string_descriptor(language, index, PROBE_TIMEOUT).ok()
    };

    let interfaces = config
        .iter()
        .flat_map(|config| config.interfaces())
        .filter_map(|interface| interface.descriptors().find(|alt| alt.setting_number() == 0))
        .map(|alt| RawInterface {
            number: alt.interface_number(),
            facts: InterfaceFacts {
                class: alt.class_code(),
                subclass: alt.sub_class_code(),
                protocol: alt.protocol_code(),
                interface_string: read(alt.description_string_index()),
                os_compat_id: None,
            },
            endpoints: Endpoints::from_descriptors(alt.endpoint_descriptors().map(|endpoint| EndpointInfo {
                address: endpoint.address(),
                kind: match endpoint.transfer_type() {
                    TransferType::Control => EndpointKind::Control,
                    TransferType::Isochronous => EndpointKind::Isochronous,
                    TransferType::Bulk => EndpointKind::Bulk,
                    TransferType::Interrupt => EndpointKind::Interrupt,
                },
                max_packet_size: usize::from(endpoint.max_packet_size() & 0x07FF),
            })),
            // libusb does not count a usbfs claim by another program as a driver.
            has_kernel_driver: handle
                .as_ref()
                .is_some_and(|h| h.kernel_driver_active(alt.interface_number()).unwrap_or(false)),
        })
        .collect();

    let raw = RawDevice {
        usb: UsbIdentity {
            vendor_id: descriptor.vendor_id(),
            product_id: descriptor.product_id(),
            bus_number: device.bus_number(),
            address: device.address(),
            port_chain: device.port_numbers().unwrap_or_default(),
            manufacturer: read(descriptor.manufacturer_string_index()),
            product: read(descriptor.product_string_index()),
            serial: read(descriptor.serial_number_string_index()),
            speed: speed(device.speed()),
        },
        device_class: descriptor.class_code(),
        interfaces,
    };
    Some((raw, handle))
}

fn speed(speed: rusb::Speed) -> Option<UsbSpeed> {
    match speed {
        rusb::Speed::Low => Some(UsbSpeed::Low),
        rusb::Speed::Full => Some(UsbSpeed::Full),
        rusb::Speed::High => Some(UsbSpeed::High),
        rusb::Speed::Super => Some(UsbSpeed::Super),
        rusb::Speed::SuperPlus => Some(UsbSpeed::SuperPlus),
        _ => None,
    }
}

fn probe_os_descriptor(handle: &DeviceHandle<Context>) -> Vec<CompatFunction> {
    let mut buf = [0u8; 1024];
    let standard_in = rusb::request_type(Direction::In, RequestType::Standard, Recipient::Device);
    let os_string_value = (0x03 << 8) | u16::from(classify::OS_STRING_INDEX);
    let Ok(len) = handle.read_control(
        standard_in,
        0x06,
        os_string_value,
        0,
        &mut buf[..255],
        PROBE_TIMEOUT,
    ) else {
        return Vec::new();
    };
    let Some(vendor_code) = classify::parse_os_string_descriptor(&buf[..len]) else {
        return Vec::new();
    };
    let vendor_in = rusb::request_type(Direction::In, RequestType::Vendor, Recipient::Device);
    handle
        .read_control(
            vendor_in,
            vendor_code,
            0,
            classify::EXTENDED_COMPAT_ID_INDEX,
            &mut buf,
            PROBE_TIMEOUT,
        )
        .map(|len| classify::parse_extended_compat_id(&buf[..len]))
        .unwrap_or_default()
}

/// Opens `summary`'s device and claims its MTP interface (detaching a kernel
/// driver where libusb can), treating it as the quirks table says (libusb
/// reads synchronously: the queued-transfer count does not apply).
pub(crate) fn open(
    summary: &mut DeviceSummary,
    device: Device<Context>,
) -> Result<(LibusbTransport, Quirks), OpenError> {
    #[cfg(target_os = "linux")]
    let sysfs = Some(Path::new("/sys/bus/usb/devices").join(summary.usb.location()));
    #[cfg(not(target_os = "linux"))]
    let sysfs: Option<std::path::PathBuf> = None;
    let quirks = quirks::quirks_at(sysfs.as_deref(), summary.usb.vendor_id, summary.usb.product_id).map_err(
        |message| OpenError::Usb {
            device: summary.usb.describe(),
            context: "reading the device quirks",
            message,
        },
    )?;
    if quirks.pin_to_interrupt_cpu {
        quirks::keep_on_interrupt_cpu();
    }
    let handle = device
        .open()
        .map_err(|e| open_error(summary, e, "opening the device"))?;
    // Not every platform can detach drivers; claiming then says why.
    let _ = handle.set_auto_detach_kernel_driver(true);
    handle
        .claim_interface(summary.interface)
        .map_err(|e| open_error(summary, e, "claiming the MTP interface"))?;
    let endpoints = summary.endpoints.ok_or_else(|| OpenError::NoEndpoints {
        device: summary.usb.describe(),
        interface: summary.interface,
    })?;
    let event_poll = quirks.event_poll.unwrap_or(Duration::MAX);
    let transport = LibusbTransport::new(handle, summary.interface, endpoints, event_poll);
    Ok((transport, quirks))
}

fn open_error(summary: &DeviceSummary, error: rusb::Error, context: &'static str) -> OpenError {
    let failure = match error {
        rusb::Error::Access => OpenFailure::PermissionDenied,
        rusb::Error::Busy => OpenFailure::Busy,
        rusb::Error::NoDevice => OpenFailure::Disconnected,
        other => OpenFailure::Other(other.to_string()),
    };
    OpenError::opening(summary, context, failure)
}

/// An MTP interface claimed through libusb.
pub(super) struct LibusbTransport {
    handle: DeviceHandle<Context>,
    interface: u8,
    endpoints: Endpoints,
    phase: PhaseReader,
    /// Bytes of the OUT phase not yet sent, and the phase's length so far.
    pending_out: Vec<u8>,
    out_phase_len: usize,
    timeout: Duration,
    /// How long one event transfer waits before it is resubmitted.
    event_poll: Duration,
    /// The device descriptor's serial number string.
    pub(super) usb_serial: Option<String>,
}

impl LibusbTransport {
    fn new(handle: DeviceHandle<Context>, interface: u8, endpoints: Endpoints, event_poll: Duration) -> Self {
        // A transfer must be a whole number of packets, or a packet could overflow it.
        let packet = endpoints.bulk_max_packet_size.max(1);
        Self {
            handle,
            interface,
            endpoints,
            phase: PhaseReader::new(TRANSFER_SIZE.div_ceil(packet) * packet),
            pending_out: Vec::with_capacity(TRANSFER_SIZE),
            out_phase_len: 0,
            timeout: DEFAULT_TIMEOUT,
            event_poll,
            usb_serial: None,
        }
    }

    /// Sends the first `len` pending bytes, one transfer of at most
    /// `TRANSFER_SIZE` at a time (a device may take less than a whole transfer:
    /// QEMU's usb-mtp takes at most its 512 KiB buffer).
    fn send(&mut self, len: usize) -> Result<(), TransportError> {
        let mut sent = 0;
        while sent < len {
            let chunk = &self.pending_out[sent..len.min(sent + TRANSFER_SIZE)];
            let written = self
                .handle
                .write_bulk(self.endpoints.bulk_out, chunk, self.timeout)
                .map_err(|e| from_rusb(e, self.timeout))?;
            if written == 0 {
                return Err(TransportError::Other("the device accepted no data".into()));
            }
            sent += written;
        }
        self.pending_out.drain(..len);
        Ok(())
    }

    fn send_zero_length_packet(&mut self) -> Result<(), TransportError> {
        self.handle
            .write_bulk(self.endpoints.bulk_out, &[], self.timeout)
            .map(drop)
            .map_err(|e| from_rusb(e, self.timeout))
    }
}

fn from_rusb(error: rusb::Error, timeout: Duration) -> TransportError {
    match error {
        rusb::Error::Timeout => TransportError::Timeout(timeout),
        rusb::Error::Pipe => TransportError::Stall,
        rusb::Error::NoDevice => TransportError::Disconnected,
        other => TransportError::Other(other.to_string()),
    }
}

/// libusb's timeouts are whole milliseconds, and 0 means "forever".
fn timeout_ms(timeout: Duration) -> u32 {
    u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX).max(1)
}

/// One synchronous bulk-IN transfer. rusb's `read_bulk` reports a transfer cut
/// off by the timeout like a short one; libusb itself tells them apart.
fn bulk_in(
    handle: &DeviceHandle<Context>,
    endpoint: u8,
    buf: &mut [u8],
    timeout: Duration,
) -> Result<Received, TransportError> {
    let length =
        c_int::try_from(buf.len()).map_err(|_| TransportError::Other("bulk transfer too large".into()))?;
    let mut transferred: c_int = 0;
    // SAFETY: `handle` is an open libusb handle for the whole call; `buf` is
    // valid for writes of `length` bytes and unaliased while libusb fills it;
    // `transferred` outlives the synchronous call that writes it.
    let status = unsafe {
        rusb::ffi::libusb_bulk_transfer(
            handle.as_raw(),
            endpoint,
            buf.as_mut_ptr(),
            length,
            &mut transferred,
            timeout_ms(timeout),
        )
    };
    let len = usize::try_from(transferred).unwrap_or(0).min(buf.len());
    match status {
        0 => Ok(Received {
            len,
            cut_by_timeout: false,
        }),
        rusb::constants::LIBUSB_ERROR_TIMEOUT if len > 0 => Ok(Received {
            len,
            cut_by_timeout: true,
        }),
        rusb::constants::LIBUSB_ERROR_TIMEOUT => Err(TransportError::Timeout(timeout)),
        rusb::constants::LIBUSB_ERROR_PIPE => Err(TransportError::Stall),
        rusb::constants::LIBUSB_ERROR_NO_DEVICE => Err(TransportError::Disconnected),
        rusb::constants::LIBUSB_ERROR_OVERFLOW => Err(TransportError::Other(
            "the device sent more than a whole transfer (overflow)".into(),
        )),
        code => Err(TransportError::Other(format!("libusb error {code} on bulk IN"))),
    }
}

impl Transport for LibusbTransport {
    fn max_packet_size(&self) -> usize {
        self.endpoints.bulk_max_packet_size
    }

    fn usb_serial(&self) -> Option<&str> {
        self.usb_serial.as_deref()
    }

    fn write_phase(&mut self, data: &[u8]) -> Result<(), TransportError> {
        self.pending_out.extend_from_slice(data);
        self.out_phase_len += data.len();
        let whole_transfers = self.pending_out.len() / TRANSFER_SIZE * TRANSFER_SIZE;
        self.send(whole_transfers)
    }

    fn end_write_phase(&mut self) -> Result<(), TransportError> {
        let phase_len = std::mem::take(&mut self.out_phase_len);
        self.send(self.pending_out.len())?;
        if phase_len.is_multiple_of(self.endpoints.bulk_max_packet_size.max(1)) {
            self.send_zero_length_packet()?;
        }
        Ok(())
    }

    fn read_phase(&mut self, buf: &mut [u8]) -> Result<usize, TransportError> {
        let (handle, endpoint, timeout) = (&self.handle, self.endpoints.bulk_in, self.timeout);
        self.phase
            .read(buf, |transfer| bulk_in(handle, endpoint, transfer, timeout))
    }

    fn read_event(&mut self, buf: &mut [u8], timeout: Duration) -> Result<Option<usize>, TransportError> {
        let Some(endpoint) = self.endpoints.interrupt_in else {
            std::thread::sleep(timeout);
            return Ok(None);
        };
        let mut packet = vec![0; self.endpoints.interrupt_max_packet_size.max(1)];
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            match self
                .handle
                .read_interrupt(endpoint, &mut packet, left.min(self.event_poll))
            {
                Ok(0) => continue,
                Ok(len) => {
                    let len = len.min(buf.len());
                    buf[..len].copy_from_slice(&packet[..len]);
                    return Ok(Some(len));
                }
                Err(rusb::Error::Timeout) => continue,
                Err(e) => return Err(from_rusb(e, timeout)),
            }
        }
    }

    fn clear_halt(&mut self) -> Result<(), TransportError> {
        self.phase.reset();
        self.pending_out.clear();
        self.out_phase_len = 0;
        let cleared_in = self.handle.clear_halt(self.endpoints.bulk_in);
        let cleared_out = self.handle.clear_halt(self.endpoints.bulk_out);
        cleared_in
            .and(cleared_out)
            .map_err(|e| from_rusb(e, self.timeout))
    }

    fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    fn cancel_transaction(&mut self, transaction_id: u32) -> Result<(), TransportError> {
        let request_type = rusb::request_type(Direction::Out, RequestType::Class, Recipient::Interface);
        let data = class_request::cancel_data(transaction_id);
        self.handle
            .write_control(
                request_type,
                class_request::CANCEL,
                0,
                u16::from(self.interface),
                &data,
                self.timeout,
            )
            .map(drop)
            .map_err(|e| from_rusb(e, self.timeout))
    }

    fn device_status(&mut self) -> Result<DeviceStatus, TransportError> {
        let request_type = rusb::request_type(Direction::In, RequestType::Class, Recipient::Interface);
        let mut answer = [0u8; class_request::DEVICE_STATUS_MAX_LEN as usize];
        let len = self
            .handle
            .read_control(
                request_type,
                class_request::GET_DEVICE_STATUS,
                0,
                u16::from(self.interface),
                &mut answer,
                self.timeout,
            )
            .map_err(|e| from_rusb(e, self.timeout))?;
        DeviceStatus::parse(&answer[..len])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libusb_timeouts_never_become_infinite() {
        assert_eq!(timeout_ms(Duration::ZERO), 1);
        assert_eq!(timeout_ms(Duration::from_micros(10)), 1);
        assert_eq!(timeout_ms(Duration::from_secs(10)), 10_000);
        assert_eq!(timeout_ms(Duration::MAX), u32::MAX);
    }

    #[test]
    fn rusb_errors_map_to_transport_errors() {
        let timeout = Duration::from_secs(3);
        assert!(
            matches!(from_rusb(rusb::Error::Timeout, timeout), TransportError::Timeout(t) if t == timeout)
        );
        assert!(matches!(
            from_rusb(rusb::Error::Pipe, timeout),
            TransportError::Stall
        ));
        assert!(matches!(
            from_rusb(rusb::Error::NoDevice, timeout),
            TransportError::Disconnected
        ));
        assert!(matches!(
            from_rusb(rusb::Error::Io, timeout),
            TransportError::Other(_)
        ));
    }
}
