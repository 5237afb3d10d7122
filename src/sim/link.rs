//! The simulated USB link, device side: bulk OUT transfers assembled into
//! containers for the [`Server`], its answers cut into packets of the
//! endpoint's size on bulk IN, the class requests on the control endpoint, the
//! interrupt endpoint, and the faults and quirks that act there.
//! [`DeviceEnd`] is the device's end of one plugged-in cable.

use std::collections::VecDeque;
use std::io::{self, Read};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::content::ContentReader;
use super::fault::{FaultAction, Garble};
use super::model::Model;
use super::responder::{DataSource, OutData, Reply, Server};
use crate::ptp::HEADER_LEN;
use crate::ptp::{ContainerKind, EventCode, Header, Message, OperationCode, ResponseCode};

/// The Still Image class requests a host sends on the control endpoint.
pub mod class_request {
    /// Cancel Request: the host abandons a transaction (data: 0x4001, transaction id).
    pub const CANCEL: u8 = 0x64;
    /// Device Reset Request. Never send it to Android: it kills the MTP server
    /// until the cable is replugged.
    pub const RESET: u8 = 0x66;
    /// Get Device Status Request.
    pub const GET_DEVICE_STATUS: u8 = 0x67;
}

/// The bulk endpoints' speed, which sets their packet size.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Speed {
    /// USB 2.0 high speed: 512-byte bulk packets.
    #[default]
    High,
    /// USB 3 super speed: 1024-byte bulk packets.
    Super,
}

impl Speed {
    /// The bulk endpoints' max packet size.
    pub fn max_packet_size(self) -> usize {
        match self {
            Speed::High => 512,
            Speed::Super => 1024,
        }
    }
}

/// How an endpoint refused a transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    /// The device does not take (OUT) or has nothing to give (IN, control):
    /// the host's transfer waits until its timeout.
    #[error("the device NAKs: nothing moves until the host's timeout")]
    Nak,
    /// The endpoint is halted until the host clears the halt.
    #[error("the endpoint is halted")]
    Stall,
    /// The cable is unplugged (or the link was replaced by a new one).
    #[error("the device is disconnected")]
    Disconnected,
}

/// What one bulk-IN transfer brings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BulkIn {
    /// Whole packets, at most the transfer's length: the transfer ends short
    /// (a phase ends) when the length is not a multiple of the packet size.
    /// Empty: a zero-length packet.
    Data(Vec<u8>),
    /// Nothing to send yet. `ready_in`: when the device will have the first
    /// byte (its time model); `None`: nothing is coming until the host acts.
    Nak {
        /// Time until the answer's first byte.
        ready_in: Option<Duration>,
    },
    /// An armed fault cut the transfer here, mid-packet; the next call
    /// reports the fault (a timeout fault: a NAK, after which the phase goes on).
    Cut(Vec<u8>),
}

/// The device's state behind its handles: the model and the link plugged in.
pub(crate) struct Device {
    pub(crate) model: Model,
    pub(crate) link: Option<Link>,
    generation: u64,
}

impl Device {
    pub(crate) fn new(model: Model) -> Device {
        Device {
            model,
            link: None,
            generation: 0,
        }
    }

    /// A fresh link (a replug, or a bus reset): no session, nothing in flight.
    /// Returns its generation.
    pub(crate) fn plug(&mut self) -> u64 {
        self.generation += 1;
        self.model.stats.connections += 1;
        self.link = Some(Link::new(self.generation));
        self.generation
    }

    /// The generation of the link plugged in, if any.
    pub(crate) fn generation_plugged(&self) -> Option<u64> {
        self.link.as_ref().map(|l| l.generation)
    }

    /// The link of `generation`, if it is still the one plugged in.
    fn link(&mut self, generation: u64) -> Result<(&mut Model, &mut Link), EndpointError> {
        match &mut self.link {
            Some(link) if link.generation == generation => Ok((&mut self.model, link)),
            _ => Err(EndpointError::Disconnected),
        }
    }

