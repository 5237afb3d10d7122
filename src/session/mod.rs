//! MTP transactions over any [`Transport`]: a [`Session`] opens the device,
//! numbers transactions, moves command, data and response phases, and turns
//! what the device says into typed errors.
//!
//! - `error`: the error type and the words for each failure.
//! - `ops`: one method per MTP operation (GetObject, SendObject, …).
//! - `listing`: walking a storage with as few round trips as the device allows.
//! - `storage`: the storages (waiting for a locked phone), choosing one by
//!   name or id, and resolving a path to its storage and object.
//!
//! Opening: GetDeviceInfo, then OpenSession with session id 1; a device that
//! answers GetDeviceInfo outside a session with Session Not Open (0x2003) or
//! garbage gets libmtp's order instead (OpenSession, then GetDeviceInfo). A device that
//! answers "Session Already Open" (a previous run died with its session open)
//! gets CloseSession and a fresh OpenSession, so that transaction ids and
//! object handles start clean; if it still says "already open" we proceed in
//! the session it has.
//!
//! Recovery never sends the USB class reset (it can kill Android's MTP server
//! until the cable is replugged): [`Session::recover`] clears the halt on both
//! bulk endpoints and opens a new session.

mod error;
mod listing;
mod ops;
mod phases;
mod stats;
mod storage;
mod timeouts;
mod unusable;

use std::time::Duration;

pub use error::{LOCKED_HINT, SessionError};
pub use listing::{Entry, ListingStrategy};
pub use ops::{ALL, PropListQuery, ROOT};
pub use stats::TransactionStats;
pub use storage::{Place, ResolveError, Storage, StorageSelector};
pub use timeouts::Timeouts;
pub use unusable::{SkipReason, SkippedStorage, UNTRUSTED_HINT};

use crate::ptp::{Codec, ContainerKind, DeviceInfo, EventCode, Message, OperationCode, ResponseCode};
use crate::transport::{Transport, TransportError};
use phases::{DataIn, DataOut};

/// The session id mtpull opens (any non-zero value would do).
pub const SESSION_ID: u32 = 1;

/// Result of a session operation.
pub type Result<T, E = SessionError> = std::result::Result<T, E>;

/// An event from the interrupt endpoint (StoreAdded, ObjectAdded, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// What happened.
    pub code: EventCode,
    /// The transaction the event refers to (often 0).
    pub transaction_id: u32,
    /// Up to three parameters (a storage id for StoreAdded, a handle for ObjectAdded).
    pub params: Vec<u32>,
}

/// An open MTP session with one device.
pub struct Session {
    transport: Box<dyn Transport>,
    device_info: DeviceInfo,
    next_transaction_id: u32,
    last_transaction_id: u32,
    stats: TransactionStats,
    /// Storages in the last GetStorageIDs answer: zero means locked.
    storage_count: Option<usize>,
    /// The last GetStorageIDs answer was an untrusted iPhone's placeholder.
    untrusted: bool,
    /// Listed storages not read (empty slots, not available).
    skipped_storages: Vec<SkippedStorage>,
    buffer: Vec<u8>,
    /// IN bytes read past the end of a data phase (the next container's start).
    read_ahead: Vec<u8>,
    listing: listing::Memory,
    /// What partial reads turned out to do on this device.
    partial_reads: ops::PartialReads,
    timeouts: Timeouts,
    /// The timeout last given to the transport.
    applied_timeout: Option<Duration>,
}

impl Session {
    /// Asks the device who it is, then opens a session.
    pub fn open(transport: Box<dyn Transport>) -> Result<Session> {
        let mut session = Session {
            transport,
            device_info: DeviceInfo::default(),
            next_transaction_id: 0,
            last_transaction_id: 0,
            stats: TransactionStats::default(),
            storage_count: None,
            untrusted: false,
            skipped_storages: Vec::new(),
            buffer: vec![0; phases::READ_CHUNK],
            read_ahead: Vec::new(),
            listing: listing::Memory::default(),
            partial_reads: ops::PartialReads::default(),
            timeouts: Timeouts::default(),
            applied_timeout: None,
        };
        match session.device_info_before_session()? {
            Some(info) => {
                session.device_info = info;
                session.open_session()?;
            }
            None => {
                // libmtp's order: the session first, then who the device is.
                session.open_session()?;
                session.device_info = session.get_device_info()?;
            }
        }
        Ok(session)
    }

