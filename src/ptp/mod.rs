//! PTP/MTP protocol: containers, codes and datasets, as pure functions over
//! byte slices. Nothing here does I/O, and every parser is total: any bytes
//! give a value or a [`DecodeError`], never a panic.

mod codec;
mod codes;
mod container;
mod dataset;
mod ids;
mod time;
mod value;

pub use codec::{Codec, DecodeError, DecodeResult, MAX_STRING_UNITS, Reader, Writer};
pub use codes::{DevicePropCode, EventCode, ObjectFormat, OperationCode, PropertyCode, ResponseCode};
pub use container::{
    ContainerKind, EncodedMessage, HEADER_LEN, Header, LENGTH_UNKNOWN, MAX_MESSAGE_LEN, MAX_PARAMS, Message,
    Params, PayloadLength,
};
pub use dataset::{
    DeviceInfo, MTP_VENDOR_EXTENSION_ID, ObjectInfo, ObjectPropDesc, ObjectPropList, PropForm, PropListEntry,
    PropListReader, SIZE_UNKNOWN_32, StorageInfo,
};
pub use ids::{ObjectHandle, StorageId};
pub use time::{DeviceTime, format_ptp_time, parse_ptp_time};
pub use value::{DataType, Value};

#[cfg(test)]
mod proptests;