    /// Queues an event for an open session. Returns whether it was queued.
    pub(crate) fn send_event(&mut self, code: EventCode, params: &[u32]) -> bool {
        self.link.as_mut().is_some_and(|l| l.server.event(code, params))
    }

    /// After objects appeared on the device's side: handles and ObjectAdded
    /// events for each, when an initiator is connected with a session open.
    pub(crate) fn announce_added(&mut self, storage: u32, paths: &[String]) {
        let listening = self.link.as_ref().is_some_and(|l| l.server.session_open());
        if !listening || self.model.locked {
            return;
        }
        for path in paths {
            let key = super::model::ObjKey::new(storage, path.as_str());
            let handle = self.model.handles.assign(&key);
            self.send_event(EventCode::OBJECT_ADDED, &[handle]);
        }
    }
}

/// The device and a signal for whoever waits on it (events, unplugs).
pub(crate) struct Shared {
    device: Mutex<Device>,
    changed: Condvar,
}

impl Shared {
    pub(crate) fn new(model: Model) -> Shared {
        Shared {
            device: Mutex::new(Device::new(model)),
            changed: Condvar::new(),
        }
    }

    /// The device; a panic elsewhere while holding it leaves it usable.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Device> {
        self.device
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Wakes whoever waits for an event or an unplug.
    pub(crate) fn notify(&self) {
        self.changed.notify_all();
    }

    fn wait<'a>(&self, guard: MutexGuard<'a, Device>, timeout: Duration) -> MutexGuard<'a, Device> {
        match self.changed.wait_timeout(guard, timeout) {
            Ok((guard, _)) => guard,
            Err(poisoned) => poisoned.into_inner().0,
        }
    }
}

