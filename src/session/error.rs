//! What can go wrong in a transaction, in words a person can act on.

use std::io;

use crate::ptp::{DecodeError, OperationCode, ResponseCode};
use crate::transport::TransportError;

/// What to tell a person whose phone shows no storage.
pub const LOCKED_HINT: &str = "phone is locked or not in File transfer mode: \
     unlock it and pick \"File transfer\" in the USB notification";

/// Why an operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The cable, the USB stack or the device's endpoints failed.
    #[error("{op}: {source}")]
    Transport {
        /// The operation under way.
        op: OperationCode,
        /// What the transport said.
        #[source]
        source: TransportError,
    },
    /// The device answered with an error code.
    #[error("the device answered {op} with \"{code}\"{}", hint_for(*code))]
    Device {
        /// The operation.
        op: OperationCode,
        /// The device's response code.
        code: ResponseCode,
    },
    /// The device shows no storage and refused a storage or object: it is
    /// locked, the USB mode is not "File transfer", or (an iPhone) it does
    /// not trust this computer yet.
    #[error("{hint} (the device answered {op} with \"{code}\")")]
    Locked {
        /// The operation.
        op: OperationCode,
        /// The device's response code.
        code: ResponseCode,
        /// What to do: [`LOCKED_HINT`], or the iPhone's "tap Trust".
        hint: &'static str,
    },
    /// The device does not list the operation in its DeviceInfo.
    #[error("the device does not support {op}")]
    Unsupported {
        /// The operation.
        op: OperationCode,
    },
    /// The device broke the protocol (wrong transaction id, container type,
    /// lengths). The session must be recovered before it is used again.
    #[error("protocol error during {op}: {detail} (the device misbehaved; reconnecting usually helps)")]
    Protocol {
        /// The operation.
        op: OperationCode,
        /// What was wrong.
        detail: String,
    },
    /// A dataset the device sent could not be read.
    #[error("{op} returned a malformed dataset: {source}")]
    Dataset {
        /// The operation.
        op: OperationCode,
        /// What was wrong with the bytes.
        #[source]
        source: DecodeError,
    },
    /// Writing received data or reading data to send failed on this side.
    #[error("{op}: {context}: {source}")]
    Io {
        /// The operation.
        op: OperationCode,
        /// Which side failed ("writing the received data", "reading the file to send").
        context: &'static str,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
}

impl SessionError {
    /// The device's response code, when the device answered with an error.
    pub fn response_code(&self) -> Option<ResponseCode> {
        match self {
            SessionError::Device { code, .. } | SessionError::Locked { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Whether the device stalled the endpoint.
    pub fn is_stall(&self) -> bool {
        matches!(
            self,
            SessionError::Transport {
                source: crate::transport::TransportError::Stall,
                ..
            }
        )
    }

    /// Whether the transaction broke off below the protocol (a stall, a
    /// timeout, a garbled answer) with the device still there: what it did
    /// with the transaction is unknown. A pulled cable is not this.
    pub fn broke_off(&self) -> bool {
        match self {
            SessionError::Transport { source, .. } => {
                !matches!(source, crate::transport::TransportError::Disconnected)
            }
            SessionError::Protocol { .. } => true,
            _ => false,
        }
    }

    /// Whether the phone is locked (or not in File transfer mode).
    pub fn is_locked(&self) -> bool {
        matches!(self, SessionError::Locked { .. })
    }

    /// Whether the session is out of step with the device and needs
    /// [`Session::recover`](super::Session::recover) before the next operation.
    pub fn needs_recovery(&self) -> bool {
        matches!(
            self,
            SessionError::Transport { .. } | SessionError::Protocol { .. }
        ) || matches!(self, SessionError::Io { context, .. } if *context == READING_SOURCE)
    }
}

/// The [`SessionError::Io`] context when the data to send could not be read.
pub(crate) const READING_SOURCE: &str = "reading the data to send";
/// The [`SessionError::Io`] context when received data could not be stored.
pub(crate) const WRITING_SINK: &str = "writing the received data";

fn hint_for(code: ResponseCode) -> &'static str {
    match code {
        ResponseCode::DEVICE_BUSY => ": the phone is busy; wait a moment and try again",
        ResponseCode::STORE_FULL => ": the phone's storage is full",
        ResponseCode::ACCESS_DENIED => ": the phone refused access; unlock it and allow file transfer",
        ResponseCode::INVALID_OBJECT_HANDLE => {
            ": the file is gone or the listing is stale; list the device again"
        }
        ResponseCode::STORE_NOT_AVAILABLE => {
            ": the storage is not available (SD card removed, or the phone is locked)"
        }
        ResponseCode::OBJECT_TOO_LARGE => {
            ": the storage cannot hold a file that large (its file system has a size limit)"
        }
        ResponseCode::SESSION_NOT_OPEN => ": the device closed the session; reconnect",
        ResponseCode::INCOMPLETE_TRANSFER => ": the transfer was cut short; try again",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locked_error_tells_the_fix_and_the_code() {
        let err = SessionError::Locked {
            op: OperationCode::GET_OBJECT_HANDLES,
            code: ResponseCode::INVALID_STORAGE_ID,
            hint: LOCKED_HINT,
        };
        let text = err.to_string();
        assert!(text.contains("unlock it"), "{text}");
        assert!(text.contains("Invalid StorageID"), "{text}");
        assert!(err.is_locked());
    }

    #[test]
    fn device_errors_name_the_operation_and_add_a_hint() {
        let err = SessionError::Device {
            op: OperationCode::GET_OBJECT,
            code: ResponseCode::DEVICE_BUSY,
        };
        assert_eq!(
            err.to_string(),
            "the device answered GetObject with \"Device Busy\": the phone is busy; wait a moment and try again"
        );
        let unknown = SessionError::Device {
            op: OperationCode(0x9999),
            code: ResponseCode(0xA8FF),
        };
        assert_eq!(unknown.to_string(), "the device answered 0x9999 with \"0xA8FF\"");
    }
}
