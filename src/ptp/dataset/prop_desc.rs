//! ObjectPropDesc (GetObjectPropDesc): a property's type, default and allowed values.

use crate::ptp::codec::{Codec, DecodeError, DecodeResult, Reader, Writer};
use crate::ptp::codes::PropertyCode;
use crate::ptp::value::{DataType, Value};

/// What values a property may take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PropForm {
    /// Any value of the type.
    None,
    /// Between `min` and `max`, in steps of `step`.
    Range {
        /// Smallest value.
        min: Value,
        /// Largest value.
        max: Value,
        /// Step.
        step: Value,
    },
    /// One of these.
    Enumeration(Vec<Value>),
    /// A PTP date string.
    DateTime,
    /// An array of exactly this many elements.
    FixedLengthArray(u16),
    /// A string matching this regular expression.
    RegularExpression(String),
    /// A byte array of at most this many bytes.
    ByteArray(u32),
    /// A string of at most this many characters.
    LongString(u32),
}

/// The ObjectPropDesc dataset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectPropDesc {
    /// The property.
    pub property: PropertyCode,
    /// Its data type.
    pub data_type: DataType,
    /// Whether the initiator may set it.
    pub settable: bool,
    /// The default value.
    pub default: Value,
    /// The property group.
    pub group_code: u32,
    /// Allowed values.
    pub form: PropForm,
}

impl PropForm {
    fn flag(&self) -> u8 {
        match self {
            PropForm::None => 0,
            PropForm::Range { .. } => 1,
            PropForm::Enumeration(_) => 2,
            PropForm::DateTime => 3,
            PropForm::FixedLengthArray(_) => 4,
            PropForm::RegularExpression(_) => 5,
            PropForm::ByteArray(_) => 6,
            PropForm::LongString(_) => 0xFF,
        }
    }

    fn encode(&self, out: &mut Vec<u8>) {
        out.put_u8(self.flag());
        match self {
            PropForm::None | PropForm::DateTime => {}
            PropForm::Range { min, max, step } => [min, max, step].iter().for_each(|v| v.encode(out)),
            PropForm::Enumeration(values) => {
                out.put_u16(values.len() as u16);
                values.iter().for_each(|v| v.encode(out));
            }
            PropForm::FixedLengthArray(n) => out.put_u16(*n),
            PropForm::RegularExpression(s) => out.put_string(s),
            PropForm::ByteArray(n) | PropForm::LongString(n) => out.put_u32(*n),
        }
    }

    fn read(r: &mut Reader<'_>, data_type: DataType) -> DecodeResult<PropForm> {
        Ok(match r.u8("FormFlag")? {
            0 => PropForm::None,
            1 => PropForm::Range {
                min: Value::read(r, data_type)?,
                max: Value::read(r, data_type)?,
                step: Value::read(r, data_type)?,
            },
            2 => {
                let count = r.u16("enumeration count")?;
                let values = (0..count)
                    .map(|_| Value::read(r, data_type))
                    .collect::<DecodeResult<_>>()?;
                PropForm::Enumeration(values)
            }
            3 => PropForm::DateTime,
            4 => PropForm::FixedLengthArray(r.u16("array length")?),
            5 => PropForm::RegularExpression(r.string("regular expression")?),
            6 => PropForm::ByteArray(r.u32("byte array length")?),
            0xFF => PropForm::LongString(r.u32("long string length")?),
            other => return Err(DecodeError::invalid("FormFlag", format!("{other}"))),
        })
    }
}

impl Codec for ObjectPropDesc {
    fn encode(&self, out: &mut Vec<u8>) {
        out.put_u16(self.property.0);
        out.put_u16(self.data_type.0);
        out.put_u8(u8::from(self.settable));
        self.default.encode(out);
        out.put_u32(self.group_code);
        self.form.encode(out);
    }

    fn read(r: &mut Reader<'_>) -> DecodeResult<Self> {
        let property = PropertyCode(r.u16("PropertyCode")?);
        let data_type = DataType(r.u16("Datatype")?);
        let settable = r.u8("Get/Set")? != 0;
        let default = Value::read(r, data_type)?;
        let group_code = r.u32("GroupCode")?;
        let form = PropForm::read(r, data_type)?;
        Ok(ObjectPropDesc {
            property,
            data_type,
            settable,
            default,
            group_code,
            form,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_size_desc_golden_vector() {
        let mut bytes = vec![0x04, 0xDC, 0x08, 0x00, 0x00];
        bytes.extend(0u64.to_le_bytes());
        bytes.extend([0, 0, 0, 0, 0]); // group 0, form none
        let desc = ObjectPropDesc::decode(&bytes).unwrap();
        assert_eq!(desc.property, PropertyCode::OBJECT_SIZE);
        assert!(!desc.settable);
        assert_eq!(desc.form, PropForm::None);
        assert_eq!(desc.to_bytes(), bytes);
    }

    #[test]
    fn every_form_round_trips() {
        let u16v = |v| Value::Int(DataType::UINT16, v);
        let forms = [
            (
                DataType::UINT16,
                PropForm::Range {
                    min: u16v(0),
                    max: u16v(10),
                    step: u16v(2),
                },
            ),
            (DataType::UINT16, PropForm::Enumeration(vec![u16v(1), u16v(3)])),
            (DataType::STRING, PropForm::DateTime),
            (DataType::UINT16, PropForm::FixedLengthArray(4)),
            (DataType::STRING, PropForm::RegularExpression("[a-z]+".into())),
            (DataType::UINT16, PropForm::ByteArray(64)),
            (DataType::STRING, PropForm::LongString(1024)),
        ];
        for (data_type, form) in forms {
            let default = if data_type == DataType::STRING {
                Value::Str(String::new())
            } else {
                u16v(0)
            };
            let desc = ObjectPropDesc {
                property: PropertyCode::NAME,
                data_type,
                settable: true,
                default,
                group_code: 1,
                form,
            };
            assert_eq!(ObjectPropDesc::decode(&desc.to_bytes()).unwrap(), desc);
        }
    }

    #[test]
    fn unknown_form_flag_is_refused() {
        let bytes = [0x07, 0xDC, 0xFF, 0xFF, 0, 0, 0, 0, 0, 0, 9];
        assert!(ObjectPropDesc::decode(&bytes).is_err());
    }
}