/// One IN phase (a data or a response container) being sent.
struct InPhase {
    op: OperationCode,
    is_data: bool,
    /// The container's first bytes: its header, and the whole payload when
    /// it is a dataset built in memory.
    head: Vec<u8>,
    sent: u64,
    body: Option<ContentReader>,
    body_left: u64,
    total: u64,
    /// Where the payload's packets start: 12 when the header goes alone.
    packets_from: u64,
    /// The content could not be read further: the next read fails.
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
            sent: 0,
            body: None,
            body_left: 0,
            packets_from: 0,
            broken: false,
        }
    }

    fn data(
        op: OperationCode,
        transaction: u32,
        source: DataSource,
        split_header: bool,
    ) -> io::Result<InPhase> {
        let (payload, body, body_left) = match source {
            DataSource::Bytes(bytes) => (bytes, None, 0),
            DataSource::Content { content, offset, len } => {
                (Vec::new(), Some(content.reader_at(offset)?), len)
            }
        };
        let payload_len = payload.len() as u64 + body_left;
        let mut header = Vec::with_capacity(HEADER_LEN);
        Header::for_data(op.0, transaction, payload_len).encode(&mut header);
        // The header goes in front of the payload in its own buffer: a listing of
        // 100,000 objects is tens of MiB, not to be held twice.
        let mut head = payload;
        head.splice(0..0, header);
        let total = head.len() as u64 + body_left;
        Ok(InPhase {
            op,
            is_data: true,
            head,
            sent: 0,
            body,
            body_left,
            total,
            packets_from: if split_header && total > HEADER_LEN as u64 {
                HEADER_LEN as u64
            } else {
                0
            },
            broken: false,
        })
    }

    /// Breaks the data container as `garble` says: its stated length, or bytes
    /// past it (a dataset only: an object's bytes stream from its content).
    fn garble(&mut self, garble: Option<&Garble>) {
        match garble {
            Some(Garble::DataLength(length)) => self.head[..4].copy_from_slice(&length.to_le_bytes()),
            Some(Garble::DataLonger(extra)) if self.body.is_none() => {
                self.head.extend((0..*extra).map(|i| (i % 251) as u8));
                self.total += u64::from(*extra);
            }
            _ => {}
        }
    }

    fn remaining(&self) -> u64 {
        self.total - self.sent
    }

    /// The rest of the packet under way.
    fn packet_left(&self, packet: usize) -> usize {
        let packet = packet as u64;
        let left = if self.sent < self.packets_from {
            self.packets_from - self.sent
        } else {
            packet - (self.sent - self.packets_from) % packet
        };
        usize::try_from(left.min(self.remaining())).unwrap_or(usize::MAX)
    }

    /// The size of the packet under way (the header's own packet, a full
    /// one, or the phase's last).
    fn packet_size(&self, packet: usize) -> usize {
        if self.sent < self.packets_from {
            return self.packets_from as usize;
        }
        let start = self.packets_from + (self.sent - self.packets_from) / packet as u64 * packet as u64;
        usize::try_from((self.total - start).min(packet as u64)).unwrap_or(packet)
    }

    /// Whether the phase's last packet is full (a zero-length packet may follow).
    fn ends_on_packet_boundary(&self, packet: usize) -> bool {
        (self.total - self.packets_from).is_multiple_of(packet as u64)
    }

    /// Appends the next `len` bytes to `out`: the head, then the content.
    /// When the content fails, what was read before still goes out; the
    /// failure is reported by the next call.
    fn take(&mut self, len: usize, out: &mut Vec<u8>) -> io::Result<usize> {
        if self.broken {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let start = out.len();
        let head_at = usize::try_from(self.sent)
            .unwrap_or(usize::MAX)
            .min(self.head.len());
        let from_head = (self.head.len() - head_at).min(len);
        out.extend_from_slice(&self.head[head_at..head_at + from_head]);
        let want = len - from_head;
        if want > 0 {
            out.resize(start + len, 0);
            let mut n = from_head;
            while n < len {
                // A file that shrank under the device reads 0 bytes: a failure too.
                let got = match self
                    .body
                    .as_mut()
                    .map(|r| r.read(&mut out[start + n..start + len]))
                {
                    Some(Ok(got)) if got > 0 => got,
                    _ => {
                        out.truncate(start + n);
                        if n == 0 {
                            return Err(io::ErrorKind::UnexpectedEof.into());
                        }
                        self.broken = true;
                        break;
                    }
                };
                n += got;
                self.body_left -= got as u64;
            }
        }
        let taken = out.len() - start;
        self.sent += taken as u64;
        Ok(taken)
    }
}

/// One plugged-in USB connection: its endpoints and the MTP server behind them.
pub(crate) struct Link {
    generation: u64,
    pub(crate) server: Server,
    /// The OUT container being assembled when it is a command.
    command: Vec<u8>,
    /// A command whose OUT data phase is arriving, and where that data goes.
    awaiting: Option<(Message, OutData)>,
    /// A container ended by its length on a packet boundary: the host's
    /// zero-length packet follows and is swallowed.
    expect_zlp: bool,
    /// IN phases queued for the host, in order.
    incoming: VecDeque<InPhase>,
    /// The last IN phase filled its last packet: a zero-length packet is due.
    zlp_due: bool,
    /// The first byte of the queued answer is not ready before this.
    ready_at: Option<Instant>,
    halted: bool,
    /// An error a fault fired mid-transfer, for the next IN call.
    pending: Option<EndpointError>,
    /// The server is stuck in a transaction it will never finish (Samsung's
    /// partial-read hang) until a Cancel or a bus reset.
    hung: bool,
    /// The server is gone (Android after the class reset) until replug.
    dead: bool,
    /// The device cancelled a transfer itself (a disk error): Get Device
    /// Status says so once (MtpFfsHandle's mCanceled).
    device_cancelled: bool,
    /// Set when a fault pulls the cable: the link is dropped.
    unplugged: bool,
    /// The transaction id of the last command, for a Cancel's stale response.
    last_transaction: u32,
}

