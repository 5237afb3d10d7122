//! One transaction on the wire: the command phase, an optional data phase in
//! either direction, and the response phase, with every container checked
//! against the operation and transaction it must belong to.

use std::io::{self, Read, Write};

use super::error::{READING_SOURCE, WRITING_SINK};
use super::{Result, Session, SessionError};
use crate::ptp::HEADER_LEN;
use crate::ptp::{
    ContainerKind, EncodedMessage, Header, Message, OperationCode, Params, PayloadLength, ResponseCode,
};

/// Bytes asked of the transport per read: large, so a bulk phase moves in few calls.
pub(super) const READ_CHUNK: usize = 1 << 20;

/// The largest response container accepted (12 bytes and five parameters;
/// some devices pad to a packet).
const MAX_RESPONSE_LEN: usize = 1024;

/// The largest dataset kept in memory (a GetObjectPropList of a whole phone
/// is a few megabytes); anything larger is a device gone wrong.
pub(super) const MAX_DATASET_LEN: usize = 256 << 20;

/// What the initiator sends after the command.
pub(super) enum DataOut<'a> {
    /// No data phase.
    None,
    /// A dataset.
    Bytes(&'a [u8]),
    /// `size` bytes read from `source` (a file being uploaded).
    Stream { source: &'a mut dyn Read, size: u64 },
}

/// Where a data phase from the device goes.
pub(super) enum DataIn<'a> {
    /// The operation has no data phase: receiving one is a protocol error.
    None,
    /// Stream the payload into this writer.
    Sink(&'a mut dyn Write),
}

/// A completed transaction: the response parameters and the data bytes received.
#[derive(Debug)]
pub(super) struct Completed {
    pub params: Params,
    pub received: u64,
}

/// A `Vec` that refuses to grow past [`MAX_DATASET_LEN`].
#[derive(Default)]
pub(super) struct BoundedVec(Vec<u8>);

impl BoundedVec {
    /// An empty one writing into `bytes`'s allocation.
    pub(super) fn reusing(mut bytes: Vec<u8>) -> BoundedVec {
        bytes.clear();
        BoundedVec(bytes)
    }

    pub(super) fn into_inner(self) -> Vec<u8> {
        self.0
    }
}

impl Write for BoundedVec {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.0.len() + buf.len() > MAX_DATASET_LEN {
            return Err(io::Error::other(format!(
                "the dataset exceeds {} MiB",
                MAX_DATASET_LEN >> 20
            )));
        }
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Session {
    /// Runs one transaction. A response other than OK becomes an error.
    pub(super) fn transact(
        &mut self,
        op: OperationCode,
        params: &[u32],
        data_out: DataOut<'_>,
        data_in: DataIn<'_>,
    ) -> Result<Completed> {
        let transaction_id = self.take_transaction_id();
        self.stats.record(op);
        self.use_timeout(self.timeouts.for_op(op));
        self.send_command(op, transaction_id, params)?;
        match data_out {
            DataOut::None => {}
            DataOut::Bytes(bytes) => {
                self.send_data(op, transaction_id, &mut &bytes[..], bytes.len() as u64)?
            }
            DataOut::Stream { source, size } => self.send_data(op, transaction_id, source, size)?,
        }
        let (header, ended) = self.read_container_start(op)?;
        let (response, received) = match header.kind {
            ContainerKind::Data => {
                let DataIn::Sink(sink) = data_in else {
                    self.drain_phase(op, ended)?;
                    return Err(protocol(
                        op,
                        format!("a data phase from the device, but {op} has none"),
                    ));
                };
                if let Err(err) = self.check_ids(op, transaction_id, &header, header.code) {
                    self.drain_phase(op, ended)?;
                    return Err(err);
                }
                let received = self.receive_data(op, &header, ended, sink)?;
                let (header, ended) = self.read_container_start(op)?;
                (self.read_response(op, transaction_id, header, ended)?, received)
            }
            _ => (self.read_response(op, transaction_id, header, ended)?, (0, None)),
        };
        let code = ResponseCode(response.0.code);
        if code != ResponseCode::OK {
            return Err(self.device_error(op, code));
        }
        // A sink that failed is reported after the response, so that the
        // transaction still completes and the session stays usable.
        if let Some(err) = received.1 {
            return Err(SessionError::Io {
                op,
                context: WRITING_SINK,
                source: err,
            });
        }
        Ok(Completed {
            params: response.1,
            received: received.0,
        })
    }

    fn device_error(&self, op: OperationCode, code: ResponseCode) -> SessionError {
        let refused_storage = matches!(
            code,
            ResponseCode::INVALID_STORAGE_ID
                | ResponseCode::INVALID_OBJECT_HANDLE
                | ResponseCode::STORE_NOT_AVAILABLE
        );
        if refused_storage && self.storage_count == Some(0) {
            SessionError::Locked {
                op,
                code,
                hint: self.no_storage_hint(),
            }
        } else {
            SessionError::Device { op, code }
        }
    }

    fn send_command(&mut self, op: OperationCode, transaction_id: u32, params: &[u32]) -> Result<()> {
        let command = EncodedMessage::new(ContainerKind::Command, op.0, transaction_id, params);
        self.transport
            .write_phase(&command)
            .map_err(Self::transport_error(op))?;
        self.transport
            .end_write_phase()
            .map_err(Self::transport_error(op))
    }

    /// Sends a data phase of exactly `size` bytes read from `source`.
    fn send_data(
        &mut self,
        op: OperationCode,
        transaction_id: u32,
        source: &mut dyn Read,
        size: u64,
    ) -> Result<()> {
        let mut header = Vec::with_capacity(HEADER_LEN);
        Header::for_data(op.0, transaction_id, size).encode(&mut header);
        self.transport
            .write_phase(&header)
            .map_err(Self::transport_error(op))?;
        let mut sent = 0u64;
        while sent < size {
            let want = usize::try_from(size - sent).map_or(READ_CHUNK, |left| left.min(READ_CHUNK));
            let n = match source.read(&mut self.buffer[..want]) {
                Ok(0) => {
                    return Err(SessionError::Io {
                        op,
                        context: READING_SOURCE,
                        source: io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            format!("the data ended after {sent} of {size} bytes"),
                        ),
                    });
                }
                Ok(n) => n,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(SessionError::Io {
                        op,
                        context: READING_SOURCE,
                        source,
                    });
                }
            };
            self.transport
                .write_phase(&self.buffer[..n])
                .map_err(Self::transport_error(op))?;
            sent += n as u64;
        }
        self.transport
            .end_write_phase()
            .map_err(Self::transport_error(op))
    }

    /// Reads the next container's 12-byte header. Returns it, and whether
    /// the phase already ended.
    fn read_container_start(&mut self, op: OperationCode) -> Result<(Header, bool)> {
        let mut filled = 0;
        let mut ended = false;
        while filled < HEADER_LEN {
            let n = self.read_some(op, filled, HEADER_LEN)?;
            if n == 0 {
                ended = true;
                break;
            }
            filled += n;
        }
        if filled < HEADER_LEN {
            return Err(protocol(
                op,
                format!("a {filled}-byte container, shorter than a container header"),
            ));
        }
        match Header::decode(&self.buffer[..HEADER_LEN]) {
            Ok(header) => Ok((header, ended)),
            Err(err) => {
                self.drain_phase(op, ended)?;
                Err(protocol(op, format!("an unreadable container header ({err})")))
            }
        }
    }

    /// Reads IN bytes into `buffer[at..end]`: bytes read ahead first, then
    /// the transport's. `Ok(0)`: the phase ended.
    fn read_some(&mut self, op: OperationCode, at: usize, end: usize) -> Result<usize> {
        if !self.read_ahead.is_empty() {
            let n = self.read_ahead.len().min(end - at);
            self.buffer[at..at + n].copy_from_slice(&self.read_ahead[..n]);
            self.read_ahead.drain(..n);
            return Ok(n);
        }
        self.transport
            .read_phase(&mut self.buffer[at..end])
            .map_err(Self::transport_error(op))
    }

    /// Reads the rest of a response container (responses are always shorter
    /// than a packet, so their phase ends with a short packet) and checks it.
    fn read_response(
        &mut self,
        op: OperationCode,
        transaction_id: u32,
        header: Header,
        mut ended: bool,
    ) -> Result<(Header, Params)> {
        if header.kind != ContainerKind::Response {
            self.drain_phase(op, ended)?;
            return Err(protocol(
                op,
                format!("a {:?} container where the response was due", header.kind),
            ));
        }
        let mut filled = HEADER_LEN;
        while !ended {
            if filled >= MAX_RESPONSE_LEN {
                self.drain_phase(op, false)?;
                return Err(protocol(op, "a response container too long to be one".into()));
            }
            let n = self.read_some(op, filled, MAX_RESPONSE_LEN)?;
            ended = n == 0;
            filled += n;
        }
        let message = Message::decode_inline(&self.buffer[..filled])
            .map_err(|err| protocol(op, format!("an unreadable response ({err})")))?;
        self.check_ids(op, transaction_id, &header, header.code)?;
        Ok(message)
    }

    fn check_ids(&self, op: OperationCode, transaction_id: u32, header: &Header, code: u16) -> Result<()> {
        if header.transaction_id != transaction_id {
            return Err(protocol(
                op,
                format!(
                    "the device answered transaction {} while {transaction_id} was under way",
                    header.transaction_id
                ),
            ));
        }
        if header.kind == ContainerKind::Data && code != op.0 {
            return Err(protocol(
                op,
                format!("a data phase for {} during {op}", OperationCode(code)),
            ));
        }
        Ok(())
    }

    /// Streams a data phase's payload into `sink` (its header is read).
    /// Returns the payload bytes received and the sink's error, if it failed
    /// (the phase is read to its end regardless, to keep the session in step).
    ///
    /// A phase of known length ends at that length: a device that leaves out
    /// the zero-length packet after a phase ending on a packet boundary sends
    /// the response right after, and those bytes are kept for the next container.
    fn receive_data(
        &mut self,
        op: OperationCode,
        header: &Header,
        mut ended: bool,
        sink: &mut dyn Write,
    ) -> Result<(u64, Option<io::Error>)> {
        let expected = match header.payload_length() {
            PayloadLength::Exact(n) => Some(u64::from(n)),
            PayloadLength::UntilPhaseEnd => None,
        };
        let mut sink_error = None;
        let mut received = 0u64;
        while !ended && expected != Some(received) {
            let want = expected.map_or(READ_CHUNK, |n| {
                usize::try_from(n - received).map_or(READ_CHUNK, |left| left.min(READ_CHUNK))
            });
            let n = self.read_some(op, 0, want)?;
            ended = n == 0;
            if sink_error.is_none() {
                sink_error = sink.write_all(&self.buffer[..n]).err();
            }
            received += n as u64;
        }
        if sink_error.is_none() {
            sink_error = sink.flush().err();
        }
        if let Some(expected) = expected {
            if received != expected {
                return Err(protocol(
                    op,
                    format!("the data phase carried {received} bytes, its header announced {expected}"),
                ));
            }
            if !ended {
                // Either the phase's end (zero-length or short packet) or,
                // from a device that omits the zero-length packet, the response.
                let n = self.read_some(op, 0, HEADER_LEN)?;
                self.read_ahead.clear();
                self.read_ahead.extend_from_slice(&self.buffer[..n]);
            }
        }
        Ok((received, sink_error))
    }

    /// Reads and discards the rest of the current IN phase.
    fn drain_phase(&mut self, op: OperationCode, mut ended: bool) -> Result<()> {
        while !ended {
            ended = self.read_some(op, 0, READ_CHUNK)? == 0;
        }
        Ok(())
    }
}

fn protocol(op: OperationCode, detail: String) -> SessionError {
    SessionError::Protocol { op, detail }
}
