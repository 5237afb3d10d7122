//! The bulk endpoints, driven transfer by transfer: buffers are reused, never
//! allocated per transfer, and a transfer that has already completed is taken
//! without a clock reading or a sleep (nusb's blocking wait reads the clock
//! every time, and behind QEMU's emulated xHCI that is a system call).

use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use nusb::MaybeFuture;
use nusb::transfer::{Buffer, Bulk, Completion, In, Out, TransferError};

use crate::transport::TransportError;

/// How long to wait for cancelled transfers to come back.
const CANCEL_TIMEOUT: Duration = Duration::from_secs(5);

/// `size` rounded up to whole packets, at least one: an IN transfer must
/// hold whole packets (a full packet would overflow a part of one), and an
/// OUT transfer that is not whole packets ends its phase with a short one.
fn whole_packets(size: usize, packet: usize) -> usize {
    let packet = packet.max(1);
    size.div_ceil(packet).max(1) * packet
}

/// The bulk-IN endpoint, read as a stream of transfers that each may end short.
pub(super) struct InPipe {
    endpoint: nusb::Endpoint<Bulk, In>,
    transfer_size: usize,
    /// Transfers kept submitted while a phase is read.
    depth: usize,
    timeout: Duration,
    /// The completed transfer being read.
    current: Option<Received>,
    /// Buffers of transfers read, submitted again.
    spare: Vec<Buffer>,
}

struct Received {
    buffer: Buffer,
    read: usize,
    status: Result<(), TransferError>,
    /// Its short end (short or zero-length packet) has been taken.
    end_taken: bool,
}

impl Received {
    fn unread(&self) -> &[u8] {
        &self.buffer[self.read..]
    }

    /// Ended before its requested length: the phase ends with its last byte.
    /// (A transfer cancelled part-way counts too, as in nusb's own reader.)
    fn short(&self) -> bool {
        self.buffer.len() < self.buffer.requested_len()
    }

    fn error(&self) -> Option<TransferError> {
        self.status.err().filter(|e| *e != TransferError::Cancelled)
    }
}

impl InPipe {
    /// Nothing is submitted before the first read.
    pub(super) fn new(
        endpoint: nusb::Endpoint<Bulk, In>,
        transfer_size: usize,
        depth: usize,
        timeout: Duration,
    ) -> Self {
        Self {
            transfer_size: whole_packets(transfer_size, endpoint.max_packet_size()),
            endpoint,
            depth: depth.max(1),
            timeout,
            current: None,
            spare: Vec::new(),
        }
    }

    pub(super) fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// The unread bytes of the transfer under way, after waiting for one if
    /// everything so far has been read. Empty: the transfer ended short, and
    /// [`InPipe::take_end`] takes that end.
    pub(super) fn fill(&mut self) -> Result<&[u8], TransportError> {
        loop {
            if let Some(received) = &self.current {
                if !received.unread().is_empty() {
                    break;
                }
                if let Some(error) = received.error() {
                    return Err(from_transfer_error(error));
                }
                if received.short() && !received.end_taken {
                    break;
                }
            }
            self.next_transfer()?;
        }
        Ok(self.current.as_ref().map_or(&[][..], Received::unread))
    }

    pub(super) fn consume(&mut self, len: usize) {
        if let Some(received) = &mut self.current {
            received.read = (received.read + len).min(received.buffer.len());
        }
    }

    /// Whether everything of a transfer that ended short has been read and its
    /// end not yet taken.
    pub(super) fn at_end(&self) -> bool {
        self.current
            .as_ref()
            .is_some_and(|r| r.unread().is_empty() && r.short() && !r.end_taken)
    }

    /// Takes the short end [`InPipe::at_end`] reports; false if there is none.
    pub(super) fn take_end(&mut self) -> bool {
        let at_end = self.at_end();
        if let Some(received) = self.current.as_mut().filter(|_| at_end) {
            received.end_taken = true;
        }
        at_end
    }

    /// Whether the transfer under way ended short (so the phase ends in it).
    pub(super) fn current_ended_short(&self) -> bool {
        self.current.as_ref().is_some_and(Received::short)
    }

    /// Transfers submitted and not yet taken.
    pub(super) fn pending(&self) -> usize {
        self.endpoint.pending()
    }

    /// Submits one more transfer now, beyond the queue depth: the next
    /// phase's first transfer, queued while this one is still being read.
    pub(super) fn submit_one(&mut self) {
        let buffer = self.spare_buffer();
        self.endpoint.submit(buffer);
    }

    /// Cancels every submitted transfer and drops what is buffered; returns how
    /// many received bytes were dropped with them.
    pub(super) fn cancel(&mut self) -> Result<usize, TransportError> {
        let buffered = self.current.take().map_or(0, |r| r.unread().len());
        cancel_pending(&mut self.endpoint).map(|dropped| dropped + buffered)
    }

    /// Cancels every submitted transfer, then clears the endpoint's halt.
    pub(super) fn clear_halt(&mut self) -> Result<(), TransportError> {
        self.cancel()?;
        self.endpoint.clear_halt().wait().map_err(from_nusb_error)
    }

