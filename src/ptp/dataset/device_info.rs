//! DeviceInfo (GetDeviceInfo): who the device is and what it supports.

use crate::ptp::codec::{Codec, DecodeResult, Reader, Writer};
use crate::ptp::codes::{EventCode, ObjectFormat, OperationCode};

/// The vendor extension id Microsoft's MTP (and Android) report.
pub const MTP_VENDOR_EXTENSION_ID: u32 = 6;

/// The DeviceInfo dataset.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeviceInfo {
    /// PTP version times 100 (100 = 1.00).
    pub standard_version: u16,
    /// 6 for MTP.
    pub vendor_extension_id: u32,
    /// MTP version times 100.
    pub vendor_extension_version: u16,
    /// e.g. "microsoft.com: 1.0; android.com: 1.0;".
    pub vendor_extension_desc: String,
    /// 0 for standard mode.
    pub functional_mode: u16,
    /// Operations the device answers.
    pub operations_supported: Vec<OperationCode>,
    /// Events the device may send.
    pub events_supported: Vec<EventCode>,
    /// Device property codes.
    pub device_properties_supported: Vec<u16>,
    /// Formats the device can capture.
    pub capture_formats: Vec<ObjectFormat>,
    /// Formats the device can store and play back.
    pub playback_formats: Vec<ObjectFormat>,
    /// Manufacturer name.
    pub manufacturer: String,
    /// Model name.
    pub model: String,
    /// Firmware version.
    pub device_version: String,
    /// Serial number (the key for everything kept across connections).
    pub serial_number: String,
}

impl DeviceInfo {
    /// Whether the device answers `op`.
    pub fn supports(&self, op: OperationCode) -> bool {
        self.operations_supported.contains(&op)
    }

    /// Whether this is Android's MTP server, whose rules differ from the specification's.
    pub fn is_android(&self) -> bool {
        self.vendor_extension_desc.contains("android.com")
    }
}

fn codes<T: From<u16>>(r: &mut Reader<'_>, what: &'static str) -> DecodeResult<Vec<T>> {
    Ok(r.u16_array(what)?.into_iter().map(T::from).collect())
}

fn raw<T: Copy>(items: &[T], code: impl Fn(T) -> u16) -> Vec<u16> {
    items.iter().map(|&item| code(item)).collect()
}

impl Codec for DeviceInfo {
    fn encode(&self, out: &mut Vec<u8>) {
        out.put_u16(self.standard_version);
        out.put_u32(self.vendor_extension_id);
        out.put_u16(self.vendor_extension_version);
        out.put_string(&self.vendor_extension_desc);
        out.put_u16(self.functional_mode);
        out.put_u16_array(&raw(&self.operations_supported, |c| c.0));
        out.put_u16_array(&raw(&self.events_supported, |c| c.0));
        out.put_u16_array(&self.device_properties_supported);
        out.put_u16_array(&raw(&self.capture_formats, |c| c.0));
        out.put_u16_array(&raw(&self.playback_formats, |c| c.0));
        out.put_string(&self.manufacturer);
        out.put_string(&self.model);
        out.put_string(&self.device_version);
        out.put_string(&self.serial_number);
    }

    fn read(r: &mut Reader<'_>) -> DecodeResult<Self> {
        Ok(DeviceInfo {
            standard_version: r.u16("StandardVersion")?,
            vendor_extension_id: r.u32("VendorExtensionID")?,
            vendor_extension_version: r.u16("VendorExtensionVersion")?,
            vendor_extension_desc: r.string("VendorExtensionDesc")?,
            functional_mode: r.u16("FunctionalMode")?,
            operations_supported: codes(r, "OperationsSupported")?,
            events_supported: codes(r, "EventsSupported")?,
            device_properties_supported: r.u16_array("DevicePropertiesSupported")?,
            capture_formats: codes(r, "CaptureFormats")?,
            playback_formats: codes(r, "PlaybackFormats")?,
            manufacturer: r.string("Manufacturer")?,
            model: r.string("Model")?,
            device_version: r.string("DeviceVersion")?,
            serial_number: r.string("SerialNumber")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Written field by field from the MTP 1.1 DeviceInfo table (5.1.1).
    fn golden_bytes() -> Vec<u8> {
        let mut b = vec![100, 0]; // StandardVersion 1.00
        b.extend([6, 0, 0, 0]); // VendorExtensionID: MTP
        b.extend([100, 0]); // VendorExtensionVersion 1.00
        b.push(3); // "ab" + NUL
        b.extend([b'a', 0, b'b', 0, 0, 0]);
        b.extend([0, 0]); // FunctionalMode
        b.extend([2, 0, 0, 0, 0x01, 0x10, 0x05, 0x98]); // ops: 0x1001, 0x9805
        b.extend([1, 0, 0, 0, 0x04, 0x40]); // events: StoreAdded
        b.extend([0, 0, 0, 0]); // device properties: none
        b.extend([0, 0, 0, 0]); // capture formats: none
        b.extend([1, 0, 0, 0, 0x01, 0x38]); // playback: EXIF/JPEG
        for s in ["G", "P", "1", "S"] {
            b.extend([2, s.as_bytes()[0], 0, 0, 0]);
        }
        b
    }

    #[test]
    fn decodes_the_golden_vector_and_encodes_it_back() {
        let info = DeviceInfo::decode(&golden_bytes()).unwrap();
        assert_eq!(info.vendor_extension_desc, "ab");
        assert_eq!(
            info.operations_supported,
            [
                OperationCode::GET_DEVICE_INFO,
                OperationCode::GET_OBJECT_PROP_LIST
            ]
        );
        assert_eq!(info.events_supported, [EventCode::STORE_ADDED]);
        assert_eq!(info.playback_formats, [ObjectFormat::EXIF_JPEG]);
        assert_eq!(
            (info.manufacturer.as_str(), info.serial_number.as_str()),
            ("G", "S")
        );
        assert!(info.supports(OperationCode::GET_OBJECT_PROP_LIST));
        assert_eq!(info.to_bytes(), golden_bytes());
    }

    #[test]
    fn every_truncation_is_an_error() {
        let bytes = golden_bytes();
        for len in 0..bytes.len() {
            assert!(DeviceInfo::decode(&bytes[..len]).is_err(), "length {len}");
        }
    }

    #[test]
    fn android_is_recognised_by_its_extension_string() {
        let info = DeviceInfo {
            vendor_extension_desc: "microsoft.com: 1.0; android.com: 1.0;".into(),
            ..DeviceInfo::default()
        };
        assert!(info.is_android());
    }
}
