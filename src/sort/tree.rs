//! Sorting a whole local folder (`mtpull sort SRC DEST`): walk, date, plan, file.
//!
//! Dating reads headers and runs on all cores; filing then goes one file at a time in
//! path order, so that names (`-1`, `-2`) are the same in a dry run and in a real run,
//! and from one run to the next.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fs;
use std::num::NonZeroUsize;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;

use chrono::TimeZone;
use walkdir::{DirEntry, WalkDir};

use super::batch::CopyBatch;
use super::contents::Contents;
use super::date::{self, ZoneHints, ZoneSource};
use super::dest::{check_destination, stops_the_run};
use super::file::{DryRun, MAX_CLASH_SUFFIX, numbered, same_content, seq_stems, stem_key};
use super::kind::{Only, kind_by_name};
use super::plan::{Names, Origin, SEQ_MARK, safe_name_for, split_extension};
use super::state::{DestLock, is_state_dir};
use super::{DateResolver, Dated, Filed, Filer, Mode, Moment, Outcome, SortError, Template, plan};

/// Files that travel with the file of the same base name (`IMG_1.xmp` or `IMG_1.jpg.xmp`
/// with `IMG_1.jpg`): edits, Apple adjustments, video thumbnails.
const SIDECAR_EXTENSIONS: [&str; 3] = ["xmp", "aae", "thm"];
/// Photos a video of the same base name pairs with (Live Photos, motion photos).
const PAIR_PHOTOS: [&str; 5] = ["heic", "heif", "jpg", "jpeg", "dng"];
/// Videos that pair with a photo of the same base name.
const PAIR_VIDEOS: [&str; 2] = ["mov", "mp4"];

#[derive(Debug, Clone)]
/// How a tree is sorted.
pub struct TreeOptions {
    /// Folder layout (a chrono strftime pattern).
    pub template: Template,
    /// Copy or move.
    pub mode: Mode,
    /// Decide everything, write nothing.
    pub dry_run: bool,
    /// Threads that read headers.
    pub jobs: NonZeroUsize,
    /// Which files are sorted (photos and videos by default); the others,
    /// and hidden files and folders unless `All`, are left where they are.
    pub only: Only,
}

/// What happened to one file.
#[derive(Debug)]
pub struct FileReport {
    /// The file in the source tree.
    pub source: PathBuf,
    /// The capture time used; `None` for an undated file (or one that failed early).
    pub dated: Option<Dated>,
    /// For a sidecar: the file it travels with.
    pub sidecar_of: Option<PathBuf>,
    /// Where it was filed, or why not.
    pub result: Result<Filed, SortError>,
}

/// One line of a sort's story, in the order things happen.
#[derive(Debug)]
pub enum Event {
    /// A file, filed or not.
    File(FileReport),
    /// Not a regular file: links are not followed, devices and pipes are not photos.
    Skipped {
        /// The entry left alone.
        path: PathBuf,
        /// Why.
        reason: &'static str,
    },
    /// Not what `--only` asks for (a document, `.nomedia`, a hidden folder):
    /// left where it is.
    Ignored {
        /// The entry left alone.
        path: PathBuf,
        /// Why.
        reason: &'static str,
    },
}

/// Counts over a run. `filed` includes `renamed`; `undated` counts files filed (or found
/// as duplicates) in the undated folder.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Files filed (renamed ones included).
    pub filed: usize,
    /// Files filed under another name, their own being taken.
    pub renamed: usize,
    /// Files whose bytes DEST already held.
    pub duplicates: usize,
    /// Files filed (or found) in the undated folder.
    pub undated: usize,
    /// Entries left alone (links, devices, mtpull's own files).
    pub skipped: usize,
    /// Files and hidden folders left alone: not of the kinds `--only` asks for.
    pub ignored: usize,
    /// Files that could not be filed.
    pub errors: usize,
}

/// How a sort ended.
#[derive(Debug, Default)]
pub struct Sorted {
    /// The counts up to the end or the stop.
    pub summary: Summary,
    /// Why it stopped before the end: interrupted, or the destination took no
    /// more files (no permission, full). What was filed before stays filed.
    pub stopped: Option<SortError>,
}

impl Summary {
    fn count(&mut self, event: &Event) {
        let report = match event {
            Event::Skipped { .. } => {
                self.skipped += 1;
                return;
            }
            Event::Ignored { .. } => {
                self.ignored += 1;
                return;
            }
            Event::File(report) => report,
        };
        match &report.result {
            Ok(filed) => {
                match filed.outcome {
                    Outcome::Filed => self.filed += 1,
                    Outcome::Renamed(_) => {
                        self.filed += 1;
                        self.renamed += 1;
                    }
                    Outcome::Duplicate => self.duplicates += 1,
                }
                self.undated += usize::from(report.dated.is_none());
            }
            Err(_) => self.errors += 1,
        }
    }
}

