//! A scripted transport for the session's unit tests: it plays back IN
//! phases written by the test and records what the session sent. It knows
//! nothing of MTP (the simulated device in `crate::sim` is the responder).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::ptp::{Codec, DeviceInfo, Header, Message, OperationCode, ResponseCode};
use crate::transport::{Transport, TransportError};

#[derive(Default)]
pub(super) struct Script {
    /// IN phases still to play, whole.
    phases: VecDeque<Vec<u8>>,
    /// Bytes of the front phase already read.
    cursor: usize,
    /// OUT phases received, whole.
    pub sent: Vec<Vec<u8>>,
    current: Vec<u8>,
    events: VecDeque<Vec<u8>>,
    pub halts_cleared: usize,
    /// Commands still to refuse with a stall, as a device mid-transaction does.
    stalled_commands: usize,
    /// Commands still to leave unread until the timeout, as a wedged Android phone does.
    ignored_commands: usize,
    /// A command was refused: nothing comes IN until the next one is taken.
    silent: bool,
    /// Reads still to answer with a timeout, as a device busy for a while does.
    timeouts: usize,
    /// Transactions the Cancel request was sent for.
    pub cancelled: Vec<u32>,
}

/// The transport half; the test keeps a [`Handle`] to the same script.
pub(super) struct Fake {
    script: Arc<Mutex<Script>>,
    /// Most bytes one `read_phase` returns (small, to split headers across reads).
    chunk: usize,
}

#[derive(Clone)]
pub(super) struct Handle(Arc<Mutex<Script>>);

impl Handle {
    pub(super) fn push(&self, phase: Vec<u8>) -> &Self {
        self.0.lock().unwrap().phases.push_back(phase);
        self
    }

    pub(super) fn push_event(&self, packet: Vec<u8>) {
        self.0.lock().unwrap().events.push_back(packet);
    }

    /// The commands sent, decoded (data phases skipped).
    pub(super) fn commands(&self) -> Vec<Message> {
        let script = self.0.lock().unwrap();
        script
            .sent
            .iter()
            .filter(|p| p.get(4) == Some(&1))
            .map(|p| Message::decode(p).unwrap())
            .collect()
    }

    pub(super) fn sent(&self) -> Vec<Vec<u8>> {
        self.0.lock().unwrap().sent.clone()
    }

    pub(super) fn unread_phases(&self) -> usize {
        self.0.lock().unwrap().phases.len()
    }

    /// The next `count` OUT phases are refused with a stall.
    pub(super) fn stall_commands(&self, count: usize) {
        self.0.lock().unwrap().stalled_commands = count;
    }

    /// The next `count` OUT phases time out (the device NAKs them).
    pub(super) fn ignore_commands(&self, count: usize) {
        self.0.lock().unwrap().ignored_commands = count;
    }

    pub(super) fn halts_cleared(&self) -> usize {
        self.0.lock().unwrap().halts_cleared
    }

    /// The next `count` reads time out (the phases stay for later reads).
    pub(super) fn time_out_reads(&self, count: usize) {
        self.0.lock().unwrap().timeouts = count;
    }

    /// The transactions cancelled with the class Cancel request.
    pub(super) fn cancelled(&self) -> Vec<u32> {
        self.0.lock().unwrap().cancelled.clone()
    }
}

/// A fake transport with nothing scripted yet.
pub(super) fn new(chunk: usize) -> (Box<dyn Transport>, Handle) {
    let script = Arc::new(Mutex::new(Script::default()));
    (
        Box::new(Fake {
            script: script.clone(),
            chunk,
        }),
        Handle(script),
    )
}

/// A fake transport whose device answers GetDeviceInfo with `info` and opens a session.
pub(super) fn opening(info: &DeviceInfo, chunk: usize) -> (Box<dyn Transport>, Handle) {
    let (transport, handle) = new(chunk);
    handle.push(data(OperationCode::GET_DEVICE_INFO, 0, &info.to_bytes()));
    handle.push(ok(0, &[]));
    handle.push(ok(0, &[]));
    (transport, handle)
}

/// A data container for `op` in transaction `tid`.
pub(super) fn data(op: OperationCode, tid: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    Header::for_data(op.0, tid, payload.len() as u64).encode(&mut out);
    out.extend_from_slice(payload);
    out
}

pub(super) fn response(code: ResponseCode, tid: u32, params: &[u32]) -> Vec<u8> {
    Message::response(code.0, tid, params).encode()
}

pub(super) fn ok(tid: u32, params: &[u32]) -> Vec<u8> {
    response(ResponseCode::OK, tid, params)
}

impl Transport for Fake {
    fn max_packet_size(&self) -> usize {
        512
    }

    fn write_phase(&mut self, data: &[u8]) -> Result<(), TransportError> {
        self.script.lock().unwrap().current.extend_from_slice(data);
        Ok(())
    }

    fn end_write_phase(&mut self) -> Result<(), TransportError> {
        let mut script = self.script.lock().unwrap();
        let phase = std::mem::take(&mut script.current);
        if script.stalled_commands > 0 {
            script.stalled_commands -= 1;
            script.silent = true;
            return Err(TransportError::Stall);
        }
        if script.ignored_commands > 0 {
            script.ignored_commands -= 1;
            script.silent = true;
            return Err(TransportError::Timeout(Duration::from_secs(1)));
        }
        script.silent = false;
        script.sent.push(phase);
        Ok(())
    }

    fn read_phase(&mut self, buf: &mut [u8]) -> Result<usize, TransportError> {
        let mut script = self.script.lock().unwrap();
        if script.timeouts > 0 {
            script.timeouts -= 1;
            return Err(TransportError::Timeout(Duration::from_secs(1)));
        }
        let cursor = script.cursor;
        let Some(phase) = script.phases.front().filter(|_| !script.silent) else {
            return Err(TransportError::Timeout(Duration::from_secs(1)));
        };
        let n = (phase.len() - cursor).min(buf.len()).min(self.chunk);
        if n == 0 {
            script.phases.pop_front();
            script.cursor = 0;
            return Ok(0);
        }
        buf[..n].copy_from_slice(&phase[cursor..cursor + n]);
        script.cursor += n;
        Ok(n)
    }

    fn read_event(&mut self, buf: &mut [u8], _timeout: Duration) -> Result<Option<usize>, TransportError> {
        let Some(packet) = self.script.lock().unwrap().events.pop_front() else {
            return Ok(None);
        };
        buf[..packet.len()].copy_from_slice(&packet);
        Ok(Some(packet.len()))
    }

    fn clear_halt(&mut self) -> Result<(), TransportError> {
        let mut script = self.script.lock().unwrap();
        script.halts_cleared += 1;
        script.cursor = 0;
        Ok(())
    }

    fn set_timeout(&mut self, _timeout: Duration) {}

    fn cancel_transaction(&mut self, transaction_id: u32) -> Result<(), TransportError> {
        self.script.lock().unwrap().cancelled.push(transaction_id);
        Ok(())
    }
}
