//! [`Transport`] over nusb: queued bulk-IN transfers read phase by phase.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use nusb::MaybeFuture;
use nusb::io::{EndpointRead, EndpointWrite};
use nusb::transfer::{
    Buffer, Bulk, ControlIn, ControlOut, ControlType, In, Interrupt, Out, Recipient, TransferError,
};

use crate::transport::discover::Endpoints;
use crate::transport::{DEFAULT_TIMEOUT, DeviceStatus, Transport, TransportError, class_request};

/// Bytes per bulk transfer. Large transfers keep the per-transfer overhead small
/// on big downloads; a short packet still ends a transfer early.
const TRANSFER_SIZE: usize = 512 * 1024;
/// Bulk-IN transfers kept submitted, so that the transfers for the next data and
/// response phases are already waiting when a command goes out.
const QUEUED_IN_TRANSFERS: usize = 4;
/// Bulk-OUT transfers in flight before `write_phase` waits.
const QUEUED_OUT_TRANSFERS: usize = 4;
/// How long to wait for cancelled transfers to come back.
const CANCEL_TIMEOUT: Duration = Duration::from_secs(5);

/// An MTP interface claimed through nusb.
pub struct NusbTransport {
    interface: nusb::Interface,
    endpoints: Endpoints,
    // `None` only while being rebuilt (clear halt) or after a failure there.
    bulk_in: Option<EndpointRead<Bulk>>,
    bulk_out: Option<EndpointWrite<Bulk>>,
    events: Option<nusb::Endpoint<Interrupt, In>>,
    timeout: Duration,
    /// Bulk-IN transfers withdrawn for a data-out phase; resubmitted at the next read.
    in_queue_withdrawn: bool,
}

impl NusbTransport {
    pub(crate) fn new(
        interface: nusb::Interface,
        endpoints: Endpoints,
    ) -> Result<Self, nusb::Error> {
        let bulk_in = interface.endpoint::<Bulk, In>(endpoints.bulk_in)?;
        let bulk_out = interface.endpoint::<Bulk, Out>(endpoints.bulk_out)?;
        let events = endpoints
            .interrupt_in
            .filter(|_| endpoints.interrupt_max_packet_size > 0)
            .map(|address| interface.endpoint::<Interrupt, In>(address))
            .transpose()?;
        Ok(Self {
            bulk_in: Some(reader(bulk_in, DEFAULT_TIMEOUT, true)),
            bulk_out: Some(writer(bulk_out, DEFAULT_TIMEOUT)),
            interface,
            endpoints,
            events,
            timeout: DEFAULT_TIMEOUT,
            in_queue_withdrawn: false,
        })
    }

    /// The endpoints in use.
    pub fn endpoints(&self) -> Endpoints {
        self.endpoints
    }

    fn bulk_in(&mut self) -> Result<&mut EndpointRead<Bulk>, TransportError> {
        self.bulk_in.as_mut().ok_or_else(endpoints_lost)
    }

    fn bulk_out(&mut self) -> Result<&mut EndpointWrite<Bulk>, TransportError> {
        self.bulk_out.as_mut().ok_or_else(endpoints_lost)
    }

    fn interface_index(&self) -> u16 {
        u16::from(self.interface.interface_number())
    }
}

fn reader(
    endpoint: nusb::Endpoint<Bulk, In>,
    timeout: Duration,
    queued: bool,
) -> EndpointRead<Bulk> {
    // With one transfer (the default) nusb submits only inside `read`.
    let reader = endpoint.reader(TRANSFER_SIZE).with_read_timeout(timeout);
    if queued {
        reader.with_num_transfers(QUEUED_IN_TRANSFERS)
    } else {
        reader
    }
}

fn writer(endpoint: nusb::Endpoint<Bulk, Out>, timeout: Duration) -> EndpointWrite<Bulk> {
    endpoint
        .writer(TRANSFER_SIZE)
        .with_num_transfers(QUEUED_OUT_TRANSFERS)
        .with_write_timeout(timeout)
}

fn endpoints_lost() -> TransportError {
    TransportError::Other(
        "the bulk endpoints were lost after a failed clear halt: reopen the device".into(),
    )
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
        let timeout = self.timeout;
        let requeue = std::mem::take(&mut self.in_queue_withdrawn);
        let bulk_in = self.bulk_in()?;
        if requeue {
            bulk_in.set_num_transfers(QUEUED_IN_TRANSFERS);
        }
        let mut phase = bulk_in.until_short_packet();
        let read = phase.read(buf).map_err(|e| from_io_error(e, timeout))?;
        if read == 0 {
            // A non-empty buffer reads 0 only at a short (or zero-length) packet.
            phase.consume_end().map_err(|_| {
                TransportError::Other("the phase ended without a short packet".into())
            })?;
        }
        Ok(read)
    }

    fn read_event(
        &mut self,
        buf: &mut [u8],
        timeout: Duration,
    ) -> Result<Option<usize>, TransportError> {
        let packet_size = self.endpoints.interrupt_max_packet_size;
        let Some(events) = self.events.as_mut() else {
            // No event endpoint: nothing can ever arrive.
            std::thread::sleep(timeout);
            return Ok(None);
        };
        let deadline = Instant::now() + timeout;
        loop {
            if events.pending() == 0 {
                events.submit(Buffer::new(packet_size));
            }
            let Some(completion) =
                events.wait_next_complete(deadline.saturating_duration_since(Instant::now()))
            else {
                return Ok(None);
            };
            completion.status.map_err(from_transfer_error)?;
            let mut packet = completion.buffer;
            let length = packet.len().min(buf.len());
            buf[..length].copy_from_slice(&packet[..length]);
            let was_empty = packet.is_empty();
            packet.clear();
            events.submit(packet);
            if !was_empty {
                return Ok(Some(length));
            }
            if Instant::now() >= deadline {
                return Ok(None);
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
        self.bulk_in = Some(reader(endpoint_in, self.timeout, !self.in_queue_withdrawn));
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

    fn prepare_data_out(&mut self) -> Result<(), TransportError> {
        if self.in_queue_withdrawn {
            return Ok(());
        }
        let bulk_in = self.bulk_in.take().ok_or_else(endpoints_lost)?;
        let mut endpoint = bulk_in.into_inner();
        let dropped = cancel_pending(&mut endpoint);
        self.bulk_in = Some(reader(endpoint, self.timeout, false));
        self.in_queue_withdrawn = true;
        match dropped? {
            0 => Ok(()),
            bytes => Err(TransportError::Other(format!(
                "{bytes} bytes arrived from the device outside any phase and were dropped"
            ))),
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
