//! The host's end of a simulated cable: [`SimTransport`] speaks the
//! [`Transport`] trait over a [`DeviceEnd`], as a USB backend does over a
//! real device — OUT phases cut into transfers of whole packets ending short
//! or with a zero-length packet, IN phases read through the same
//! `PhaseReader` the libusb backend uses, transfer by transfer.

use std::time::{Duration, Instant};

use super::link::{BulkIn, DeviceEnd, EndpointError, class_request};
use crate::transport::phase::{PhaseReader, Received};
use crate::transport::{DEFAULT_TIMEOUT, DeviceStatus, Transport, TransportError};

/// Bytes per host transfer, in and out (a multiple of every packet size).
const TRANSFER_SIZE: usize = 64 * 1024;

/// wLength of the host's Get Device Status request.
const DEVICE_STATUS_LEN: usize = 64;

/// The initiator's end of a simulated USB connection (see
/// [`super::SimDevice::connect`]). Dropping it closes the host's side only:
/// the device keeps whatever it was doing, as a phone does when the program
/// talking to it is killed.
pub struct SimTransport {
    end: DeviceEnd,
    reader: PhaseReader,
    /// OUT bytes not yet sent: less than a transfer.
    out: Vec<u8>,
    /// Bytes of the OUT phase under way.
    out_total: u64,
    timeout: Duration,
    /// The serial number the device's USB descriptor gives.
    usb_serial: String,
}

impl SimTransport {
    pub(crate) fn new(end: DeviceEnd) -> SimTransport {
        SimTransport {
            usb_serial: end.identity().usb_serial().to_owned(),
            end,
            reader: PhaseReader::new(TRANSFER_SIZE),
            out: Vec::with_capacity(TRANSFER_SIZE),
            out_total: 0,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// The device's end of this cable.
    pub fn device_end(&self) -> DeviceEnd {
        self.end.clone()
    }

    fn error(&self, error: EndpointError) -> TransportError {
        match error {
            EndpointError::Nak => TransportError::Timeout(self.timeout),
            EndpointError::Stall => TransportError::Stall,
            EndpointError::Disconnected => TransportError::Disconnected,
        }
    }

    /// One OUT transfer; a NAK is the host's timeout.
    fn send(&mut self, transfer: &[u8]) -> Result<(), TransportError> {
        self.end.bulk_out(transfer).map_err(|e| self.error(e))
    }
}

/// One IN transfer into `buf`. The device's time model is waited out (the
/// host's transfer is pending meanwhile) up to the timeout; a device with
/// nothing coming times out at once, so that tests do not wait.
fn transfer_in(end: &mut DeviceEnd, buf: &mut [u8], timeout: Duration) -> Result<Received, TransportError> {
    let deadline = Instant::now() + timeout;
    loop {
        let received = end.bulk_in(buf.len()).map_err(|e| match e {
            EndpointError::Nak => TransportError::Timeout(timeout),
            EndpointError::Stall => TransportError::Stall,
            EndpointError::Disconnected => TransportError::Disconnected,
        })?;
        let (bytes, cut_by_timeout) = match received {
            BulkIn::Data(bytes) => (bytes, false),
            BulkIn::Cut(bytes) => (bytes, true),
            BulkIn::Nak { ready_in: Some(wait) } => {
                let now = Instant::now();
                if now + wait > deadline {
                    std::thread::sleep(deadline.saturating_duration_since(now));
                    return Err(TransportError::Timeout(timeout));
                }
                std::thread::sleep(wait);
                continue;
            }
            BulkIn::Nak { ready_in: None } => return Err(TransportError::Timeout(timeout)),
        };
        buf[..bytes.len()].copy_from_slice(&bytes);
        return Ok(Received {
            len: bytes.len(),
            cut_by_timeout,
        });
    }
}

impl Transport for SimTransport {
    fn max_packet_size(&self) -> usize {
        self.end.max_packet_size()
    }

    fn usb_serial(&self) -> Option<&str> {
        Some(&self.usb_serial)
    }

    fn write_phase(&mut self, mut data: &[u8]) -> Result<(), TransportError> {
        self.out_total += data.len() as u64;
        while !data.is_empty() {
            let take = (TRANSFER_SIZE - self.out.len()).min(data.len());
            self.out.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.out.len() == TRANSFER_SIZE {
                let transfer = std::mem::take(&mut self.out);
                let sent = self.send(&transfer);
                self.out = transfer;
                self.out.clear();
                sent?;
            }
        }
        Ok(())
    }

    fn end_write_phase(&mut self) -> Result<(), TransportError> {
        let packet = self.max_packet_size() as u64;
        let total = std::mem::take(&mut self.out_total);
        let rest = std::mem::take(&mut self.out);
        if !rest.is_empty() {
            self.send(&rest)?;
        }
        if total.is_multiple_of(packet) {
            self.send(&[])?;
        }
        Ok(())
    }

    fn read_phase(&mut self, buf: &mut [u8]) -> Result<usize, TransportError> {
        let (end, timeout) = (&mut self.end, self.timeout);
        self.reader
            .read(buf, |transfer| transfer_in(end, transfer, timeout))
    }

    fn read_event(&mut self, buf: &mut [u8], timeout: Duration) -> Result<Option<usize>, TransportError> {
        let Some(event) = self.end.wait_event(timeout).map_err(|e| self.error(e))? else {
            return Ok(None);
        };
        if event.len() > buf.len() {
            return Err(TransportError::Other(format!(
                "event of {} bytes overflows a {}-byte buffer",
                event.len(),
                buf.len()
            )));
        }
        buf[..event.len()].copy_from_slice(&event);
        Ok(Some(event.len()))
    }

    fn clear_halt(&mut self) -> Result<(), TransportError> {
        self.reader.reset();
        self.out.clear();
        self.out_total = 0;
        self.end.clear_halt().map_err(|e| self.error(e))
    }

    fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    fn cancel_transaction(&mut self, transaction_id: u32) -> Result<(), TransportError> {
        let data = crate::transport::class_request::cancel_data(transaction_id);
        self.end
            .control(class_request::CANCEL, 0, 0, &data)
            .map(drop)
            .map_err(|e| self.error(e))
    }

    fn device_status(&mut self) -> Result<DeviceStatus, TransportError> {
        let mut status = self
            .end
            .control(class_request::GET_DEVICE_STATUS, 0, 0, &[])
            .map_err(|e| self.error(e))?;
        status.truncate(DEVICE_STATUS_LEN);
        DeviceStatus::parse(&status)
    }
}
