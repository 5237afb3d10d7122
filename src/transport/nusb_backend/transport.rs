//! [`Transport`] over nusb: queued bulk-IN transfers read phase by phase.
//!
//! Several bulk-IN transfers stay submitted, so the transfers for the next data
//! and response phases are already waiting when a command goes out. How many,
//! and whether event waits poll, is the device's [`Quirks`] (one transfer and
//! polling behind QEMU's emulated xHCI, which retries a NAKed transfer only when
//! the doorbell rings and stalls the No-Op TRBs of cancelled transfers).

use std::io::{BufRead, Read, Write};
use std::time::{Duration, Instant};

use nusb::MaybeFuture;
use nusb::io::{EndpointRead, EndpointWrite};
use nusb::transfer::{
    Buffer, Bulk, ControlIn, ControlOut, ControlType, In, Interrupt, Out, Recipient, TransferError,
};

use crate::transport::discover::Endpoints;
use crate::transport::phase::PhaseBounds;
use crate::transport::quirks::Quirks;
use crate::transport::{DEFAULT_TIMEOUT, DeviceStatus, Transport, TransportError, class_request};

/// Bytes per bulk transfer. Large transfers keep the per-transfer overhead small
/// on big downloads; a short packet still ends a transfer early.
const TRANSFER_SIZE: usize = 512 * 1024;
/// Bulk-OUT transfers in flight before `write_phase` waits.
const QUEUED_OUT_TRANSFERS: usize = 4;
/// How long to wait for cancelled transfers to come back.
const CANCEL_TIMEOUT: Duration = Duration::from_secs(5);

/// An MTP interface claimed through nusb.
pub(crate) struct NusbTransport {
    interface: nusb::Interface,
    endpoints: Endpoints,
    // `None` only while being rebuilt (clear halt) or after a failure there.
    bulk_in: Option<EndpointRead<Bulk>>,
    bulk_out: Option<EndpointWrite<Bulk>>,
    events: Option<nusb::Endpoint<Interrupt, In>>,
    timeout: Duration,
    /// Bulk-IN transfers the reader keeps submitted.
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
            bulk_in: Some(reader(bulk_in, DEFAULT_TIMEOUT, queue_depth)),
            bulk_out: Some(writer(bulk_out, DEFAULT_TIMEOUT)),
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

    fn bulk_in(&mut self) -> Result<&mut EndpointRead<Bulk>, TransportError> {
        self.bulk_in.as_mut().ok_or_else(endpoints_lost)
    }

    fn bulk_out(&mut self) -> Result<&mut EndpointWrite<Bulk>, TransportError> {
        self.bulk_out.as_mut().ok_or_else(endpoints_lost)
    }

    /// Reads up to the phase's end: its short packet or its declared length.
    fn read_some(&mut self, buf: &mut [u8]) -> Result<usize, TransportError> {
        let limit = self.bounds.limit(buf.len());
        loop {
            let mut phase = self.bulk_in()?.until_short_packet();
            let read = match phase.read(&mut buf[..limit]) {
                Ok(read) => read,
                Err(e) => return Err(self.after_read_error(e)),
            };
            if read == 0 {
                // A non-empty buffer reads 0 only at a short (or zero-length) packet.
                phase.consume_end().map_err(|_| ended_without_short_packet())?;
                if self.bounds.awaits_payload() {
                    continue; // the header came alone: the payload follows
                }
            }
            self.bounds.record(&buf[..read]);
            return Ok(read);
        }
    }

    /// The declared length has been read. Bytes already buffered belong to the
    /// next phase; a transfer that ended short ended the phase; after a full
    /// transfer a zero-length packet may follow, and is swallowed if it does.
    fn settle_declared_end(&mut self) -> Result<(), TransportError> {
        let mut phase = self.bulk_in()?.until_short_packet();
        let next = if phase.is_end() {
            Ok(&[][..])
        } else {
            phase.fill_buf()
        };
        match next {
            Ok([]) => phase.consume_end().map_err(|_| ended_without_short_packet()),
            Ok(_) => Ok(()),
            Err(e) => match self.after_read_error(e) {
                // Nothing followed in time: the declared length ended the phase.
                TransportError::Timeout(_) => Ok(()),
                other => Err(other),
            },
        }
    }

    /// Maps a read error. After a timeout with a single queued transfer, that
    /// transfer is withdrawn so that the next read submits (ringing the
    /// doorbell, which QEMU's xHCI needs); with several, hardware keeps polling
    /// them and they stay.
    fn after_read_error(&mut self, error: std::io::Error) -> TransportError {
        let error = from_io_error(error, self.timeout);
        if !matches!(error, TransportError::Timeout(_)) || self.queue_depth > 1 {
            return error;
        }
        match self.withdraw_in_queue() {
            Ok(0) => error,
            Ok(bytes) => TransportError::Other(format!(
                "{bytes} bytes arrived just as a timed-out read was withdrawn; the phase is lost"
            )),
            Err(withdraw_error) => withdraw_error,
        }
    }