impl Link {
    fn new(generation: u64) -> Link {
        Link {
            generation,
            server: Server::default(),
            command: Vec::new(),
            awaiting: None,
            expect_zlp: false,
            incoming: VecDeque::new(),
            zlp_due: false,
            ready_at: None,
            halted: false,
            pending: None,
            hung: false,
            dead: false,
            device_cancelled: false,
            unplugged: false,
            last_transaction: 0,
        }
    }

    /// Whether the device is still sending (and so does not read commands).
    fn busy_sending(&self) -> bool {
        !self.incoming.is_empty() || self.zlp_due
    }

    /// Forgets the transaction under way, in both directions.
    fn drop_transaction(&mut self) {
        self.incoming.clear();
        self.zlp_due = false;
        self.ready_at = None;
        self.command.clear();
        self.awaiting = None;
        self.expect_zlp = false;
        self.pending = None;
        self.hung = false;
        self.server.abandon();
    }

    fn bulk_out(&mut self, model: &mut Model, transfer: &[u8]) -> Result<(), EndpointError> {
        if self.dead || self.hung {
            return Err(EndpointError::Nak);
        }
        if self.halted {
            return Err(EndpointError::Stall);
        }
        let packet = model.config.speed.max_packet_size();
        let qemu_uploads = model.config.quirks.qemu_uploads;
        if transfer.is_empty() {
            if qemu_uploads {
                // QEMU's usb-mtp stalls any OUT transfer too short for a header.
                self.halted = true;
                return Err(EndpointError::Stall);
            }
            if std::mem::take(&mut self.expect_zlp) {
                return Ok(());
            }
            let under_way =
                self.awaiting.as_ref().is_some_and(|(_, d)| d.len() > 0) || !self.command.is_empty();
            if under_way {
                self.end_out(model);
            }
            return Ok(());
        }
        // A device busy sending does not read: the host's OUT transfer waits.
        if self.awaiting.is_none() && self.busy_sending() {
            return Err(EndpointError::Nak);
        }
        self.expect_zlp = false;
        let transfer = self.out_fault_budget(model, transfer)?;
        model.stats.out_bytes += transfer.len() as u64;
        let (so_far, declared) = match &mut self.awaiting {
            // QEMU's usb-mtp ends an upload at a transfer that is not a
            // multiple of 64 bytes, whatever its declared length.
            Some((command, data)) if qemu_uploads && command.code == OperationCode::SEND_OBJECT.0 => {
                data.write(transfer);
                if !transfer.len().is_multiple_of(64) {
                    self.end_out(model);
                }
                return Ok(());
            }
            Some((_, data)) => {
                data.write(transfer);
                (data.len(), data.declared_len())
            }
            None => {
                self.command.extend_from_slice(transfer);
                let declared = Header::decode(&self.command)
                    .ok()
                    .map(|h| u64::from(h.length))
                    .filter(|&len| len != u64::from(u32::MAX));
                (self.command.len() as u64, declared)
            }
        };
        let short = !transfer.len().is_multiple_of(packet);
        let complete = declared.is_some_and(|len| so_far >= len);
        if complete || short {
            self.expect_zlp = complete && !short;
            self.end_out(model);
        }
        Ok(())
    }

