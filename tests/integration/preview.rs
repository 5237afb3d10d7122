//! `preview` and `backup --selection` against the simulated phone: one page
//! entry per picture with its thumbnail from the device, a selection that
//! drives an exact backup, and rejected pictures that stay out.

use std::collections::{BTreeSet, HashSet};
use std::fs;
use std::sync::atomic::AtomicBool;

use mtpull::preview::{self, Item, ThumbSource};
use mtpull::pull::{BackupOptions, Choice, Manifest, Selection, device_serial};
use mtpull::sim::media::{ExifTags, Photo};
use mtpull::sim::{Profile, SimDevice};

use crate::backup_util::{at, listed, phone, run_backup, samples, tree};

/// Lists the phone and fetches every thumbnail, as `mtpull preview` does.
fn preview_items(phone: &SimDevice, backed_up_in: Option<&std::path::Path>) -> (String, Vec<Item>) {
    let (mut session, listing) = listed(phone);
    let serial = device_serial(&session);
    let backed_up = match backed_up_in.and_then(|d| Manifest::open_read_only(d).unwrap()) {
        Some(manifest) => manifest.keys_for(&serial).unwrap(),
        None => HashSet::new(),
    };
    let mut seen = 0;
    let items = preview::collect(
        &mut session,
        &serial,
        &listing.files,
        &backed_up,
        &AtomicBool::new(false),
        &mut |done: usize, total: usize, _: &Item| {
            assert!(done <= total);
            seen = done;
        },
    )
    .unwrap();
    assert_eq!(seen, items.len(), "progress reached the end");
    phone.unplug();
    (serial, items)
}

fn decoded_size(jpeg: &[u8]) -> (u16, u16) {
    let mut decoder = jpeg_decoder::Decoder::new(jpeg);
    decoder.decode().expect("the thumbnail decodes");
    let info = decoder.info().unwrap();
    (info.width, info.height)
}

/// The page's item list, parsed back out of the HTML.
fn page_items(html: &str) -> Vec<serde_json::Value> {
    let start = html
        .find("<script type=\"application/json\" id=\"items\">")
        .unwrap();
    let json = &html[start..];
    let json = &json[json.find('>').unwrap() + 1..json.find("</script>").unwrap()];
    serde_json::from_str::<Vec<serde_json::Value>>(json).unwrap()
}

#[test]
fn the_page_has_one_entry_per_picture_with_its_device_thumbnail() {
    let (phone, _) = phone(Profile::Android);
    let dest = tempfile::tempdir().unwrap();
    // Back up one picture first: the page marks it.
    let one = BackupOptions {
        selection: Selection::new()
            .include(&["DCIM/Camera/IMG_A.jpg".to_owned()])
            .unwrap(),
        ..BackupOptions::default()
    };
    assert!(run_backup(&phone, dest.path(), &one).0.succeeded());
    let (serial, items) = preview_items(&phone, Some(dest.path()));
    let media: BTreeSet<&str> = samples().iter().map(|s| s.path).collect();
    let listed: BTreeSet<&str> = items.iter().map(|i| i.file.path.as_str()).collect();
    assert_eq!(listed, media, "one entry per photo and video, nothing else");
    for item in &items {
        // Android makes thumbnails of images only: the video gets a placeholder.
        if item.file.path.ends_with(".mp4") {
            assert_eq!(item.thumbnail.source, ThumbSource::None);
            continue;
        }
        assert_eq!(item.thumbnail.source, ThumbSource::Device, "{}", item.file.path);
        let jpeg = item.thumbnail.jpeg.as_ref().unwrap();
        let (w, h) = decoded_size(jpeg);
        assert!(w > 0 && h > 0);
        assert_eq!(
            item.backed_up,
            item.file.path == "DCIM/Camera/IMG_A.jpg",
            "{}",
            item.file.path
        );
    }
    let mut html = Vec::new();
    preview::render(&mut html, "Simulated Android phone", &serial, &items).unwrap();
    let html = String::from_utf8(html).unwrap();
    let entries = page_items(&html);
    assert_eq!(entries.len(), items.len());
    for (entry, item) in entries.iter().zip(&items) {
        assert_eq!(entry["path"], item.file.path.as_str());
        assert_eq!(entry["size"], item.file.size);
        let thumb = entry["thumb"].as_str().unwrap();
        assert_eq!(
            thumb.starts_with("data:image/jpeg;base64,"),
            item.thumbnail.jpeg.is_some()
        );
    }
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "the page loads nothing from the network"
    );
}

