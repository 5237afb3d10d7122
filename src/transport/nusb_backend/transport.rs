//! [`Transport`] over nusb: bulk-IN transfers read phase by phase.
//!
//! Several bulk-IN transfers stay submitted, so the transfers for the next data
//! and response phases are already waiting when a command goes out. How many,
//! and whether event waits poll, is the device's [`Quirks`] (one transfer and
//! polling behind QEMU's emulated xHCI, which retries a NAKed transfer only when
//! the doorbell rings and stalls the No-Op TRBs of cancelled transfers). With
//! one, the response's transfer is still queued while the data phase is read:
//! as soon as the data phase is known to end in the transfer at hand.

use std::time::{Duration, Instant};

use nusb::MaybeFuture;
use nusb::transfer::{
    Buffer, Bulk, ControlIn, ControlOut, ControlType, In, Interrupt, Out, Recipient, TransferError,
};

use super::pipes::{InPipe, OutPipe, from_transfer_error};
use crate::ptp::ContainerKind;
use crate::transport::discover::Endpoints;
use crate::transport::phase::PhaseBounds;
use crate::transport::quirks::Quirks;
use crate::transport::{DEFAULT_TIMEOUT, DeviceStatus, Transport, TransportError, class_request};

/// Bytes per bulk transfer. Large transfers keep the per-transfer overhead small
/// on big downloads; a short packet still ends a transfer early.
const TRANSFER_SIZE: usize = 512 * 1024;
/// Bulk-OUT transfers in flight before `write_phase` waits.
const QUEUED_OUT_TRANSFERS: usize = 4;
/// How long to wait for a cancelled event transfer to come back.
const CANCEL_TIMEOUT: Duration = Duration::from_secs(5);

/// An MTP interface claimed through nusb.
pub(crate) struct NusbTransport {
    interface: nusb::Interface,
    endpoints: Endpoints,
    bulk_in: InPipe,
    bulk_out: OutPipe,
    events: Option<nusb::Endpoint<Interrupt, In>>,
    timeout: Duration,
    /// Bulk-IN transfers kept submitted.
    queue_depth: usize,
    /// How long one event transfer waits before it is resubmitted.
    event_poll: Duration,
    /// The container length of the IN phase under way.
    bounds: PhaseBounds,
    /// The device descriptor's serial number string.
    pub(crate) usb_serial: Option<String>,
}

impl NusbTransport {
    pub(crate) fn new(
        interface: nusb::Interface,
        endpoints: Endpoints,
        quirks: &Quirks,
    ) -> Result<Self, nusb::Error> {
        let queue_depth = quirks.in_transfers.max(1);
        let bulk_in = interface.endpoint::<Bulk, In>(endpoints.bulk_in)?;
        let bulk_out = interface.endpoint::<Bulk, Out>(endpoints.bulk_out)?;
        let events = endpoints
            .interrupt_in
            .filter(|_| endpoints.interrupt_max_packet_size > 0)
            .map(|address| interface.endpoint::<Interrupt, In>(address))
            .transpose()?;
        Ok(Self {
            bulk_in: InPipe::new(bulk_in, TRANSFER_SIZE, queue_depth, DEFAULT_TIMEOUT),
            bulk_out: OutPipe::new(bulk_out, TRANSFER_SIZE, QUEUED_OUT_TRANSFERS, DEFAULT_TIMEOUT),
            interface,
            endpoints,
            events,
            timeout: DEFAULT_TIMEOUT,
            queue_depth,
            event_poll: quirks.event_poll.unwrap_or(Duration::MAX),
            bounds: PhaseBounds::default(),
            usb_serial: None,
        })
    }

    /// Reads up to the phase's end: its short packet or its declared length.
    fn read_some(&mut self, buf: &mut [u8]) -> Result<usize, TransportError> {
        let limit = self.bounds.limit(buf.len());
        loop {
            let available = match self.bulk_in.fill() {
                Ok(available) => available,
                Err(e) => return Err(self.after_read_error(e)),
            };
            let read = available.len().min(limit);
            buf[..read].copy_from_slice(&available[..read]);
            self.bulk_in.consume(read);
            if read == 0 {
                // An empty fill is the end of a transfer that ended short.
                self.bulk_in.take_end();
                if self.bounds.awaits_payload() {
                    continue; // the header came alone: the payload follows
                }
            }
            self.bounds.record(&buf[..read]);
            self.queue_next_phase();
            return Ok(read);
        }
    }

    /// Once a data phase is known to end within the transfer at hand, and no
    /// transfer is waiting for what comes next, queues the response's transfer
    /// now, while the data is still being read: the device has it ready, and
    /// the transaction saves a round trip through the event thread. Only data
    /// phases: a response is never followed by anything the device sends
    /// unasked, and a transfer left waiting behind QEMU's xHCI would never be
    /// retried.
    fn queue_next_phase(&mut self) {
        if self.bounds.kind() == Some(ContainerKind::Data)
            && self.bulk_in.pending() == 0
            && self.bulk_in.current_ended_short()
            && !self.bounds.awaits_payload()
        {
            self.bulk_in.submit_one();
        }
    }
    /// The declared length has been read. Bytes already buffered belong to the
    /// next phase; a transfer that ended short ended the phase; after a full
    /// transfer a zero-length packet may follow, and is swallowed if it does.
    fn settle_declared_end(&mut self) -> Result<(), TransportError> {
        if self.bulk_in.at_end() {
            self.bulk_in.take_end();
            return Ok(());
        }
        match self.bulk_in.fill() {
            Ok([]) => {
                self.bulk_in.take_end();
                Ok(())
            }
            Ok(_) => Ok(()),
            Err(e) => match self.after_read_error(e) {
                // Nothing followed in time: the declared length ended the phase.
                TransportError::Timeout(_) => Ok(()),
                other => Err(other),
            },
        }
    }

