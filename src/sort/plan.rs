//! Where a file goes inside the destination: `<template>/<safe name>` or
//! `undated/<safe name>`, always a relative path that cannot leave the destination.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use chrono::NaiveDateTime;
use chrono::format::{Item, StrftimeItems};

use super::{Dated, SortError};

/// The folder (inside the destination) for files with no usable date.
pub const UNDATED_DIR: &str = "undated";

/// Longest file name planned, in bytes: 255 (the usual limit) less room for a `-NNNN`
/// clash suffix.
pub(super) const MAX_NAME_LEN: usize = 240;

/// The default folder layout: `YYYY/MM/DD`.
pub const DEFAULT_TEMPLATE: &str = "%Y/%m/%d";

/// Which names the destination's filesystem takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Names {
    /// Any name but `/` and NUL.
    Posix,
    /// FAT, exFAT and their kin: no `: ? " * < > |`, no trailing dot or space.
    Windows,
}

impl Names {
    /// A path as a filesystem taking these names compares it: FAT-like ones fold
    /// case, so `IMG_1.JPG` and `img_1.jpg` are one name there.
    pub fn key(self, path: &Path) -> PathBuf {
        match self {
            Names::Posix => path.to_owned(),
            Names::Windows => PathBuf::from(path.to_string_lossy().to_lowercase()),
        }
    }
}

/// The tokens a template may hold besides strftime's `%` sequences.
pub(super) const TOKENS: [&str; 4] = ["{device}", "{folder}", "{name}", "{seq}"];

/// Stands for `{seq}` in a planned file name until the file is placed: the filer
/// numbers it, as it numbers clashes ([`super::file::numbered`]). A control
/// character, so no name from a phone or a folder can hold it: [`safe_name`] turns
/// those into `_` before anything is planned.
pub(super) const SEQ_MARK: char = '\u{1}';

/// What a template's tokens stand for, for one file.
#[derive(Debug, Clone, Copy, Default)]
pub struct Origin<'a> {
    /// Its name where it was found (`IMG_1.jpg`): the name it is filed under,
    /// and `{name}` without its extension.
    pub name: &'a str,
    /// `{folder}`: the folder holding it there, its last level (`Camera`, `Screenshots`).
    pub folder: &'a str,
    /// `{device}`: the model of the phone it came from (`None` for local files).
    pub device: Option<&'a str>,
}

impl<'a> Origin<'a> {
    /// A file with only a name (nothing for `{folder}` or `{device}`).
    pub fn named(name: &'a str) -> Origin<'a> {
        Origin {
            name,
            ..Origin::default()
        }
    }
}

/// A folder layout: a strftime pattern (chrono's syntax), `/` separating levels, with
/// the tokens `{device}` and `{folder}` in any level, and `{name}` and `{seq}` in the
/// last: a last level holding either names the file (its extension is kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pattern: String,
    /// Whether the last level names the file (holds `{name}` or `{seq}`).
    names_file: bool,
}

