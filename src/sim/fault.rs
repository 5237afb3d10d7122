//! Fault injection: what can go wrong on the cable or in the device, armed
//! through [`super::SimDevice::arm`] and fired by the simulated link.

use crate::ptp::{OperationCode, ResponseCode};

/// One fault, armed on a device. Byte-triggered faults count the bytes of
/// *data phases* in either direction (container header included: GetObject's
/// IN, SendObject's OUT) that passed after they were armed, on any
/// connection; `during` restricts the count to one operation's data phases.
/// Exactly `after_bytes` bytes get through, then the next read (or the
/// write carrying the next byte) fails. Every fault fires once unless made [`Fault::always`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub(crate) action: FaultAction,
    pub(crate) during: Option<OperationCode>,
    pub(crate) always: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FaultAction {
    /// The cable is pulled: this connection is dead; `connect()` again works.
    Disconnect { after_bytes: u64 },
    /// Both bulk endpoints stall until `clear_halt`; the transaction is lost.
    Stall { after_bytes: u64 },
    /// The device cannot read the file: it cancels the transfer itself (both
    /// bulk endpoints stall, no response; Get Device Status says 0x201F).
    ReadError { after_bytes: u64 },
    /// One read answers Timeout; the data is not lost and the next read continues.
    Timeout { after_bytes: u64 },
    /// The operation is answered with this code (no data phase).
    Respond { op: OperationCode, code: ResponseCode },
    /// The answer to the operation breaks the protocol in this way.
    Garble { op: OperationCode, garble: Garble },
}

/// How a hostile device breaks the protocol in its answer to one operation
/// (see [`Fault::garble`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Garble {
    /// The data container and the response carry the next transaction's id.
    WrongTransactionId,
    /// The data container's header states this length (4 GiB, or less than its
    /// own 12 bytes), whatever follows.
    DataLength(u32),
    /// The data phase carries these bytes instead of the dataset.
    DataPayload(Vec<u8>),
    /// The data phase runs on this many bytes past the length its header states
    /// (for datasets; an object's bytes are sent as they are).
    DataLonger(u32),
}

impl Fault {
    fn new(action: FaultAction) -> Fault {
        Fault {
            action,
            during: None,
            always: false,
        }
    }

    /// Unplug after `bytes` bytes of data: every later call on that
    /// connection answers `Disconnected`; a new `connect()` is the replug.
    pub fn disconnect_after(bytes: u64) -> Fault {
        Fault::new(FaultAction::Disconnect { after_bytes: bytes })
    }

    /// Stall the bulk endpoints after `bytes` bytes of data: reads and
    /// writes answer `Stall` until `clear_halt`, after which the device
    /// expects a new transaction (the session stays open).
    pub fn stall_after(bytes: u64) -> Fault {
        Fault::new(FaultAction::Stall { after_bytes: bytes })
    }

    /// The device fails to read the object after `bytes` bytes of IN data,
    /// as a phone with a disk error does: it stalls both bulk endpoints and
    /// sends no response, and Get Device Status then reports Transaction
    /// Cancelled (0x201F) once.
    pub fn read_error_after(bytes: u64) -> Fault {
        Fault::new(FaultAction::ReadError { after_bytes: bytes })
    }

    /// One read answers `Timeout` after `bytes` bytes of IN data; the phase
    /// then continues where it stopped, as with a device that paused.
    pub fn timeout_after(bytes: u64) -> Fault {
        Fault::new(FaultAction::Timeout { after_bytes: bytes })
    }

    /// Answer `op` with `code` instead of doing it.
    pub fn respond(op: OperationCode, code: ResponseCode) -> Fault {
        Fault::new(FaultAction::Respond { op, code })
    }

    /// Answer `op` in a way that breaks the protocol (a hostile device).
    pub fn garble(op: OperationCode, garble: Garble) -> Fault {
        Fault::new(FaultAction::Garble { op, garble })
    }

    /// Count only the data of `op` (e.g. GetObject, SendObject) toward the trigger.
    pub fn during(mut self, op: OperationCode) -> Fault {
        self.during = Some(op);
        self
    }

    /// Fire every time instead of once (a byte-triggered fault re-arms with
    /// its count reset).
    pub fn always(mut self) -> Fault {
        self.always = true;
        self
    }
}

/// A fault and its byte count so far.
#[derive(Debug, Clone)]
pub(crate) struct Armed {
    pub(crate) fault: Fault,
    pub(crate) counted: u64,
}

impl Armed {
    /// The byte limit, for byte-triggered faults.
    fn limit(&self) -> Option<u64> {
        match self.fault.action {
            FaultAction::Disconnect { after_bytes }
            | FaultAction::Stall { after_bytes }
            | FaultAction::ReadError { after_bytes }
            | FaultAction::Timeout { after_bytes } => Some(after_bytes),
            FaultAction::Respond { .. } | FaultAction::Garble { .. } => None,
        }
    }