    /// Passes a read error on. After a timeout with a single queued transfer,
    /// that transfer is withdrawn so that the next read submits (ringing the
    /// doorbell, which QEMU's xHCI needs); with several, hardware keeps polling
    /// them and they stay.
    fn after_read_error(&mut self, error: TransportError) -> TransportError {
        if !matches!(error, TransportError::Timeout(_)) || self.queue_depth > 1 {
            return error;
        }
        match self.bulk_in.cancel() {
            Ok(0) => error,
            Ok(bytes) => TransportError::Other(format!(
                "{bytes} bytes arrived just as a timed-out read was withdrawn; the phase is lost"
            )),
            Err(withdraw_error) => withdraw_error,
        }
    }

    fn interface_index(&self) -> u16 {
        u16::from(self.interface.interface_number())
    }
}

impl Transport for NusbTransport {
    fn max_packet_size(&self) -> usize {
        self.endpoints.bulk_max_packet_size
    }

    fn usb_serial(&self) -> Option<&str> {
        self.usb_serial.as_deref()
    }

    fn write_phase(&mut self, data: &[u8]) -> Result<(), TransportError> {
        self.bulk_out.write(data)
    }

    fn end_write_phase(&mut self) -> Result<(), TransportError> {
        self.bulk_out.end_phase()
    }

    fn read_phase(&mut self, buf: &mut [u8]) -> Result<usize, TransportError> {
        if buf.is_empty() {
            return Err(TransportError::Other(
                "read_phase needs room for at least one byte".into(),
            ));
        }
        let read = if self.bounds.complete() {
            self.settle_declared_end().map(|()| 0)?
        } else {
            self.read_some(buf)?
        };
        if read == 0 {
            self.bounds.reset();
        }
        Ok(read)
    }

    fn read_event(&mut self, buf: &mut [u8], timeout: Duration) -> Result<Option<usize>, TransportError> {
        let packet_size = self.endpoints.interrupt_max_packet_size;
        let Some(events) = self.events.as_mut() else {
            // No event endpoint: nothing can ever arrive.
            std::thread::sleep(timeout);
            return Ok(None);
        };
        // One transfer per wait, cancelled when the wait ends: the device keeps
        // its events until it is polled again, and a transfer left pending would
        // keep the next wait from submitting (behind QEMU's xHCI).
        let deadline = Instant::now() + timeout;
        loop {
            events.submit(Buffer::new(packet_size));
            let wait = deadline
                .saturating_duration_since(Instant::now())
                .min(self.event_poll);
            let completion = match events.wait_next_complete(wait) {
                Some(completion) => completion,
                None => {
                    events.cancel_all();
                    events
                        .wait_next_complete(CANCEL_TIMEOUT)
                        .ok_or(TransportError::Timeout(CANCEL_TIMEOUT))?
                }
            };
            let packet = &completion.buffer;
            match completion.status {
                // An event that arrived just as the wait ended still counts.
                Ok(()) | Err(TransferError::Cancelled) if !packet.is_empty() => {
                    let length = packet.len().min(buf.len());
                    buf[..length].copy_from_slice(&packet[..length]);
                    return Ok(Some(length));
                }
                Ok(()) | Err(TransferError::Cancelled) if Instant::now() < deadline => continue,
                Ok(()) | Err(TransferError::Cancelled) => return Ok(None),
                Err(error) => return Err(from_transfer_error(error)),
            }
        }
    }

    fn clear_halt(&mut self) -> Result<(), TransportError> {
        // Partial phases are dropped on purpose: that is what clearing a halt means.
        let cleared = self.bulk_in.clear_halt().and(self.bulk_out.clear_halt());
        self.bounds.reset();
        cleared
    }

    fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
        self.bulk_in.set_timeout(timeout);
        self.bulk_out.set_timeout(timeout);
    }

    fn cancel_transaction(&mut self, transaction_id: u32) -> Result<(), TransportError> {
        let data = class_request::cancel_data(transaction_id);
        self.interface
            .control_out(
                ControlOut {
                    control_type: ControlType::Class,
                    recipient: Recipient::Interface,
                    request: class_request::CANCEL,
                    value: 0,
                    index: self.interface_index(),
                    data: &data,
                },
                self.timeout,
            )
            .wait()
            .map_err(from_transfer_error)
    }

    fn device_status(&mut self) -> Result<DeviceStatus, TransportError> {
        let answer = self
            .interface
            .control_in(
                ControlIn {
                    control_type: ControlType::Class,
                    recipient: Recipient::Interface,
                    request: class_request::GET_DEVICE_STATUS,
                    value: 0,
                    index: self.interface_index(),
                    length: class_request::DEVICE_STATUS_MAX_LEN,
                },
                self.timeout,
            )
            .wait()
            .map_err(from_transfer_error)?;
        DeviceStatus::parse(&answer)
    }
}