/// Sorts the photos and videos under `src` into `dest`, reporting each file through `on_event`.
///
/// Per-file problems are reported and counted, and the run goes on. It stops
/// (in [`Sorted::stopped`]) when `cancel` is raised — between files, so that
/// no temp file is left — or when the destination takes no more files. An
/// `Err` means the run could not start (`src` is not a folder, `dest` cannot
/// be written) or could not make its result durable.
pub fn sort_tree<Tz>(
    src: &Path,
    dest: &Path,
    options: &TreeOptions,
    resolver: &DateResolver<Tz>,
    cancel: &AtomicBool,
    mut on_event: impl FnMut(&Event),
) -> Result<Sorted, SortError>
where
    Tz: TimeZone + Sync,
{
    if !src.is_dir() {
        return Err(SortError::NotAFolder(src.to_owned()));
    }
    if options.template.uses_device() {
        return Err(SortError::Template {
            template: options.template.to_string(),
            reason: "{device} names the phone a backup reads; sort has no device to name".to_owned(),
        });
    }
    check_destination(dest, false)?;
    // The only writer in DEST: what a cut run left there can be finished or removed.
    let _lock = match options.dry_run {
        true => None,
        false => Some(DestLock::acquire(dest)?),
    };
    let mut sink = if options.dry_run {
        Sink::Dry(DryRun::new(dest))
    } else if options.mode == Mode::Copy {
        Sink::Staged(Box::new(Staged::new(dest)?))
    } else {
        // The sources are the user's files, on disk before the run.
        let mut filer = Filer::new(dest, options.mode).settled_sources();
        // Before the walk: finishing a cut move removes its source.
        filer.open()?;
        Sink::Real(filer)
    };
    // Names made safe for DEST's filesystem before anything is decided, so that a pair's
    // clash and a dry run see the names the files will have.
    let names = sink.names()?;
    let mut summary = Summary::default();
    let mut emit = |event: Event| {
        summary.count(&event);
        on_event(&event);
    };
    let mut walk = Walk::new(dest, options.only);
    walk.tree(src);
    walk.events.into_iter().for_each(&mut emit);

    // What DEST holds under any name, so that no photo is filed twice.
    let mut contents = match walk.items.is_empty() {
        true => Contents::default(),
        false => Contents::of(dest),
    };
    let mut dated = parallel_map(&walk.items, options.jobs, |item| date_item(item, resolver));
    zone_from_nearby_photos(&walk.items, &mut dated);
    date_bursts_by_their_first_shot(&walk.items, &mut dated);
    let planned = dated.into_iter().zip(&walk.items).map(|(dated, item)| {
        let dated = dated?;
        let name = file_name(&item.main);
        let folder = folder_name(&item.main);
        let origin = Origin {
            name: &name,
            folder: &folder,
            device: None,
        };
        let path = plan(&options.template, dated.as_ref(), &origin);
        let path = path.with_file_name(safe_name_for(&file_name(&path), names));
        Ok(Planned { dated, path })
    });
    let mut stopped = None;
    let mut waiting = Vec::new();
    for (item, planned) in walk.items.iter().zip(planned) {
        if cancel.load(Ordering::Relaxed) {
            stopped = Some(SortError::Interrupted);
            break;
        }
        waiting.push((item, sink.stage(item, planned, &contents)));
        if sink.batch_is_full() {
            stopped = file_batch(&mut sink, dest, &mut contents, &mut waiting, &mut emit)?;
            if stopped.is_some() {
                break;
            }
            sink.end_batch()?;
        }
    }
    // What was staged before Ctrl-C is filed; after a full disk, nothing more.
    if (stopped.is_none() || matches!(stopped, Some(SortError::Interrupted)))
        && let Some(error) = file_batch(&mut sink, dest, &mut contents, &mut waiting, &mut emit)?
    {
        stopped = Some(error);
    }
    sink.finish()?;
    Ok(Sorted { summary, stopped })
}

/// Makes a staged batch durable and files it; returns the error that means
/// the destination takes no more files, if one came (the rest is dropped).
fn file_batch(
    sink: &mut Sink,
    dest: &Path,
    contents: &mut Contents,
    waiting: &mut Vec<(&Item, Result<Planned, SortError>)>,
    emit: &mut impl FnMut(Event),
) -> Result<Option<SortError>, SortError> {
    sink.make_durable()?;
    for (item, planned) in waiting.drain(..) {
        if let Err(error) = file_item(sink, dest, contents, item, planned, emit) {
            return Ok(Some(error));
        }
    }
    Ok(None)
}

/// A file to sort, with the sidecars that go where it goes.
#[derive(Debug, PartialEq, Eq)]
struct Item {
    main: PathBuf,
    sidecars: Vec<Sidecar>,
}

