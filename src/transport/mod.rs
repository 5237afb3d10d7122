//! How bytes reach a device: the [`Transport`] trait and its backends.
//!
//! A PTP/MTP exchange over USB is a series of *phases* on the bulk endpoints
//! (command, data, response). A phase ends with a short packet, or with a
//! zero-length packet when its length is a multiple of the packet size. The trait
//! speaks in phases so that the session layer never sees packets, and so that the
//! simulated device (`crate::sim`) can sit behind the very same calls.
//!
//! Finding and opening a real device: [`discover()`] lists what is connected,
//! [`open_device`] picks one (`--device SERIAL` or the only one) and returns it
//! opened as a `Box<dyn Transport>` with its [`DeviceSummary`]. Failures are
//! [`OpenError`]s whose messages say what to do (unlock the phone, which program
//! holds it, which udev rule is missing).
//!
//! How the transport treats each device (queued transfers, event polling, CPU
//! pinning) comes from one table in [`quirks`], computed once at open.
//!
//! QEMU's usb-mtp on QEMU's xHCI, where the real path is tested, differs from
//! phones (found with `examples/raw_probe.rs` and QEMU's traces):
//! - it sends no zero-length packet after an IN phase that fills a host
//!   transfer; phases still come apart by their container length;
//! - the xHCI retries a NAKed transfer only when the doorbell rings, and passes
//!   the No-Op TRBs of cancelled transfers to the device, which stalls them: the
//!   quirks table keeps one bulk-IN transfer queued there (four elsewhere);
//! - a SendObject whose last host transfer is a multiple of 64 bytes never
//!   completes: the zero-length packet is stalled, or (without one) the device
//!   waits for more data and stalls the IN endpoint. The file is written; the
//!   transaction fails and Cancel (0x64) + clear halt recover. About one size in
//!   64 (12 + size ≡ 0 mod 64) is affected;
//! - Get Device Status (0x67) answers nothing.

pub(crate) mod classify;
mod discover;
mod error;
mod holders;
pub mod hotplug;
#[cfg(feature = "libusb")]
mod libusb_backend;
mod nusb_backend;
pub(crate) mod phase;
mod quirks;
#[cfg(target_os = "linux")]
mod sysfs;

use std::time::Duration;

// The descriptor parsers are public for the fuzz targets (fuzz/usb_descriptors).
pub use classify::{
    CompatFunction, Evidence, Protocol, parse_extended_compat_id, parse_os_string_descriptor,
};
pub use discover::{DeviceSelector, DeviceSummary, Discovery, Endpoints, UsbIdentity, UsbSpeed};
pub use error::OpenError;
pub use quirks::Quirks;

/// The timeout a freshly opened transport uses until [`Transport::set_timeout`].
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// What went wrong below the protocol: the device, the cable or the OS.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// No answer within the timeout.
    #[error("the device did not answer within {0:?}")]
    Timeout(Duration),
    /// The endpoint stalled (the device refused or reported an error).
    #[error("the device stalled the endpoint")]
    Stall,
    /// The device went away (unplugged, or reset).
    #[error("the device was disconnected")]
    Disconnected,
    /// Anything else the OS or USB stack said.
    #[error("USB error: {0}")]
    Other(String),
}

/// One MTP/PTP interface, opened and claimed, seen as three endpoints.
///
/// Every call blocks up to the transport's timeout (see [`Transport::set_timeout`]).
pub trait Transport: Send {
    /// Largest packet on the bulk endpoints (512 at high speed, 1024 at super speed).
    fn max_packet_size(&self) -> usize;

    /// Appends bytes to the bulk-OUT phase under way. Backends may buffer.
    fn write_phase(&mut self, data: &[u8]) -> Result<(), TransportError>;

    /// Ends the bulk-OUT phase: flushes what is buffered, then sends a
    /// zero-length packet if the phase's length is a multiple of the packet size.
    fn end_write_phase(&mut self) -> Result<(), TransportError>;

    /// Reads bytes of the bulk-IN phase under way into `buf` (which must not be
    /// empty).
    ///
    /// Returns `Ok(0)` exactly once when the phase has ended; the call after that
    /// starts reading the next phase. A phase ends at a short or zero-length
    /// packet, or once the length its container header declares has been read
    /// (so a device that leaves out the zero-length packet, as QEMU's usb-mtp
    /// does when a phase fills a host transfer exactly, still gets its phases
    /// apart). Containers declaring 0xFFFFFFFF (objects of 4 GiB or more) end at
    /// the short packet only. A phase's bytes may come back in pieces of any size,
    /// whatever `buf`'s size; the first pieces stop at the 12-byte header.
    fn read_phase(&mut self, buf: &mut [u8]) -> Result<usize, TransportError>;

    /// Waits up to `timeout` for one packet on the interrupt (event) endpoint.
    /// Returns `Ok(None)` when nothing arrived in time.
    fn read_event(&mut self, buf: &mut [u8], timeout: Duration) -> Result<Option<usize>, TransportError>;

    /// Clears a halt (stall) on both bulk endpoints, dropping any partial phase.
    fn clear_halt(&mut self) -> Result<(), TransportError>;