impl Template {
    /// Checks the pattern up front: strftime items chrono knows, known tokens only,
    /// `{name}`/`{seq}` only in the last level, relative, no level that climbs out
    /// (`..`) or hides (a dot-name, `.mtpull` above all), at least one folder.
    pub fn new(pattern: &str) -> Result<Template, SortError> {
        let invalid = |reason: &str| SortError::Template {
            template: pattern.to_owned(),
            reason: reason.to_owned(),
        };
        if StrftimeItems::new(pattern).any(|item| matches!(item, Item::Error)) {
            return Err(invalid(&format!(
                "chrono's strftime does not know {} (%Y, %m, %d, %H, %B… are known)",
                unknown_sequence(pattern)
            )));
        }
        let mut sample = String::new();
        if write!(sample, "{}", NaiveDateTime::default().format(pattern)).is_err() {
            return Err(invalid(
                "capture times have no zone, so %z, %Z and kin cannot be used",
            ));
        }
        if pattern.starts_with('/') {
            return Err(invalid(
                "folders are made inside the destination: drop the leading /",
            ));
        }
        if unknown_token(pattern) {
            return Err(invalid(
                "it has a {…} token mtpull does not know: {device}, {folder}, {name} and {seq} are",
            ));
        }
        let levels: Vec<&str> = pattern.split('/').filter(|level| !level.is_empty()).collect();
        let names_file_at = |level: &str| level.contains("{name}") || level.contains("{seq}");
        let last = levels.len().saturating_sub(1);
        if levels.iter().take(last).any(|level| names_file_at(level)) {
            return Err(invalid(
                "{name} and {seq} name the file: use them in the last level only",
            ));
        }
        if let Some(first) = levels.first()
            && super::state::is_state_dir(std::ffi::OsStr::new(first))
        {
            return Err(invalid("it points into .mtpull, mtpull's own state folder"));
        }
        if levels.iter().any(|level| level.starts_with('.')) {
            return Err(invalid(
                "a level is . or .., or starts with a dot: files must stay in the destination, visible",
            ));
        }
        let names_file = levels.last().is_some_and(|level| names_file_at(level));
        if levels.len() == usize::from(names_file) {
            return Err(invalid("it names no folder"));
        }
        Ok(Template {
            pattern: pattern.to_owned(),
            names_file,
        })
    }

    /// Whether it uses `{device}` (which only a backup from a device can fill).
    pub fn uses_device(&self) -> bool {
        self.pattern.contains("{device}")
    }

    /// Where a file captured at `time` goes, relative to the destination: its folders,
    /// then its name — the original made safe, or the last level filled in. Each level
    /// is one plain component (a token's `/` or `..` cannot climb out) and none is
    /// hidden. (Formatting cannot fail: [`Template::new`] tried it.)
    pub fn path_for(&self, time: &NaiveDateTime, origin: &Origin<'_>) -> PathBuf {
        let formatted = time.format(&self.pattern).to_string();
        let levels: Vec<&str> = formatted.split('/').filter(|level| !level.is_empty()).collect();
        let (folders, file_level) = match (self.names_file, levels.split_last()) {
            (true, Some((last, folders))) => (folders, Some(*last)),
            _ => (&levels[..], None),
        };
        let mut path: PathBuf = folders
            .iter()
            .map(|level| visible(safe_name(&fill(level, origin, ""))))
            .collect();
        path.push(match file_level {
            Some(level) => file_name(level, origin),
            None => safe_name(origin.name),
        });
        path
    }

    /// Where a sample photo from a phone would go on 26 May 2024 at 10:15 (to show a layout).
    pub fn example(&self) -> PathBuf {
        let taken = chrono::NaiveDate::from_ymd_opt(2024, 5, 26)
            .and_then(|day| day.and_hms_opt(10, 15, 0))
            .unwrap_or_default();
        self.path_for(&taken, &EXAMPLE)
    }
}

/// The sample file [`Template::example`] files.
pub(super) const EXAMPLE: Origin<'static> = Origin {
    name: "IMG_1.jpg",
    folder: "Camera",
    device: Some("Pixel 8"),
};

/// Whether `pattern` has a `{word}` that is not one of [`TOKENS`].
fn unknown_token(pattern: &str) -> bool {
    let mut rest = pattern;
    while let Some(open) = rest.find('{') {
        rest = &rest[open..];
        let word_end = rest[1..]
            .find(|c: char| !c.is_ascii_alphanumeric() && c != '_')
            .map_or(rest.len(), |i| i + 1);
        if rest[word_end..].starts_with('}') && !TOKENS.contains(&&rest[..=word_end]) {
            return true;
        }
        rest = &rest[1..];
    }
    false
}

/// A level with `{device}`, `{folder}` and `{name}` (as `stem`) filled in, each value
/// made one plain component first.
fn fill(level: &str, origin: &Origin<'_>, stem: &str) -> String {
    level
        .replace("{device}", &safe_name(origin.device.unwrap_or("unknown device")))
        .replace("{folder}", &safe_name(origin.folder))
        .replace("{name}", &safe_name(stem))
}

