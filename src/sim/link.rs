//! The simulated USB link: bulk phases in both directions, the interrupt
//! endpoint, and the faults that fire on them. [`SimTransport`] is the
//! initiator's end of the cable.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::content::ContentReader;
use super::fault::FaultAction;
use super::responder::{DataSource, Reply};
use super::state::{Link, State};
use super::{Shared, SimDevice};
use crate::ptp::container::HEADER_LEN;
use crate::ptp::{ContainerKind, Header, Message, OperationCode, ResponseCode};
use crate::transport::{Transport, TransportError};

/// Bulk endpoints' packet size (USB 2.0 high speed).
pub const MAX_PACKET_SIZE: usize = 512;

/// One bulk-IN phase (a data or a response container) being read.
pub(crate) struct InPhase {
    op: OperationCode,
    is_data: bool,
    /// The container's first bytes: its header, and the whole payload when
    /// it is a dataset built in memory.
    head: Vec<u8>,
    head_sent: usize,
    body: Option<ContentReader>,
    body_left: u64,
    total: u64,
    /// The content could not be read further: the next read stalls.
    broken: bool,
}

impl InPhase {
    fn response(message: &Message) -> InPhase {
        let head = message.encode();
        InPhase {
            op: OperationCode(message.code),
            is_data: false,
            total: head.len() as u64,
            head,
            head_sent: 0,
            body: None,
            body_left: 0,
            broken: false,
        }
    }

    fn data(op: OperationCode, transaction: u32, source: DataSource) -> io::Result<InPhase> {
        let (payload, body, body_left) = match source {
            DataSource::Bytes(bytes) => (bytes, None, 0),
            DataSource::Content { content, offset, len } => {
                (Vec::new(), Some(content.reader_at(offset)?), len)
            }
        };
        let payload_len = payload.len() as u64 + body_left;
        let mut head = Vec::with_capacity(HEADER_LEN + payload.len());
        Header::for_data(op.0, transaction, payload_len).encode(&mut head);
        head.extend(payload);
        Ok(InPhase {
            op,
            is_data: true,
            total: head.len() as u64 + body_left,
            head,
            head_sent: 0,
            body,
            body_left,
            broken: false,
        })
    }

    fn remaining(&self) -> u64 {
        (self.head.len() - self.head_sent) as u64 + self.body_left
    }

    /// Copies the next bytes straight into `buf`: the head, then the
    /// content. When the content fails, what was read before still goes
    /// out; the failure is reported by the next call.
    fn fill(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.broken {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let from_head = (self.head.len() - self.head_sent).min(buf.len());
        buf[..from_head].copy_from_slice(&self.head[self.head_sent..self.head_sent + from_head]);
        self.head_sent += from_head;
        let mut n = from_head;
        while n < buf.len() && self.body_left > 0 {
            let want = usize::try_from(self.body_left)
                .unwrap_or(usize::MAX)
                .min(buf.len() - n);
            // A file that shrank under the device reads 0 bytes: a failure too.
            let got = match self.body.as_mut().map(|r| r.read(&mut buf[n..n + want])) {
                Some(Ok(got)) if got > 0 => got,
                _ if n > 0 => {
                    self.broken = true;
                    return Ok(n);
                }
                _ => return Err(io::ErrorKind::UnexpectedEof.into()),
            };
            n += got;
            self.body_left -= got as u64;
        }
        Ok(n)
    }
}

/// Where the payload of an OUT data phase goes.
pub(crate) enum Sink {
    /// Kept in memory: a dataset, or an upload to an in-memory storage.
    Memory(Vec<u8>),
    /// An upload written straight to a served folder; removed unless kept.
    Disk(DiskUpload),
    /// Read and dropped (an upload the device will refuse).
    Discard,
}

/// A file being uploaded into a served folder. Dropping it before
/// [`DiskUpload::keep`] removes the partial file, as Android does when a
/// transfer fails.
pub(crate) struct DiskUpload {
    file: File,
    pub(crate) path: PathBuf,
    kept: bool,
}

impl DiskUpload {
    pub(crate) fn create(path: PathBuf) -> io::Result<DiskUpload> {
        let file = File::options().write(true).create_new(true).open(&path)?;
        Ok(DiskUpload {
            file,
            path,
            kept: false,
        })
    }