    fn next_transfer(&mut self) -> Result<(), TransportError> {
        if let Some(done) = self.current.take()
            && done.status.is_ok()
        {
            self.spare.push(done.buffer);
        }
        while self.endpoint.pending() < self.depth {
            let buffer = self.spare_buffer();
            self.endpoint.submit(buffer);
        }
        let completion = take_completion(&mut self.endpoint, self.timeout)?;
        self.current = Some(Received {
            buffer: completion.buffer,
            read: 0,
            status: completion.status,
            end_taken: false,
        });
        Ok(())
    }

    fn spare_buffer(&mut self) -> Buffer {
        match self.spare.pop() {
            Some(mut buffer) => {
                buffer.set_requested_len(self.transfer_size);
                buffer
            }
            None => self.endpoint.allocate(self.transfer_size),
        }
    }
}

/// The bulk-OUT endpoint: a phase's bytes gathered into transfers, a few in flight.
pub(super) struct OutPipe {
    endpoint: nusb::Endpoint<Bulk, Out>,
    transfer_size: usize,
    /// Transfers in flight before a write waits for one.
    depth: usize,
    timeout: Duration,
    /// The transfer being filled.
    filling: Option<Buffer>,
    spare: Vec<Buffer>,
}

impl OutPipe {
    pub(super) fn new(
        endpoint: nusb::Endpoint<Bulk, Out>,
        transfer_size: usize,
        depth: usize,
        timeout: Duration,
    ) -> Self {
        Self {
            transfer_size: whole_packets(transfer_size, endpoint.max_packet_size()),
            endpoint,
            depth: depth.max(1),
            timeout,
            filling: None,
            spare: Vec::new(),
        }
    }

    pub(super) fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// Appends to the phase under way, submitting each transfer as it fills.
    pub(super) fn write(&mut self, mut data: &[u8]) -> Result<(), TransportError> {
        while !data.is_empty() {
            if self.filling.is_none() {
                while self.endpoint.pending() >= self.depth {
                    self.reap_one()?;
                }
                self.filling = Some(self.spare_buffer());
            }
            let buffer = self.filling.as_mut().expect("a transfer being filled");
            let len = data.len().min(buffer.remaining_capacity());
            buffer.extend_from_slice(&data[..len]);
            data = &data[len..];
            if buffer.remaining_capacity() == 0 {
                let full = self.filling.take().expect("a transfer being filled");
                self.endpoint.submit(full);
            }
        }
        Ok(())
    }

    /// Submits what is left, then a zero-length packet if the phase's last
    /// transfer ended on a packet boundary, and waits for all of them.
    pub(super) fn end_phase(&mut self) -> Result<(), TransportError> {
        let zlp = match self.filling.take() {
            Some(last) if !last.is_empty() => {
                let on_boundary = last.len() % self.endpoint.max_packet_size().max(1) == 0;
                self.endpoint.submit(last);
                on_boundary
            }
            Some(empty) => {
                self.spare.push(empty);
                true
            }
            // Every transfer of the phase was full (or the phase is empty).
            None => true,
        };
        if zlp {
            self.endpoint.submit(Buffer::new(0));
        }
        while self.endpoint.pending() > 0 {
            self.reap_one()?;
        }
        Ok(())
    }

    /// Cancels every transfer in flight and drops the one being filled.
    pub(super) fn cancel(&mut self) -> Result<usize, TransportError> {
        self.filling = None;
        cancel_pending(&mut self.endpoint)
    }

    /// Cancels every transfer in flight, then clears the endpoint's halt.
    pub(super) fn clear_halt(&mut self) -> Result<(), TransportError> {
        self.cancel()?;
        self.endpoint.clear_halt().wait().map_err(from_nusb_error)
    }

    fn reap_one(&mut self) -> Result<(), TransportError> {
        let completion = take_completion(&mut self.endpoint, self.timeout)?;
        let mut buffer = completion.buffer;
        if buffer.capacity() >= self.transfer_size {
            buffer.clear();
            self.spare.push(buffer);
        }
        completion.status.map_err(from_transfer_error)
    }

    fn spare_buffer(&mut self) -> Buffer {
        self.spare
            .pop()
            .unwrap_or_else(|| self.endpoint.allocate(self.transfer_size))
    }
}

/// The next completed transfer: taken at once when it has already completed
/// (no clock reading, no sleep), else waited for up to `timeout`.
fn take_completion<Dir: nusb::transfer::EndpointDirection>(
    endpoint: &mut nusb::Endpoint<Bulk, Dir>,
    timeout: Duration,
) -> Result<Completion, TransportError> {
    if let Poll::Ready(completion) = endpoint.poll_next_complete(&mut Context::from_waker(Waker::noop())) {
        return Ok(completion);
    }
    endpoint
        .wait_next_complete(timeout)
        .ok_or(TransportError::Timeout(timeout))
}

/// Cancels every pending transfer and waits for them to come back. Returns how
/// many bytes they had received (dropped).
pub(super) fn cancel_pending<Dir: nusb::transfer::EndpointDirection>(
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

pub(super) fn from_nusb_error(error: nusb::Error) -> TransportError {
    match error.kind() {
        nusb::ErrorKind::Disconnected => TransportError::Disconnected,
        _ => TransportError::Other(error.to_string()),
    }
}

pub(super) fn from_transfer_error(error: TransferError) -> TransportError {
    match error {
        TransferError::Stall => TransportError::Stall,
        TransferError::Disconnected => TransportError::Disconnected,
        TransferError::Cancelled => TransportError::Other("the transfer was cancelled".into()),
        other => TransportError::Other(other.to_string()),
    }
}
