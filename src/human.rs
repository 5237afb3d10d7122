//! Numbers and names as people read them: one byte scale, counted nouns, and
//! names that cannot drive a terminal or collide when shown.
//!
//! Every command prints sizes with [`bytes`] (decimal units, as disks are
//! sold and as the progress bar counts), counts with [`count`], and local or
//! device names with [`name`] / [`path`].

use std::fmt::Write as _;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// A size in decimal units: `216 B`, `9.49 kB`, `4.00 MB`, `64.00 GB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["kB", "MB", "GB", "TB", "PB", "EB"];
    if n < 1000 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1000.0;
    let mut unit = 0;
    while value >= 999.995 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    format!("{value:.2} {}", UNITS[unit])
}

/// `1 file`, `2 files`, `0 files`: `noun` is the singular; the plural adds `s`.
pub fn count(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// A name for a terminal or a JSON string, one to one: control characters
/// are written as Rust escapes (`\n`, `\u{1b}`) and a backslash as `\\`, so
/// that a hostile name cannot move the cursor and two names never look alike.
pub fn name(text: &str) -> String {
    let mut shown = String::with_capacity(text.len());
    for c in text.chars() {
        push_char(&mut shown, c);
    }
    shown
}

/// A local path shown as [`name`] shows text; bytes that are not UTF-8 are
/// written `\xNN`, so two such names stay distinct (not both `�`).
pub fn path(path: &Path) -> String {
    let mut shown = String::new();
    for chunk in path.as_os_str().as_bytes().utf8_chunks() {
        for c in chunk.valid().chars() {
            push_char(&mut shown, c);
        }
        for byte in chunk.invalid() {
            let _ = write!(shown, "\\x{byte:02x}");
        }
    }
    shown
}

fn push_char(shown: &mut String, c: char) {
    match c {
        '\\' => shown.push_str("\\\\"),
        c if c.is_control() => shown.extend(c.escape_default()),
        c => shown.push(c),
    }
}

/// `text` in at most `width` characters: a long one loses its middle (`…`),
/// keeping its start and, longer, its end — where a path's file name is.
pub fn middle(text: &str, width: usize) -> String {
    let length = text.chars().count();
    if length <= width {
        return text.to_owned();
    }
    let kept = width.saturating_sub(1);
    let head = kept / 3;
    let tail = kept - head;
    let start: String = text.chars().take(head).collect();
    let end: String = text.chars().skip(length - tail).collect();
    format!("{start}…{end}")
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;

    use super::*;

    #[test]
    fn a_long_name_loses_its_middle_and_keeps_its_end() {
        let path = "Internal shared storage/DCIM/Camera/PXL_20240526_101500123.MP.jpg";
        assert_eq!(middle(path, 100), path);
        let cut = middle(path, 40);
        assert_eq!(cut.chars().count(), 40);
        assert_eq!(cut, "Internal shar…_20240526_101500123.MP.jpg");
        assert_eq!(middle("ééééé", 3), "…éé");
        assert_eq!(middle("abc", 0), "…");
    }

    #[test]
    fn bytes_use_one_decimal_scale() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(999), "999 B");
        assert_eq!(bytes(1000), "1.00 kB");
        assert_eq!(bytes(9_490), "9.49 kB");
        assert_eq!(bytes(4_000_000), "4.00 MB");
        assert_eq!(bytes(999_999), "1.00 MB");
        assert_eq!(bytes(64_000_000_000), "64.00 GB");
        assert_eq!(bytes(u64::MAX), "18.45 EB");
    }

    #[test]
    fn counts_agree_with_their_noun() {
        assert_eq!(count(0, "file"), "0 files");
        assert_eq!(count(1, "file"), "1 file");
        assert_eq!(count(2, "duplicate"), "2 duplicates");
    }

    #[test]
    fn names_are_escaped_one_to_one() {
        assert_eq!(name("IMG_1.jpg"), "IMG_1.jpg");
        assert_eq!(name("a\u{1b}[2Jb\n"), "a\\u{1b}[2Jb\\n");
        assert_eq!(name("a\\nb"), "a\\\\nb");
        let one = path(Path::new(OsStr::from_bytes(b"x\xff.jpg")));
        let two = path(Path::new(OsStr::from_bytes(b"x\xfe.jpg")));
        assert_eq!((one.as_str(), two.as_str()), ("x\\xff.jpg", "x\\xfe.jpg"));
        assert_eq!(path(Path::new("DCIM/été.jpg")), "DCIM/été.jpg");
    }
}