    /// Keeps the file, dated `mtime` (the device's local time).
    pub(crate) fn keep(mut self, mtime: chrono::NaiveDateTime) -> io::Result<PathBuf> {
        if let Some(time) = mtime.and_local_timezone(chrono::Local).earliest() {
            self.file.set_modified(time.into())?;
        }
        self.file.sync_all()?;
        self.kept = true;
        Ok(self.path.clone())
    }
}

impl Drop for DiskUpload {
    fn drop(&mut self) {
        if !self.kept {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// An OUT data phase as it arrives: the container header, then the payload
/// streamed into a sink.
pub(crate) struct OutData {
    header: Vec<u8>,
    pub(crate) sink: Sink,
    pub(crate) received: u64,
    pub(crate) error: Option<io::Error>,
}

impl OutData {
    pub(crate) fn new(sink: Sink) -> OutData {
        OutData {
            header: Vec::with_capacity(HEADER_LEN),
            sink,
            received: 0,
            error: None,
        }
    }

    fn write(&mut self, mut bytes: &[u8]) {
        let need = HEADER_LEN - self.header.len();
        let take = need.min(bytes.len());
        self.header.extend(&bytes[..take]);
        bytes = &bytes[take..];
        if bytes.is_empty() {
            return;
        }
        self.received += bytes.len() as u64;
        match &mut self.sink {
            Sink::Memory(buffer) => buffer.extend(bytes),
            Sink::Disk(upload) => {
                if self.error.is_none() {
                    self.error = upload.file.write_all(bytes).err();
                }
            }
            Sink::Discard => {}
        }
    }

    /// Whether a whole data container arrived (its header says Data).
    pub(crate) fn is_data_container(&self) -> bool {
        Header::decode(&self.header).is_ok_and(|h| h.kind == ContainerKind::Data)
    }
}

/// Operations whose command is followed by an OUT data phase.
fn has_out_data(op: OperationCode) -> bool {
    [OperationCode::SEND_OBJECT_INFO, OperationCode::SEND_OBJECT].contains(&op)
}

impl State {
    fn queue_reply(&mut self, link: &mut Link, op: OperationCode, transaction: u32, reply: Reply) {
        let mut code = reply.code;
        if let Some(source) = reply.data {
            match InPhase::data(op, transaction, source) {
                Ok(phase) => link.incoming.push_back(phase),
                // The file could not be opened: no data phase, an error instead.
                Err(_) => code = ResponseCode::GENERAL_ERROR,
            }
        }
        let params = if code == reply.code {
            reply.params
        } else {
            Vec::new()
        };
        link.incoming.push_back(InPhase::response(&Message::response(
            code.0,
            transaction,
            &params,
        )));
    }

    fn write_out(&mut self, link: &mut Link, data: &[u8]) -> Result<(), TransportError> {
        if link.halted {
            return Err(TransportError::Stall);
        }
        // A device busy sending does not read: the host's OUT transfer waits.
        if !link.incoming.is_empty() {
            return Err(TransportError::Timeout(link.timeout));
        }
        self.stats.out_bytes += data.len() as u64;
        match &mut link.awaiting {
            Some((_, out)) => out.write(data),
            None => link.command.extend_from_slice(data),
        }
        Ok(())
    }

    /// Ends an OUT phase: runs the command (or the command waiting for this
    /// data) and queues its answer. Returns the latency to apply.
    fn end_out(&mut self, link: &mut Link) -> Result<Duration, TransportError> {
        if link.halted {
            return Err(TransportError::Stall);
        }
        if let Some((command, data)) = link.awaiting.take() {
            let op = OperationCode(command.code);
            let reply = self.execute(link, &command, Some(data));
            self.queue_reply(link, op, command.transaction_id, reply);
            return Ok(Duration::ZERO);
        }
        let bytes = std::mem::take(&mut link.command);
        if bytes.is_empty() {
            return Ok(Duration::ZERO);
        }
        // Garbage or a stray data container is dropped, as a device that
        // cannot parse a request does; the initiator then times out.
        let Ok(command) = Message::decode(&bytes) else {
            return Ok(Duration::ZERO);
        };
        if command.kind != ContainerKind::Command {
            return Ok(Duration::ZERO);
        }
        let op = OperationCode(command.code);
        self.stats.transactions += 1;
        *self.stats.by_operation.entry(op).or_default() += 1;
        link.last_transaction = command.transaction_id;
        if has_out_data(op) && self.config.profile.supports(op) {
            let sink = self.begin_out_data(link, &command);
            link.awaiting = Some((command, OutData::new(sink)));
        } else {
            let reply = self.execute(link, &command, None);
            self.queue_reply(link, op, command.transaction_id, reply);
        }
        Ok(self.config.latency)
    }

    fn read_in(&mut self, link: &mut Link, buf: &mut [u8]) -> Result<usize, TransportError> {
        if link.halted {
            return Err(TransportError::Stall);
        }
        if buf.is_empty() {
            return Err(TransportError::Other(
                "read_phase needs a non-empty buffer".into(),
            ));
        }
        let Some(phase) = link.incoming.front_mut() else {
            // Nothing to send: the host's IN transfer waits out its timeout.
            return Err(TransportError::Timeout(link.timeout));
        };
        if phase.remaining() == 0 {
            if phase.total % MAX_PACKET_SIZE as u64 == 0 {
                self.stats.zero_length_packets += 1;
            }
            link.incoming.pop_front();
            return Ok(0);
        }
        let mut limit = buf.len();
        if phase.is_data {
            match self.faults.budget(phase.op) {
                (_, Some(action)) => return Err(fire(link, action)),
                (budget, None) => limit = usize::try_from(budget).unwrap_or(usize::MAX).min(limit),
            }
        }
        match phase.fill(&mut buf[..limit]) {
            Ok(n) => {
                if phase.is_data {
                    self.faults.count(phase.op, n as u64);
                }
                self.stats.in_bytes += n as u64;
                Ok(n)
            }
            // The device's own read failed: it stalls, as phones do on disk errors.
            Err(_) => {
                link.halted = true;
                Err(TransportError::Stall)
            }
        }
    }
}

/// What a firing fault does to the link, and what the initiator sees.
fn fire(link: &mut Link, action: FaultAction) -> TransportError {
    match action {
        FaultAction::Disconnect { .. } => {
            link.unplugged = true;
            TransportError::Disconnected
        }
        FaultAction::Stall { .. } => {
            link.halted = true;
            TransportError::Stall
        }
        FaultAction::Timeout { .. } | FaultAction::Respond { .. } => TransportError::Timeout(link.timeout),
    }
}

/// The initiator's end of a simulated USB connection (see
/// [`SimDevice::connect`]). Dropping it unplugs the cable.
pub struct SimTransport {
    shared: Arc<Shared>,
    generation: u64,
}

impl SimTransport {
    pub(crate) fn new(device: &SimDevice, generation: u64) -> SimTransport {
        SimTransport {
            shared: Arc::clone(&device.shared),
            generation,
        }
    }

    /// Runs `f` on this connection's link, if it is still plugged in.
    fn with_link<R>(
        &self,
        f: impl FnOnce(&mut State, &mut Link) -> Result<R, TransportError>,
    ) -> Result<R, TransportError> {
        let mut state = self.shared.lock();
        let mut link = match state.link.take() {
            Some(link) if link.generation == self.generation => link,
            other => {
                state.link = other;
                return Err(TransportError::Disconnected);
            }
        };
        let result = f(&mut state, &mut link);
        if link.unplugged {
            drop(link);
            self.shared.events.notify_all();
        } else {
            state.link = Some(link);
        }
        result
    }
}

impl Transport for SimTransport {
    fn max_packet_size(&self) -> usize {
        MAX_PACKET_SIZE
    }

    fn write_phase(&mut self, data: &[u8]) -> Result<(), TransportError> {
        self.with_link(|state, link| state.write_out(link, data))
    }

    fn end_write_phase(&mut self) -> Result<(), TransportError> {
        let latency = self.with_link(|state, link| state.end_out(link))?;
        // Outside the lock, so the device's owner (unlock, add_file) is not held up.
        if !latency.is_zero() {
            std::thread::sleep(latency);
        }
        Ok(())
    }

    fn read_phase(&mut self, buf: &mut [u8]) -> Result<usize, TransportError> {
        self.with_link(|state, link| state.read_in(link, buf))
    }

    fn read_event(&mut self, buf: &mut [u8], timeout: Duration) -> Result<Option<usize>, TransportError> {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.lock();
        loop {
            let link = state
                .link
                .as_mut()
                .filter(|l| l.generation == self.generation)
                .ok_or(TransportError::Disconnected)?;
            if let Some(event) = link.events.pop_front() {
                if event.len() > buf.len() {
                    return Err(TransportError::Other(format!(
                        "event of {} bytes overflows a {}-byte buffer",
                        event.len(),
                        buf.len()
                    )));
                }
                buf[..event.len()].copy_from_slice(&event);
                return Ok(Some(event.len()));
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            state = self.shared.wait_events(state, deadline - now);
        }
    }

    fn clear_halt(&mut self) -> Result<(), TransportError> {
        self.with_link(|_, link| {
            link.halted = false;
            link.incoming.clear();
            link.command.clear();
            link.awaiting = None;
            link.pending_send = None;
            Ok(())
        })
    }

    fn set_timeout(&mut self, timeout: Duration) {
        let _ = self.with_link(|_, link| {
            link.timeout = timeout;
            Ok(())
        });
    }
}

impl Drop for SimTransport {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        if state
            .link
            .as_ref()
            .is_some_and(|l| l.generation == self.generation)
        {
            state.link = None;
        }
    }
}