    /// The part of an OUT transfer an armed fault lets through: all of it,
    /// unless the fault's byte count runs out within it. Then the bytes up
    /// to the limit reach the device, and the fault fires (the host's write
    /// fails).
    fn out_fault_budget<'t>(
        &mut self,
        model: &mut Model,
        transfer: &'t [u8],
    ) -> Result<&'t [u8], EndpointError> {
        let Some((command, data)) = &mut self.awaiting else {
            return Ok(transfer);
        };
        let op = OperationCode(command.code);
        let (budget, fired) = model.faults.budget(op);
        let passing = usize::try_from(budget).unwrap_or(usize::MAX).min(transfer.len());
        if fired.is_none() && passing == transfer.len() {
            model.faults.count(op, passing as u64);
            return Ok(transfer);
        }
        data.write(&transfer[..passing]);
        model.stats.out_bytes += passing as u64;
        model.faults.count(op, passing as u64);
        let action = match fired {
            Some(action) => action,
            None => model
                .faults
                .budget(op)
                .1
                .expect("a fault whose budget ran out fires"),
        };
        if matches!(action, FaultAction::Disconnect { .. }) {
            self.abandon_upload(model);
        }
        Err(self.fire(action))
    }

    /// The transaction under way is abandoned (a Cancel, a halt, a pulled
    /// cable): a device that writes uploads as they arrive keeps what it
    /// had written of one.
    fn abandon_upload(&mut self, model: &mut Model) {
        if !model.config.quirks.qemu_uploads {
            return;
        }
        if let Some((command, data)) = self.awaiting.take()
            && command.code == OperationCode::SEND_OBJECT.0
        {
            self.server.keep_written_part(model, data);
        }
    }

    /// An OUT container is complete: runs the command (or the command
    /// waiting for this data) and queues its answer.
    fn end_out(&mut self, model: &mut Model) {
        // The phone's first-byte time counts from here: building the answer
        // is part of it, not added to it (the responder's own CPU work is the
        // simulator's cost, not the phone's).
        let received = Instant::now();
        if let Some((command, data)) = self.awaiting.take() {
            let reply = self.server.execute(model, &command, Some(data));
            self.queue_reply(model, &command, reply, received);
            return;
        }
        let bytes = std::mem::take(&mut self.command);
        // Garbage or a stray data container is dropped, as a device that
        // cannot parse a request does; the host then times out.
        let Ok(command) = Message::decode(&bytes) else {
            return;
        };
        if command.kind != ContainerKind::Command {
            return;
        }
        self.last_transaction = command.transaction_id;
        match self.server.receive_command(model, &command) {
            Some(data) => self.awaiting = Some((command, data)),
            None => {
                let reply = self.server.execute(model, &command, None);
                self.queue_reply(model, &command, reply, received);
            }
        }
    }

    fn queue_reply(&mut self, model: &mut Model, command: &Message, reply: Reply, received: Instant) {
        if reply.hangs {
            self.hung = true;
            return;
        }
        let op = OperationCode(command.code);
        let garble = model.faults.garble_for(op);
        let transaction = match garble {
            Some(Garble::WrongTransactionId) => command.transaction_id.wrapping_add(1),
            _ => command.transaction_id,
        };
        let mut code = reply.code;
        if let Some(source) = reply.data {
            let source = match &garble {
                Some(Garble::DataPayload(bytes)) => DataSource::Bytes(bytes.clone()),
                _ => source,
            };
            match InPhase::data(op, transaction, source, model.config.quirks.split_header) {
                Ok(mut phase) => {
                    phase.garble(garble.as_ref());
                    self.incoming.push_back(phase);
                }
                // The file could not be opened: no data phase, an error instead.
                Err(_) => code = ResponseCode::GENERAL_ERROR,
            }
        }
        let params = if code == reply.code {
            reply.params
        } else {
            Vec::new()
        };
        let response = Message::response(code.0, transaction, &params);
        self.incoming.push_back(InPhase::response(&response));
        let delay = model.config.timing.first_byte_delay(reply.touched) + model.config.latency;
        self.ready_at = (!delay.is_zero()).then(|| received + delay);
    }

    fn bulk_in(&mut self, model: &mut Model, max_len: usize) -> Result<BulkIn, EndpointError> {
        if let Some(error) = self.pending.take() {
            return Err(error);
        }
        if self.halted {
            return Err(EndpointError::Stall);
        }
        if self.dead || self.hung {
            return Ok(BulkIn::Nak { ready_in: None });
        }
        if model.config.quirks.qemu_uploads && self.awaiting.is_some() {
            // QEMU's usb-mtp stalls a read while it waits for OUT data.
            return Err(EndpointError::Stall);
        }
        if let Some(ready_at) = self.ready_at {
            let now = Instant::now();
            if ready_at > now {
                return Ok(BulkIn::Nak {
                    ready_in: Some(ready_at - now),
                });
            }
            self.ready_at = None;
        }
        let packet = model.config.speed.max_packet_size();
        let max_len = max_len.max(1);
        let mut out = Vec::with_capacity(max_len.min(1 << 20));
        loop {
            if out.len() >= max_len {
                break;
            }
            if std::mem::take(&mut self.zlp_due) {
                // The zero-length packet ends this transfer (alone, if it is empty).
                model.stats.zero_length_packets += 1;
                return Ok(BulkIn::Data(out));
            }
            let Some(phase) = self.incoming.front_mut() else {
                break;
            };
            let short_packet = phase.packet_size(packet) < packet;
            let natural = phase.packet_left(packet).min(max_len - out.len());
            let mut len = natural;
            if phase.is_data {
                match model.faults.budget(phase.op) {
                    (_, Some(action)) => {
                        let error = self.fire(action);
                        if out.is_empty() {
                            return Err(error);
                        }
                        self.pending = Some(error);
                        return Ok(BulkIn::Cut(out));
                    }
                    (budget, None) => len = usize::try_from(budget).unwrap_or(usize::MAX).min(len),
                }
            }
            let (op, is_data) = (phase.op, phase.is_data);
            let taken = phase.take(len, &mut out);
            let finished = phase.remaining() == 0;
            let zlp =
                finished && phase.ends_on_packet_boundary(packet) && model.config.quirks.zero_length_packets;
            match taken {
                Ok(n) => {
                    if is_data {
                        model.faults.count(op, n as u64);
                    }
                    model.stats.in_bytes += n as u64;
                    if n < len {
                        // The content ran out under the device: it stalls on the next read.
                        return Ok(BulkIn::Cut(out));
                    }
                }
                // The device's own read failed: it cancels the transfer by
                // stalling both bulk endpoints, and sends no response.
                Err(_) => {
                    self.cancel_by_device();
                    if out.is_empty() {
                        return Err(EndpointError::Stall);
                    }
                    self.pending = Some(EndpointError::Stall);
                    return Ok(BulkIn::Cut(out));
                }
            }
            if finished {
                self.incoming.pop_front();
                self.zlp_due = zlp;
            }
            if len < natural {
                // A fault's budget ran out mid-packet; the fault fires on the next call.
                return Ok(BulkIn::Cut(out));
            }
            if short_packet && !zlp {
                break; // a short packet ends the transfer
            }
        }
        if out.is_empty() {
            return Ok(BulkIn::Nak { ready_in: None });
        }
        Ok(BulkIn::Data(out))
    }

    /// The device abandons the transfer under way because of its own error.
    fn cancel_by_device(&mut self) {
        self.halted = true;
        self.device_cancelled = true;
        self.incoming.clear();
        self.zlp_due = false;
        self.server.abandon();
    }

    /// What a firing fault does to the link, and what the host sees.
    fn fire(&mut self, action: FaultAction) -> EndpointError {
        match action {
            FaultAction::Disconnect { .. } => {
                self.unplugged = true;
                EndpointError::Disconnected
            }
            FaultAction::Stall { .. } => {
                self.halted = true;
                EndpointError::Stall
            }
            FaultAction::ReadError { .. } => {
                self.cancel_by_device();
                EndpointError::Stall
            }
            FaultAction::Timeout { .. } | FaultAction::Respond { .. } | FaultAction::Garble { .. } => {
                EndpointError::Nak
            }
        }
    }

    fn clear_halt(&mut self, model: &mut Model) {
        // A halt ends the transaction; on a device that is not halted, only a
        // server that is not stuck writing (not Android's) drops what it had.
        if std::mem::take(&mut self.halted) || !model.config.quirks.wedge_on_abandon {
            self.abandon_upload(model);
            self.drop_transaction();
        }
    }

    fn control(&mut self, model: &mut Model, request: u8, data: &[u8]) -> Result<Vec<u8>, EndpointError> {
        if self.dead {
            return Err(EndpointError::Nak);
        }
        let quirks = model.config.quirks;
        match request {
            class_request::CANCEL => {
                model.stats.cancels += 1;
                let transaction = data.get(2..6).map_or(self.last_transaction, |id| {
                    u32::from_le_bytes([id[0], id[1], id[2], id[3]])
                });
                let object_transfer =
                    self.hung || self.incoming.front().is_some_and(|p| p.is_data && p.sent > 0);
                self.abandon_upload(model);
                self.drop_transaction();
                if object_transfer && quirks.ffs_device_status {
                    // MtpServer answers the abandoned GetObject with Transaction
                    // Cancelled: stale data the host must drain.
                    let response = Message::response(ResponseCode::TRANSACTION_CANCELLED.0, transaction, &[]);
                    self.incoming.push_back(InPhase::response(&response));
                }
                if quirks.busy_after_cancel {
                    self.server.busy_until_status = true;
                }
                Ok(Vec::new())
            }
            class_request::RESET => {
                model.stats.class_resets += 1;
                self.abandon_upload(model);
                self.drop_transaction();
                if quirks.reset_kills_server {
                    self.dead = true;
                } else {
                    self.server = Server::default();
                }
                Ok(Vec::new())
            }
            class_request::GET_DEVICE_STATUS => {
                model.stats.status_requests += 1;
                if quirks.no_device_status {
                    return Err(EndpointError::Nak);
                }
                Ok(self.device_status(quirks.ffs_device_status))
            }
            _ => Err(EndpointError::Stall),
        }
    }

    /// Get Device Status' answer: wLength, code, halted endpoints.
    fn device_status(&mut self, ffs_layout: bool) -> Vec<u8> {
        const BULK_IN: u8 = 0x81;
        const BULK_OUT: u8 = 0x01;
        let ok = ResponseCode::OK.0.to_le_bytes();
        let cancelled = ResponseCode::TRANSACTION_CANCELLED.0.to_le_bytes();
        if std::mem::take(&mut self.server.busy_until_status) {
            let busy = ResponseCode::DEVICE_BUSY.0.to_le_bytes();
            return vec![4, 0, busy[0], busy[1]];
        }
        let device_cancelled = std::mem::take(&mut self.device_cancelled);
        match (ffs_layout, device_cancelled) {
            // MtpFfsHandle takes wLength from a pointer's size (8) and packs
            // the endpoints as 16-bit values after the code.
            (true, false) => vec![8, 0, ok[0], ok[1], 0, 0, 0, 0],
            (true, true) => vec![
                12,
                0,
                cancelled[0],
                cancelled[1],
                BULK_IN,
                0,
                BULK_OUT,
                0,
                0,
                0,
                0,
                0,
            ],
            (false, false) => vec![4, 0, ok[0], ok[1]],
            (false, true) => vec![
                12,
                0,
                cancelled[0],
                cancelled[1],
                BULK_IN,
                0,
                0,
                0,
                BULK_OUT,
                0,
                0,
                0,
            ],
        }
    }
}

