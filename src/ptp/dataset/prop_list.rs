//! ObjectPropList (GetObjectPropList): many objects' properties in one
//! dataset — the way to list a folder in one round trip.

use crate::ptp::codec::{Codec, DecodeResult, Reader, Writer};
use crate::ptp::codes::PropertyCode;
use crate::ptp::value::{DataType, Value};

/// One (object, property, value) element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropListEntry {
    /// The object.
    pub handle: u32,
    /// The property.
    pub property: PropertyCode,
    /// Its value, typed.
    pub value: Value,
}

/// The ObjectPropList dataset.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObjectPropList {
    /// The elements, in the device's order.
    pub entries: Vec<PropListEntry>,
}

/// The smallest element: handle, property code, data type, and a 1-byte value.
const MIN_ENTRY_LEN: usize = 4 + 2 + 2 + 1;

impl Codec for ObjectPropList {
    fn encode(&self, out: &mut Vec<u8>) {
        out.put_u32(self.entries.len() as u32);
        for entry in &self.entries {
            out.put_u32(entry.handle);
            out.put_u16(entry.property.0);
            out.put_u16(entry.value.data_type().0);
            entry.value.encode(out);
        }
    }

    fn read(r: &mut Reader<'_>) -> DecodeResult<Self> {
        let entries = r.array_of("ObjectPropList", MIN_ENTRY_LEN, |r| {
            let handle = r.u32("ObjectHandle")?;
            let property = PropertyCode(r.u16("PropertyCode")?);
            let data_type = DataType(r.u16("Datatype")?);
            let value = Value::read(r, data_type)?;
            Ok(PropListEntry {
                handle,
                property,
                value,
            })
        })?;
        Ok(ObjectPropList { entries })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_vector_with_a_size_and_a_name() {
        let mut bytes = vec![2, 0, 0, 0];
        bytes.extend([5, 0, 0, 0, 0x04, 0xDC, 0x08, 0x00]); // handle 5, ObjectSize, UINT64
        bytes.extend((5u64 << 30).to_le_bytes());
        bytes.extend([5, 0, 0, 0, 0x07, 0xDC, 0xFF, 0xFF]); // handle 5, ObjectFileName, STR
        bytes.extend([2, b'v', 0, 0, 0]);
        let list = ObjectPropList::decode(&bytes).unwrap();
        assert_eq!(list.entries.len(), 2);
        assert_eq!(list.entries[0].property, PropertyCode::OBJECT_SIZE);
        assert_eq!(list.entries[0].value.as_u64(), Some(5 << 30));
        assert_eq!(list.entries[1].value.as_str(), Some("v"));
        assert_eq!(list.to_bytes(), bytes);
        for len in 0..bytes.len() {
            assert!(ObjectPropList::decode(&bytes[..len]).is_err(), "length {len}");
        }
    }

    #[test]
    fn a_huge_element_count_is_refused_up_front() {
        assert!(ObjectPropList::decode(&[0xFF, 0xFF, 0xFF, 0x7F]).is_err());
    }
}
