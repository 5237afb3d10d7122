//! A person's choice from the preview page: the selection file it saves,
//! read back for `mtpull backup DEST --selection FILE`.
//!
//! ```json
//! {"format": "mtpull-selection/1", "device": "SERIAL",
//!  "chosen":   [{"storage": "Internal shared storage", "path": "DCIM/Camera/IMG_1.jpg",
//!                "size": 2811904, "date": "2024-05-26T10:15:00"}],
//!  "rejected": [ … the same, for pictures unticked … ]}
//! ```
//!
//! Each entry is a [`FileKey`] (the date is the device's, as the preview
//! listed it; empty when the device gave none), so a file changed on the
//! phone since the preview is neither chosen nor rejected.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use chrono::NaiveDateTime;
use serde::Deserialize;

use super::remote::FileKey;

/// The `format` a selection file must have.
pub(crate) const SELECTION_FORMAT: &str = "mtpull-selection/1";

/// What a person chose for one device.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Choice {
    /// The device's serial the choice was made for.
    pub device: String,
    /// Files to copy.
    pub chosen: HashSet<FileKey>,
    /// Files never to copy (remembered in DEST's manifest).
    pub rejected: HashSet<FileKey>,
}

/// Why a selection file cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("selection file {}: {what}", path.display())]
pub struct ChoiceError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong with it.
    pub what: String,
}

#[derive(Deserialize)]
struct FileJson {
    format: String,
    device: String,
    chosen: Vec<EntryJson>,
    rejected: Vec<EntryJson>,
}

#[derive(Deserialize)]
struct EntryJson {
    storage: String,
    path: String,
    size: u64,
    date: String,
}

impl Choice {
    /// Reads a selection file.
    pub fn read(path: &Path) -> Result<Choice, ChoiceError> {
        let fail = |what: String| ChoiceError {
            path: path.to_owned(),
            what,
        };
        let bytes = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
        let file: FileJson =
            serde_json::from_slice(&bytes).map_err(|e| fail(format!("not a selection file: {e}")))?;
        if file.format != SELECTION_FORMAT {
            return Err(fail(format!(
                "format {:?}, this mtpull reads {SELECTION_FORMAT:?}",
                file.format
            )));
        }
        let keys = |entries: Vec<EntryJson>| -> Result<HashSet<FileKey>, ChoiceError> {
            entries
                .into_iter()
                .map(|e| {
                    let device_date = match e.date.as_str() {
                        "" => None,
                        text => Some(
                            NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S")
                                .map_err(|_| fail(format!("{}: bad date {text:?}", e.path)))?,
                        ),
                    };
                    Ok(FileKey {
                        serial: file.device.clone(),
                        storage: e.storage,
                        path: e.path,
                        size: e.size,
                        device_date,
                    })
                })
                .collect()
        };
        let device = file.device.clone();
        Ok(Choice {
            chosen: keys(file.chosen)?,
            rejected: keys(file.rejected)?,
            device,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_selection_file_reads_into_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sel.json");
        std::fs::write(
            &path,
            r#"{"format":"mtpull-selection/1","device":"S1",
               "chosen":[{"storage":"Internal","path":"DCIM/a.jpg","size":5,"date":"2024-05-26T10:15:00"}],
               "rejected":[{"storage":"Internal","path":"DCIM/b.jpg","size":6,"date":""}]}"#,
        )
        .unwrap();
        let choice = Choice::read(&path).unwrap();
        assert_eq!(choice.device, "S1");
        let a = choice.chosen.iter().next().unwrap();
        assert_eq!(
            (a.path.as_str(), a.size, a.device_date_text().as_str()),
            ("DCIM/a.jpg", 5, "2024-05-26T10:15:00")
        );
        assert_eq!(choice.rejected.iter().next().unwrap().device_date, None);
        std::fs::write(
            &path,
            r#"{"format":"other","device":"S","chosen":[],"rejected":[]}"#,
        )
        .unwrap();
        assert!(Choice::read(&path).unwrap_err().to_string().contains("format"));
        std::fs::write(&path, "[]").unwrap();
        assert!(
            Choice::read(&path)
                .unwrap_err()
                .to_string()
                .contains("not a selection file")
        );
    }
}
