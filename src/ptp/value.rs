//! Typed values as they appear in object property lists and descriptions.

use super::codec::{DecodeError, DecodeResult, Reader, Writer};

/// A PTP data type code (the "Datatype" field of property datasets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DataType(pub u16);

impl DataType {
    /// Signed 8-bit.
    pub const INT8: DataType = DataType(0x0001);
    /// Unsigned 8-bit.
    pub const UINT8: DataType = DataType(0x0002);
    /// Signed 16-bit.
    pub const INT16: DataType = DataType(0x0003);
    /// Unsigned 16-bit.
    pub const UINT16: DataType = DataType(0x0004);
    /// Signed 32-bit.
    pub const INT32: DataType = DataType(0x0005);
    /// Unsigned 32-bit.
    pub const UINT32: DataType = DataType(0x0006);
    /// Signed 64-bit.
    pub const INT64: DataType = DataType(0x0007);
    /// Unsigned 64-bit.
    pub const UINT64: DataType = DataType(0x0008);
    /// Signed 128-bit.
    pub const INT128: DataType = DataType(0x0009);
    /// Unsigned 128-bit.
    pub const UINT128: DataType = DataType(0x000A);
    /// A PTP string.
    pub const STRING: DataType = DataType(0xFFFF);
    /// Array types are the scalar code with this bit set.
    const ARRAY_BIT: u16 = 0x4000;

    /// The array type whose elements are of this type.
    pub fn array_of(self) -> DataType {
        DataType(self.0 | Self::ARRAY_BIT)
    }

    fn scalar_size(self) -> Option<usize> {
        match self.0 {
            0x0001 | 0x0002 => Some(1),
            0x0003 | 0x0004 => Some(2),
            0x0005 | 0x0006 => Some(4),
            0x0007 | 0x0008 => Some(8),
            0x0009 | 0x000A => Some(16),
            _ => None,
        }
    }
}

/// One value of some [`DataType`]. Signed values keep their bits in the
/// unsigned variants' width (PTP only needs them to round-trip).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// Any integer up to 128 bits, with its type.
    Int(DataType, u128),
    /// An array of integers of one scalar type.
    Array(DataType, Vec<u128>),
    /// A string.
    Str(String),
}

impl Value {
    /// The value as an unsigned integer, if it is one.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::Int(_, v) => u64::try_from(*v).ok(),
            _ => None,
        }
    }

    /// The value as a string, if it is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The value's data type.
    pub fn data_type(&self) -> DataType {
        match self {
            Value::Int(t, _) | Value::Array(t, _) => *t,
            Value::Str(_) => DataType::STRING,
        }
    }

    /// Reads a value of type `data_type`.
    pub fn read(r: &mut Reader<'_>, data_type: DataType) -> DecodeResult<Value> {
        if data_type == DataType::STRING {
            return r.string("string value").map(Value::Str);
        }
        if let Some(size) = data_type.scalar_size() {
            return read_scalar(r, size).map(|v| Value::Int(data_type, v));
        }
        let element = DataType(data_type.0 & !DataType::ARRAY_BIT);
        match (data_type.0 & DataType::ARRAY_BIT != 0, element.scalar_size()) {
            (true, Some(size)) => r
                .array_of("array value", size, |r| read_scalar(r, size))
                .map(|v| Value::Array(data_type, v)),
            _ => Err(DecodeError::invalid(
                "data type",
                format!("0x{:04X}", data_type.0),
            )),
        }
    }

    /// Appends the value's wire form (without its type code).
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Value::Str(s) => out.put_string(s),
            Value::Int(t, v) => write_scalar(out, t.scalar_size().unwrap_or(4), *v),
            Value::Array(t, values) => {
                let size = DataType(t.0 & !DataType::ARRAY_BIT).scalar_size().unwrap_or(4);
                out.put_u32(values.len() as u32);
                values.iter().for_each(|v| write_scalar(out, size, *v));
            }
        }
    }
}

fn read_scalar(r: &mut Reader<'_>, size: usize) -> DecodeResult<u128> {
    let bytes = r.take(size, "integer value")?;
    let mut wide = [0u8; 16];
    wide[..size].copy_from_slice(bytes);
    Ok(u128::from_le_bytes(wide))
}

fn write_scalar(out: &mut Vec<u8>, size: usize, value: u128) {
    out.extend_from_slice(&value.to_le_bytes()[..size]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_scalar_width_round_trips() {
        for (t, v) in [
            (DataType::UINT8, 0xAB),
            (DataType::INT16, 0xFFFE),
            (DataType::UINT32, 0xDEAD_BEEF),
            (DataType::UINT64, 5 << 30),
            (DataType::UINT128, u128::MAX - 1),
        ] {
            let value = Value::Int(t, v);
            let mut out = Vec::new();
            value.encode(&mut out);
            assert_eq!(Value::read(&mut Reader::new(&out), t).unwrap(), value);
        }
    }

    #[test]
    fn u64_golden_vector() {
        let mut out = Vec::new();
        Value::Int(DataType::UINT64, 0x0102_0304_0506_0708).encode(&mut out);
        assert_eq!(out, [8, 7, 6, 5, 4, 3, 2, 1]);
    }

    #[test]
    fn arrays_round_trip_and_unknown_types_are_refused() {
        let value = Value::Array(DataType::UINT16.array_of(), vec![1, 2, 3]);
        let mut out = Vec::new();
        value.encode(&mut out);
        assert_eq!(out, [3, 0, 0, 0, 1, 0, 2, 0, 3, 0]);
        assert_eq!(
            Value::read(&mut Reader::new(&out), DataType(0x4004)).unwrap(),
            value
        );
        assert!(Value::read(&mut Reader::new(&out), DataType(0x0042)).is_err());
    }
}