impl Item {
    fn alone(main: PathBuf) -> Item {
        Item {
            main,
            sidecars: Vec::new(),
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
struct Sidecar {
    path: PathBuf,
    /// How many extensions of the main file's name its name drops (`IMG_1.xmp`: 1;
    /// `IMG_1.jpg.xmp`: 0), so it can follow a renamed main file (`IMG_1-1.xmp`).
    dropped: usize,
    extension: String,
}

impl Sidecar {
    fn name_beside(&self, main_name: &str) -> String {
        format!("{}.{}", drop_extensions(main_name, self.dropped), self.extension)
    }

    /// The sidecar's planned path beside its main file's (final) planned path.
    fn planned_beside(&self, main: &Path) -> PathBuf {
        main.with_file_name(self.name_beside(&file_name(main)))
    }
}

/// The files of a tree, grouped with their sidecars, in path order.
struct Walk {
    items: Vec<Item>,
    events: Vec<Event>,
    /// The destination's (device, inode) when it lies inside the source: not walked.
    dest_id: Option<(u64, u64)>,
    only: Only,
}

impl Walk {
    fn new(dest: &Path, only: Only) -> Walk {
        let dest_id = fs::metadata(dest).ok().map(|m| (m.dev(), m.ino()));
        Walk {
            items: Vec::new(),
            events: Vec::new(),
            dest_id,
            only,
        }
    }

    /// Walks `src` in path order, each folder's files before its subfolders: never
    /// through a link, never into DEST.
    fn tree(&mut self, src: &Path) {
        let folders_last = |a: &DirEntry, b: &DirEntry| {
            (a.file_type().is_dir(), a.file_name()).cmp(&(b.file_type().is_dir(), b.file_name()))
        };
        let mut entries = WalkDir::new(src).min_depth(1).sort_by(folders_last).into_iter();
        let mut files = Vec::new();
        while let Some(entry) = entries.next() {
            match entry {
                Ok(entry) if self.visit(&entry, &mut files) => entries.skip_current_dir(),
                Ok(_) => {}
                Err(e) => {
                    let path = e.path().unwrap_or(src).to_owned();
                    self.failed(&path, SortError::io("list", &path)(e.into()));
                }
            }
        }
        // A folder's files come one after the other: group each folder's sidecars.
        for folder in files.chunk_by(|a: &PathBuf, b: &PathBuf| a.parent() == b.parent()) {
            let (items, orphans) = group_sidecars(folder.to_vec());
            for item in items {
                self.take(item);
            }
            for orphan in orphans {
                // Dated on its own it would land away from its photo (already moved,
                // say, by a run that was cut): it stays.
                self.skipped(orphan, "sidecar with no photo beside it: left where it is");
            }
        }
    }

    /// Sorts a file and its sidecars if `--only` wants its kind; else leaves them.
    fn take(&mut self, item: Item) {
        if self.only.accepts(kind_by_name(&file_name(&item.main))) {
            self.items.push(item);
            return;
        }
        let reason = match self.only {
            Only::Photos => "not a photo",
            Only::Videos => "not a video",
            _ => "not a photo or video",
        };
        for sidecar in item.sidecars {
            self.ignored(sidecar.path, reason);
        }
        self.ignored(item.main, reason);
    }

    /// Takes one entry of the walk: a file to sort, or a skip. Returns true for a
    /// folder not to walk into.
    fn visit(&mut self, entry: &DirEntry, files: &mut Vec<PathBuf>) -> bool {
        let path = entry.path().to_owned();
        let kind = entry.file_type();
        if is_state_dir(entry.file_name()) {
            self.skipped(path, "mtpull's own state, never sorted");
            return kind.is_dir();
        }
        // `.thumbnails/`, `.DS_Store`, `.nomedia`: not the user's photos.
        let hidden = entry.file_name().as_encoded_bytes().starts_with(b".");
        if hidden && self.only != Only::All && !is_leftover_copy(entry.file_name()) {
            self.ignored(path, "hidden");
            return kind.is_dir();
        }
        if kind.is_dir() {
            return self.is_dest(&path);
        }
        if kind.is_file() && is_leftover_copy(entry.file_name()) {
            self.skipped(path, "a copy an interrupted mtpull left, not a photo");
        } else if kind.is_file() {
            files.push(path);
        } else if kind.is_symlink() {
            self.skipped(path, "symbolic link, not followed");
        } else {
            self.skipped(path, "not a regular file");
        }
        false
    }

    fn is_dest(&self, dir: &Path) -> bool {
        let id = fs::metadata(dir).ok().map(|m| (m.dev(), m.ino()));
        id.is_some() && id == self.dest_id
    }

    fn ignored(&mut self, path: PathBuf, reason: &'static str) {
        self.events.push(Event::Ignored { path, reason });
    }

    fn skipped(&mut self, path: PathBuf, reason: &'static str) {
        self.events.push(Event::Skipped { path, reason });
    }

    fn failed(&mut self, path: &Path, error: SortError) {
        self.events.push(Event::File(FileReport {
            source: path.to_owned(),
            dated: None,
            sidecar_of: None,
            result: Err(error),
        }));
    }
}

/// A hidden copy a cut run of an older mtpull left beside its target.
fn is_leftover_copy(name: &std::ffi::OsStr) -> bool {
    let name = name.as_encoded_bytes();
    name.starts_with(b".mtpull-") && name.ends_with(b".tmp")
}

/// Attaches each sidecar among the files of one folder to the first file (in name
/// order) whose name, less zero or more extensions, is the sidecar's base name.
/// Sidecars with no such file are returned apart: they are not sorted.
fn group_sidecars(mut files: Vec<PathBuf>) -> (Vec<Item>, Vec<PathBuf>) {
    files.sort();
    let (sidecars, mains): (Vec<_>, Vec<_>) = files.into_iter().partition(|f| sidecar_extension(f).is_some());
    let mut items = pair_videos_with_photos(mains);
    let names: Vec<String> = items.iter().map(|item| file_name(&item.main)).collect();
    let owners = owners_by_base_name(&names);
    let mut orphans = Vec::new();
    for path in sidecars {
        let extension = sidecar_extension(&path).unwrap_or_default().to_owned();
        let name = file_name(&path);
        match owners.get(&name[..name.len() - extension.len() - 1]) {
            Some(&(index, dropped)) => items[index].sidecars.push(Sidecar {
                path,
                dropped,
                extension,
            }),
            None => orphans.push(path),
        }
    }
    (items, orphans)
}

/// One item per file, except that a video named like a photo of the same folder less
/// the extensions (`IMG_1.HEIC` + `IMG_1.MOV`: a Live Photo; `PXL_2.MP.jpg` + `PXL_2.mp4`
/// or `MVIMG_3.jpg` + `MVIMG_3.mp4`: a motion photo with its side video) travels with
/// the photo: same folder, same base name, dated by the photo.
fn pair_videos_with_photos(mains: Vec<PathBuf>) -> Vec<Item> {
    let mut photos: HashMap<String, usize> = HashMap::new();
    let mut items = Vec::new();
    let mut videos = Vec::new();
    for main in mains {
        if has_extension(&main, &PAIR_VIDEOS) {
            videos.push(main);
            continue;
        }
        if has_extension(&main, &PAIR_PHOTOS) {
            let name = file_name(&main);
            photos
                .entry(split_extension(&name).0.to_owned())
                .or_insert(items.len());
        }
        items.push(Item::alone(main));
    }
    let mut unnamed = Vec::new();
    for video in videos {
        let name = file_name(&video);
        match photos.get(split_extension(&name).0) {
            Some(&index) => pair(&mut items[index], video),
            None => unnamed.push(video),
        }
    }
    let mut by_id = LivePhotoIds::default();
    for video in unnamed {
        match by_id.photo_of(&video, &items) {
            Some(index) => pair(&mut items[index], video),
            None => items.push(Item::alone(video)),
        }
    }
    items.sort_by(|a, b| a.main.cmp(&b.main));
    items
}

/// Makes `video` travel with the photo of `item`, named after it.
fn pair(item: &mut Item, video: PathBuf) {
    let photo = file_name(&item.main);
    let name = file_name(&video);
    item.sidecars.push(Sidecar {
        dropped: split_extension(&photo).1.matches('.').count(),
        extension: split_extension(&name).1.trim_start_matches('.').to_owned(),
        path: video,
    });
}

/// Live Photos whose two halves are not named alike (renamed on the way): Apple writes
/// one identifier into the photo's maker note and the video's `content.identifier` key.
/// The photos' identifiers are read only when a `.MOV` of the folder has one.
#[derive(Default)]
struct LivePhotoIds {
    /// Identifier → index of a photo with no video yet; `None` until first needed.
    photos: Option<HashMap<String, usize>>,
}

impl LivePhotoIds {
    /// The index among `items` of the lone photo that shares `video`'s identifier.
    fn photo_of(&mut self, video: &Path, items: &[Item]) -> Option<usize> {
        if !has_extension(video, &["mov"]) {
            return None;
        }
        let id = date::content_identifier(video)?;
        let photos = self.photos.get_or_insert_with(|| {
            let lone_photos = items
                .iter()
                .enumerate()
                .filter(|(_, item)| item.sidecars.is_empty() && has_extension(&item.main, &PAIR_PHOTOS));
            lone_photos
                .filter_map(|(index, item)| Some((date::content_identifier(&item.main)?, index)))
                .collect()
        });
        // One video per photo.
        photos.remove(&id)
    }
}

/// How a file travels with another of its folder: a sidecar with its photo, a paired
/// video with its photo. For files the pull fetches one at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Follows {
    /// The index, in the folder's names, of the file it travels with.
    pub main: usize,
    dropped: usize,
    extension: String,
}

impl Follows {
    /// How a video follows a photo it was paired with by other means than its name (a
    /// Live Photo renamed apart, matched by content): named after the photo, keeping its
    /// own extension. It has no place among the folder's names (`main` is 0).
    pub(crate) fn video_of(photo: &str, video: &str) -> Follows {
        Follows {
            main: 0,
            dropped: split_extension(photo).1.matches('.').count(),
            extension: split_extension(video).1.trim_start_matches('.').to_owned(),
        }
    }

    /// The name it takes beside its main file, once that is filed as `main_name`.
    pub fn name_beside(&self, main_name: &str) -> String {
        format!("{}.{}", drop_extensions(main_name, self.dropped), self.extension)
    }
}

/// Whether the file `name` of a folder holding `folder` (all names, `name` among them)
/// travels with another: by the same rules as [`sort_tree`] groups files.
pub fn follows(name: &str, folder: &[&str]) -> Option<Follows> {
    if let Some(extension) = sidecar_extension(Path::new(name)) {
        let base = &name[..name.len() - extension.len() - 1];
        let mains: Vec<(usize, String)> = folder
            .iter()
            .enumerate()
            .filter(|(_, n)| sidecar_extension(Path::new(n)).is_none())
            .map(|(i, n)| (i, (*n).to_owned()))
            .collect();
        let names: Vec<String> = mains.iter().map(|(_, n)| n.clone()).collect();
        let (index, dropped) = *owners_by_base_name(&names).get(base)?;
        return Some(Follows {
            main: mains[index].0,
            dropped,
            extension: extension.to_owned(),
        });
    }
    if !has_extension(Path::new(name), &PAIR_VIDEOS) {
        return None;
    }
    let (stem, extension) = split_extension(name);
    let (main, photo) = folder.iter().enumerate().find(|(_, other)| {
        has_extension(Path::new(other), &PAIR_PHOTOS) && split_extension(other).0 == stem
    })?;
    Some(Follows {
        main,
        dropped: split_extension(photo).1.matches('.').count(),
        extension: extension.trim_start_matches('.').to_owned(),
    })
}

fn has_extension(path: &Path, list: &[&str]) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| list.iter().any(|l| l.eq_ignore_ascii_case(e)))
}

