//! What a backup keeps together beyond what names tell: a Live Photo whose photo and
//! video were renamed apart (paired by Apple's content identifier, read from the
//! device before planning), and a burst (dated by its first shot, so that it is never
//! split over midnight) — as `sort` does for local files.

use std::collections::{HashMap, HashSet};

use super::error::PullError;
use super::head::DeviceFileReader;
use super::plan::Plan;
use super::remote::{FileKey, RemoteFile};
use crate::ptp::StorageId;
use crate::session::Session;
use crate::sort::{self, Dated, Follows};

/// Photos a renamed Live Photo's video may belong to, and the videos themselves.
const PHOTOS: [&str; 5] = ["heic", "heif", "jpg", "jpeg", "dng"];
const VIDEOS: [&str; 1] = ["mov"];

/// Pairs each `.MOV` to copy that no name pairs with the lone photo of its folder (to
/// copy, or backed up before) that bears the same Apple content identifier: the video
/// then travels with the photo, named after it and filed beside it, right after it in
/// the plan. Identifiers are read from the device (partial reads) only in folders that
/// hold both such a video and such a photo; the photos' only when a video had one.
pub(super) fn pair_by_content_identifier(session: &mut Session, plan: &mut Plan) -> Result<(), PullError> {
    if !plan
        .to_copy
        .iter()
        .any(|file| has_extension(file.name(), &VIDEOS))
    {
        return Ok(());
    }
    let serial = plan.serial.clone();
    // Photos some video already travels with.
    let with_video: HashSet<&FileKey> = plan
        .travels_with
        .iter()
        .filter(|(follower, _)| has_extension(&follower.path, &VIDEOS))
        .map(|(_, (lead, _))| lead)
        .collect();
    let mut lone_photos: HashMap<Folder, Vec<&RemoteFile>> = HashMap::new();
    for file in plan.to_copy.iter().chain(&plan.already) {
        if has_extension(file.name(), &PHOTOS) && !with_video.contains(&file.key(&serial)) {
            lone_photos.entry(Folder::of(file)).or_default().push(file);
        }
    }
    let videos: Vec<&RemoteFile> = plan
        .to_copy
        .iter()
        .filter(|file| {
            has_extension(file.name(), &VIDEOS)
                && !plan.travels_with.contains_key(&file.key(&serial))
                && lone_photos.contains_key(&Folder::of(file))
        })
        .collect();
    let mut photo_ids: HashMap<Folder, HashMap<String, &RemoteFile>> = HashMap::new();
    let mut pairs = Vec::new();
    for video in videos {
        let Some(id) = content_identifier(session, video)? else {
            continue;
        };
        let folder = Folder::of(video);
        let ids = match photo_ids.get_mut(&folder) {
            Some(ids) => ids,
            None => {
                let mut ids = HashMap::new();
                for photo in &lone_photos[&folder] {
                    if let Some(id) = content_identifier(session, photo)? {
                        ids.entry(id).or_insert(*photo);
                    }
                }
                photo_ids.entry(folder).or_insert(ids)
            }
        };
        // One video per photo.
        if let Some(photo) = ids.remove(&id) {
            pairs.push((
                photo.key(&serial),
                video.key(&serial),
                photo.name().to_owned(),
                video.name().to_owned(),
            ));
        }
    }
    for (photo, video, photo_name, video_name) in pairs {
        plan.travels_with.insert(
            video.clone(),
            (photo.clone(), Follows::video_of(&photo_name, &video_name)),
        );
        follow_in_order(plan, &photo, &video);
    }
    Ok(())
}

/// Moves the video right after its photo among the files to copy (when the photo is
/// one of them), as the plan keeps every follower.
fn follow_in_order(plan: &mut Plan, photo: &FileKey, video: &FileKey) {
    let serial = &plan.serial;
    let Some(from) = plan.to_copy.iter().position(|f| f.key(serial) == *video) else {
        return;
    };
    let moved = plan.to_copy.remove(from);
    if let Some(at) = plan.to_copy.iter().position(|f| f.key(serial) == *photo) {
        plan.to_copy.insert(at + 1, moved);
    } else {
        plan.to_copy.insert(from, moved);
    }
}

