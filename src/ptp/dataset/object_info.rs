//! ObjectInfo (GetObjectInfo, SendObjectInfo): one object's name, format,
//! size, parent and dates.

use crate::ptp::codec::{Codec, DecodeResult, Reader, Writer};
use crate::ptp::codes::ObjectFormat;

/// ObjectInfo's 32-bit size field holds this for objects of 4 GiB or more:
/// the true size is in the ObjectSize property.
pub const SIZE_UNKNOWN_32: u32 = 0xFFFF_FFFF;

/// The ObjectInfo dataset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// The storage holding the object.
    pub storage_id: u32,
    /// Folder (Association) or file format.
    pub format: ObjectFormat,
    /// 0 no protection, 1 read-only.
    pub protection_status: u16,
    /// Size in bytes, or [`SIZE_UNKNOWN_32`].
    pub compressed_size: u32,
    /// Thumbnail format.
    pub thumb_format: ObjectFormat,
    /// Thumbnail size in bytes.
    pub thumb_compressed_size: u32,
    /// Thumbnail width.
    pub thumb_pix_width: u32,
    /// Thumbnail height.
    pub thumb_pix_height: u32,
    /// Image width.
    pub image_pix_width: u32,
    /// Image height.
    pub image_pix_height: u32,
    /// Image bit depth.
    pub image_bit_depth: u32,
    /// Parent folder's handle; 0 (or 0xFFFFFFFF on some devices) at the root.
    pub parent: u32,
    /// 1 for a generic folder.
    pub association_type: u16,
    /// Association description.
    pub association_desc: u32,
    /// Sequence number.
    pub sequence_number: u32,
    /// The file name, as the device gives it (untrusted).
    pub filename: String,
    /// PTP date string, e.g. "20240526T101500".
    pub date_created: String,
    /// PTP date string.
    pub date_modified: String,
    /// Keywords.
    pub keywords: String,
}

impl Default for ObjectInfo {
    fn default() -> Self {
        ObjectInfo {
            storage_id: 0,
            format: ObjectFormat::UNDEFINED,
            protection_status: 0,
            compressed_size: 0,
            thumb_format: ObjectFormat(0),
            thumb_compressed_size: 0,
            thumb_pix_width: 0,
            thumb_pix_height: 0,
            image_pix_width: 0,
            image_pix_height: 0,
            image_bit_depth: 0,
            parent: 0,
            association_type: 0,
            association_desc: 0,
            sequence_number: 0,
            filename: String::new(),
            date_created: String::new(),
            date_modified: String::new(),
            keywords: String::new(),
        }
    }
}

impl ObjectInfo {
    /// The 32-bit size field for an object of `size` bytes.
    pub fn size_field(size: u64) -> u32 {
        u32::try_from(size).unwrap_or(SIZE_UNKNOWN_32)
    }

    /// The size, when the 32-bit field can tell it.
    pub fn known_size(&self) -> Option<u64> {
        (self.compressed_size != SIZE_UNKNOWN_32).then_some(u64::from(self.compressed_size))
    }
}

impl Codec for ObjectInfo {
    fn encode(&self, out: &mut Vec<u8>) {
        out.put_u32(self.storage_id);
        out.put_u16(self.format.0);
        out.put_u16(self.protection_status);
        out.put_u32(self.compressed_size);
        out.put_u16(self.thumb_format.0);
        for v in [
            self.thumb_compressed_size,
            self.thumb_pix_width,
            self.thumb_pix_height,
            self.image_pix_width,
            self.image_pix_height,
            self.image_bit_depth,
            self.parent,
        ] {
            out.put_u32(v);
        }
        out.put_u16(self.association_type);
        out.put_u32(self.association_desc);
        out.put_u32(self.sequence_number);
        for s in [
            &self.filename,
            &self.date_created,
            &self.date_modified,
            &self.keywords,
        ] {
            out.put_string(s);
        }
    }

    fn read(r: &mut Reader<'_>) -> DecodeResult<Self> {
        Ok(ObjectInfo {
            storage_id: r.u32("StorageID")?,
            format: ObjectFormat(r.u16("ObjectFormat")?),
            protection_status: r.u16("ProtectionStatus")?,
            compressed_size: r.u32("ObjectCompressedSize")?,
            thumb_format: ObjectFormat(r.u16("ThumbFormat")?),
            thumb_compressed_size: r.u32("ThumbCompressedSize")?,
            thumb_pix_width: r.u32("ThumbPixWidth")?,
            thumb_pix_height: r.u32("ThumbPixHeight")?,
            image_pix_width: r.u32("ImagePixWidth")?,
            image_pix_height: r.u32("ImagePixHeight")?,
            image_bit_depth: r.u32("ImageBitDepth")?,
            parent: r.u32("ParentObject")?,
            association_type: r.u16("AssociationType")?,
            association_desc: r.u32("AssociationDesc")?,
            sequence_number: r.u32("SequenceNumber")?,
            filename: r.string("Filename")?,
            date_created: r.string("DateCreated")?,
            date_modified: r.string("DateModified")?,
            // Some cameras end the dataset before Keywords.
            keywords: if r.remaining() == 0 {
                String::new()
            } else {
                r.string("Keywords")?
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn golden_bytes() -> Vec<u8> {
        let mut b = Vec::new();
        b.extend(0x0001_0001u32.to_le_bytes()); // StorageID
        b.extend([0x01, 0x38]); // EXIF/JPEG
        b.extend([0, 0]); // not protected
        b.extend(2048u32.to_le_bytes()); // size
        b.extend([0, 0]); // thumb format
        b.extend([0; 6 * 4]); // thumb size/w/h, image w/h/depth
        b.extend(7u32.to_le_bytes()); // parent
        b.extend([0, 0]); // association type
        b.extend([0; 8]); // association desc, sequence
        b.extend([2, b'a', 0, 0, 0]); // "a"
        b.push(16); // "20240526T101500" + NUL
        for c in "20240526T101500".encode_utf16().chain([0]) {
            b.extend(c.to_le_bytes());
        }
        b.extend([0, 0]); // empty modified, keywords
        b
    }

    #[test]
    fn golden_vector_round_trips() {
        let info = ObjectInfo::decode(&golden_bytes()).unwrap();
        assert_eq!(info.format, ObjectFormat::EXIF_JPEG);
        assert_eq!(info.known_size(), Some(2048));
        assert_eq!(info.parent, 7);
        assert_eq!(info.filename, "a");
        assert_eq!(info.date_created, "20240526T101500");
        assert_eq!(info.to_bytes(), golden_bytes());
    }

    #[test]
    fn missing_keywords_are_tolerated_but_other_truncations_are_not() {
        let bytes = golden_bytes();
        assert!(ObjectInfo::decode(&bytes[..bytes.len() - 1]).is_ok());
        for len in 0..bytes.len() - 1 {
            assert!(ObjectInfo::decode(&bytes[..len]).is_err(), "length {len}");
        }
    }

    #[test]
    fn sizes_of_4_gib_and_more_use_the_marker() {
        assert_eq!(ObjectInfo::size_field(5 << 30), SIZE_UNKNOWN_32);
        assert_eq!(ObjectInfo::size_field(10), 10);
        let info = ObjectInfo {
            compressed_size: SIZE_UNKNOWN_32,
            ..ObjectInfo::default()
        };
        assert_eq!(info.known_size(), None);
    }
}
