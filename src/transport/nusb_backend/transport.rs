//! [`Transport`] over nusb: queued bulk-IN transfers read phase by phase.

use std::io::{BufRead, Read, Write};
use std::time::{Duration, Instant};

use nusb::MaybeFuture;
use nusb::io::{EndpointRead, EndpointWrite};
use nusb::transfer::{
    Buffer, Bulk, ControlIn, ControlOut, ControlType, In, Interrupt, Out, Recipient, TransferError,
};

use crate::transport::discover::Endpoints;
use crate::transport::phase::PhaseBounds;
use crate::transport::{DEFAULT_TIMEOUT, DeviceStatus, Transport, TransportError, class_request};

/// Bytes per bulk transfer. Large transfers keep the per-transfer overhead small
/// on big downloads; a short packet still ends a transfer early.
const TRANSFER_SIZE: usize = 512 * 1024;
/// Bulk-IN transfers kept submitted, so that the transfers for the next data and
/// response phases are already waiting when a command goes out.
const QUEUED_IN_TRANSFERS: usize = 4;
/// The queue grows by one after each read timeout, up to this (see `grow_in_queue`).
const MAX_QUEUED_IN_TRANSFERS: usize = 8;
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
    /// How many bulk-IN transfers the reader keeps submitted.
    in_queue_len: usize,
    /// The container length of the IN phase under way.
    bounds: PhaseBounds,
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
            bulk_in: Some(reader(bulk_in, DEFAULT_TIMEOUT, QUEUED_IN_TRANSFERS)),
            bulk_out: Some(writer(bulk_out, DEFAULT_TIMEOUT)),
            interface,
            endpoints,
            events,
            timeout: DEFAULT_TIMEOUT,
            in_queue_withdrawn: false,
            in_queue_len: QUEUED_IN_TRANSFERS,
            bounds: PhaseBounds::default(),
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

    /// After a read timeout every queued transfer is still submitted, so the next
    /// read would submit none. Hardware keeps polling a pending transfer, but
    /// QEMU's xHCI retries a NAKed one only when the host rings the endpoint's
    /// doorbell, which a submission does: one more slot makes the next read submit.
    fn grow_in_queue(&mut self) {
        if self.in_queue_len < MAX_QUEUED_IN_TRANSFERS {
            self.in_queue_len += 1;
            if let Some(bulk_in) = self.bulk_in.as_mut() {
                bulk_in.set_num_transfers(self.in_queue_len);
            }
        }
    }

    /// A fresh reader on `endpoint`, its queue back to the normal length (or
    /// empty until the next read, while withdrawn for a data-out phase).
    fn replace_reader(&mut self, endpoint: nusb::Endpoint<Bulk, In>) {
        self.bounds.reset();
        self.in_queue_len = QUEUED_IN_TRANSFERS;
        let queued = if self.in_queue_withdrawn {
            1
        } else {
            self.in_queue_len
        };
        self.bulk_in = Some(reader(endpoint, self.timeout, queued));
    }

    /// Reads up to the phase's end: its short packet or its declared length.
    fn read_some(&mut self, buf: &mut [u8]) -> Result<usize, TransportError> {
        let (timeout, limit) = (self.timeout, self.bounds.limit(buf.len()));
        let mut phase = self.bulk_in()?.until_short_packet();
        let read = phase
            .read(&mut buf[..limit])
            .map_err(|e| from_io_error(e, timeout))?;
        if read == 0 {
            // A non-empty buffer reads 0 only at a short (or zero-length) packet.
            phase.consume_end().map_err(|_| {
                TransportError::Other("the phase ended without a short packet".into())
            })?;
        }
        self.bounds.record(&buf[..read]);
        Ok(read)
    }

    /// The declared length has been read. Bytes already buffered belong to the
    /// next phase; a transfer that ended short ended the phase; after a full
    /// transfer a zero-length packet may follow, and is swallowed if it does.
    fn settle_declared_end(&mut self) -> Result<(), TransportError> {
        let timeout = self.timeout;
        let mut phase = self.bulk_in()?.until_short_packet();
        let next = if phase.is_end() {
            Ok(&[][..])
        } else {
            phase.fill_buf()
        };
        match next {
            Ok([]) => phase.consume_end().map_err(|_| {
                TransportError::Other("the phase ended without a short packet".into())
            }),
            Ok(_) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                // Nothing followed in time: the declared length ended the phase.
                self.grow_in_queue();
                Ok(())
            }
            Err(e) => Err(from_io_error(e, timeout)),
        }
    }

    fn interface_index(&self) -> u16 {
        u16::from(self.interface.interface_number())
    }
}

/// A reader keeping `queued` transfers submitted; with 1 (nusb's default)
/// nothing is submitted before the first `read`.
fn reader(
    endpoint: nusb::Endpoint<Bulk, In>,
    timeout: Duration,
    queued: usize,
) -> EndpointRead<Bulk> {
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
        if std::mem::take(&mut self.in_queue_withdrawn) {
            let queue_len = self.in_queue_len;
            self.bulk_in()?.set_num_transfers(queue_len);
        }
        let result = if self.bounds.complete() {
            self.settle_declared_end().map(|()| 0)
        } else {
            self.read_some(buf)
        };
        match result {
            Ok(0) => self.bounds.reset(),
            Ok(_) => {}
            Err(TransportError::Timeout(_)) => self.grow_in_queue(),
            Err(_) => {}
        }
        result
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
        // One transfer per wait, cancelled when the wait ends: a transfer left
        // pending would never be retried by QEMU's xHCI (see `grow_in_queue`),
        // and the device keeps its events until it is polled again.
        let deadline = Instant::now() + timeout;
        loop {
            events.submit(Buffer::new(packet_size));
            let left = deadline.saturating_duration_since(Instant::now());
            let completion = match events.wait_next_complete(left) {
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
                Ok(()) if Instant::now() < deadline => continue,
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
        self.replace_reader(endpoint_in);
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
        self.in_queue_withdrawn = true;
        self.replace_reader(endpoint);
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
