//! Which device files a backup wants: photos and videos by default, narrowed
//! by storage, `--only`, `--include`/`--exclude` globs and `--since`.

use std::fmt;
use std::str::FromStr;

use chrono::{NaiveDate, NaiveDateTime};
use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};

use super::remote::RemoteFile;
use crate::ptp::ObjectFormat;
use crate::session::{Storage, StorageSelector};

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

/// What a file is: its extension decides when it is a known media extension
/// (phones often report HEIC or WebP as "Undefined"); otherwise the device's format code.
pub fn media_kind(name: &str, format: ObjectFormat) -> Option<MediaKind> {
    let extension = name.rsplit_once('.').map(|(_, ext)| ext.to_ascii_lowercase());
    if let Some(ext) = extension.as_deref() {
        if PHOTO_EXTENSIONS.contains(&ext) {
            return Some(MediaKind::Photo);
        }
        if VIDEO_EXTENSIONS.contains(&ext) {
            return Some(MediaKind::Video);
        }
    }
    match format {
        ObjectFormat::UNDEFINED_VIDEO
        | ObjectFormat::WMV
        | ObjectFormat::MP4_CONTAINER
        | ObjectFormat::CONTAINER_3GP
        | ObjectFormat::AVI
        | ObjectFormat::MPEG
        | ObjectFormat::ASF => Some(MediaKind::Video),
        // 0x3800–0x38FF is the PTP image range (JPEG, TIFF, PNG, HEIF, DNG…).
        ObjectFormat(code) if (0x3800..=0x38FF).contains(&code) => Some(MediaKind::Photo),
        _ => None,
    }
}

/// `--only`: which kinds of file to back up.
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
    fn accepts(self, kind: Option<MediaKind>) -> bool {
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

/// `--since`: a day (from its midnight) or a moment, in the device's wall-clock time.
pub fn parse_since(text: &str) -> Result<NaiveDateTime, String> {
    let text = text.trim();
    if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(day.and_hms_opt(0, 0, 0).expect("midnight exists"));
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(moment) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(moment);
        }
    }
    Err(format!(
        "{text:?}: expected a date like 2024-05-26 or 2024-05-26T10:15"
    ))
}

/// A glob in `--include`/`--exclude` did not parse.
#[derive(Debug, thiserror::Error)]
#[error("bad pattern {pattern:?}: {source}")]
pub struct BadPattern {
    /// The pattern as given.
    pub pattern: String,
    /// What globset said.
    #[source]
    pub source: globset::Error,
}

/// The whole selection.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Storages to back up, by name or ID (`0x00010001` or decimal); empty: all.
    pub storages: Vec<StorageSelector>,
    /// Kinds of file.
    pub only: Only,
    /// Device paths to keep (none: all); set by [`Selection::include`].
    pub include: Option<GlobSet>,
    /// Device paths to drop; set by [`Selection::exclude`].
    pub exclude: Option<GlobSet>,
    /// Only files whose device date is at or after this (undated files are kept:
    /// nothing is dropped for lack of a date).
    pub since: Option<NaiveDateTime>,
    /// Also Android's trash, unfinished files, thumbnails and app data
    /// (see [`super::junk`]); skipped by default.
    pub include_junk: bool,
}

impl Selection {
    /// Photos and videos on every storage.
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps only files matching one of `patterns` (none given: no narrowing).
    ///
    /// Patterns match the path inside the storage (`DCIM/**`) or with the
    /// storage's name in front (`SD card/DCIM/**`), case-insensitively; `*`
    /// stays within a folder, `**` crosses folders.
    pub fn include(mut self, patterns: &[String]) -> Result<Self, BadPattern> {
        self.include = compile(patterns)?;
        Ok(self)
    }

    /// Drops files matching any of `patterns` (same syntax as [`Selection::include`]).
    pub fn exclude(mut self, patterns: &[String]) -> Result<Self, BadPattern> {
        self.exclude = compile(patterns)?;
        Ok(self)
    }