/// The file name a last level holding `{name}` or `{seq}` gives: filled in, `{seq}`
/// left as [`SEQ_MARK`] for the filer, the original extension kept.
fn file_name(level: &str, origin: &Origin<'_>) -> String {
    let (stem, extension) = split_extension(origin.name);
    let pieces: Vec<String> = level
        .split("{seq}")
        .map(|piece| fill(piece, origin, stem).chars().map(plain).collect())
        .collect();
    let extension: String = extension.chars().map(plain).collect();
    let name = format!("{}{extension}", pieces.join(&SEQ_MARK.to_string()));
    visible(truncate_keeping_extension(name))
}

/// A dot-name would be hidden (and a manifest never counts hidden files): `_` for the dot.
fn visible(level: String) -> String {
    match level.strip_prefix('.') {
        Some(rest) => format!("_{rest}"),
        None => level,
    }
}

impl std::fmt::Display for Template {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.pattern)
    }
}

impl Default for Template {
    fn default() -> Self {
        Template {
            pattern: DEFAULT_TEMPLATE.to_owned(),
            names_file: false,
        }
    }
}

impl FromStr for Template {
    type Err = SortError;

    fn from_str(pattern: &str) -> Result<Self, Self::Err> {
        Template::new(pattern)
    }
}

/// The relative path a file goes to: where the template puts it (or
/// [`UNDATED_DIR`], under its own name made safe). Clashes are settled when filing,
/// not here.
pub fn plan(template: &Template, dated: Option<&Dated>, origin: &Origin<'_>) -> PathBuf {
    match dated {
        Some(dated) => template.path_for(&dated.time, origin),
        None => PathBuf::from(UNDATED_DIR).join(safe_name(origin.name)),
    }
}

/// One character of a plain name: separators and control characters become `_`.
fn plain(c: char) -> char {
    if c == '/' || c == '\\' || c.is_control() {
        '_'
    } else {
        c
    }
}

/// A name that is one plain path component: separators and control characters become
/// `_`, `.` and `..` become underscores, and long names are cut (keeping the extension)
/// to [`MAX_NAME_LEN`] bytes.
pub fn safe_name(name: &str) -> String {
    made_safe(name, false)
}

/// [`safe_name`], keeping a [`SEQ_MARK`] when `keep_mark`.
fn made_safe(name: &str, keep_mark: bool) -> String {
    let mut safe: String = name
        .chars()
        .map(|c| if keep_mark && c == SEQ_MARK { c } else { plain(c) })
        .collect();
    if safe.chars().all(|c| c == '.') {
        // Empty, "." and ".." would name the folder itself or its parent.
        safe = "_".repeat(safe.len().max(1));
    }
    truncate_keeping_extension(safe)
}

/// A planned name (from [`plan()`]) made safe for a filesystem that takes only
/// `names`: a leading dot becomes `_` (a hidden file never counts as a backup); on FAT
/// and exFAT the characters they refuse become `_`, and so do trailing dots and spaces
/// (which Windows drops, making `a.` and `a` one name). A [`SEQ_MARK`] is kept for the
/// filer to number.
pub fn safe_name_for(name: &str, names: Names) -> String {
    let mut safe = made_safe(name, true);
    if safe.starts_with('.') {
        // A hidden file is never a backup (a rescan and `--delete-after` pass over them):
        // a file is filed under a visible name.
        safe.replace_range(..1, "_");
    }
    if names == Names::Posix {
        return safe;
    }
    let mut safe: Vec<char> = safe
        .chars()
        .map(|c| if ":?\"*<>|".contains(c) { '_' } else { c })
        .collect();
    for c in safe.iter_mut().rev() {
        if *c != '.' && *c != ' ' {
            break;
        }
        *c = '_';
    }
    safe.into_iter().collect()
}

fn truncate_keeping_extension(name: String) -> String {
    if name.len() <= MAX_NAME_LEN {
        return name;
    }
    let (stem, ext) = split_extension(&name);
    // An absurd "extension" is not worth keeping whole.
    let ext = if ext.len() > MAX_NAME_LEN / 2 { "" } else { ext };
    let stem = floor_char_boundary(stem, MAX_NAME_LEN - ext.len());
    format!("{stem}{ext}")
}

