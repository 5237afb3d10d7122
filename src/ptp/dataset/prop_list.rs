//! ObjectPropList (GetObjectPropList): many objects' properties in one
//! dataset — the way to list a folder in one round trip.

use crate::ptp::codec::{Codec, DecodeError, DecodeResult, Reader, Writer};
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

impl PropListEntry {
    /// Appends the element's wire form: an ObjectPropList is its count, then its elements.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u32(self.handle);
        out.put_u16(self.property.0);
        out.put_u16(self.value.data_type().0);
        self.value.encode(out);
    }
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
            entry.encode(out);
        }
    }

    fn read(r: &mut Reader<'_>) -> DecodeResult<Self> {
        let entries = r.array_of("ObjectPropList", MIN_ENTRY_LEN, read_element)?;
        Ok(ObjectPropList { entries })
    }
}

/// The longest element [`PropListReader`] waits for: a string is at most
/// 521 bytes; anything longer is an array no listing needs.
const MAX_ELEMENT_LEN: usize = 64 << 10;

/// An ObjectPropList read as it arrives, element by element: only the bytes
/// of one unfinished element are held, so a listing of 100,000 objects is
/// never in memory as a whole. [`PropListReader::push`] takes the data
/// phase's bytes in pieces of any size; [`PropListReader::finish`] checks
/// that the dataset ended where its count says.
#[derive(Debug, Default)]
pub struct PropListReader {
    /// Bytes of the count or of an element not yet complete.
    pending: Vec<u8>,
    /// The element count the dataset declares, once its first 4 bytes came.
    declared: Option<u32>,
    /// Elements read so far.
    read: u32,
}

impl PropListReader {
    /// A reader at the start of a dataset.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads the complete elements in `bytes` (after what earlier calls left
    /// unfinished), handing each to `visit` in the device's order.
    pub fn push(&mut self, bytes: &[u8], visit: &mut dyn FnMut(PropListEntry)) -> DecodeResult<()> {
        self.pending.extend_from_slice(bytes);
        let mut r = Reader::new(&self.pending);
        if self.declared.is_none() {
            match r.u32("ObjectPropList") {
                Ok(count) => self.declared = Some(count),
                Err(_) => return Ok(()),
            }
        }
        let declared = self.declared.unwrap_or(0);
        let mut consumed = r.position();
        while r.remaining() > 0 {
            if self.read == declared {
                return Err(DecodeError::invalid(
                    "ObjectPropList",
                    format!("bytes after its {declared} elements"),
                ));
            }
            match read_element(&mut r) {
                Ok(entry) => {
                    self.read += 1;
                    consumed = r.position();
                    visit(entry);
                }
                Err(DecodeError::Truncated { .. }) if r.remaining() <= MAX_ELEMENT_LEN => break,
                Err(error) => return Err(error),
            }
        }
        self.pending.drain(..consumed);
        Ok(())
    }

    /// Ends the dataset: every declared element came, and no stray bytes.
    pub fn finish(self) -> DecodeResult<()> {
        match self.declared {
            Some(declared) if declared == self.read && self.pending.is_empty() => Ok(()),
            _ => Err(DecodeError::Truncated {
                what: "ObjectPropList",
                needed: MIN_ENTRY_LEN.max(self.pending.len() + 1),
                left: self.pending.len(),
            }),
        }
    }
}

fn read_element(r: &mut Reader<'_>) -> DecodeResult<PropListEntry> {
    let start = r.clone();
    let element = (|| {
        let handle = r.u32("ObjectHandle")?;
        let property = PropertyCode(r.u16("PropertyCode")?);
        let data_type = DataType(r.u16("Datatype")?);
        let value = Value::read(r, data_type)?;
        Ok(PropListEntry {
            handle,
            property,
            value,
        })
    })();
    if element.is_err() {
        *r = start;
    }
    element
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

    /// Every split of a dataset into two pieces reads the same elements as decoding it whole.
    #[test]
    fn the_reader_takes_the_dataset_in_pieces_of_any_size() {
        let list = ObjectPropList {
            entries: vec![
                PropListEntry {
                    handle: 5,
                    property: PropertyCode::OBJECT_SIZE,
                    value: Value::Int(DataType::UINT64, 5 << 30),
                },
                PropListEntry {
                    handle: 5,
                    property: PropertyCode::OBJECT_FILE_NAME,
                    value: Value::Str("IMG_1.jpg".into()),
                },
                PropListEntry {
                    handle: 6,
                    property: PropertyCode::PARENT_OBJECT,
                    value: Value::Int(DataType::UINT32, 5),
                },
            ],
        };
        let bytes = list.to_bytes();
        for split in 0..=bytes.len() {
            let mut reader = PropListReader::new();
            let mut read = Vec::new();
            reader.push(&bytes[..split], &mut |e| read.push(e)).unwrap();
            reader.push(&bytes[split..], &mut |e| read.push(e)).unwrap();
            reader.finish().unwrap();
            assert_eq!(read, list.entries, "split at {split}");
        }
        for len in 0..bytes.len() {
            let mut reader = PropListReader::new();
            reader.push(&bytes[..len], &mut |_| {}).unwrap();
            assert!(reader.finish().is_err(), "cut at {len}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(PropListReader::new().push(&longer, &mut |_| {}).is_err());
    }

    #[test]
    fn a_huge_element_count_is_refused_up_front() {
        assert!(ObjectPropList::decode(&[0xFF, 0xFF, 0xFF, 0x7F]).is_err());
    }
}
