//! The datasets carried in data phases.

mod device_info;
mod object_info;
mod prop_desc;
mod prop_list;
mod storage_info;

pub use device_info::{DeviceInfo, MTP_VENDOR_EXTENSION_ID};
pub use object_info::{ObjectInfo, SIZE_UNKNOWN_32};
pub use prop_desc::{ObjectPropDesc, PropForm};
pub use prop_list::{ObjectPropList, PropListEntry, PropListReader};
pub use storage_info::StorageInfo;