    /// Whether `storage` is wanted.
    pub fn wants_storage(&self, storage: &Storage) -> bool {
        self.storages.is_empty() || self.storages.iter().any(|wanted| wanted.matches(storage))
    }

    /// Whether the file is wanted (its storage is checked separately).
    pub fn wants(&self, file: &RemoteFile) -> bool {
        let matches = |set: &GlobSet| set.is_match(&file.path) || set.is_match(file.display_path());
        self.only.accepts(media_kind(file.name(), file.format))
            && self.include.as_ref().is_none_or(matches)
            && !self.exclude.as_ref().is_some_and(matches)
            && match (self.since, file.modified) {
                (Some(since), Some(modified)) => modified.local >= since,
                _ => true,
            }
    }
}

fn compile(patterns: &[String]) -> Result<Option<GlobSet>, BadPattern> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let mut set = GlobSetBuilder::new();
    for pattern in patterns {
        set.add(glob(pattern)?);
    }
    let set = set.build().map_err(|source| BadPattern {
        pattern: patterns.join(" "),
        source,
    })?;
    Ok(Some(set))
}

fn glob(pattern: &str) -> Result<Glob, BadPattern> {
    // A leading `/` means "from the storage's root", which is what paths are relative to.
    GlobBuilder::new(pattern.trim_start_matches('/'))
        .case_insensitive(true)
        .literal_separator(true)
        .build()
        .map_err(|source| BadPattern {
            pattern: pattern.to_owned(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ptp::{StorageId, StorageInfo};
    use crate::pull::remote::tests::file;

    fn typed(path: &str, format: ObjectFormat) -> RemoteFile {
        RemoteFile {
            format,
            ..file(path, 1, "2024-05-26 10:15:00")
        }
    }

    #[test]
    fn kinds_by_extension_then_format() {
        assert_eq!(
            media_kind("IMG_1.JPG", ObjectFormat::UNDEFINED),
            Some(MediaKind::Photo)
        );
        assert_eq!(
            media_kind("a.heic", ObjectFormat::UNDEFINED),
            Some(MediaKind::Photo)
        );
        assert_eq!(
            media_kind("PXL_1.MP.jpg", ObjectFormat::UNDEFINED),
            Some(MediaKind::Photo)
        );
        assert_eq!(
            media_kind("VID_1.mp4", ObjectFormat::UNDEFINED),
            Some(MediaKind::Video)
        );
        assert_eq!(
            media_kind("clip.MOV", ObjectFormat::UNDEFINED),
            Some(MediaKind::Video)
        );
        // The extension wins over a wrong format code.
        assert_eq!(
            media_kind("clip.mp4", ObjectFormat::EXIF_JPEG),
            Some(MediaKind::Video)
        );
        // No known extension: the format code decides.
        assert_eq!(
            media_kind("DSC0001", ObjectFormat::EXIF_JPEG),
            Some(MediaKind::Photo)
        );
        assert_eq!(media_kind("DSC0001", ObjectFormat::DNG), Some(MediaKind::Photo));
        assert_eq!(
            media_kind("movie", ObjectFormat::MP4_CONTAINER),
            Some(MediaKind::Video)
        );
        assert_eq!(media_kind("notes.txt", ObjectFormat::TEXT), None);
        assert_eq!(media_kind("song.mp3", ObjectFormat::MP3), None);
        assert_eq!(media_kind(".nomedia", ObjectFormat::UNDEFINED), None);
    }

    #[test]
    fn only_narrows_by_kind() {
        let photo = typed("DCIM/Camera/IMG_1.jpg", ObjectFormat::EXIF_JPEG);
        let video = typed("DCIM/Camera/VID_1.mp4", ObjectFormat::MP4_CONTAINER);
        let text = typed("Documents/notes.txt", ObjectFormat::TEXT);
        let with = |only| Selection {
            only,
            ..Selection::new()
        };
        let wanted = |s: &Selection| [&photo, &video, &text].map(|f| s.wants(f));
        assert_eq!(wanted(&Selection::new()), [true, true, false]);
        assert_eq!(wanted(&with(Only::Photos)), [true, false, false]);
        assert_eq!(wanted(&with(Only::Videos)), [false, true, false]);
        assert_eq!(wanted(&with(Only::All)), [true, true, true]);
        assert_eq!("VIDEOS".parse::<Only>(), Ok(Only::Videos));
        assert!("pictures".parse::<Only>().is_err());
    }

    #[test]
    fn globs_match_device_paths() {
        let camera = typed("DCIM/Camera/IMG_1.jpg", ObjectFormat::EXIF_JPEG);
        let shots = typed("Pictures/Screenshots/Screenshot_1.png", ObjectFormat::PNG);
        let whatsapp = typed(
            "Android/media/com.whatsapp/WhatsApp/Media/IMG-20240526-WA0001.jpg",
            ObjectFormat::EXIF_JPEG,
        );
        let dcim = Selection::new().include(&["DCIM/**".into()]).unwrap();
        assert_eq!(
            [&camera, &shots, &whatsapp].map(|f| dcim.wants(f)),
            [true, false, false]
        );
        // Case-insensitive, a leading `/`, and the storage name in front all work.
        let lower = Selection::new().include(&["/dcim/**".into()]).unwrap();
        assert!(lower.wants(&camera));
        let named = Selection::new()
            .include(&["Internal shared storage/DCIM/**".into()])
            .unwrap();
        assert!(named.wants(&camera) && !named.wants(&shots));
        // `*` stays within one folder.
        let shallow = Selection::new().include(&["DCIM/*.jpg".into()]).unwrap();
        assert!(!shallow.wants(&camera));
        // Exclude wins over include.
        let no_screens = Selection::new()
            .include(&["**".into()])
            .unwrap()
            .exclude(&["**/Screenshots/**".into(), "**/*WA*".into()])
            .unwrap();
        assert_eq!(
            [&camera, &shots, &whatsapp].map(|f| no_screens.wants(f)),
            [true, false, false]
        );
        assert!(Selection::new().include(&["DCIM/[".into()]).is_err());
    }

    #[test]
    fn since_keeps_newer_and_undated() {
        let old = file("DCIM/old.jpg", 1, "2023-12-31 23:59:59");
        let new = file("DCIM/new.jpg", 1, "2024-01-01 00:00:00");
        let undated = file("DCIM/undated.jpg", 1, "");
        let since = Selection {
            since: Some(parse_since("2024-01-01").unwrap()),
            ..Selection::new()
        };
        assert_eq!(
            [&old, &new, &undated].map(|f| since.wants(f)),
            [false, true, true]
        );
        assert_eq!(
            parse_since("2024-05-26T10:15").unwrap(),
            NaiveDateTime::parse_from_str("2024-05-26 10:15:00", "%Y-%m-%d %H:%M:%S").unwrap()
        );
        assert!(parse_since("yesterday").is_err());
        assert!(parse_since("2024-13-01").is_err());
    }

    #[test]
    fn storages_by_name_or_id() {
        let storage = |id, description: &str| {
            let info = StorageInfo {
                description: description.into(),
                ..StorageInfo::default()
            };
            Storage::new(StorageId(id), info)
        };
        let selection = |wanted: &[&str]| Selection {
            storages: wanted.iter().map(|w| StorageSelector::new(w)).collect(),
            ..Selection::new()
        };
        let internal = storage(0x0001_0001, "Internal shared storage");
        assert!(Selection::new().wants_storage(&internal));
        let card = selection(&["sd card"]);
        assert!(card.wants_storage(&storage(0x0002_0001, "SD card")));
        assert!(!card.wants_storage(&internal));
        let by_id = selection(&["0x00010001", "131073"]);
        assert!(by_id.wants_storage(&storage(0x0001_0001, "x")));
        assert!(by_id.wants_storage(&storage(0x0002_0001, "y")));
        assert!(!by_id.wants_storage(&storage(0x0003_0001, "z")));
    }
}