/// The device's end of one plugged-in cable ([`super::SimDevice::plug`]):
/// what a USB device controller hands the device's firmware. Drive it from
/// anywhere that moves bytes — the in-process [`super::SimTransport`], or a
/// FunctionFS gadget's endpoint files. Every call is one transfer (or one
/// control request); the device reacts at once, its time model shows as
/// [`BulkIn::Nak`] with a `ready_in`.
///
/// Cloning gives another handle on the same end (the endpoints of one cable).
#[derive(Clone)]
pub struct DeviceEnd {
    shared: Arc<Shared>,
    generation: u64,
}

impl std::fmt::Debug for DeviceEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceEnd")
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

impl DeviceEnd {
    pub(crate) fn new(shared: Arc<Shared>, generation: u64) -> DeviceEnd {
        DeviceEnd { shared, generation }
    }

    /// Runs `f` on this end's link, if it is still plugged in.
    fn with_link<R>(
        &self,
        f: impl FnOnce(&mut Model, &mut Link) -> Result<R, EndpointError>,
    ) -> Result<R, EndpointError> {
        let mut device = self.shared.lock();
        let (model, link) = device.link(self.generation)?;
        let result = f(model, link);
        if link.unplugged {
            device.link = None;
            drop(device);
            self.shared.notify();
        }
        result
    }