    /// Whether data of `op` counts toward this fault.
    fn counts(&self, op: OperationCode) -> bool {
        self.limit().is_some() && self.fault.during.is_none_or(|d| d == op)
    }
}

/// The armed faults of a device.
#[derive(Debug, Clone, Default)]
pub(crate) struct Faults {
    armed: Vec<Armed>,
}

impl Faults {
    pub(crate) fn arm(&mut self, fault: Fault) {
        self.armed.push(Armed { fault, counted: 0 });
    }

    pub(crate) fn clear(&mut self) {
        self.armed.clear();
    }

    pub(crate) fn len(&self) -> usize {
        self.armed.len()
    }

    /// How many bytes of `op`'s data may pass before a fault fires, and
    /// the fault that fires when that is zero.
    pub(crate) fn budget(&mut self, op: OperationCode) -> (u64, Option<FaultAction>) {
        let next = self
            .armed
            .iter()
            .enumerate()
            .filter(|(_, a)| a.counts(op))
            .map(|(i, a)| (a.limit().unwrap_or(u64::MAX).saturating_sub(a.counted), i))
            .min();
        match next {
            None => (u64::MAX, None),
            Some((0, i)) => (0, Some(self.fire(i))),
            Some((budget, _)) => (budget, None),
        }
    }

    /// Records `n` bytes of `op`'s data passed.
    pub(crate) fn count(&mut self, op: OperationCode, n: u64) {
        for armed in self.armed.iter_mut().filter(|a| a.counts(op)) {
            armed.counted += n;
        }
    }

    /// The response code armed for `op`, if any (consumed unless `always`).
    pub(crate) fn response_for(&mut self, op: OperationCode) -> Option<ResponseCode> {
        let i = self
            .armed
            .iter()
            .position(|a| matches!(a.fault.action, FaultAction::Respond { op: o, .. } if o == op))?;
        match self.fire(i) {
            FaultAction::Respond { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The garbling armed for `op`, if any (consumed unless `always`).
    pub(crate) fn garble_for(&mut self, op: OperationCode) -> Option<Garble> {
        let i = self
            .armed
            .iter()
            .position(|a| matches!(a.fault.action, FaultAction::Garble { op: o, .. } if o == op))?;
        match self.fire(i) {
            FaultAction::Garble { garble, .. } => Some(garble),
            _ => None,
        }
    }

    fn fire(&mut self, i: usize) -> FaultAction {
        let armed = &mut self.armed[i];
        let action = armed.fault.action.clone();
        if armed.fault.always {
            armed.counted = 0;
        } else {
            self.armed.remove(i);
        }
        action
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GET_OBJECT: OperationCode = OperationCode::GET_OBJECT;

    #[test]
    fn the_smallest_budget_wins_and_fires_at_zero() {
        let mut faults = Faults::default();
        faults.arm(Fault::stall_after(100));
        faults.arm(Fault::disconnect_after(40).during(GET_OBJECT));
        assert_eq!(faults.budget(OperationCode::GET_OBJECT_INFO), (100, None));
        assert_eq!(faults.budget(GET_OBJECT), (40, None));
        faults.count(GET_OBJECT, 40);
        let (budget, fired) = faults.budget(GET_OBJECT);
        assert_eq!(budget, 0);
        assert_eq!(fired, Some(FaultAction::Disconnect { after_bytes: 40 }));
        assert_eq!(faults.len(), 1, "a one-shot fault is consumed");
        assert_eq!(faults.budget(GET_OBJECT), (60, None));
    }

    #[test]
    fn response_faults_fire_once_or_always() {
        let mut faults = Faults::default();
        faults.arm(Fault::respond(GET_OBJECT, ResponseCode::DEVICE_BUSY));
        assert_eq!(faults.response_for(OperationCode::GET_OBJECT_INFO), None);
        assert_eq!(faults.response_for(GET_OBJECT), Some(ResponseCode::DEVICE_BUSY));
        assert_eq!(faults.response_for(GET_OBJECT), None);
        faults.arm(Fault::respond(GET_OBJECT, ResponseCode::GENERAL_ERROR).always());
        for _ in 0..3 {
            assert_eq!(faults.response_for(GET_OBJECT), Some(ResponseCode::GENERAL_ERROR));
        }
    }

    #[test]
    fn an_always_byte_fault_rearms_with_a_fresh_count() {
        let mut faults = Faults::default();
        faults.arm(Fault::timeout_after(10).always());
        faults.count(GET_OBJECT, 10);
        assert!(faults.budget(GET_OBJECT).1.is_some());
        assert_eq!(faults.budget(GET_OBJECT), (10, None));
    }
}