    /// Cancels the queued bulk-IN transfers and starts a fresh reader; returns
    /// how many received bytes were dropped.
    fn withdraw_in_queue(&mut self) -> Result<usize, TransportError> {
        let bulk_in = self.bulk_in.take().ok_or_else(endpoints_lost)?;
        let mut endpoint = bulk_in.into_inner();
        let dropped = cancel_pending(&mut endpoint);
        self.bulk_in = Some(reader(endpoint, self.timeout, self.queue_depth));
        dropped
    }

    fn interface_index(&self) -> u16 {
        u16::from(self.interface.interface_number())
    }
}

/// A reader keeping `queued` transfers submitted; with 1 (nusb's default)
/// nothing is submitted before the first `read`.
fn reader(endpoint: nusb::Endpoint<Bulk, In>, timeout: Duration, queued: usize) -> EndpointRead<Bulk> {
    endpoint
        .reader(TRANSFER_SIZE)
        .with_read_timeout(timeout)
        .with_num_transfers(queued)
}

fn writer(endpoint: nusb::Endpoint<Bulk, Out>, timeout: Duration) -> EndpointWrite<Bulk> {
    endpoint
        .writer(TRANSFER_SIZE)
        .with_num_transfers(QUEUED_OUT_TRANSFERS)
        .with_write_timeout(timeout)
}

fn endpoints_lost() -> TransportError {
    TransportError::Other("the bulk endpoints were lost after a failed clear halt: reopen the device".into())
}

fn ended_without_short_packet() -> TransportError {
    TransportError::Other("the phase ended without a short packet".into())
}

/// Cancels every pending transfer and waits for them to come back. Returns how
/// many bytes they had received (dropped).
fn cancel_pending<Dir: nusb::transfer::EndpointDirection>(
    endpoint: &mut nusb::Endpoint<impl nusb::transfer::BulkOrInterrupt, Dir>,
) -> Result<usize, TransportError> {
    endpoint.cancel_all();
    let deadline = Instant::now() + CANCEL_TIMEOUT;
    let mut dropped = 0;
    while endpoint.pending() > 0 {
        let completion = endpoint
            .wait_next_complete(deadline.saturating_duration_since(Instant::now()))
            .ok_or(TransportError::Timeout(CANCEL_TIMEOUT))?;
        if let Err(TransferError::Disconnected) = completion.status {
            return Err(TransportError::Disconnected);
        }
        dropped += completion.actual_len;
    }
    Ok(dropped)
}

fn from_transfer_error(error: TransferError) -> TransportError {
    match error {
        TransferError::Stall => TransportError::Stall,
        TransferError::Disconnected => TransportError::Disconnected,
        TransferError::Cancelled => TransportError::Other("the transfer was cancelled".into()),
        other => TransportError::Other(other.to_string()),
    }
}

fn from_io_error(error: std::io::Error, timeout: Duration) -> TransportError {
    if let Some(transfer) = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<TransferError>())
    {
        return from_transfer_error(*transfer);
    }
    match error.kind() {
        std::io::ErrorKind::TimedOut => TransportError::Timeout(timeout),
        std::io::ErrorKind::NotConnected | std::io::ErrorKind::ConnectionAborted => {
            TransportError::Disconnected
        }
        _ => TransportError::Other(error.to_string()),
    }
}

fn from_nusb_error(error: nusb::Error) -> TransportError {
    match error.kind() {
        nusb::ErrorKind::Disconnected => TransportError::Disconnected,
        _ => TransportError::Other(error.to_string()),
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
        let timeout = self.timeout;
        self.bulk_out()?
            .write_all(data)
            .map_err(|e| from_io_error(e, timeout))
    }

    fn end_write_phase(&mut self) -> Result<(), TransportError> {
        let timeout = self.timeout;
        self.bulk_out()?
            .flush_end()
            .map_err(|e| from_io_error(e, timeout))
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
        let (Some(bulk_in), Some(bulk_out)) = (self.bulk_in.take(), self.bulk_out.take()) else {
            return Err(endpoints_lost());
        };
        let mut endpoint_in = bulk_in.into_inner();
        let mut endpoint_out = bulk_out.into_inner();
        // Partial phases are dropped on purpose: that is what clearing a halt means.
        let cancelled = cancel_pending(&mut endpoint_in).and(cancel_pending(&mut endpoint_out));
        let cleared = cancelled.and_then(|_| {
            endpoint_in.clear_halt().wait().map_err(from_nusb_error)?;
            endpoint_out.clear_halt().wait().map_err(from_nusb_error)
        });
        self.bounds.reset();
        self.bulk_in = Some(reader(endpoint_in, self.timeout, self.queue_depth));
        self.bulk_out = Some(writer(endpoint_out, self.timeout));
        cleared
    }

    fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
        if let Some(bulk_in) = self.bulk_in.as_mut() {
            bulk_in.set_read_timeout(timeout);
        }
        if let Some(bulk_out) = self.bulk_out.as_mut() {
            bulk_out.set_write_timeout(timeout);
        }
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