/// Every base name a sidecar could have for each file (`a.MP.jpg`: `a.MP.jpg`, `a.MP`,
/// `a`), mapped to the file's index and the extensions dropped; the first file wins.
fn owners_by_base_name(names: &[String]) -> HashMap<&str, (usize, usize)> {
    let mut owners = HashMap::new();
    for (index, name) in names.iter().enumerate() {
        for dropped in 0..=name.matches('.').count() {
            owners
                .entry(drop_extensions(name, dropped))
                .or_insert((index, dropped));
        }
    }
    owners
}

/// The extension (as written) of a sidecar file, or `None` for other files.
fn sidecar_extension(path: &Path) -> Option<&str> {
    let extension = path.extension()?.to_str()?;
    SIDECAR_EXTENSIONS
        .iter()
        .any(|s| s.eq_ignore_ascii_case(extension))
        .then_some(extension)
}

/// `name` without its last `count` extensions: `a.MP.jpg` less 1 is `a.MP`.
fn drop_extensions(name: &str, count: usize) -> &str {
    (0..count).fold(name, |name, _| {
        name.rfind('.')
            .filter(|&dot| dot > 0)
            .map_or(name, |dot| &name[..dot])
    })
}

/// The file name as text; bytes that are not UTF-8 become `%XX`, so two such
/// names stay two names in DEST (not both `�`).
fn file_name(path: &Path) -> String {
    let mut name = String::new();
    for chunk in path
        .file_name()
        .unwrap_or_default()
        .as_encoded_bytes()
        .utf8_chunks()
    {
        name.push_str(chunk.valid());
        for byte in chunk.invalid() {
            name.push_str(&format!("%{byte:02X}"));
        }
    }
    name
}

