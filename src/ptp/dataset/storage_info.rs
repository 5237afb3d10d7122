//! StorageInfo (GetStorageInfo): one storage's kind, size and name.

use crate::ptp::codec::{Codec, DecodeResult, Reader, Writer};

/// The StorageInfo dataset.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StorageInfo {
    /// 1 fixed ROM, 2 removable ROM, 3 fixed RAM, 4 removable RAM.
    pub storage_type: u16,
    /// 1 flat, 2 hierarchical, 3 DCF.
    pub filesystem_type: u16,
    /// 0 read-write, 1 read-only without deletion, 2 read-only with deletion.
    pub access_capability: u16,
    /// Capacity in bytes.
    pub max_capacity: u64,
    /// Free space in bytes.
    pub free_space_bytes: u64,
    /// Free space in objects (0xFFFFFFFF when unused).
    pub free_space_objects: u32,
    /// e.g. "Internal shared storage".
    pub description: String,
    /// Volume label.
    pub volume_label: String,
}

impl StorageInfo {
    /// Whether files may be written to this storage.
    pub fn is_writable(&self) -> bool {
        self.access_capability == 0
    }
}

impl Codec for StorageInfo {
    fn encode(&self, out: &mut Vec<u8>) {
        out.put_u16(self.storage_type);
        out.put_u16(self.filesystem_type);
        out.put_u16(self.access_capability);
        out.put_u64(self.max_capacity);
        out.put_u64(self.free_space_bytes);
        out.put_u32(self.free_space_objects);
        out.put_string(&self.description);
        out.put_string(&self.volume_label);
    }

    fn read(r: &mut Reader<'_>) -> DecodeResult<Self> {
        Ok(StorageInfo {
            storage_type: r.u16("StorageType")?,
            filesystem_type: r.u16("FilesystemType")?,
            access_capability: r.u16("AccessCapability")?,
            max_capacity: r.u64("MaxCapacity")?,
            free_space_bytes: r.u64("FreeSpaceInBytes")?,
            free_space_objects: r.u32("FreeSpaceInObjects")?,
            description: r.string("StorageDescription")?,
            volume_label: r.string("VolumeIdentifier")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_vector_from_the_specification_layout() {
        let mut bytes = vec![3, 0, 2, 0, 0, 0]; // fixed RAM, hierarchical, read-write
        bytes.extend(64u64.to_le_bytes()); // capacity 64
        bytes.extend(32u64.to_le_bytes());
        bytes.extend(0xFFFF_FFFFu32.to_le_bytes());
        bytes.extend([2, b'X', 0, 0, 0, 0]); // "X", then empty label
        let info = StorageInfo::decode(&bytes).unwrap();
        assert_eq!(info.max_capacity, 64);
        assert_eq!(info.free_space_bytes, 32);
        assert_eq!(info.description, "X");
        assert_eq!(info.volume_label, "");
        assert!(info.is_writable());
        assert_eq!(info.to_bytes(), bytes);
        for len in 0..bytes.len() {
            assert!(StorageInfo::decode(&bytes[..len]).is_err());
        }
    }
}