/// The content identifier in a device file's head, if any (nothing when the device
/// cannot read part of a file).
fn content_identifier(session: &mut Session, file: &RemoteFile) -> Result<Option<String>, PullError> {
    let mut reader = DeviceFileReader::new(session, file);
    let id = sort::date::content_identifier_in(&mut reader, file.size);
    reader.finish().map_err(|source| PullError::Device {
        context: format!("reading the start of {}", file.display_path()),
        source,
    })?;
    Ok(id)
}

fn has_extension(name: &str, list: &[&str]) -> bool {
    name.rsplit_once('.')
        .is_some_and(|(_, extension)| list.iter().any(|l| l.eq_ignore_ascii_case(extension)))
}

/// A folder on the device.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Folder(StorageId, String);

impl Folder {
    fn of(file: &RemoteFile) -> Folder {
        let folder = file.path.rsplit_once('/').map_or("", |(folder, _)| folder);
        Folder(file.storage_id, folder.to_owned())
    }
}

/// Dates every shot of a burst by the burst's first, as `sort` does, so that a burst
/// is never split over midnight: the files of one folder that share a name before
/// `_BURST` and digits take the date of the first in name order among all the files
/// listed (one backed up before is dated from its copy in DEST, one not yet dated from
/// the device); those that share Apple's BurstUUID, the date of the first this run
/// dates (the plan goes in name order).
pub(super) struct Bursts {
    serial: String,
    /// Each shot of a named burst but its first → the first's key.
    first_of: HashMap<FileKey, FileKey>,
    /// The first shot of each named burst, and its date once known.
    firsts: HashMap<FileKey, First>,
    /// The date of each Apple burst's first shot, by folder and BurstUUID.
    apple: HashMap<(Folder, u64), Dated>,
}

struct First {
    file: RemoteFile,
    dated: Option<Option<Dated>>,
}

impl Bursts {
    pub(super) fn new(plan: &Plan) -> Bursts {
        let mut members: HashMap<(Folder, String), Vec<&RemoteFile>> = HashMap::new();
        for file in plan.to_copy.iter().chain(&plan.already) {
            if let Some(prefix) = sort::burst_name_prefix(file.name()) {
                members.entry((Folder::of(file), prefix)).or_default().push(file);
            }
        }
        let mut bursts = Bursts {
            serial: plan.serial.clone(),
            first_of: HashMap::new(),
            firsts: HashMap::new(),
            apple: HashMap::new(),
        };
        for files in members.into_values().filter(|files| files.len() > 1) {
            let first = files.iter().min_by_key(|file| file.name()).expect("a member");
            let first_key = first.key(&bursts.serial);
            for file in files.iter().filter(|file| file.handle != first.handle) {
                bursts
                    .first_of
                    .insert(file.key(&bursts.serial), first_key.clone());
            }
            let first = First {
                file: (*first).clone(),
                dated: None,
            };
            bursts.firsts.insert(first_key, first);
        }
        bursts
    }

    /// `file`'s date as its burst's first shot has it (`dated`: its own; undated stays
    /// undated). `date_first` dates a first shot this run has not dated yet.
    pub(super) fn date(
        &mut self,
        file: &RemoteFile,
        dated: Option<Dated>,
        date_first: impl FnOnce(&RemoteFile) -> Result<Option<Dated>, PullError>,
    ) -> Result<Option<Dated>, PullError> {
        let Some(own) = dated else {
            return Ok(None);
        };
        if let Some(id) = own.burst {
            return Ok(Some(*self.apple.entry((Folder::of(file), id)).or_insert(own)));
        }
        if self.first_of.is_empty() {
            return Ok(Some(own));
        }
        let key = file.key(&self.serial);
        if let Some(first) = self.firsts.get_mut(&key) {
            first.dated = Some(Some(own));
            return Ok(Some(own));
        }
        let Some(first) = self
            .first_of
            .get(&key)
            .and_then(|first| self.firsts.get_mut(first))
        else {
            return Ok(Some(own));
        };
        let first_dated = match first.dated {
            Some(dated) => dated,
            None => *first.dated.insert(date_first(&first.file)?),
        };
        Ok(Some(first_dated.unwrap_or(own)))
    }
}
