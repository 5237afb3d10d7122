//! PTP and MTP codes as open newtypes: every `u16` is a valid code, the known
//! ones have names, and an unknown (vendor) code prints as hex.

use std::fmt;

macro_rules! open_code {
    ($(#[$meta:meta])* $name:ident { $($(#[$cmeta:meta])* $const:ident = $value:literal => $text:literal,)* }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub u16);

        impl $name {
            $($(#[$cmeta])* #[doc = $text] pub const $const: $name = $name($value);)*

            /// The specification's name for this code, if it is a known one.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($value => Some($text),)*
                    _ => None,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.name() {
                    Some(text) => f.write_str(text),
                    None => write!(f, "0x{:04X}", self.0),
                }
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}(0x{:04X})", stringify!($name), self.0)
            }
        }

        impl From<u16> for $name {
            fn from(code: u16) -> Self {
                $name(code)
            }
        }
    };
}

open_code! {
    /// What a command container asks the device to do.
    OperationCode {
        GET_DEVICE_INFO = 0x1001 => "GetDeviceInfo",
        OPEN_SESSION = 0x1002 => "OpenSession",
        CLOSE_SESSION = 0x1003 => "CloseSession",
        GET_STORAGE_IDS = 0x1004 => "GetStorageIDs",
        GET_STORAGE_INFO = 0x1005 => "GetStorageInfo",
        GET_NUM_OBJECTS = 0x1006 => "GetNumObjects",
        GET_OBJECT_HANDLES = 0x1007 => "GetObjectHandles",
        GET_OBJECT_INFO = 0x1008 => "GetObjectInfo",
        GET_OBJECT = 0x1009 => "GetObject",
        GET_THUMB = 0x100A => "GetThumb",
        DELETE_OBJECT = 0x100B => "DeleteObject",
        SEND_OBJECT_INFO = 0x100C => "SendObjectInfo",
        SEND_OBJECT = 0x100D => "SendObject",
        INITIATE_CAPTURE = 0x100E => "InitiateCapture",
        FORMAT_STORE = 0x100F => "FormatStore",
        RESET_DEVICE = 0x1010 => "ResetDevice",
        SELF_TEST = 0x1011 => "SelfTest",
        SET_OBJECT_PROTECTION = 0x1012 => "SetObjectProtection",
        POWER_DOWN = 0x1013 => "PowerDown",
        GET_DEVICE_PROP_DESC = 0x1014 => "GetDevicePropDesc",
        GET_DEVICE_PROP_VALUE = 0x1015 => "GetDevicePropValue",
        SET_DEVICE_PROP_VALUE = 0x1016 => "SetDevicePropValue",
        RESET_DEVICE_PROP_VALUE = 0x1017 => "ResetDevicePropValue",
        TERMINATE_OPEN_CAPTURE = 0x1018 => "TerminateOpenCapture",
        MOVE_OBJECT = 0x1019 => "MoveObject",
        COPY_OBJECT = 0x101A => "CopyObject",
        GET_PARTIAL_OBJECT = 0x101B => "GetPartialObject",
        INITIATE_OPEN_CAPTURE = 0x101C => "InitiateOpenCapture",
        GET_PARTIAL_OBJECT_64 = 0x95C1 => "GetPartialObject64",
        SEND_PARTIAL_OBJECT = 0x95C2 => "SendPartialObject",
        TRUNCATE_OBJECT = 0x95C3 => "TruncateObject",
        BEGIN_EDIT_OBJECT = 0x95C4 => "BeginEditObject",
        END_EDIT_OBJECT = 0x95C5 => "EndEditObject",
        GET_OBJECT_PROPS_SUPPORTED = 0x9801 => "GetObjectPropsSupported",
        GET_OBJECT_PROP_DESC = 0x9802 => "GetObjectPropDesc",
        GET_OBJECT_PROP_VALUE = 0x9803 => "GetObjectPropValue",
        SET_OBJECT_PROP_VALUE = 0x9804 => "SetObjectPropValue",
        GET_OBJECT_PROP_LIST = 0x9805 => "GetObjectPropList",
        SET_OBJECT_PROP_LIST = 0x9806 => "SetObjectPropList",
        GET_INTERDEPENDENT_PROP_DESC = 0x9807 => "GetInterdependentPropDesc",
        SEND_OBJECT_PROP_LIST = 0x9808 => "SendObjectPropList",
        GET_OBJECT_REFERENCES = 0x9810 => "GetObjectReferences",
        SET_OBJECT_REFERENCES = 0x9811 => "SetObjectReferences",
        SKIP = 0x9820 => "Skip",
    }
}

open_code! {
    /// How the device answered an operation.
    ResponseCode {
        UNDEFINED = 0x2000 => "Undefined",
        OK = 0x2001 => "OK",
        GENERAL_ERROR = 0x2002 => "General Error",
        SESSION_NOT_OPEN = 0x2003 => "Session Not Open",
        INVALID_TRANSACTION_ID = 0x2004 => "Invalid TransactionID",
        OPERATION_NOT_SUPPORTED = 0x2005 => "Operation Not Supported",
        PARAMETER_NOT_SUPPORTED = 0x2006 => "Parameter Not Supported",
        INCOMPLETE_TRANSFER = 0x2007 => "Incomplete Transfer",
        INVALID_STORAGE_ID = 0x2008 => "Invalid StorageID",
        INVALID_OBJECT_HANDLE = 0x2009 => "Invalid ObjectHandle",
        DEVICE_PROP_NOT_SUPPORTED = 0x200A => "DeviceProp Not Supported",
        INVALID_OBJECT_FORMAT_CODE = 0x200B => "Invalid ObjectFormatCode",
        STORE_FULL = 0x200C => "Store Full",
        OBJECT_WRITE_PROTECTED = 0x200D => "Object WriteProtected",
        STORE_READ_ONLY = 0x200E => "Store Read-Only",
        ACCESS_DENIED = 0x200F => "Access Denied",
        NO_THUMBNAIL_PRESENT = 0x2010 => "No Thumbnail Present",
        SELF_TEST_FAILED = 0x2011 => "SelfTest Failed",
        PARTIAL_DELETION = 0x2012 => "Partial Deletion",
        STORE_NOT_AVAILABLE = 0x2013 => "Store Not Available",
        SPECIFICATION_BY_FORMAT_UNSUPPORTED = 0x2014 => "Specification By Format Unsupported",
        NO_VALID_OBJECT_INFO = 0x2015 => "No Valid ObjectInfo",
        INVALID_CODE_FORMAT = 0x2016 => "Invalid Code Format",
        UNKNOWN_VENDOR_CODE = 0x2017 => "Unknown Vendor Code",
        CAPTURE_ALREADY_TERMINATED = 0x2018 => "Capture Already Terminated",
        DEVICE_BUSY = 0x2019 => "Device Busy",
        INVALID_PARENT_OBJECT = 0x201A => "Invalid ParentObject",
        INVALID_DEVICE_PROP_FORMAT = 0x201B => "Invalid DeviceProp Format",
        INVALID_DEVICE_PROP_VALUE = 0x201C => "Invalid DeviceProp Value",
        INVALID_PARAMETER = 0x201D => "Invalid Parameter",
        SESSION_ALREADY_OPEN = 0x201E => "Session Already Open",
        TRANSACTION_CANCELLED = 0x201F => "Transaction Cancelled",
        SPECIFICATION_OF_DESTINATION_UNSUPPORTED = 0x2020 => "Specification of Destination Unsupported",
        INVALID_OBJECT_PROP_CODE = 0xA801 => "Invalid ObjectPropCode",
        INVALID_OBJECT_PROP_FORMAT = 0xA802 => "Invalid ObjectProp Format",
        INVALID_OBJECT_PROP_VALUE = 0xA803 => "Invalid ObjectProp Value",
        INVALID_OBJECT_REFERENCE = 0xA804 => "Invalid ObjectReference",
        GROUP_NOT_SUPPORTED = 0xA805 => "Group Not Supported",
        INVALID_DATASET = 0xA806 => "Invalid Dataset",
        SPECIFICATION_BY_GROUP_UNSUPPORTED = 0xA807 => "Specification By Group Unsupported",
        SPECIFICATION_BY_DEPTH_UNSUPPORTED = 0xA808 => "Specification By Depth Unsupported",
        OBJECT_TOO_LARGE = 0xA809 => "Object Too Large",
        OBJECT_PROP_NOT_SUPPORTED = 0xA80A => "ObjectProp Not Supported",
    }
}

open_code! {
    /// What an event container (interrupt endpoint) reports.
    EventCode {
        UNDEFINED = 0x4000 => "Undefined",
        CANCEL_TRANSACTION = 0x4001 => "CancelTransaction",
        OBJECT_ADDED = 0x4002 => "ObjectAdded",
        OBJECT_REMOVED = 0x4003 => "ObjectRemoved",
        STORE_ADDED = 0x4004 => "StoreAdded",
        STORE_REMOVED = 0x4005 => "StoreRemoved",
        DEVICE_PROP_CHANGED = 0x4006 => "DevicePropChanged",
        OBJECT_INFO_CHANGED = 0x4007 => "ObjectInfoChanged",
        DEVICE_INFO_CHANGED = 0x4008 => "DeviceInfoChanged",
        REQUEST_OBJECT_TRANSFER = 0x4009 => "RequestObjectTransfer",
        STORE_FULL = 0x400A => "StoreFull",
        DEVICE_RESET = 0x400B => "DeviceReset",
        STORAGE_INFO_CHANGED = 0x400C => "StorageInfoChanged",
        CAPTURE_COMPLETE = 0x400D => "CaptureComplete",
        UNREPORTED_STATUS = 0x400E => "UnreportedStatus",
        OBJECT_PROP_CHANGED = 0xC801 => "ObjectPropChanged",
        OBJECT_PROP_DESC_CHANGED = 0xC802 => "ObjectPropDescChanged",
        OBJECT_REFERENCES_CHANGED = 0xC803 => "ObjectReferencesChanged",
    }
}

open_code! {
    /// The kind of an object: a folder (association) or a file format.
    ObjectFormat {
        UNDEFINED = 0x3000 => "Undefined",
        ASSOCIATION = 0x3001 => "Association",
        SCRIPT = 0x3002 => "Script",
        EXECUTABLE = 0x3003 => "Executable",
        TEXT = 0x3004 => "Text",
        HTML = 0x3005 => "HTML",
        DPOF = 0x3006 => "DPOF",
        AIFF = 0x3007 => "AIFF",
        WAV = 0x3008 => "WAV",
        MP3 = 0x3009 => "MP3",
        AVI = 0x300A => "AVI",
        MPEG = 0x300B => "MPEG",
        ASF = 0x300C => "ASF",
        UNDEFINED_IMAGE = 0x3800 => "Undefined Image",
        EXIF_JPEG = 0x3801 => "EXIF/JPEG",
        TIFF_EP = 0x3802 => "TIFF/EP",
        FLASHPIX = 0x3803 => "FlashPix",
        BMP = 0x3804 => "BMP",
        CIFF = 0x3805 => "CIFF",
        GIF = 0x3807 => "GIF",
        JFIF = 0x3808 => "JFIF",
        PCD = 0x3809 => "PCD",
        PICT = 0x380A => "PICT",
        PNG = 0x380B => "PNG",
        TIFF = 0x380D => "TIFF",
        TIFF_IT = 0x380E => "TIFF/IT",
        JP2 = 0x380F => "JP2",
        JPX = 0x3810 => "JPX",
        DNG = 0x3811 => "DNG",
        HEIF = 0x3812 => "HEIF",
        UNDEFINED_FIRMWARE = 0xB802 => "Undefined Firmware",
        WINDOWS_IMAGE_FORMAT = 0xB881 => "Windows Image Format",
        UNDEFINED_AUDIO = 0xB900 => "Undefined Audio",
        WMA = 0xB901 => "WMA",
        OGG = 0xB902 => "OGG",
        AAC = 0xB903 => "AAC",
        AUDIBLE = 0xB904 => "Audible",
        FLAC = 0xB906 => "FLAC",
        UNDEFINED_VIDEO = 0xB980 => "Undefined Video",
        WMV = 0xB981 => "WMV",
        MP4_CONTAINER = 0xB982 => "MP4 Container",
        MP2 = 0xB983 => "MP2",
        CONTAINER_3GP = 0xB984 => "3GP Container",
        ABSTRACT_AV_PLAYLIST = 0xBA05 => "Abstract Audio Video Playlist",
    }
}

impl ObjectFormat {
    /// Whether objects of this format are folders.
    pub fn is_folder(self) -> bool {
        self == ObjectFormat::ASSOCIATION
    }
}

open_code! {
    /// An MTP object property (the codes GetObjectPropList speaks in).
    PropertyCode {
        STORAGE_ID = 0xDC01 => "StorageID",
        OBJECT_FORMAT = 0xDC02 => "ObjectFormat",
        PROTECTION_STATUS = 0xDC03 => "ProtectionStatus",
        OBJECT_SIZE = 0xDC04 => "ObjectSize",
        ASSOCIATION_TYPE = 0xDC05 => "AssociationType",
        ASSOCIATION_DESC = 0xDC06 => "AssociationDesc",
        OBJECT_FILE_NAME = 0xDC07 => "ObjectFileName",
        DATE_CREATED = 0xDC08 => "DateCreated",
        DATE_MODIFIED = 0xDC09 => "DateModified",
        KEYWORDS = 0xDC0A => "Keywords",
        PARENT_OBJECT = 0xDC0B => "ParentObject",
        ALLOWED_FOLDER_CONTENTS = 0xDC0C => "AllowedFolderContents",
        HIDDEN = 0xDC0D => "Hidden",
        SYSTEM_OBJECT = 0xDC0E => "SystemObject",
        PERSISTENT_UNIQUE_OBJECT_IDENTIFIER = 0xDC41 => "PersistentUniqueObjectIdentifier",
        SYNC_ID = 0xDC42 => "SyncID",
        PROPERTY_BAG = 0xDC43 => "PropertyBag",
        NAME = 0xDC44 => "Name",
        CREATED_BY = 0xDC45 => "CreatedBy",
        ARTIST = 0xDC46 => "Artist",
        DATE_AUTHORED = 0xDC47 => "DateAuthored",
        DESCRIPTION = 0xDC48 => "Description",
        DATE_ADDED = 0xDC4E => "DateAdded",
        WIDTH = 0xDC87 => "Width",
        HEIGHT = 0xDC88 => "Height",
        DURATION = 0xDC89 => "Duration",
    }
}

open_code! {
    /// A device property (GetDevicePropValue and DevicePropChanged speak in these).
    DevicePropCode {
        BATTERY_LEVEL = 0x5001 => "BatteryLevel",
        DATE_TIME = 0x5011 => "DateTime",
        SYNCHRONIZATION_PARTNER = 0xD401 => "SynchronizationPartner",
        DEVICE_FRIENDLY_NAME = 0xD402 => "DeviceFriendlyName",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_codes_print_their_names() {
        assert_eq!(
            OperationCode::GET_PARTIAL_OBJECT_64.to_string(),
            "GetPartialObject64"
        );
        assert_eq!(ResponseCode(0x201E).to_string(), "Session Already Open");
        assert_eq!(EventCode::STORE_ADDED.to_string(), "StoreAdded");
        assert_eq!(PropertyCode::OBJECT_SIZE.to_string(), "ObjectSize");
    }

    #[test]
    fn unknown_codes_print_as_hex() {
        assert_eq!(OperationCode(0x9999).to_string(), "0x9999");
        assert_eq!(ResponseCode(0xA8FF).to_string(), "0xA8FF");
        assert_eq!(format!("{:?}", ObjectFormat(0xBEEF)), "ObjectFormat(0xBEEF)");
    }

    #[test]
    fn only_associations_are_folders() {
        assert!(ObjectFormat::ASSOCIATION.is_folder());
        assert!(!ObjectFormat::EXIF_JPEG.is_folder());
    }
}