/// `{folder}` for a file: the last level of the folder holding it.
fn folder_name(path: &Path) -> String {
    let Some(parent) = path.parent() else {
        return String::new();
    };
    match parent.file_name() {
        Some(_) => file_name(parent),
        // `.` or `..`: the folder's own name.
        None => fs::canonicalize(parent)
            .map(|p| file_name(&p))
            .unwrap_or_default(),
    }
}

/// A main file's capture time and planned place.
struct Planned {
    dated: Option<Dated>,
    path: PathBuf,
}

fn date_item<Tz: TimeZone>(item: &Item, resolver: &DateResolver<Tz>) -> Result<Option<Dated>, SortError> {
    let modified = fs::metadata(&item.main)
        .and_then(|m| m.modified())
        .map_err(SortError::io("read the modification time of", &item.main))?;
    resolver.resolve_path(&item.main, Some(Moment::Instant(modified.into())))
}

/// Every shot of a burst is dated by the burst's first (in name order: `…_BURST000_COVER`
/// before `…_BURST001`), so that a burst is never split between two folders (one shot
/// at 23:59:59, the next at 00:00:00). A burst: the files of one folder that share
/// Apple's BurstUUID, or a name before `_BURST` and digits (`IMG20240828140543_BURST019.jpg`).
fn date_bursts_by_their_first_shot(items: &[Item], dated: &mut [Result<Option<Dated>, SortError>]) {
    let mut first: HashMap<(Option<&Path>, BurstKey), Dated> = HashMap::new();
    for (item, dated) in items.iter().zip(dated.iter_mut()) {
        let Ok(Some(found)) = dated else {
            continue;
        };
        let key = match (found.burst, burst_name_prefix(&file_name(&item.main))) {
            (Some(id), _) => BurstKey::Id(id),
            (None, Some(prefix)) => BurstKey::Name(prefix),
            (None, None) => continue,
        };
        match first.entry((item.main.parent(), key)) {
            Entry::Occupied(shot) => *found = *shot.get(),
            Entry::Vacant(slot) => {
                slot.insert(*found);
            }
        }
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
enum BurstKey {
    Id(u64),
    Name(String),
}

/// `IMG20240828140543` for `IMG20240828140543_BURST019.jpg` (or `…_BURST000_COVER.jpg`):
/// the name a burst's shots share.
pub(crate) fn burst_name_prefix(name: &str) -> Option<String> {
    let (stem, _) = split_extension(name);
    let at = stem.to_ascii_uppercase().rfind("_BURST")?;
    let digits = &stem[at + "_BURST".len()..];
    let numbered = digits.chars().next().is_some_and(|c| c.is_ascii_digit());
    (numbered && at > 0).then(|| stem[..at].to_owned())
}

/// Gives a UTC time that nothing in its own file placed (no offset, no position) the
/// offset of the nearest photo in time from the same folder — one camera roll — that
/// recorded one.
fn zone_from_nearby_photos(items: &[Item], dated: &mut [Result<Option<Dated>, SortError>]) {
    let folder = |item: &Item| item.main.parent().map(Path::to_path_buf);
    let mut hints: HashMap<Option<PathBuf>, ZoneHints> = HashMap::new();
    for (item, dated) in items.iter().zip(dated.iter()) {
        if let Ok(Some(dated)) = dated
            && let Some(offset) = dated.photo_offset()
        {
            hints.entry(folder(item)).or_default().add(dated.time, offset);
        }
    }
    for (item, dated) in items.iter().zip(dated.iter_mut()) {
        if let Ok(Some(found)) = dated
            && found.zone_unknown()
            && let Some(instant) = found.instant
            && let Some(offset) = hints.get_mut(&folder(item)).and_then(|h| h.offset_near(instant))
        {
            *found = found.rezoned(offset, ZoneSource::NearbyPhoto);
        }
    }
}

/// `f` over `items` on `jobs` threads, results in the items' order.
fn parallel_map<T: Sync, U: Send>(items: &[T], jobs: NonZeroUsize, f: impl Fn(&T) -> U + Sync) -> Vec<U> {
    let next = AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        loop {
            let index = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(index) else {
                return done;
            };
            done.push((index, f(item)));
        }
    };
    let mut results: Vec<Option<U>> = items.iter().map(|_| None).collect();
    thread::scope(|scope| {
        let workers: Vec<_> = (0..jobs.get()).map(|_| scope.spawn(work)).collect();
        for worker in workers {
            for (index, result) in worker.join().expect("a dating thread panicked") {
                results[index] = Some(result);
            }
        }
    });
    results.into_iter().flatten().collect()
}

/// Files for real, or only decides.
enum Sink {
    Real(Filer),
    /// Copy mode: copies staged and made durable a batch at a time, then moved into place.
    Staged(Box<Staged>),
    /// What a dry run would do, and what it would put where.
    Dry(DryRun),
}

/// The copy mode's state: staged copies by source, and the filer that places them.
struct Staged {
    dest: PathBuf,
    filer: Filer,
    batch: CopyBatch,
    copies: HashMap<PathBuf, Result<StagedCopy, SortError>>,
}

enum StagedCopy {
    /// Copied to this staged file, to be moved into place.
    At(PathBuf),
    /// The planned name already holds these bytes: nothing was copied.
    Duplicate(PathBuf),
}

impl Staged {
    fn new(dest: &Path) -> Result<Staged, SortError> {
        // The staged copies were fsynced by the batch: no second fsync before the move.
        let mut filer = Filer::new(dest, Mode::Move).settled_sources();
        filer.open()?;
        Ok(Staged {
            dest: dest.to_owned(),
            filer,
            batch: CopyBatch::new(dest)?,
            copies: HashMap::new(),
        })
    }

    /// Copies an item's files aside; a main file whose bytes DEST holds (a run
    /// repeated, a photo filed under another name) is not copied at all.
    fn stage(&mut self, item: &Item, planned: &Planned, contents: &Contents) {
        let near = self.dest.join(&planned.path);
        let main = match contents.holding(&item.main, near.parent()) {
            Some(existing) => Ok(StagedCopy::Duplicate(existing.to_owned())),
            None => self.batch.stage(&item.main).map(StagedCopy::At),
        };
        self.copies.insert(item.main.clone(), main);
        for sidecar in &item.sidecars {
            let copy = self.batch.stage(&sidecar.path).map(StagedCopy::At);
            self.copies.insert(sidecar.path.clone(), copy);
        }
    }

    /// Removes the copies nothing was filed from (sidecars of a main file that failed),
    /// then starts making the batch's renames durable: the next batch (or the end of the
    /// run) waits for that.
    fn end_batch(&mut self) -> Result<(), SortError> {
        for (_, copy) in self.copies.drain() {
            if let Ok(StagedCopy::At(staged)) = copy {
                self.batch.discard(&staged);
            }
        }
        let folders = self.filer.take_unsynced()?;
        self.batch.sync_folders(folders);
        Ok(())
    }

    fn file(&mut self, planned: &Path, src: &Path) -> Result<Filed, SortError> {
        let staged = match self.copies.remove(src) {
            Some(staged) => staged?,
            None => {
                let staged = self.batch.stage(src)?;
                self.batch.make_durable()?;
                StagedCopy::At(staged)
            }
        };
        let staged = match staged {
            StagedCopy::Duplicate(path) if path == self.dest.join(planned) => {
                return Ok(Filed {
                    path,
                    outcome: Outcome::Duplicate,
                });
            }
            // Its pair moved it to another name after all: copy it now, durably.
            StagedCopy::Duplicate(_) => {
                let staged = self.batch.stage(src)?;
                self.batch.make_durable()?;
                staged
            }
            StagedCopy::At(staged) => staged,
        };
        let filed = self.filer.file(planned, &staged);
        if !matches!(&filed, Ok(f) if f.outcome != Outcome::Duplicate) {
            self.batch.discard(&staged);
        }
        filed
    }
}

impl Sink {
    /// Readies an item for filing (copy mode: copies it aside).
    fn stage(
        &mut self,
        item: &Item,
        planned: Result<Planned, SortError>,
        contents: &Contents,
    ) -> Result<Planned, SortError> {
        if let (Sink::Staged(staged), Ok(planned)) = (&mut *self, &planned) {
            staged.stage(item, planned, contents);
        }
        planned
    }

    /// Where DEST already holds the bytes of the item's main file under another name or
    /// in another folder — if each file that travels with it finds its name beside that
    /// copy vacant or holding its own bytes (else the group is filed together anew).
    fn held_elsewhere(
        &self,
        dest: &Path,
        contents: &Contents,
        item: &Item,
        planned: &Path,
    ) -> Option<PathBuf> {
        let found = contents.holding(&item.main, dest.join(planned).parent())?;
        let inside = found.strip_prefix(dest).ok()?;
        item.sidecars
            .iter()
            .all(|sidecar| self.usable(&dest.join(sidecar.planned_beside(inside)), &sidecar.path))
            .then(|| found.to_owned())
    }

    /// Notes in `contents` what filing `src` put at `filed` (in a dry run: would put).
    fn note_filed(&self, contents: &mut Contents, filed: &Filed, src: &Path) {
        if filed.outcome == Outcome::Duplicate {
            return;
        }
        let bytes = match self {
            Sink::Dry(_) => src,
            Sink::Real(_) | Sink::Staged(_) => &filed.path,
        };
        if let Ok(meta) = fs::metadata(bytes) {
            contents.add(filed.path.clone(), bytes.to_owned(), meta.len());
        }
    }

    /// Which names the destination takes.
    fn names(&mut self) -> Result<Names, SortError> {
        match self {
            Sink::Real(filer) => filer.names(),
            Sink::Staged(staged) => staged.filer.names(),
            Sink::Dry(dry_run) => Ok(dry_run.names()),
        }
    }

    fn batch_is_full(&self) -> bool {
        match self {
            Sink::Staged(staged) => staged.batch.is_full(),
            // Nothing is staged: file each item at once.
            Sink::Real(_) | Sink::Dry(..) => true,
        }
    }

    fn make_durable(&mut self) -> Result<(), SortError> {
        match self {
            Sink::Staged(staged) => staged.batch.make_durable(),
            Sink::Real(_) | Sink::Dry(..) => Ok(()),
        }
    }

    fn file(&mut self, planned: &Path, src: &Path) -> Result<Filed, SortError> {
        match self {
            Sink::Real(filer) => filer.file(planned, src),
            Sink::Staged(staged) => staged.file(planned, src),
            Sink::Dry(dry_run) => dry_run.file(planned, src),
        }
    }

    /// Copy mode: starts making the batch's renames durable (each touched folder fsynced
    /// once, while the next batch is copied).
    fn end_batch(&mut self) -> Result<(), SortError> {
        match self {
            Sink::Staged(staged) => staged.end_batch(),
            Sink::Real(_) | Sink::Dry(..) => Ok(()),
        }
    }

    /// Makes the renames so far durable (their folders fsynced).
    fn finish(&mut self) -> Result<(), SortError> {
        match self {
            Sink::Real(filer) => filer.sync(),
            Sink::Staged(staged) => staged.end_batch().and_then(|()| staged.batch.finish()),
            Sink::Dry(..) => Ok(()),
        }
    }

    /// The first `-N` (0: none) under which the item's main file and every file that
    /// travels with it find their names vacant or holding their own bytes, so that a
    /// clash renames them together (`IMG_1-1.HEIC` with `IMG_1-1.MOV`).
    fn suffix_free_for_all(&self, dest: &Path, planned: &Path, item: &Item) -> u32 {
        let main_name = file_name(planned);
        let dir = dest.join(planned.parent().unwrap_or(Path::new("")));
        let claimed = match self {
            Sink::Dry(dry_run) => dry_run.claimed_in(&dir).collect(),
            _ => Vec::new(),
        };
        let stems = seq_stems(&main_name, &dir, claimed);
        (0..=MAX_CLASH_SUFFIX)
            .find(|&n| {
                let main = planned.with_file_name(numbered(&main_name, n));
                let usable = |planned: &Path, src: &Path| self.usable(&dest.join(planned), src);
                // A `{seq}` number borne by a file of another extension is taken.
                let numbered_elsewhere = stems.as_ref().is_some_and(|stems| {
                    stems.contains(&stem_key(&file_name(&main))) && self.vacant(&dest.join(&main))
                });
                !numbered_elsewhere
                    && usable(&main, &item.main)
                    && item
                        .sidecars
                        .iter()
                        .all(|sidecar| usable(&sidecar.planned_beside(&main), &sidecar.path))
            })
            .unwrap_or(0)
    }

    /// Whether nothing is at `path` (in a dry run: nor claimed).
    fn vacant(&self, path: &Path) -> bool {
        if let Sink::Dry(dry_run) = self
            && dry_run.claimed_by(path).is_some()
        {
            return false;
        }
        fs::symlink_metadata(path).is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound)
    }

    /// Whether `path` is vacant or holds the bytes of `src` (in a dry run: would).
    fn usable(&self, path: &Path, src: &Path) -> bool {
        if let Sink::Dry(dry_run) = self
            && let Some(claimed_by) = dry_run.claimed_by(path)
        {
            return same_content(src, claimed_by).unwrap_or(false);
        }
        match fs::symlink_metadata(path) {
            Ok(meta) => meta.is_file() && same_content(src, path).unwrap_or(false),
            Err(e) => e.kind() == std::io::ErrorKind::NotFound,
        }
    }
}