    /// GetDeviceInfo outside a session, as the specification allows. `None`
    /// when the device wants a session first: it answered Session Not Open
    /// (0x2003), or something unreadable.
    fn device_info_before_session(&mut self) -> Result<Option<DeviceInfo>> {
        let answer = match self.get_device_info() {
            // An earlier client left a transaction under way: QEMU stalls the
            // next command, Android NAKs it (the wedge) until a Cancel.
            Err(SessionError::Transport {
                source: TransportError::Stall | TransportError::Timeout(_),
                ..
            }) => {
                self.abandon_stale_transaction()?;
                self.get_device_info()
            }
            other => other,
        };
        match answer {
            Ok(info) => Ok(Some(info)),
            Err(SessionError::Device { code, .. }) if code == ResponseCode::SESSION_NOT_OPEN => Ok(None),
            Err(SessionError::Dataset { .. }) => Ok(None),
            Err(SessionError::Protocol { .. }) => {
                // A garbled answer, or an earlier client's stale data: drop
                // whatever is left of it (and of that transaction) first.
                self.abandon_stale_transaction()?;
                Ok(None)
            }
            Err(other) => Err(other),
        }
    }

    /// A device still in the middle of a transaction of an earlier client (one
    /// killed mid-download) stalls the next command (QEMU's usb-mtp, having
    /// data left to send) or never reads it (Android's server, blocked writing
    /// to a host that is gone, until Cancel). Cancel that transaction (its id
    /// is unknown: devices that check it see none of ours), once.
    fn abandon_stale_transaction(&mut self) -> Result<()> {
        self.cancel_under_way(u32::MAX, OperationCode::GET_DEVICE_INFO)?;
        // No session is open yet: the retried GetDeviceInfo is transaction 0 again.
        self.next_transaction_id = 0;
        Ok(())
    }

    /// Gives up on transaction `transaction_id` without wedging the device:
    /// the class Cancel request, then whatever IN data was still coming is
    /// read and dropped until the device is quiet, the halts are cleared, and
    /// Get Device Status is polled while the device says it is busy. Best
    /// effort where a device lacks a request (QEMU answers no Get Device
    /// Status); only a failed clear halt is an error.
    fn cancel_under_way(&mut self, transaction_id: u32, op: OperationCode) -> Result<()> {
        const QUIET: Duration = Duration::from_millis(200);
        const MAX_DRAIN: usize = 64 << 20;
        const BUSY_POLLS: usize = 50;
        let _ = self.transport.cancel_transaction(transaction_id);
        self.read_ahead.clear();
        self.use_timeout(QUIET);
        let mut drained = 0;
        while drained < MAX_DRAIN {
            match self.transport.read_phase(&mut self.buffer) {
                Ok(n) => drained += n.max(1),
                Err(_) => break,
            }
        }
        self.transport.clear_halt().map_err(Self::transport_error(op))?;
        for _ in 0..BUSY_POLLS {
            match self.transport.device_status() {
                Ok(status) if status.code == ResponseCode::DEVICE_BUSY.0 => std::thread::sleep(QUIET / 2),
                _ => break,
            }
        }
        Ok(())
    }

    /// Gives the transport `timeout` unless it already has it.
    fn use_timeout(&mut self, timeout: Duration) {
        if self.applied_timeout != Some(timeout) {
            self.transport.set_timeout(timeout);
            self.applied_timeout = Some(timeout);
        }
    }

    /// Gives up the transaction under way (Cancel, drain, clear halts, wait
    /// while busy: never the class reset) and opens a new session.
    ///
    /// Object handles may change across sessions (some devices renumber
    /// them), so anything kept across a recovery should be keyed by path.
    pub fn recover(&mut self) -> Result<()> {
        self.listing.forget_handles();
        self.cancel_under_way(self.last_transaction_id(), OperationCode::OPEN_SESSION)?;
        self.open_session()
    }

    /// Gives up the transaction under way as [`Session::recover`] does
    /// (Cancel, drain, clear halts, wait while busy) but keeps the session:
    /// handles stay valid, so a download that broke off (a stall, a timeout)
    /// can be taken up again from where it stopped. `op` is the operation
    /// that broke off, for the error's context.
    pub fn abandon_transaction(&mut self, op: OperationCode) -> Result<()> {
        self.cancel_under_way(self.last_transaction_id(), op)
    }

    /// After a stall: asks the device why (Get Device Status). When it says
    /// it cancelled the transfer itself (0x201F, Transaction Cancelled: what
    /// Android does when it cannot read the file), the halts are cleared and
    /// the session goes on, handles intact; returns whether that was so.
    /// Otherwise nothing is done (see [`Session::recover`]).
    pub fn recover_from_device_cancel(&mut self) -> Result<bool> {
        let cancelled = self
            .transport
            .device_status()
            .is_ok_and(|status| status.code == ResponseCode::TRANSACTION_CANCELLED.0);
        if !cancelled {
            return Ok(false);
        }
        self.read_ahead.clear();
        self.transport
            .clear_halt()
            .map_err(Self::transport_error(OperationCode::GET_OBJECT))?;
        Ok(true)
    }

