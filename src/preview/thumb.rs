//! A picture's thumbnail without downloading the picture: GetThumb where the
//! device has one, else the EXIF thumbnail in the file's first 64 KiB (read
//! with GetPartialObject), else none (the page shows a placeholder).

use exif::{In, Reader, Tag};

use crate::ptp::ResponseCode;
use crate::pull::RemoteFile;
use crate::session::{Session, SessionError};

/// How much of a file's head is read for its EXIF thumbnail: an EXIF
/// segment is at most 64 KiB long, and cameras put it first.
pub(super) const HEAD_BYTES: u32 = 64 * 1024;

/// Where a thumbnail came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThumbSource {
    /// The device's GetThumb.
    Device,
    /// The EXIF thumbnail in the file's head.
    ExifHead,
    /// Neither: a placeholder is shown.
    None,
}

impl ThumbSource {
    /// A stable name, for the page and `--verbose`.
    pub fn as_str(self) -> &'static str {
        match self {
            ThumbSource::Device => "device",
            ThumbSource::ExifHead => "exif",
            ThumbSource::None => "none",
        }
    }
}

/// A thumbnail (JPEG bytes) and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thumbnail {
    /// The JPEG, when there is one.
    pub jpeg: Option<Vec<u8>>,
    /// Its source.
    pub source: ThumbSource,
}

/// Fetches `file`'s thumbnail. Errors that concern this file only (no
/// thumbnail, unreadable head) give a placeholder; the rest (connection lost,
/// locked phone) are returned.
pub(super) fn fetch(
    session: &mut Session,
    file: &RemoteFile,
    is_photo: bool,
) -> Result<Thumbnail, SessionError> {
    let mut jpeg = Vec::new();
    match session.get_thumb(file.handle, &mut jpeg) {
        Ok(_) if looks_like_jpeg(&jpeg) => {
            return Ok(Thumbnail {
                jpeg: Some(jpeg),
                source: ThumbSource::Device,
            });
        }
        Ok(_) => {}
        Err(error) if file_only(&error) => {}
        Err(error) => return Err(error),
    }
    if is_photo && file.size > 0 && session.can_read_partially(0) {
        let mut head = Vec::new();
        match session.get_partial_object(file.handle, 0, HEAD_BYTES, &mut head) {
            Ok(_) => {
                if let Some(jpeg) = exif_thumbnail(&head) {
                    return Ok(Thumbnail {
                        jpeg: Some(jpeg),
                        source: ThumbSource::ExifHead,
                    });
                }
            }
            Err(error) if file_only(&error) => {}
            Err(error) => return Err(error),
        }
    }
    Ok(Thumbnail {
        jpeg: None,
        source: ThumbSource::None,
    })
}

/// Whether an error is about this file alone (the run goes on).
fn file_only(error: &SessionError) -> bool {
    match error {
        SessionError::Unsupported { .. } => true,
        SessionError::Device { code, .. } => !matches!(
            *code,
            ResponseCode::SESSION_NOT_OPEN | ResponseCode::DEVICE_BUSY | ResponseCode::STORE_NOT_AVAILABLE
        ),
        _ => false,
    }
}

fn looks_like_jpeg(bytes: &[u8]) -> bool {
    bytes.len() > 4 && bytes.starts_with(&[0xFF, 0xD8])
}

/// The JPEG thumbnail EXIF carries in IFD1, from the first bytes of a JPEG
/// file (an APP1 "Exif" segment before the image data).
pub fn exif_thumbnail(head: &[u8]) -> Option<Vec<u8>> {
    let tiff = exif_segment(head)?;
    let exif = Reader::new().read_raw(tiff.to_vec()).ok()?;
    let offset = exif
        .get_field(Tag::JPEGInterchangeFormat, In::THUMBNAIL)?
        .value
        .get_uint(0)? as usize;
    let len = exif
        .get_field(Tag::JPEGInterchangeFormatLength, In::THUMBNAIL)?
        .value
        .get_uint(0)? as usize;
    let thumb = exif.buf().get(offset..offset.checked_add(len)?)?;
    looks_like_jpeg(thumb).then(|| thumb.to_vec())
}

/// The TIFF block of the first APP1 Exif segment, if the head holds all of it.
fn exif_segment(head: &[u8]) -> Option<&[u8]> {
    if !head.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut at = 2;
    while at + 4 <= head.len() && head[at] == 0xFF {
        let marker = head[at + 1];
        if marker == 0xDA || marker == 0xD9 {
            return None; // image data starts: no EXIF before it
        }
        let len = usize::from(u16::from_be_bytes([head[at + 2], head[at + 3]]));
        let body = head.get(at + 4..at + 2 + len)?;
        if let Some(tiff) = body.strip_prefix(b"Exif\0\0").filter(|_| marker == 0xE1) {
            return Some(tiff);
        }
        at += 2 + len;
    }
    None
}