/// Files a main file, then its sidecars beside wherever it went. An error
/// that means the destination takes no more files is returned, not reported.
fn file_item(
    sink: &mut Sink,
    dest: &Path,
    contents: &mut Contents,
    item: &Item,
    planned: Result<Planned, SortError>,
    emit: &mut impl FnMut(Event),
) -> Result<(), SortError> {
    let (dated, result) = match planned {
        Ok(Planned { dated, path }) if let Some(found) = sink.held_elsewhere(dest, contents, item, &path) => {
            let landed = found.strip_prefix(dest).unwrap_or(&found).to_owned();
            let filed = Filed {
                path: found,
                outcome: Outcome::Duplicate,
            };
            (dated, Ok((filed, landed)))
        }
        Ok(Planned { dated, path }) => {
            // A pair or a file with sidecars takes the first suffix free for all of them.
            let suffix = match item.sidecars.is_empty() {
                true => 0,
                false => sink.suffix_free_for_all(dest, &path, item),
            };
            // A lone file planned with `{seq}` is numbered by the filer.
            let target = match item.sidecars.is_empty() {
                true => path.clone(),
                false => path.with_file_name(numbered(&file_name(&path), suffix)),
            };
            // Where it landed, as a planned path: the planned folder and the final name.
            let result = sink.file(&target, &item.main).map(|mut filed| {
                // A `{seq}` number is no rename.
                let numbered_by_seq = file_name(&path).contains(SEQ_MARK);
                if suffix > 0 && filed.outcome == Outcome::Filed && !numbered_by_seq {
                    filed.outcome = Outcome::Renamed(suffix);
                }
                let landed = path.with_file_name(file_name(&filed.path));
                (filed, landed)
            });
            (dated, result)
        }
        Err(e) => (None, Err(e)),
    };
    let result = match result {
        Err(error) if stops_the_run(&error, dest) => return Err(error),
        other => other,
    };
    let landed = result.as_ref().ok().map(|(_, landed)| landed.clone());
    if let Ok((filed, _)) = &result {
        sink.note_filed(contents, filed, &item.main);
    }
    emit(Event::File(FileReport {
        source: item.main.clone(),
        dated,
        sidecar_of: None,
        result: result.map(|(filed, _)| filed),
    }));
    for sidecar in &item.sidecars {
        let result = match &landed {
            Some(main) => sink.file(&sidecar.planned_beside(main), &sidecar.path),
            None => Err(SortError::MainNotFiled {
                main: item.main.clone(),
            }),
        };
        if result.as_ref().is_err_and(|error| stops_the_run(error, dest)) {
            return result.map(|_| ());
        }
        if let Ok(filed) = &result {
            sink.note_filed(contents, filed, &sidecar.path);
        }
        emit(Event::File(FileReport {
            source: sidecar.path.clone(),
            dated,
            sidecar_of: Some(item.main.clone()),
            result,
        }));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_names_give_their_common_prefix() {
        for (name, prefix) in [
            ("IMG20240828140543_BURST019.jpg", Some("IMG20240828140543")),
            ("IMG20240726095652_BURST000_COVER.jpg", Some("IMG20240726095652")),
            ("IMG_20240627_201530_burst042.jpg", Some("IMG_20240627_201530")),
            ("IMG_1.jpg", None),
            ("_BURST001.jpg", None),
            ("IMG_BURSTY.jpg", None),
        ] {
            assert_eq!(burst_name_prefix(name).as_deref(), prefix, "{name}");
        }
    }

    fn paths(names: &[&str]) -> Vec<PathBuf> {
        names.iter().map(|n| PathBuf::from("d").join(n)).collect()
    }

    fn grouped(main: &str, sidecars: &[(&str, usize)]) -> Item {
        Item {
            main: PathBuf::from("d").join(main),
            sidecars: sidecars
                .iter()
                .map(|&(name, dropped)| Sidecar {
                    path: PathBuf::from("d").join(name),
                    dropped,
                    extension: Path::new(name).extension().unwrap().to_str().unwrap().to_owned(),
                })
                .collect(),
        }
    }

    #[test]
    fn sidecars_join_the_file_with_their_base_name() {
        let files = paths(&[
            "IMG_1.xmp",
            "IMG_1.jpg",
            "IMG_0002.HEIC",
            "IMG_0002.MOV",
            "IMG_0002.AAE",
            "MVI_3.THM",
            "MVI_3.MP4",
            "PXL_4.MP.jpg",
            "PXL_4.MP.jpg.xmp",
            "lonely.xmp",
        ]);
        let expected = vec![
            grouped("IMG_0002.HEIC", &[("IMG_0002.MOV", 1), ("IMG_0002.AAE", 1)]),
            grouped("IMG_1.jpg", &[("IMG_1.xmp", 1)]),
            grouped("MVI_3.MP4", &[("MVI_3.THM", 1)]),
            grouped("PXL_4.MP.jpg", &[("PXL_4.MP.jpg.xmp", 0)]),
        ];
        assert_eq!(
            group_sidecars(files),
            (expected, vec![PathBuf::from("d/lonely.xmp")])
        );
    }

    #[test]
    fn sidecars_follow_a_renamed_file() {
        let sidecar = |dropped| Sidecar {
            path: PathBuf::new(),
            dropped,
            extension: "xmp".into(),
        };
        assert_eq!(sidecar(1).name_beside("IMG_1-1.jpg"), "IMG_1-1.xmp");
        assert_eq!(sidecar(0).name_beside("IMG_1-1.jpg"), "IMG_1-1.jpg.xmp");
        assert_eq!(sidecar(1).name_beside("PXL_4-2.MP.jpg"), "PXL_4-2.MP.xmp");
    }

    #[test]
    fn a_pulled_file_follows_its_photo_by_the_same_rules() {
        let folder = [
            "IMG_2.AAE",
            "IMG_2.HEIC",
            "IMG_2.MOV",
            "PXL_4.MP.jpg",
            "PXL_4.mp4",
            "VID_5.mp4",
            "x.xmp",
        ];
        let follows_in = |name| follows(name, &folder);
        assert_eq!(follows_in("IMG_2.AAE").map(|f| f.main), Some(1));
        assert_eq!(
            follows_in("IMG_2.AAE").unwrap().name_beside("IMG_2-1.HEIC"),
            "IMG_2-1.AAE"
        );
        assert_eq!(
            follows_in("IMG_2.MOV").unwrap().name_beside("IMG_2-1.HEIC"),
            "IMG_2-1.MOV"
        );
        assert_eq!(
            follows_in("PXL_4.mp4").unwrap().name_beside("PXL_4-1.MP.jpg"),
            "PXL_4-1.mp4"
        );
        assert_eq!(follows_in("IMG_2.HEIC"), None);
        assert_eq!(follows_in("VID_5.mp4"), None);
        assert_eq!(follows_in("x.xmp"), None);
    }

    #[test]
    fn parallel_map_keeps_order() {
        let items: Vec<u32> = (0..1000).collect();
        let doubled = parallel_map(&items, NonZeroUsize::new(3).unwrap(), |n| n * 2);
        assert_eq!(doubled, items.iter().map(|n| n * 2).collect::<Vec<_>>());
    }
}
