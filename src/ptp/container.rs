//! The USB container every phase travels in: a 12-byte header (length, type,
//! code, transaction id) followed by up to five `u32` parameters (command,
//! response, event) or by a data payload of any length.

use super::codec::{DecodeError, DecodeResult, Reader, Writer};

/// Bytes in a container header.
pub const HEADER_LEN: usize = 12;

/// Parameters a command, response or event can carry.
pub const MAX_PARAMS: usize = 5;

/// The length field of a data container whose payload does not fit in 32 bits:
/// the reader must read until the phase ends (a short packet).
pub const LENGTH_UNKNOWN: u32 = 0xFFFF_FFFF;

/// What a container carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerKind {
    /// An operation request, initiator to responder.
    Command,
    /// A data phase, in either direction.
    Data,
    /// The responder's answer to an operation.
    Response,
    /// An asynchronous event, on the interrupt endpoint.
    Event,
}

impl ContainerKind {
    pub(crate) fn from_wire(value: u16) -> DecodeResult<Self> {
        match value {
            1 => Ok(ContainerKind::Command),
            2 => Ok(ContainerKind::Data),
            3 => Ok(ContainerKind::Response),
            4 => Ok(ContainerKind::Event),
            other => Err(DecodeError::invalid("container type", format!("{other}"))),
        }
    }

    fn to_wire(self) -> u16 {
        match self {
            ContainerKind::Command => 1,
            ContainerKind::Data => 2,
            ContainerKind::Response => 3,
            ContainerKind::Event => 4,
        }
    }
}

/// How many payload bytes follow a header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadLength {
    /// Exactly this many bytes.
    Exact(u32),
    /// Unknown (the object is 4 GiB or more): read until the phase ends.
    UntilPhaseEnd,
}

/// A container header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The length field: header plus payload, or [`LENGTH_UNKNOWN`].
    pub length: u32,
    /// What the container carries.
    pub kind: ContainerKind,
    /// The operation, response or event code (raw: its meaning depends on `kind`).
    pub code: u16,
    /// The transaction this container belongs to.
    pub transaction_id: u32,
}

impl Header {
    /// Parses the first [`HEADER_LEN`] bytes of a container.
    pub fn decode(bytes: &[u8]) -> DecodeResult<Header> {
        let mut r = Reader::new(bytes);
        let length = r.u32("container length")?;
        let kind = ContainerKind::from_wire(r.u16("container type")?)?;
        let code = r.u16("container code")?;
        let transaction_id = r.u32("transaction id")?;
        if length != LENGTH_UNKNOWN && (length as usize) < HEADER_LEN {
            return Err(DecodeError::invalid(
                "container length",
                format!("{length} is below 12"),
            ));
        }
        Ok(Header {
            length,
            kind,
            code,
            transaction_id,
        })
    }

    /// Payload bytes that follow this header.
    pub fn payload_length(&self) -> PayloadLength {
        match self.length {
            LENGTH_UNKNOWN => PayloadLength::UntilPhaseEnd,
            n => PayloadLength::Exact(n.saturating_sub(HEADER_LEN as u32)),
        }
    }

    /// Appends the 12 header bytes.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u32(self.length);
        out.put_u16(self.kind.to_wire());
        out.put_u16(self.code);
        out.put_u32(self.transaction_id);
    }

    /// The header of a data phase carrying `payload_len` bytes; a payload too
    /// large for the 32-bit field gets [`LENGTH_UNKNOWN`].
    pub fn for_data(code: u16, transaction_id: u32, payload_len: u64) -> Header {
        let length = payload_len
            .checked_add(HEADER_LEN as u64)
            .and_then(|n| u32::try_from(n).ok())
            .filter(|&n| n != LENGTH_UNKNOWN)
            .unwrap_or(LENGTH_UNKNOWN);
        Header {
            length,
            kind: ContainerKind::Data,
            code,
            transaction_id,
        }
    }
}

/// The longest command, response or event container: a header and five parameters.
pub const MAX_MESSAGE_LEN: usize = HEADER_LEN + 4 * MAX_PARAMS;

/// Up to [`MAX_PARAMS`] parameters held inline: a transaction's command and
/// response cost no allocation.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct Params {
    values: [u32; MAX_PARAMS],
    len: usize,
}