fn floor_char_boundary(s: &str, max: usize) -> &str {
    let end = (0..=max.min(s.len()))
        .rev()
        .find(|&i| s.is_char_boundary(i))
        .unwrap_or(0);
    &s[..end]
}

/// Splits `IMG_1.jpg` into `("IMG_1", ".jpg")`. A Pixel motion photo's `.MP.jpg` counts
/// as one extension, so that numbering gives `PXL_…-1.MP.jpg` and apps still see a
/// motion photo. Hidden names (`.nomedia`) have no extension.
pub(crate) fn split_extension(name: &str) -> (&str, &str) {
    let Some(dot) = name.rfind('.').filter(|&dot| dot > 0) else {
        return (name, "");
    };
    let stem = &name[..dot];
    let motion = stem.len().checked_sub(3).filter(|&at| {
        at > 0
            && stem
                .get(at..)
                .is_some_and(|tail| tail.eq_ignore_ascii_case(".MP"))
    });
    let dot = motion.unwrap_or(dot);
    (&name[..dot], &name[dot..])
}

/// The first `%` sequence of `pattern` that strftime does not know, as
/// written ("%Q"; a lone "%" at the end).
fn unknown_sequence(pattern: &str) -> &str {
    let known = |sequence: &str| !StrftimeItems::new(sequence).any(|item| matches!(item, Item::Error));
    let mut rest = pattern;
    while let Some(at) = rest.find('%') {
        let from = &rest[at..];
        // The longest sequences are flag + width + letter ("%-3f", "%:z").
        let ends = from.char_indices().skip(1).take(4).map(|(i, c)| i + c.len_utf8());
        let mut lengths = ends.peekable();
        let first = lengths.peek().copied().unwrap_or(from.len());
        match lengths.find(|&end| known(&from[..end])) {
            Some(end) => rest = &from[end..],
            None => return &from[..first],
        }
    }
    pattern
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sort::DateSource;

    fn dated(text: &str) -> Dated {
        Dated {
            time: NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").unwrap(),
            source: DateSource::ExifDateTimeOriginal,
            offset: None,
            zone: crate::sort::date::ZoneSource::WallClock,
            instant: None,
            burst: None,
        }
    }

    #[test]
    fn default_template_files_by_day() {
        let path = plan(
            &Template::default(),
            Some(&dated("2024-05-26 23:59:59")),
            &Origin::named("IMG_1.jpg"),
        );
        assert_eq!(path, PathBuf::from("2024/05/26/IMG_1.jpg"));
    }

    #[test]
    fn custom_template_is_rendered_with_strftime() {
        let template = Template::new("%Y/%Y-%m %B").unwrap();
        let path = plan(
            &template,
            Some(&dated("2024-05-26 10:00:00")),
            &Origin::named("a.jpg"),
        );
        assert_eq!(path, PathBuf::from("2024/2024-05 May/a.jpg"));
    }

    #[test]
    fn undated_files_go_to_the_undated_folder() {
        assert_eq!(
            plan(&Template::default(), None, &Origin::named("x.bin")),
            PathBuf::from("undated/x.bin")
        );
    }

    #[test]
    fn an_unknown_sequence_is_named() {
        for (pattern, named) in [("%Y/%Q", "%Q"), ("%Y/%m-%-d/%J", "%J"), ("%%Q/%Y/%", "%")] {
            let error = Template::new(pattern).unwrap_err().to_string();
            assert!(
                error.contains(&format!("does not know {named} (")),
                "{pattern}: {error}"
            );
        }
    }

    #[test]
    fn bad_templates_are_refused() {
        for pattern in ["%Y/%Q", "/photos/%Y", "", "///", "%", "%Y/%z"] {
            assert!(
                matches!(Template::new(pattern), Err(SortError::Template { .. })),
                "{pattern:?} accepted"
            );
        }
    }

    #[test]
    fn a_template_into_the_state_folder_is_refused() {
        for pattern in [".mtpull/%Y", ".MTPULL/%Y/%m"] {
            let error = Template::new(pattern).unwrap_err();
            assert!(error.to_string().contains("state folder"), "{pattern}: {error}");
        }
        // Deeper, it is not mtpull's; but a hidden level is refused all the same.
        let error = Template::new("photos/.mtpull/%Y").unwrap_err();
        assert!(error.to_string().contains("starts with a dot"), "{error}");
    }

    #[test]
    fn names_fat_refuses_become_safe() {
        let cases = [
            ("a:b?c\"d*e<f>g|h.jpg", "a_b_c_d_e_f_g_h.jpg"),
            ("trailing.", "trailing_"),
            ("dots and space. .", "dots and space___"),
            ("IMG_1.JPG", "IMG_1.JPG"),
        ];
        for (name, expected) in cases {
            assert_eq!(safe_name_for(name, Names::Windows), expected, "{name:?}");
        }
        assert_eq!(safe_name_for("a:b.", Names::Posix), "a:b.");
    }

    #[test]
    fn templates_that_climb_out_or_hide_are_refused() {
        for pattern in ["../%Y", "%Y/../../x", "%Y/./x", ".photos/%Y", "%Y/.hidden/%d"] {
            let error = Template::new(pattern).unwrap_err();
            assert!(
                error.to_string().contains("starts with a dot"),
                "{pattern}: {error}"
            );
        }
    }

    fn taken() -> NaiveDateTime {
        dated("2024-05-26 10:15:00").time
    }

    #[test]
    fn tokens_fill_folders_and_names() {
        let origin = Origin {
            name: "PXL_20240526_101500.MP.jpg",
            folder: "Camera",
            device: Some("Pixel 8"),
        };
        let cases = [
            (
                "{device}/%Y/%Y-%m-%d",
                "Pixel 8/2024/2024-05-26/PXL_20240526_101500.MP.jpg",
            ),
            ("%Y/{folder}", "2024/Camera/PXL_20240526_101500.MP.jpg"),
            (
                "%Y/%m/%Y%m%d-{name}",
                "2024/05/20240526-PXL_20240526_101500.MP.jpg",
            ),
            ("%Y/%Y%m%d_{seq}", "2024/20240526_\u{1}.MP.jpg"),
            (
                "{device} {folder}/{name} {seq}",
                "Pixel 8 Camera/PXL_20240526_101500 \u{1}.MP.jpg",
            ),
        ];
        for (pattern, expected) in cases {
            let template = Template::new(pattern).unwrap();
            assert_eq!(
                template.path_for(&taken(), &origin),
                PathBuf::from(expected),
                "{pattern}"
            );
        }
    }

    #[test]
    fn hostile_token_values_stay_one_visible_level() {
        let origin = Origin {
            name: ".hidden.jpg",
            folder: "..",
            device: Some("../../etc/.mtpull"),
        };
        let template = Template::new("{device}/{folder}/{name}").unwrap();
        let path = template.path_for(&taken(), &origin);
        assert_eq!(path, PathBuf::from("_._.._etc_.mtpull/__/_hidden.jpg"));
        // A device model that is mtpull's own folder is not: the level is made visible.
        let state = Origin {
            device: Some(".mtpull"),
            ..origin
        };
        let path = Template::new("{device}/%Y").unwrap().path_for(&taken(), &state);
        assert_eq!(path, PathBuf::from("_mtpull/2024/.hidden.jpg"));
        // A name holding the mark cannot number itself.
        let marked = Origin::named("a\u{1}.jpg");
        let path = Template::new("%Y/{name}").unwrap().path_for(&taken(), &marked);
        assert_eq!(path, PathBuf::from("2024/a_.jpg"));
    }

    #[test]
    fn bad_tokens_are_refused_up_front() {
        let refused = [
            ("%Y/{model}", "does not know"),
            ("{name}/%Y", "last level only"),
            ("{seq}/%Y/x", "last level only"),
            ("{seq}", "names no folder"),
        ];
        for (pattern, why) in refused {
            let error = Template::new(pattern).unwrap_err();
            assert!(error.to_string().contains(why), "{pattern}: {error}");
        }
        for pattern in ["%Y/{x", "%Y/a{b c}", "{device}/%Y", "%Y/{folder}/{name}-{seq}"] {
            assert!(Template::new(pattern).is_ok(), "{pattern}");
        }
        assert!(Template::new("{device}/%Y").unwrap().uses_device());
        assert!(!Template::default().uses_device());
    }

    #[test]
    fn the_example_shows_a_whole_path() {
        assert_eq!(
            Template::new("{device}/%Y/{seq}-{name}").unwrap().example(),
            PathBuf::from("Pixel 8/2024/\u{1}-IMG_1.jpg")
        );
    }

    #[test]
    fn hostile_names_become_one_plain_component() {
        let cases = [
            ("..", "__"),
            (".", "_"),
            ("", "_"),
            ("../../etc/passwd", ".._.._etc_passwd"),
            ("/abs", "_abs"),
            ("a\\b", "a_b"),
            ("nul\0byte\n.jpg", "nul_byte_.jpg"),
            ("esc\u{1b}[31m.jpg", "esc_[31m.jpg"),
            ("naïve café.jpg", "naïve café.jpg"),
        ];
        for (hostile, expected) in cases {
            assert_eq!(safe_name(hostile), expected, "for {hostile:?}");
            let path = plan(&Template::default(), None, &Origin::named(hostile));
            assert_eq!(path.components().count(), 2, "{path:?} has extra levels");
        }
    }

    #[test]
    fn long_names_are_cut_keeping_the_extension() {
        let name = format!("{}.jpg", "é".repeat(300));
        let safe = safe_name(&name);
        assert!(safe.len() <= MAX_NAME_LEN, "{} bytes", safe.len());
        assert!(safe.ends_with("é.jpg"));
        let silly = format!("a.{}", "x".repeat(400));
        assert!(safe_name(&silly).len() <= MAX_NAME_LEN);
    }

    proptest::proptest! {
        #[test]
        fn any_name_becomes_one_short_plain_component(name in r#"(?s).{0,300}|[./\\\x00-\x1f]{0,8}"#) {
            let safe = safe_name(&name);
            proptest::prop_assert!(safe.len() <= MAX_NAME_LEN);
            let path = PathBuf::from(&safe);
            let mut components = path.components();
            proptest::prop_assert!(matches!(components.next(), Some(std::path::Component::Normal(_))));
            proptest::prop_assert!(components.next().is_none());
            proptest::prop_assert!(!safe_name_for(&name, Names::Posix).starts_with('.'));
            let (stem, extension) = split_extension(&safe);
            proptest::prop_assert_eq!(format!("{stem}{extension}"), safe.clone());
        }

        #[test]
        fn any_name_is_safe_on_fat_too(name in r#"(?s).{0,300}|[./\\:?"*<>| \x00-\x1f]{0,8}"#) {
            // As filing sees it: the planned name, made safe for FAT.
            let safe = safe_name_for(&safe_name(&name), Names::Windows);
            proptest::prop_assert!(!safe.is_empty() && safe.len() <= MAX_NAME_LEN);
            proptest::prop_assert!(!safe.contains([':', '?', '"', '*', '<', '>', '|', '\\', '/']));
            proptest::prop_assert!(!safe.ends_with(['.', ' ']) && !safe.chars().any(char::is_control));
            proptest::prop_assert!(!safe.starts_with('.'));
            let path = PathBuf::from(&safe);
            let mut components = path.components();
            proptest::prop_assert!(matches!(components.next(), Some(std::path::Component::Normal(_))));
            proptest::prop_assert!(components.next().is_none());
        }
    }

    #[test]
    fn extensions_split_before_the_last_dot_or_before_mp() {
        assert_eq!(split_extension("IMG_1.jpg"), ("IMG_1", ".jpg"));
        assert_eq!(
            split_extension("PXL_20240526_081500123.MP.jpg"),
            ("PXL_20240526_081500123", ".MP.jpg")
        );
        assert_eq!(split_extension("a.tar.gz"), ("a.tar", ".gz"));
        assert_eq!(split_extension(".nomedia"), (".nomedia", ""));
        assert_eq!(split_extension("README"), ("README", ""));
        assert_eq!(split_extension(".MP.jpg"), (".MP", ".jpg"));
    }
}