    /// Who the device says it is.
    pub fn identity(&self) -> super::DeviceIdentity {
        self.shared.lock().model.config.identity.clone()
    }

    /// The bulk endpoints' max packet size (512 at high speed, 1024 at super speed).
    pub fn max_packet_size(&self) -> usize {
        self.shared.lock().model.config.speed.max_packet_size()
    }

    /// One bulk-OUT transfer from the host, as it arrived: the bytes of whole
    /// packets, the last one short when the transfer's length is not a
    /// multiple of the packet size; empty for a zero-length packet. A
    /// container ends at its declared length or at a short packet.
    pub fn bulk_out(&mut self, transfer: &[u8]) -> Result<(), EndpointError> {
        self.with_link(|model, link| link.bulk_out(model, transfer))
    }

    /// The next bulk-IN transfer for a host that reads up to `max_len` bytes
    /// (a multiple of the packet size): packets until `max_len` or a short
    /// packet. A phase that fills its last packet is followed by a
    /// zero-length packet on profiles that send them.
    pub fn bulk_in(&mut self, max_len: usize) -> Result<BulkIn, EndpointError> {
        self.with_link(|model, link| link.bulk_in(model, max_len))
    }

    /// A Still Image class request on the control endpoint
    /// ([`class_request`]): Cancel (`data` = 0x4001 and the transaction id),
    /// Device Reset, Get Device Status (answers its status bytes, which the
    /// host cuts to its wLength). `Nak`: no answer (the host times out).
    /// `value` and `index` are accepted as any (Android answers only 0, 0;
    /// hosts send the interface number, 0 on phones).
    pub fn control(
        &mut self,
        request: u8,
        value: u16,
        index: u16,
        data: &[u8],
    ) -> Result<Vec<u8>, EndpointError> {
        let _ = (value, index);
        self.with_link(|model, link| link.control(model, request, data))
    }

