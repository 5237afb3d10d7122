//! Photo, video or neither, by the file name: what `--only` chooses among,
//! for a sort of local files and (with the device's format code) for a backup.

use std::fmt;
use std::str::FromStr;

/// Photo or video, as far as the name and the device's format code tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    /// Still images (JPEG, HEIC, PNG, raw…).
    Photo,
    /// Videos (MP4, MOV, 3GP…).
    Video,
}

const PHOTO_EXTENSIONS: &[&str] = &[
    "jpg", "jpeg", "jpe", "heic", "heif", "hif", "avif", "png", "gif", "webp", "bmp", "tif", "tiff", "dng",
    "jxl", "raw", "cr2", "cr3", "crw", "nef", "nrw", "arw", "srf", "sr2", "orf", "rw2", "raf", "pef", "srw",
    "x3f", "3fr", "erf", "kdc", "mrw",
];
const VIDEO_EXTENSIONS: &[&str] = &[
    "mp4", "m4v", "mov", "qt", "3gp", "3g2", "mkv", "webm", "avi", "mts", "m2ts", "ts", "mpg", "mpeg", "wmv",
    "asf", "flv",
];

/// What a file is by its extension; `None` for anything else (documents,
/// `.nomedia`, `Thumbs.db`, sidecars on their own).
pub(crate) fn kind_by_name(name: &str) -> Option<MediaKind> {
    let extension = name.rsplit_once('.')?.1.to_ascii_lowercase();
    if PHOTO_EXTENSIONS.contains(&extension.as_str()) {
        Some(MediaKind::Photo)
    } else if VIDEO_EXTENSIONS.contains(&extension.as_str()) {
        Some(MediaKind::Video)
    } else {
        None
    }
}

/// `--only`: which kinds of file a backup or a sort takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Only {
    /// Photos only.
    Photos,
    /// Videos only.
    Videos,
    /// Photos and videos (the default).
    #[default]
    Media,
    /// Every file, media or not.
    All,
}

impl Only {
    /// Whether a file of this kind (`None`: neither photo nor video) is wanted.
    pub fn accepts(self, kind: Option<MediaKind>) -> bool {
        match self {
            Only::Photos => kind == Some(MediaKind::Photo),
            Only::Videos => kind == Some(MediaKind::Video),
            Only::Media => kind.is_some(),
            Only::All => true,
        }
    }
}

impl FromStr for Only {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text.to_ascii_lowercase().as_str() {
            "photos" | "photo" => Ok(Only::Photos),
            "videos" | "video" => Ok(Only::Videos),
            "media" => Ok(Only::Media),
            "all" => Ok(Only::All),
            _ => Err(format!("{text:?}: expected photos, videos, media or all")),
        }
    }
}

impl fmt::Display for Only {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Only::Photos => "photos",
            Only::Videos => "videos",
            Only::Media => "media",
            Only::All => "all",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_by_extension() {
        assert_eq!(kind_by_name("IMG_1.JPG"), Some(MediaKind::Photo));
        assert_eq!(kind_by_name("PXL_1.MP.jpg"), Some(MediaKind::Photo));
        assert_eq!(kind_by_name("clip.MOV"), Some(MediaKind::Video));
        for other in [
            "notes.txt",
            "Thumbs.db",
            ".nomedia",
            ".DS_Store",
            "a.pdf",
            "IMG_1.xmp",
            "jpg",
        ] {
            assert_eq!(kind_by_name(other), None, "{other}");
        }
        assert!(Only::Media.accepts(Some(MediaKind::Video)) && !Only::Media.accepts(None));
        assert!(Only::All.accepts(None) && !Only::Photos.accepts(Some(MediaKind::Video)));
    }
}
