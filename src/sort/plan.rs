//! Where a file goes inside the destination: `<template>/<safe name>` or
//! `undated/<safe name>`, always a relative path that cannot leave the destination.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::str::FromStr;

use chrono::NaiveDateTime;
use chrono::format::{Item, StrftimeItems};

use super::{Dated, SortError};

/// The folder (inside the destination) for files with no usable date.
pub const UNDATED_DIR: &str = "undated";

/// Longest file name planned, in bytes: 255 (the usual limit) less room for a `-NNNN`
/// clash suffix.
pub const MAX_NAME_LEN: usize = 240;

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

/// A strftime pattern (chrono's syntax) for the dated folders, `/` separating levels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template(String);

impl Template {
    /// Checks the pattern: strftime items chrono knows, relative, at least one folder.
    pub fn new(pattern: &str) -> Result<Template, SortError> {
        let invalid = |reason| SortError::Template {
            template: pattern.to_owned(),
            reason,
        };
        if StrftimeItems::new(pattern).any(|item| matches!(item, Item::Error)) {
            return Err(invalid("it has a % sequence chrono's strftime does not know"));
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
        let template = Template(pattern.to_owned());
        let sample = template.render(&NaiveDateTime::default());
        if sample.as_os_str().is_empty() {
            return Err(invalid("it names no folder"));
        }
        if sample
            .components()
            .next()
            .is_some_and(|first| super::state::is_state_dir(first.as_os_str()))
        {
            return Err(invalid("it points into .mtpull, mtpull's own state folder"));
        }
        Ok(template)
    }

    /// The folder for a capture time, each level made safe (`..` cannot climb out).
    /// (Formatting cannot fail: [`Template::new`] tried it.)
    pub fn render(&self, time: &NaiveDateTime) -> PathBuf {
        time.format(&self.0)
            .to_string()
            .split('/')
            .filter(|level| !level.is_empty())
            .map(safe_name)
            .collect()
    }
}

impl Default for Template {
    fn default() -> Self {
        Template(DEFAULT_TEMPLATE.to_owned())
    }
}

impl FromStr for Template {
    type Err = SortError;

    fn from_str(pattern: &str) -> Result<Self, Self::Err> {
        Template::new(pattern)
    }
}

/// The relative path a file goes to: its dated folder (or [`UNDATED_DIR`]) and its
/// name made safe. Clashes are settled when filing, not here.
pub fn plan(template: &Template, dated: Option<&Dated>, original_name: &str) -> PathBuf {
    let folder = match dated {
        Some(dated) => template.render(&dated.time),
        None => PathBuf::from(UNDATED_DIR),
    };
    folder.join(safe_name(original_name))
}

/// A name that is one plain path component: separators and control characters become
/// `_`, `.` and `..` become underscores, and long names are cut (keeping the extension)
/// to [`MAX_NAME_LEN`] bytes.
pub fn safe_name(name: &str) -> String {
    let mut safe: String = name
        .chars()
        .map(|c| {
            if c == '/' || c == '\\' || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    if safe.chars().all(|c| c == '.') {
        // Empty, "." and ".." would name the folder itself or its parent.
        safe = "_".repeat(safe.len().max(1));
    }
    truncate_keeping_extension(safe)
}

/// [`safe_name`] as a file's name in DEST, on a filesystem that takes only `names`: a
/// leading dot becomes `_` (a hidden file never counts as a backup); on FAT and exFAT
/// the characters they refuse become `_`, and so do trailing dots and spaces (which
/// Windows drops, making `a.` and `a` one name).
pub fn safe_name_for(name: &str, names: Names) -> String {
    let mut safe = safe_name(name);
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
        }
    }

    #[test]
    fn default_template_files_by_day() {
        let path = plan(
            &Template::default(),
            Some(&dated("2024-05-26 23:59:59")),
            "IMG_1.jpg",
        );
        assert_eq!(path, PathBuf::from("2024/05/26/IMG_1.jpg"));
    }

    #[test]
    fn custom_template_is_rendered_with_strftime() {
        let template = Template::new("%Y/%Y-%m %B").unwrap();
        let path = plan(&template, Some(&dated("2024-05-26 10:00:00")), "a.jpg");
        assert_eq!(path, PathBuf::from("2024/2024-05 May/a.jpg"));
    }

    #[test]
    fn undated_files_go_to_the_undated_folder() {
        assert_eq!(
            plan(&Template::default(), None, "x.bin"),
            PathBuf::from("undated/x.bin")
        );
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
        assert!(
            Template::new("photos/.mtpull/%Y").is_ok(),
            "only DEST's own is mtpull's"
        );
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
    fn template_cannot_climb_out() {
        let template = Template::new("../%Y/./x").unwrap();
        let path = template.render(&dated("2024-05-26 10:00:00").time);
        assert_eq!(path, PathBuf::from("__/2024/_/x"));
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
            let path = plan(&Template::default(), None, hostile);
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
            let safe = safe_name_for(&name, Names::Windows);
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