impl Params {
    /// The first [`MAX_PARAMS`] of `values` (more is a caller's bug: they are not sent).
    pub fn new(values: &[u32]) -> Params {
        let len = values.len().min(MAX_PARAMS);
        let mut inline = [0; MAX_PARAMS];
        inline[..len].copy_from_slice(&values[..len]);
        Params { values: inline, len }
    }
}

impl std::ops::Deref for Params {
    type Target = [u32];
    fn deref(&self) -> &[u32] {
        &self.values[..self.len]
    }
}

impl std::fmt::Debug for Params {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// A command, response or event container in wire form, built in place.
#[derive(Clone, Copy)]
pub struct EncodedMessage {
    bytes: [u8; MAX_MESSAGE_LEN],
    len: usize,
}

impl EncodedMessage {
    /// Header, then each parameter.
    pub fn new(kind: ContainerKind, code: u16, transaction_id: u32, params: &[u32]) -> EncodedMessage {
        let params = Params::new(params);
        let len = HEADER_LEN + 4 * params.len();
        let mut bytes = [0; MAX_MESSAGE_LEN];
        bytes[..4].copy_from_slice(&(len as u32).to_le_bytes());
        bytes[4..6].copy_from_slice(&kind.to_wire().to_le_bytes());
        bytes[6..8].copy_from_slice(&code.to_le_bytes());
        bytes[8..12].copy_from_slice(&transaction_id.to_le_bytes());
        for (slot, param) in bytes[HEADER_LEN..len].chunks_exact_mut(4).zip(params.iter()) {
            slot.copy_from_slice(&param.to_le_bytes());
        }
        EncodedMessage { bytes, len }
    }
}

impl std::ops::Deref for EncodedMessage {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// A command, response or event: a header and its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Command, Response or Event.
    pub kind: ContainerKind,
    /// The operation, response or event code.
    pub code: u16,
    /// The transaction this belongs to.
    pub transaction_id: u32,
    /// Up to [`MAX_PARAMS`] parameters.
    pub params: Vec<u32>,
}

impl Message {
    /// Builds a command container for an operation.
    pub fn command(code: impl Into<u16>, transaction_id: u32, params: &[u32]) -> Message {
        Message {
            kind: ContainerKind::Command,
            code: code.into(),
            transaction_id,
            params: params.to_vec(),
        }
    }

    /// Builds a response container.
    pub fn response(code: impl Into<u16>, transaction_id: u32, params: &[u32]) -> Message {
        Message {
            kind: ContainerKind::Response,
            code: code.into(),
            transaction_id,
            params: params.to_vec(),
        }
    }

    /// Builds an event container.
    pub fn event(code: impl Into<u16>, transaction_id: u32, params: &[u32]) -> Message {
        Message {
            kind: ContainerKind::Event,
            code: code.into(),
            transaction_id,
            params: params.to_vec(),
        }
    }

    /// The wire form: header, then each parameter. More than [`MAX_PARAMS`]
    /// parameters is a caller's bug, so the extra ones are not sent.
    pub fn encode(&self) -> Vec<u8> {
        EncodedMessage::new(self.kind, self.code, self.transaction_id, &self.params).to_vec()
    }

    /// Parses a whole command, response or event container.
    ///
    /// Parameters are read as far as the length field says; a device that
    /// pads the container beyond its length field is tolerated.
    pub fn decode(bytes: &[u8]) -> DecodeResult<Message> {
        let (header, params) = Message::decode_inline(bytes)?;
        Ok(Message {
            kind: header.kind,
            code: header.code,
            transaction_id: header.transaction_id,
            params: params.to_vec(),
        })
    }

