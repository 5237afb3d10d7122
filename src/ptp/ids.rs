//! The two numbers every operation names things by: a storage's id and an
//! object's handle. Distinct types, so that one cannot be passed for the other.

use std::fmt;
use std::str::FromStr;

/// A StorageID: which storage (internal memory, SD card) an operation means.
/// Shown as the specification writes it, `0x00010001`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StorageId(pub u32);

/// An ObjectHandle: a file or folder, numbered by the device for this session
/// only (devices may renumber them in the next one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectHandle(pub u32);

impl ObjectHandle {
    /// The parent a root-level object reports in its ObjectInfo.
    pub const ROOT_PARENT: ObjectHandle = ObjectHandle(0);
}

impl fmt::Display for StorageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:08X}", self.0)
    }
}

impl fmt::Display for ObjectHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:08X}", self.0)
    }
}

/// A storage id as people type it: `0x00010001` (hex) or `65537` (decimal).
impl FromStr for StorageId {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
            Some(hex) => u32::from_str_radix(hex, 16),
            None => text.parse(),
        };
        parsed
            .map(StorageId)
            .map_err(|_| format!("\"{text}\" is not a storage id (e.g. 0x00010001)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_show_as_eight_upper_case_hex_digits() {
        assert_eq!(StorageId(0x0001_000a).to_string(), "0x0001000A");
        assert_eq!(ObjectHandle(7).to_string(), "0x00000007");
    }

    #[test]
    fn storage_ids_parse_in_hex_and_decimal() {
        assert_eq!("0x00010001".parse(), Ok(StorageId(0x10001)));
        assert_eq!("0X0001000a".parse(), Ok(StorageId(0x1000a)));
        assert_eq!("65537".parse(), Ok(StorageId(0x10001)));
        assert!("internal".parse::<StorageId>().is_err());
        assert!("0x".parse::<StorageId>().is_err());
        assert!("0x100000000".parse::<StorageId>().is_err());
    }
}