    /// Sets the timeout for every later call but `read_event`.
    fn set_timeout(&mut self, timeout: Duration);

    /// Sends the Still Image class request *Cancel* (0x64) for `transaction_id`:
    /// the device abandons that transaction's data phase. Afterwards poll
    /// [`Transport::device_status`] until it is no longer Device Busy (0x2019).
    fn cancel_transaction(&mut self, transaction_id: u32) -> Result<(), TransportError> {
        let _ = transaction_id;
        Err(TransportError::Other(
            "this transport cannot send the Cancel request".into(),
        ))
    }

    /// The serial number string of the USB device descriptor, when the
    /// device gives one. It tells apart devices whose MTP serial is one many
    /// devices share (QEMU's usb-mtp derives it from the port it sits on).
    fn usb_serial(&self) -> Option<&str> {
        None
    }

    /// Sends the Still Image class request *Get Device Status* (0x67). After a
    /// stall, its code says why (0x201F Transaction Cancelled, 0x2019 Device Busy,
    /// 0x2001 OK) and its parameters list the halted endpoints.
    fn device_status(&mut self) -> Result<DeviceStatus, TransportError> {
        Err(TransportError::Other(
            "this transport cannot ask for the device status".into(),
        ))
    }
}

/// The answer to the Still Image class request Get Device Status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceStatus {
    /// A PTP response code: 0x2001 OK, 0x2019 Device Busy, 0x201F Transaction Cancelled…
    pub code: u16,
    /// Endpoint addresses the device has halted, when it says.
    pub params: Vec<u32>,
}

impl DeviceStatus {
    /// The halted endpoint addresses, read leniently: Android's MtpFfsHandle
    /// packs them as 16-bit values (and pads), so a parameter above 0xFF is
    /// taken as two of them; zeros are padding.
    pub fn halted_endpoints(&self) -> Vec<u8> {
        self.params
            .iter()
            .flat_map(|&param| {
                if param > 0xFF {
                    vec![param as u16, (param >> 16) as u16]
                } else {
                    vec![param as u16]
                }
            })
            .filter_map(|endpoint| u8::try_from(endpoint).ok().filter(|&e| e != 0))
            .collect()
    }

    /// Reads `wLength`, `Code`, then 32-bit parameters up to `wLength`.
    pub fn parse(bytes: &[u8]) -> Result<Self, TransportError> {
        let [length_low, length_high, code_low, code_high, rest @ ..] = bytes else {
            return Err(TransportError::Other(format!(
                "Get Device Status answered {} bytes, fewer than the 4 it must",
                bytes.len()
            )));
        };
        let declared = usize::from(u16::from_le_bytes([*length_low, *length_high]));
        let params_len = declared.saturating_sub(4).min(rest.len());
        let params = rest[..params_len]
            .chunks_exact(4)
            .map(|p| u32::from_le_bytes([p[0], p[1], p[2], p[3]]))
            .collect();
        Ok(Self {
            code: u16::from_le_bytes([*code_low, *code_high]),
            params,
        })
    }
}

/// The Still Image class requests (USB Still Image Capture Device Definition).
/// Device Reset (0x66) is left out on purpose: it can kill Android's MTP server
/// until the cable is replugged.
pub(crate) mod class_request {
    pub(crate) const CANCEL: u8 = 0x64;
    pub(crate) const GET_DEVICE_STATUS: u8 = 0x67;
    /// Room for the status header and a few endpoint parameters.
    pub(crate) const DEVICE_STATUS_MAX_LEN: u16 = 64;
    const CANCELLATION_CODE: u16 = 0x4001;

    /// Cancel's data stage: the cancellation code, then the transaction id.
    pub(crate) fn cancel_data(transaction_id: u32) -> [u8; 6] {
        let mut data = [0; 6];
        data[..2].copy_from_slice(&CANCELLATION_CODE.to_le_bytes());
        data[2..].copy_from_slice(&transaction_id.to_le_bytes());
        data
    }
}

/// Which USB library talks to the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backend {
    /// nusb (pure Rust; the default).
    #[default]
    Nusb,
    /// libusb through rusb (built with the `libusb` feature).
    #[cfg(feature = "libusb")]
    Libusb,
}

/// An opened device: the transport to talk MTP over and what was found about it.
pub struct OpenedDevice {
    /// The transport to talk MTP over.
    pub transport: Box<dyn Transport>,
    /// What was found about the device (its endpoints filled in).
    pub summary: DeviceSummary,
    /// How the transport treats this device (printed with `-v`).
    pub quirks: Quirks,
}

/// Lists the MTP/PTP devices connected, through `backend`.
pub fn discover_with(backend: Backend) -> Result<Discovery, OpenError> {
    match backend {
        Backend::Nusb => nusb_backend::discover().map(|(discovery, _)| discovery),
        #[cfg(feature = "libusb")]
        Backend::Libusb => libusb_backend::discover().map(|(discovery, _)| discovery),
    }
}

