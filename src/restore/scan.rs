//! Which local files a restore sends: the files named, and every file below
//! the folders named (hidden files and folders such as `.mtpull/` left out),
//! each with the capture date the phone should show it on.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use chrono::{DateTime, Local, NaiveDateTime, Utc};

use crate::sort::{DateResolver, Moment};

/// One local file to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalFile {
    /// Where it is.
    pub path: PathBuf,
    /// Its name on the phone (the local name, never altered).
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// The capture date as local wall-clock time (EXIF, video boxes, the
    /// name, else the file's mtime), sent as ObjectInfo's dates.
    pub taken: NaiveDateTime,
}

/// A local file that is not sent, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The file.
    pub path: PathBuf,
    /// Why, in words a person can act on.
    pub reason: String,
}

/// What a scan found.
#[derive(Debug, Default)]
pub struct Scan {
    /// The files to send, in the order given (folders walked in name order).
    pub files: Vec<LocalFile>,
    /// Files that cannot be sent as they are named, or clash by name.
    pub refused: Vec<Refused>,
}

/// Why a name cannot be used on a phone as it is, if it cannot. MTP devices
/// (Android on FAT/exFAT cards, cameras) refuse or rewrite these; a restore
/// never renames a file behind the user's back, so it refuses instead.
pub fn name_problem(name: &str) -> Option<String> {
    const FORBIDDEN: &[char] = &['/', '\\', ':', '*', '?', '"', '<', '>', '|'];
    if name.is_empty() || name == "." || name == ".." {
        return Some("is not a file name".into());
    }
    if let Some(c) = name.chars().find(|c| c.is_control()) {
        return Some(format!("contains the control character {:?}", c));
    }
    if let Some(c) = name.chars().find(|c| FORBIDDEN.contains(c)) {
        return Some(format!("contains {c:?}, which phones' file systems refuse"));
    }
    if name.ends_with(['.', ' ']) || name.starts_with(' ') {
        return Some("starts with a space or ends with a dot or space, which FAT and exFAT drop".into());
    }
    if name.len() > 255 {
        return Some(format!("is {} bytes long; phones allow 255", name.len()));
    }
    None
}

/// Finds the files under `sources` (files or folders) and dates them.
pub fn scan(sources: &[PathBuf]) -> std::io::Result<Scan> {
    let resolver = DateResolver::system();
    let mut scan = Scan::default();
    let mut names: HashMap<String, PathBuf> = HashMap::new();
    for source in sources {
        let meta = fs::symlink_metadata(source)
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", source.display())))?;
        let mut found = Vec::new();
        if meta.is_dir() {
            walk(source, &mut found)?;
        } else if meta.is_file() {
            found.push(source.clone());
        } else {
            scan.refused.push(Refused {
                path: source.clone(),
                reason: "is neither a file nor a folder (links are not followed)".into(),
            });
        }
        for path in found {
            match local_file(&resolver, &path) {
                Ok(file) => match names.get(&file.name) {
                    Some(first) => scan.refused.push(Refused {
                        reason: format!(
                            "has the same name as {}; restore one of them with another --to",
                            first.display()
                        ),
                        path,
                    }),
                    None => {
                        names.insert(file.name.clone(), path);
                        scan.files.push(file);
                    }
                },
                Err(reason) => scan.refused.push(Refused { path, reason }),
            }
        }
    }
    Ok(scan)
}

/// Every regular file below `dir`, in name order, hidden entries left out.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", dir.display())))?
        .collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        if entry.file_name().as_encoded_bytes().starts_with(b".") {
            continue;
        }
        let kind = entry.file_type()?;
        if kind.is_dir() {
            walk(&entry.path(), out)?;
        } else if kind.is_file() {
            out.push(entry.path());
        }
    }
    Ok(())
}

fn local_file(resolver: &DateResolver<Local>, path: &Path) -> Result<LocalFile, String> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or("its name is not valid UTF-8, which MTP cannot carry")?;
    if let Some(problem) = name_problem(name) {
        return Err(format!("its name {problem}"));
    }
    let meta = fs::metadata(path).map_err(|e| e.to_string())?;
    let mtime = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
    let fallback = Moment::Instant(DateTime::<Utc>::from(mtime));
    let dated = resolver
        .resolve_path(path, Some(fallback))
        .map_err(|e| e.to_string())?;
    let taken = dated.map_or_else(
        || DateTime::<Local>::from(mtime).naive_local(),
        |dated| dated.time,
    );
    Ok(LocalFile {
        path: path.to_owned(),
        name: name.to_owned(),
        size: meta.len(),
        taken,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_names_are_refused_with_a_reason() {
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "a\\b",
            "tab\there",
            "nl\n",
            "what?.jpg",
            "x.",
            " lead",
            "a:b",
        ] {
            assert!(name_problem(bad).is_some(), "{bad:?} accepted");
        }
        assert!(name_problem(&"x".repeat(256)).is_some());
        for good in ["IMG_20240526_101500.jpg", "Été 2024 (1).jpg", "photo.final.JPG"] {
            assert_eq!(name_problem(good), None, "{good:?}");
        }
    }

    #[test]
    fn folders_are_walked_hidden_entries_skipped_and_clashes_refused() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for (path, body) in [
            ("2024/05/26/a.jpg", "aa"),
            ("2024/05/27/b.jpg", "bbb"),
            ("2024/05/28/a.jpg", "other"),
            (".mtpull/manifest.sqlite3", "db"),
            ("2024/.hidden.jpg", "h"),
            ("2024/05/26/bad?.jpg", "q"),
        ] {
            let path = root.join(path);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, body).unwrap();
        }
        let scan = scan(&[root.to_owned()]).unwrap();
        let names: Vec<&str> = scan.files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["a.jpg", "b.jpg"]);
        assert_eq!(scan.files[1].size, 3);
        let refused: Vec<String> = scan
            .refused
            .iter()
            .map(|r| format!("{} {}", r.path.strip_prefix(root).unwrap().display(), r.reason))
            .collect();
        assert_eq!(refused.len(), 2, "{refused:?}");
        assert!(
            refused[0].starts_with("2024/05/26/bad?.jpg its name contains '?'"),
            "{refused:?}"
        );
        assert!(
            refused[1].starts_with("2024/05/28/a.jpg has the same name as"),
            "{refused:?}"
        );
    }
}
