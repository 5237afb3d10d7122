//! Which device files a backup wants: photos and videos by default, narrowed
//! by storage, `--only` and `--include`/`--exclude` patterns. `--since` is
//! kept here too, but it is checked against the capture date, which only
//! the run can read ([`Selection::wants_date`]).

use chrono::{NaiveDate, NaiveDateTime};
use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use super::remote::RemoteFile;
use crate::ptp::ObjectFormat;
use crate::session::{Storage, StorageSelector};
use crate::sort::kind::kind_by_name;
pub use crate::sort::kind::{MediaKind, Only};

/// What a file is: its extension decides when it is a known media extension
/// (phones often report HEIC or WebP as "Undefined"); otherwise the device's format code.
pub fn media_kind(name: &str, format: ObjectFormat) -> Option<MediaKind> {
    if let Some(kind) = kind_by_name(name) {
        return Some(kind);
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

/// A pattern in `--include`/`--exclude` did not parse.
#[derive(Debug, thiserror::Error)]
#[error("--{option} {pattern:?}: {reason}")]
pub struct BadPattern {
    /// `include` or `exclude`.
    pub option: &'static str,
    /// The pattern as given.
    pub pattern: String,
    /// What is wrong with it.
    pub reason: String,
}

/// The patterns of one option, compiled; each glob remembers its pattern.
#[derive(Debug, Clone)]
pub struct Patterns {
    option: &'static str,
    given: Vec<String>,
    set: GlobSet,
    /// For each glob in `set`, the index of the pattern it came from.
    owner: Vec<usize>,
}

impl Patterns {
    /// Compiles `--option` patterns (none: `None`).
    ///
    /// As rsync and fd read them: a pattern without a `/` matches a name at
    /// any depth (`*.mp4`, `Camera`); one with a `/` inside is anchored at the
    /// storage's root (`DCIM/Camera`) or, first, its name (`SD card/DCIM`); a
    /// trailing `/` matches folders only. A folder that matches brings all it
    /// holds. `*` stays within a name, `**` crosses folders; case is ignored.
    pub fn new(option: &'static str, given: &[String]) -> Result<Option<Patterns>, BadPattern> {
        if given.is_empty() {
            return Ok(None);
        }
        let mut set = GlobSetBuilder::new();
        let mut owner = Vec::new();
        for (index, pattern) in given.iter().enumerate() {
            let bad = |reason: String| BadPattern {
                option,
                pattern: pattern.clone(),
                reason,
            };
            for glob in expand(pattern).map_err(bad)? {
                let glob = GlobBuilder::new(&glob)
                    .case_insensitive(true)
                    .literal_separator(true)
                    .build()
                    .map_err(|e| bad(e.kind().to_string()))?;
                set.add(glob);
                owner.push(index);
            }
        }
        let set = set.build().map_err(|e| BadPattern {
            option,
            pattern: given.join(" "),
            reason: e.kind().to_string(),
        })?;
        Ok(Some(Patterns {
            option,
            given: given.to_vec(),
            set,
            owner,
        }))
    }

    /// Whether any pattern matches the file's path (inside its storage, or with the storage's name in front).
    fn is_match(&self, file: &RemoteFile) -> bool {
        self.set.is_match(&file.path) || self.set.is_match(file.display_path())
    }

    /// Marks in `hit` the patterns that match the file.
    fn mark(&self, file: &RemoteFile, hit: &mut [bool]) {
        let display = file.display_path();
        for glob in self
            .set
            .matches(&file.path)
            .into_iter()
            .chain(self.set.matches(&display))
        {
            hit[self.owner[glob]] = true;
        }
    }

    /// `--option PATTERN` for each pattern that matches none of `files`.
    pub fn unmatched<'a>(&self, files: impl IntoIterator<Item = &'a RemoteFile>) -> Vec<String> {
        let mut hit = vec![false; self.given.len()];
        for file in files {
            self.mark(file, &mut hit);
        }
        self.given
            .iter()
            .zip(hit)
            .filter(|(_, hit)| !hit)
            .map(|(pattern, _)| format!("--{} {pattern:?}", self.option))
            .collect()
    }
}

/// The globs one pattern stands for (see [`Patterns::new`]).
fn expand(pattern: &str) -> Result<Vec<String>, String> {
    let folder_only = pattern.ends_with('/');
    let anchored = pattern.starts_with('/');
    let core = pattern.trim_matches('/');
    if core.is_empty() {
        return Err("an empty pattern matches nothing; give a name or a path such as DCIM/Camera".into());
    }
    let roots: Vec<String> = if anchored || core.contains('/') {
        vec![core.to_owned()]
    } else {
        vec![core.to_owned(), format!("**/{core}")]
    };
    let mut globs = Vec::new();
    for root in roots {
        // A folder's contents; for a pattern not limited to folders, also a file of that name.
        globs.push(format!("{root}/**"));
        if !folder_only {
            globs.push(root);
        }
    }
    Ok(globs)
}

/// The whole selection.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Storages to back up, by name or ID (`0x00010001` or decimal); empty: all.
    pub storages: Vec<StorageSelector>,
    /// Kinds of file.
    pub only: Only,
    /// Device paths to keep (none: all); set by [`Selection::include`].
    pub include: Option<Patterns>,
    /// Device paths to drop; set by [`Selection::exclude`].
    pub exclude: Option<Patterns>,
    /// Only files captured at or after this (wall-clock time where they were
    /// shot, as they are filed); files without a date are kept: nothing is
    /// dropped for lack of a date.
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

    /// Keeps only files matching one of `patterns` (none given: no narrowing);
    /// see [`Patterns::new`] for what they match.
    pub fn include(mut self, patterns: &[String]) -> Result<Self, BadPattern> {
        self.include = Patterns::new("include", patterns)?;
        Ok(self)
    }

    /// Drops files matching any of `patterns` (same syntax as [`Selection::include`]).
    pub fn exclude(mut self, patterns: &[String]) -> Result<Self, BadPattern> {
        self.exclude = Patterns::new("exclude", patterns)?;
        Ok(self)
    }

    /// Whether `storage` is wanted.
    pub fn wants_storage(&self, storage: &Storage) -> bool {
        self.storages.is_empty() || self.storages.iter().any(|wanted| wanted.matches(storage))
    }

    /// Whether the file is wanted by kind and patterns (its storage is
    /// checked separately, and its date by [`Selection::wants_date`]).
    pub fn wants(&self, file: &RemoteFile) -> bool {
        self.only.accepts(media_kind(file.name(), file.format))
            && self.include.as_ref().is_none_or(|p| p.is_match(file))
            && !self.exclude.as_ref().is_some_and(|p| p.is_match(file))
    }

    /// Whether a file captured at `captured` (none: undated) passes `--since`.
    pub fn wants_date(&self, captured: Option<NaiveDateTime>) -> bool {
        match (self.since, captured) {
            (Some(since), Some(captured)) => captured >= since,
            _ => true,
        }
    }

    /// The `--include`/`--exclude` patterns that match none of `files`, as given.
    pub fn unmatched_patterns<'a>(
        &self,
        files: impl IntoIterator<Item = &'a RemoteFile> + Clone,
    ) -> Vec<String> {
        [&self.include, &self.exclude]
            .into_iter()
            .flatten()
            .flat_map(|patterns| patterns.unmatched(files.clone()))
            .collect()
    }
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
    fn patterns_without_a_slash_match_names_anywhere() {
        let camera = typed("DCIM/Camera/IMG_1.jpg", ObjectFormat::EXIF_JPEG);
        let video = typed("DCIM/Camera/VID_1.mp4", ObjectFormat::MP4_CONTAINER);
        let shot = typed("Pictures/Screenshots/Screenshot_1.png", ObjectFormat::PNG);
        let nested = typed("Android/media/app/DCIM/x.jpg", ObjectFormat::EXIF_JPEG);
        let files = [&camera, &video, &shot, &nested];
        let picks = |pattern: &str| {
            let s = Selection::new().include(&[pattern.to_owned()]).unwrap();
            files.map(|f| s.wants(f))
        };
        assert_eq!(picks("*.mp4"), [false, true, false, false]);
        assert_eq!(picks("*.MP4"), [false, true, false, false]);
        // A folder name brings its contents, at any depth; a trailing `/` too.
        assert_eq!(picks("DCIM"), [true, true, false, true]);
        assert_eq!(picks("DCIM/"), [true, true, false, true]);
        assert_eq!(picks("camera"), [true, true, false, false]);
        // With a slash inside or in front: from the storage's root.
        assert_eq!(picks("/DCIM"), [true, true, false, false]);
        assert_eq!(picks("DCIM/Camera"), [true, true, false, false]);
        assert_eq!(picks("Internal shared storage/DCIM"), [true, true, false, false]);
        // A trailing `/` is for folders only: no file is named so.
        assert_eq!(picks("IMG_1.jpg/"), [false, false, false, false]);
        assert_eq!(picks("IMG_1.jpg"), [true, false, false, false]);
    }

    #[test]
    fn patterns_that_match_nothing_are_named() {
        let camera = typed("DCIM/Camera/IMG_1.jpg", ObjectFormat::EXIF_JPEG);
        let selection = Selection::new()
            .include(&["DCIM".into(), "*.mp3".into()])
            .unwrap()
            .exclude(&["Screenshots".into()])
            .unwrap();
        assert_eq!(
            selection.unmatched_patterns(&[camera]),
            ["--include \"*.mp3\"", "--exclude \"Screenshots\""]
        );
    }

    #[test]
    fn bad_patterns_name_the_option_once() {
        let error = Selection::new()
            .exclude(&["DCIM/[".into()])
            .unwrap_err()
            .to_string();
        assert_eq!(error.matches("DCIM/[").count(), 1, "{error}");
        assert!(
            error.starts_with("--exclude \"DCIM/[\": unclosed character class"),
            "{error}"
        );
        assert!(Selection::new().include(&["/".into()]).is_err());
    }

    #[test]
    fn since_keeps_later_captures_and_undated() {
        let since = Selection {
            since: Some(parse_since("2024-01-01").unwrap()),
            ..Selection::new()
        };
        let at = |text| NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").ok();
        assert!(!since.wants_date(at("2023-12-31 23:59:59")));
        assert!(since.wants_date(at("2024-01-01 00:00:00")));
        assert!(since.wants_date(None));
        assert!(Selection::new().wants_date(at("1999-01-01 00:00:00")));
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