/// Opens the device `selector` names (or the only one), through `backend`.
pub fn open_device_with(backend: Backend, selector: &DeviceSelector) -> Result<OpenedDevice, OpenError> {
    match backend {
        Backend::Nusb => {
            let (mut discovery, mut handles) = nusb_backend::discover()?;
            let index = discovery.select(selector)?;
            let mut summary = discovery.devices.swap_remove(index);
            let (mut transport, quirks) = nusb_backend::open(&mut summary, &handles.swap_remove(index))?;
            transport.usb_serial.clone_from(&summary.usb.serial);
            Ok(OpenedDevice {
                transport: Box::new(transport),
                summary,
                quirks,
            })
        }
        #[cfg(feature = "libusb")]
        Backend::Libusb => {
            let (mut discovery, mut handles) = libusb_backend::discover()?;
            let index = discovery.select(selector)?;
            let mut summary = discovery.devices.swap_remove(index);
            let (mut transport, quirks) = libusb_backend::open(&mut summary, handles.swap_remove(index))?;
            transport.usb_serial.clone_from(&summary.usb.serial);
            Ok(OpenedDevice {
                transport: Box::new(transport),
                summary,
                quirks,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_status_reads_code_and_halted_endpoints() {
        let ok = DeviceStatus::parse(&[4, 0, 0x01, 0x20]).unwrap();
        assert_eq!(
            ok,
            DeviceStatus {
                code: 0x2001,
                params: vec![]
            }
        );
        let stalled = DeviceStatus::parse(&[12, 0, 0x1F, 0x20, 0x81, 0, 0, 0, 0x02, 0, 0, 0]).unwrap();
        assert_eq!(
            stalled,
            DeviceStatus {
                code: 0x201F,
                params: vec![0x81, 0x02]
            }
        );
    }

    #[test]
    fn device_status_reads_androids_packed_endpoints_leniently() {
        // MtpFfsHandle: wLength 12, code 0x201F, then IN and OUT as 16-bit values.
        let android = DeviceStatus::parse(&[12, 0, 0x1F, 0x20, 0x81, 0, 0x01, 0, 0, 0, 0, 0]).unwrap();
        assert_eq!(android.code, 0x201F);
        assert_eq!(android.halted_endpoints(), [0x81, 0x01]);
        let spec = DeviceStatus::parse(&[12, 0, 0x1F, 0x20, 0x81, 0, 0, 0, 0x02, 0, 0, 0]).unwrap();
        assert_eq!(spec.halted_endpoints(), [0x81, 0x02]);
        let ok = DeviceStatus::parse(&[8, 0, 0x01, 0x20, 0, 0, 0, 0]).unwrap();
        assert_eq!((ok.code, ok.halted_endpoints()), (0x2001, vec![]));
    }

    #[test]
    fn device_status_is_total_over_short_and_lying_answers() {
        assert!(DeviceStatus::parse(&[4, 0, 1]).is_err());
        let overlong = DeviceStatus::parse(&[200, 0, 0x19, 0x20, 0x81, 0, 0, 0, 7]).unwrap();
        assert_eq!(
            overlong,
            DeviceStatus {
                code: 0x2019,
                params: vec![0x81]
            }
        );
        let undersized = DeviceStatus::parse(&[2, 0, 0x01, 0x20, 0x81, 0, 0, 0]).unwrap();
        assert!(undersized.params.is_empty());
    }

    #[test]
    fn cancel_request_carries_the_cancellation_code_and_transaction() {
        assert_eq!(
            class_request::cancel_data(0x0102_0304),
            [0x01, 0x40, 0x04, 0x03, 0x02, 0x01]
        );
    }

    #[test]
    fn default_class_requests_say_the_transport_cannot_send_them() {
        struct Minimal;
        impl Transport for Minimal {
            fn max_packet_size(&self) -> usize {
                512
            }
            fn write_phase(&mut self, _: &[u8]) -> Result<(), TransportError> {
                Ok(())
            }
            fn end_write_phase(&mut self) -> Result<(), TransportError> {
                Ok(())
            }
            fn read_phase(&mut self, _: &mut [u8]) -> Result<usize, TransportError> {
                Ok(0)
            }
            fn read_event(&mut self, _: &mut [u8], _: Duration) -> Result<Option<usize>, TransportError> {
                Ok(None)
            }
            fn clear_halt(&mut self) -> Result<(), TransportError> {
                Ok(())
            }
            fn set_timeout(&mut self, _: Duration) {}
        }
        let mut minimal = Minimal;
        assert!(
            minimal
                .cancel_transaction(1)
                .unwrap_err()
                .to_string()
                .contains("Cancel")
        );
        assert!(
            minimal
                .device_status()
                .unwrap_err()
                .to_string()
                .contains("device status")
        );
    }

    proptest::proptest! {
        /// Any answer to Get Device Status: an error or a status whose lists are bounded
        /// by the bytes sent, never a panic.
        #[test]
        fn device_status_is_total(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..80)) {
            if let Ok(status) = DeviceStatus::parse(&bytes) {
                proptest::prop_assert!(status.params.len() <= bytes.len() / 4);
                proptest::prop_assert!(status.halted_endpoints().len() <= 2 * status.params.len());
            } else {
                proptest::prop_assert!(bytes.len() < 4);
            }
        }
    }
}