    /// The DeviceInfo read when the session was opened.
    pub fn device_info(&self) -> &DeviceInfo {
        &self.device_info
    }

    /// The USB device descriptor's serial number, when the transport knows it.
    pub fn usb_serial(&self) -> Option<&str> {
        self.transport.usb_serial()
    }

    /// Transactions sent so far, in total and per operation.
    pub fn stats(&self) -> &TransactionStats {
        &self.stats
    }

    /// Sets the timeouts of later transactions, by kind of operation.
    pub fn set_timeouts(&mut self, timeouts: Timeouts) {
        self.timeouts = timeouts;
    }

    /// Waits up to `timeout` for an event. `Ok(None)`: nothing arrived.
    pub fn next_event(&mut self, timeout: Duration) -> Result<Option<Event>> {
        let op = OperationCode(0); // events belong to no operation
        let mut packet = [0u8; 64];
        let received = self
            .transport
            .read_event(&mut packet, timeout)
            .map_err(|source| SessionError::Transport { op, source })?;
        let Some(len) = received else { return Ok(None) };
        let bytes = &packet[..len.min(packet.len())];
        let message = Message::decode(bytes).map_err(|source| SessionError::Protocol {
            op,
            detail: format!("unreadable event: {source}"),
        })?;
        if message.kind != ContainerKind::Event {
            return Err(SessionError::Protocol {
                op,
                detail: format!("a {:?} container on the event endpoint", message.kind),
            });
        }
        Ok(Some(Event {
            code: EventCode(message.code),
            transaction_id: message.transaction_id,
            params: message.params,
        }))
    }

    /// Ends the session. The device stays claimed until the transport is dropped.
    pub fn close(mut self) -> Result<()> {
        self.transact(OperationCode::CLOSE_SESSION, &[], DataOut::None, DataIn::None)
            .map(drop)
    }

    fn open_session(&mut self) -> Result<()> {
        // OpenSession travels with transaction id 0; the session's first
        // operation then uses 1.
        self.next_transaction_id = 0;
        match self.open_session_once() {
            Err(SessionError::Device { code, .. }) if code == ResponseCode::SESSION_ALREADY_OPEN => {
                // Close the stale session (ignoring the answer: some devices
                // refuse CloseSession for a session they deem foreign) and
                // start a clean one.
                self.next_transaction_id = 1;
                let _ = self.transact(OperationCode::CLOSE_SESSION, &[], DataOut::None, DataIn::None);
                self.next_transaction_id = 0;
                match self.open_session_once() {
                    Err(SessionError::Device { code, .. }) if code == ResponseCode::SESSION_ALREADY_OPEN => {}
                    other => other?,
                }
            }
            other => other?,
        }
        self.next_transaction_id = 1;
        Ok(())
    }

    fn open_session_once(&mut self) -> Result<()> {
        self.transact(
            OperationCode::OPEN_SESSION,
            &[SESSION_ID],
            DataOut::None,
            DataIn::None,
        )
        .map(drop)
    }

    /// Reads a dataset-returning operation's data phase and decodes it.
    fn query<T: Codec>(&mut self, op: OperationCode, params: &[u32]) -> Result<T> {
        let bytes = self.query_bytes(op, params)?;
        T::decode(&bytes).map_err(|source| SessionError::Dataset { op, source })
    }

    /// Reads an operation's data phase into memory (datasets only: bounded).
    fn query_bytes(&mut self, op: OperationCode, params: &[u32]) -> Result<Vec<u8>> {
        let mut bytes = phases::BoundedVec::default();
        self.transact(op, params, DataOut::None, DataIn::Sink(&mut bytes))?;
        Ok(bytes.into_inner())
    }

    /// The id of the transaction sent last.
    fn last_transaction_id(&self) -> u32 {
        self.last_transaction_id
    }

    fn take_transaction_id(&mut self) -> u32 {
        let id = self.next_transaction_id;
        self.last_transaction_id = id;
        // 0xFFFFFFFF is reserved; 0 belongs to OpenSession.
        self.next_transaction_id = match id {
            0xFFFF_FFFE.. => 1,
            _ => id + 1,
        };
        id
    }

    fn transport_error(op: OperationCode) -> impl FnOnce(TransportError) -> SessionError {
        move |source| SessionError::Transport { op, source }
    }
}

#[cfg(test)]
mod fake;
#[cfg(test)]
mod tests;
