//! PTP/MTP protocol: containers, codes and datasets, as pure functions over
//! byte slices. Nothing here does I/O, and every parser is total: any bytes
//! give a value or a [`DecodeError`], never a panic.

pub mod codec;
pub mod codes;
pub mod container;
pub mod dataset;
pub mod ids;
pub mod time;
pub mod value;

pub use codec::{Codec, DecodeError, DecodeResult, Reader, Writer};
pub use codes::{DevicePropCode, EventCode, ObjectFormat, OperationCode, PropertyCode, ResponseCode};
pub use container::{ContainerKind, Header, Message, PayloadLength};
pub use dataset::{
    DeviceInfo, ObjectInfo, ObjectPropDesc, ObjectPropList, PropForm, PropListEntry, PropListReader,
    StorageInfo,
};
pub use ids::{ObjectHandle, StorageId};
pub use value::{DataType, Value};

#[cfg(test)]
mod proptests;