    /// CLEAR_FEATURE(ENDPOINT_HALT) on both bulk endpoints. A halted
    /// transaction is dropped; Android's server, stuck writing an abandoned
    /// phase, is not released by it (only Cancel or a bus reset does that).
    pub fn clear_halt(&mut self) -> Result<(), EndpointError> {
        self.with_link(|model, link| {
            link.clear_halt(model);
            Ok(())
        })
    }

    /// The next event container for the interrupt endpoint, if one is queued.
    pub fn next_event(&mut self) -> Result<Option<Vec<u8>>, EndpointError> {
        self.with_link(|_, link| Ok(link.server.next_event()))
    }

    /// Waits up to `timeout` for an event (or the cable being pulled).
    pub fn wait_event(&mut self, timeout: Duration) -> Result<Option<Vec<u8>>, EndpointError> {
        let deadline = Instant::now() + timeout;
        let mut device = self.shared.lock();
        loop {
            let (_, link) = device.link(self.generation)?;
            if let Some(event) = link.server.next_event() {
                return Ok(Some(event));
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            device = self.shared.wait(device, deadline - now);
        }
    }

    /// Whether this end's cable is still plugged in.
    pub fn is_plugged(&self) -> bool {
        self.shared.lock().link(self.generation).is_ok()
    }
}