    /// [`Message::decode`] with the parameters held inline (no allocation).
    pub fn decode_inline(bytes: &[u8]) -> DecodeResult<(Header, Params)> {
        let header = Header::decode(bytes)?;
        if header.kind == ContainerKind::Data {
            return Err(DecodeError::invalid(
                "container type",
                "a data container where a message was expected",
            ));
        }
        let payload = match header.payload_length() {
            PayloadLength::Exact(n) => n as usize,
            PayloadLength::UntilPhaseEnd => {
                return Err(DecodeError::invalid(
                    "container length",
                    "unknown length on a message",
                ));
            }
        };
        if payload % 4 != 0 || payload > 4 * MAX_PARAMS {
            return Err(DecodeError::invalid(
                "container length",
                format!("{payload} parameter bytes"),
            ));
        }
        let mut r = Reader::new(&bytes[HEADER_LEN..]);
        let mut params = Params::default();
        for slot in &mut params.values[..payload / 4] {
            *slot = r.u32("parameter")?;
        }
        params.len = payload / 4;
        Ok((header, params))
    }

    /// The parameter at `index`, or 0 when the device left it out (the
    /// specification lets unused trailing parameters be omitted).
    pub fn param(&self, index: usize) -> u32 {
        self.params.get(index).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ptp::codes::OperationCode;

    #[test]
    fn open_session_command_golden_vector() {
        // MTP 1.1 appendix: OpenSession (0x1002), transaction 0 — session id 1.
        let bytes = Message::command(OperationCode::OPEN_SESSION.0, 0, &[1]).encode();
        assert_eq!(
            bytes,
            [0x10, 0, 0, 0, 0x01, 0x00, 0x02, 0x10, 0, 0, 0, 0, 1, 0, 0, 0]
        );
        let back = Message::decode(&bytes).unwrap();
        assert_eq!(back.kind, ContainerKind::Command);
        assert_eq!(back.params, [1]);
    }

    #[test]
    fn ok_response_without_parameters_golden_vector() {
        let bytes = Message::response(0x2001u16, 7, &[]).encode();
        assert_eq!(bytes, [12, 0, 0, 0, 3, 0, 0x01, 0x20, 7, 0, 0, 0]);
    }

    #[test]
    fn data_header_for_a_huge_object_has_unknown_length() {
        let header = Header::for_data(0x1009, 3, 5 << 30);
        assert_eq!(header.length, LENGTH_UNKNOWN);
        assert_eq!(header.payload_length(), PayloadLength::UntilPhaseEnd);
        let small = Header::for_data(0x1009, 3, 100);
        assert_eq!(small.payload_length(), PayloadLength::Exact(100));
        // 0xFFFFFFFF - 12 bytes would make the length field read as "unknown".
        let edge = Header::for_data(0x1009, 3, u64::from(LENGTH_UNKNOWN) - 12);
        assert_eq!(edge.length, LENGTH_UNKNOWN);
    }

    #[test]
    fn malformed_messages_are_refused() {
        assert!(Message::decode(&[8, 0, 0, 0, 1, 0, 1, 0x10, 0, 0, 0, 0]).is_err());
        assert!(Message::decode(&[14, 0, 0, 0, 3, 0, 1, 0x20, 0, 0, 0, 0, 0, 0]).is_err());
        assert!(Message::decode(&[12, 0, 0, 0, 9, 0, 1, 0x20, 0, 0, 0, 0]).is_err());
        // Claims one parameter but the bytes stop.
        assert!(Message::decode(&[16, 0, 0, 0, 3, 0, 1, 0x20, 0, 0, 0, 0]).is_err());
    }

    #[test]
    fn messages_built_in_place_match_the_allocating_forms() {
        for params in [&[][..], &[1], &[1, 2, 3, 4, 5], &[1, 2, 3, 4, 5, 6]] {
            let message = Message::command(0x1008u16, 9, params);
            let encoded = EncodedMessage::new(ContainerKind::Command, 0x1008, 9, params);
            assert_eq!(&encoded[..], &message.encode()[..], "{params:?}");
            let (header, decoded) = Message::decode_inline(&encoded).unwrap();
            assert_eq!((header.code, header.transaction_id), (0x1008, 9));
            assert_eq!(&decoded[..], &params[..params.len().min(MAX_PARAMS)]);
            assert_eq!(Message::decode(&encoded).unwrap().params, &decoded[..]);
        }
        assert_eq!(format!("{:?}", Params::new(&[1, 2])), "[1, 2]");
    }

    #[test]
    fn missing_trailing_parameters_read_as_zero() {
        let message = Message::response(0x2001u16, 1, &[42]);
        assert_eq!(message.param(0), 42);
        assert_eq!(message.param(3), 0);
    }
}