#[test]
fn the_page_dates_photos_by_exif_and_name_not_by_the_phone() {
    // The phone's dates for the samples are all the day they were restored.
    let (phone, _) = phone(Profile::Android);
    let (_, items) = preview_items(&phone, None);
    for sample in samples() {
        let Some(item) = items.iter().find(|i| i.file.path == sample.path) else {
            continue; // not a picture
        };
        let shown = item.date.expect("every sample has a date").date();
        // Videos are not read: the device's date (their mvhd is rarely in the head).
        let wanted = if sample.path.ends_with(".mp4") {
            sample.mtime.date()
        } else {
            chrono::NaiveDate::parse_from_str(&sample.expected_dest[..10], "%Y/%m/%d").unwrap()
        };
        assert_eq!(shown, wanted, "{}", sample.path);
    }
    assert!(
        items.windows(2).all(|pair| pair[0].date >= pair[1].date),
        "newest first"
    );
}

#[test]
fn without_get_thumb_the_exif_thumbnail_is_read_from_the_head() {
    let phone = SimDevice::new(Profile::Qemu);
    let storage = phone.add_storage(mtpull::sim::StorageSpec::new("Internal shared storage"));
    let photo = Photo {
        tags: Some(ExifTags {
            make: "mtpull".into(),
            model: "Test".into(),
            taken: at(2024, 5, 26, 10, 15, 0),
        }),
        seed: 11,
        width: 640,
        height: 480,
    };
    let when = at(2024, 5, 26, 10, 15, 1);
    phone
        .add_file(storage, "DCIM/IMG_1.jpg", photo.jpeg(), when)
        .unwrap();
    let plain = Photo {
        tags: None,
        ..photo.clone()
    };
    phone
        .add_file(storage, "DCIM/edited.jpg", plain.jpeg(), when)
        .unwrap();
    let (_, items) = preview_items(&phone, None);
    let by_name = |name: &str| items.iter().find(|i| i.file.name() == name).unwrap();
    let camera = by_name("IMG_1.jpg");
    assert_eq!(camera.thumbnail.source, ThumbSource::ExifHead);
    assert_eq!(camera.thumbnail.jpeg.as_deref(), Some(&photo.thumbnail()[..]));
    assert_eq!(decoded_size(&photo.thumbnail()), (160, 120));
    let edited = by_name("edited.jpg");
    assert_eq!(
        (edited.thumbnail.source, edited.thumbnail.jpeg.is_none()),
        (ThumbSource::None, true)
    );
}

#[test]
fn a_selection_copies_exactly_the_chosen_and_the_rejected_stay_out() {
    let (phone, storage) = phone(Profile::Android);
    let (serial, items) = preview_items(&phone, None);
    // The selection keys each file by the device's date, as the page saves it.
    let entry = |item: &Item| {
        let date = item
            .file
            .modified
            .map(|d| d.local.format("%Y-%m-%dT%H:%M:%S").to_string())
            .unwrap_or_default();
        serde_json::json!({"storage": item.file.storage, "path": item.file.path, "size": item.file.size, "date": date})
    };
    let chosen = ["DCIM/Camera/IMG_B.jpg", "DCIM/Camera/clip.mp4"];
    let (picked, unpicked): (Vec<&Item>, Vec<&Item>) =
        items.iter().partition(|i| chosen.contains(&i.file.path.as_str()));
    let file = tempfile::NamedTempFile::new().unwrap();
    fs::write(
        file.path(),
        serde_json::json!({
            "format": "mtpull-selection/1",
            "device": serial,
            "chosen": picked.iter().map(|i| entry(i)).collect::<Vec<_>>(),
            "rejected": unpicked.iter().map(|i| entry(i)).collect::<Vec<_>>(),
        })
        .to_string(),
    )
    .unwrap();
    let dest = tempfile::tempdir().unwrap();
    let with_choice = BackupOptions {
        choice: Some(Choice::read(file.path()).unwrap()),
        ..BackupOptions::default()
    };
    let (report, _) = run_backup(&phone, dest.path(), &with_choice);
    assert!(report.succeeded(), "{:?}", report.stopped);
    let landed: BTreeSet<String> = tree(dest.path()).into_keys().collect();
    assert_eq!(
        landed,
        BTreeSet::from([
            "2023/12/24/IMG_B.jpg".to_owned(),
            "2023/07/14/clip.mp4".to_owned()
        ])
    );

    // A later plain backup copies a new photo but not the rejected ones.
    phone
        .add_file(
            storage,
            "DCIM/Camera/IMG_NEW.jpg",
            crate::backup_util::photo(at(2024, 2, 2, 2, 2, 2), 9),
            at(2024, 2, 2, 2, 2, 3),
        )
        .unwrap();
    let (report, _) = run_backup(&phone, dest.path(), &BackupOptions::default());
    assert!(report.succeeded(), "{:?}", report.stopped);
    assert_eq!(tree(dest.path()).len(), 3, "{:?}", tree(dest.path()).keys());
    let manifest = Manifest::open_read_only(dest.path()).unwrap().unwrap();
    assert_eq!(manifest.rejected_for(&serial).unwrap().len(), unpicked.len());
    // Nor does the next preview offer them.
    let (_, again) = preview_items(&phone, Some(dest.path()));
    assert!(
        again.iter().any(|i| i.file.path == "DCIM/Camera/IMG_A.jpg"),
        "collect itself does not filter"
    );

    // Unless asked.
    let all = BackupOptions {
        include_rejected: true,
        ..BackupOptions::default()
    };
    let (report, _) = run_backup(&phone, dest.path(), &all);
    assert!(report.succeeded(), "{:?}", report.stopped);
    assert_eq!(tree(dest.path()).len(), samples().len() + 1);
}

