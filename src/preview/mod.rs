//! `mtpull preview`: a page of thumbnails of a device's pictures, fetched
//! without downloading the pictures, on which a person ticks what to copy.
//!
//! - `thumb`: one [`Thumbnail`] (GetThumb, else the EXIF thumbnail in the head, else none).
//! - `page`: the self-contained HTML page ([`render`]), and the selection file it saves.
//! - [`collect`]: thumbnails for a listing, with what is backed up already.

mod page;
mod thumb;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::NaiveDateTime;

pub use page::render;
pub use thumb::{ThumbSource, Thumbnail, exif_thumbnail};

use crate::pull::{FileKey, MediaKind, RemoteFile, media_kind};
use crate::session::{Session, SessionError};

/// One picture or video on the page.
#[derive(Debug, Clone)]
pub struct Item {
    /// The device file.
    pub file: RemoteFile,
    /// Photo or video.
    pub kind: MediaKind,
    /// The device's date for it (on Android, when it was taken or saved).
    pub date: Option<NaiveDateTime>,
    /// Its thumbnail.
    pub thumbnail: Thumbnail,
    /// Whether DEST's manifest holds it already.
    pub backed_up: bool,
}

/// Progress while thumbnails are fetched.
pub trait Progress {
    /// `done` of `total` items have their thumbnail.
    fn fetched(&mut self, done: usize, total: usize, item: &Item);
}

impl<F: FnMut(usize, usize, &Item)> Progress for F {
    fn fetched(&mut self, done: usize, total: usize, item: &Item) {
        self(done, total, item)
    }
}

/// Why collecting stopped.
#[derive(Debug, thiserror::Error)]
pub enum PreviewError {
    /// The device failed for more than one file (connection lost, locked).
    #[error("fetching the thumbnail of {file}: {source}")]
    Device {
        /// The file being fetched.
        file: String,
        /// What the session said.
        #[source]
        source: SessionError,
    },
    /// Ctrl-C.
    #[error("interrupted")]
    Interrupted,
}

/// The photos and videos among `files`, newest first, each with its
/// thumbnail; `backed_up` holds the keys DEST's manifest has for `serial`.
pub fn collect(
    session: &mut Session,
    serial: &str,
    files: &[RemoteFile],
    backed_up: &HashSet<FileKey>,
    cancel: &AtomicBool,
    progress: &mut dyn Progress,
) -> Result<Vec<Item>, PreviewError> {
    let mut media: Vec<(&RemoteFile, MediaKind)> = files
        .iter()
        .filter_map(|file| media_kind(file.name(), file.format).map(|kind| (file, kind)))
        .collect();
    media.sort_by(|(a, _), (b, _)| {
        let date = |f: &RemoteFile| f.modified.map(|t| t.local);
        date(b).cmp(&date(a)).then_with(|| a.path.cmp(&b.path))
    });
    let total = media.len();
    let mut items = Vec::with_capacity(total);
    for (file, kind) in media {
        if cancel.load(Ordering::Relaxed) {
            return Err(PreviewError::Interrupted);
        }
        let thumbnail =
            thumb::fetch(session, file, kind == MediaKind::Photo).map_err(|source| PreviewError::Device {
                file: file.display_path(),
                source,
            })?;
        let item = Item {
            file: file.clone(),
            kind,
            date: file.modified.map(|t| t.local),
            thumbnail,
            backed_up: backed_up.contains(&file.key(serial)),
        };
        progress.fetched(items.len() + 1, total, &item);
        items.push(item);
    }
    Ok(items)
}