#[test]
fn a_selection_for_another_phone_is_refused() {
    let (phone, _) = phone(Profile::Android);
    let file = tempfile::NamedTempFile::new().unwrap();
    fs::write(
        file.path(),
        r#"{"format":"mtpull-selection/1","device":"OTHER","chosen":[],"rejected":[]}"#,
    )
    .unwrap();
    let dest = tempfile::tempdir().unwrap();
    let options = BackupOptions {
        choice: Some(Choice::read(file.path()).unwrap()),
        ..BackupOptions::default()
    };
    let (report, _) = run_backup(&phone, dest.path(), &options);
    let error = report.stopped.expect("refused").to_string();
    assert!(error.contains("made for the device \"OTHER\""), "{error}");
    assert!(tree(dest.path()).is_empty());
}

#[test]
fn quiet_preview_writes_the_page_without_a_word_but_still_tells_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("page.html");
    let run = crate::run::mtpull(&["-q", "--sim", "android", "preview", "-o", page.to_str().unwrap()])
        .expect_status(0);
    assert_eq!((run.stdout.as_str(), run.stderr.as_str()), ("", ""));
    assert!(page_items(&fs::read_to_string(&page).unwrap()).len() >= 30);
    let nowhere = dir.path().join("missing/page.html");
    let run = crate::run::mtpull(&[
        "-q",
        "--sim",
        "android",
        "preview",
        "-o",
        nowhere.to_str().unwrap(),
    ]);
    assert_ne!(run.status, Some(0));
    assert!(run.stderr.contains("missing/page.html"), "{}", run.stderr);
    assert_eq!(run.stdout, "");
}

#[test]
fn cli_preview_writes_one_page_and_restore_dry_run_sends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("page.html");
    let run =
        crate::run::mtpull(&["--sim", "android", "preview", "-o", page.to_str().unwrap()]).expect_status(0);
    assert!(run.stdout.starts_with("wrote "), "{}", run.stdout);
    let entries = page_items(&fs::read_to_string(&page).unwrap());
    assert!(entries.len() >= 30, "{} entries", entries.len());
    assert!(
        entries
            .iter()
            .all(|e| e["path"].as_str().is_some_and(|p| !p.ends_with(".txt")))
    );

    let local = dir.path().join("photos");
    fs::create_dir_all(&local).unwrap();
    fs::write(local.join("a.jpg"), b"aaaa").unwrap();
    fs::write(local.join("bad?.jpg"), b"q").unwrap();
    let run = crate::run::mtpull(&[
        "--sim",
        "android",
        "restore",
        "--dry-run",
        local.to_str().unwrap(),
    ])
    .expect_status(1);
    assert!(
        run.stdout
            .contains("-> Internal shared storage/DCIM/Restored/a.jpg"),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.contains("bad?.jpg: its name contains '?'"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.contains("would send 1"), "{}", run.stdout);
}
