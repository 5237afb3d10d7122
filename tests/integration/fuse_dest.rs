//! Backups into the destinations people plug in: a FAT image mounted with `fusefat`
//! (no hard links, no RENAME_NOREPLACE, no `:` in names, case folded) and an NTFS image
//! mounted with `ntfs-3g` (hard links, but no RENAME_NOREPLACE). Needs root and
//! /dev/fuse; under CI=true a mount that cannot be made fails the test.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use mtpull::fault_points::{self, Action, Plan};
use mtpull::pull::{BackupOptions, FileOutcome, Only, Selection};
use mtpull::sim::{Profile, SimDevice};

use crate::backup_util::{assert_all_backed_up, at, phone, run_backup, samples, tree};
use crate::util;

/// A filesystem image mounted through FUSE for one test, unmounted when dropped.
struct FuseMount {
    _dir: tempfile::TempDir,
    mountpoint: PathBuf,
}

impl FuseMount {
    /// `mkfs` makes the filesystem in the image; `mount` mounts it (image, mountpoint appended).
    fn new(mkfs: &[&str], mount: &[&str]) -> Option<FuseMount> {
        let dir = tempfile::tempdir().unwrap();
        let image = dir.path().join("disk.img");
        let mountpoint = dir.path().join("mnt");
        std::fs::create_dir(&mountpoint).unwrap();
        std::fs::File::create(&image).unwrap().set_len(64 << 20).unwrap();
        let run = |args: &[&str], extra: &[&Path]| {
            Command::new(args[0])
                .args(&args[1..])
                .args(extra)
                .output()
                .map_err(|e| format!("{}: {e}", args[0]))
                .and_then(|out| match out.status.success() {
                    true => Ok(()),
                    false => Err(format!("{args:?}: {}", String::from_utf8_lossy(&out.stderr))),
                })
        };
        let made = run(mkfs, &[&image]).and_then(|()| run(mount, &[&image, &mountpoint]));
        match made {
            Ok(()) => Some(FuseMount {
                _dir: dir,
                mountpoint,
            }),
            Err(why) => {
                util::cannot_run(&format!("this FUSE destination cannot be mounted: {why}"));
                None
            }
        }
    }
}

impl Drop for FuseMount {
    fn drop(&mut self) {
        let _ = Command::new("fusermount")
            .arg("-u")
            .arg(&self.mountpoint)
            .status();
    }
}

fn fat() -> Option<FuseMount> {
    FuseMount::new(&["mkfs.vfat"], &["fusefat", "-o", "rw+"])
}

fn ntfs() -> Option<FuseMount> {
    FuseMount::new(&["mkntfs", "-F", "-Q", "-q"], &["ntfs-3g"])
}

/// The samples, plus names FAT refuses and a pair only case tells apart.
fn awkward_phone() -> (SimDevice, u32) {
    let (phone, storage) = phone(Profile::Android);
    let taken = at(2024, 3, 3, 3, 3, 3);
    for (path, bytes) in [
        ("DCIM/Camera/IMG_1.JPG", b"upper case".as_slice()),
        ("DCIM/Camera/img_1.jpg", b"lower case, other bytes"),
        ("Download/what: why?.jpg", b"colon and question mark"),
        ("Download/trailing dot.", b"a trailing dot"),
    ] {
        phone.add_file(storage, path, bytes.to_vec(), taken).unwrap();
    }
    (phone, storage)
}

fn backs_up_everything_twice_over(dest: &Path) -> BTreeMap<String, Vec<u8>> {
    let (phone, storage) = awkward_phone();
    // Every file: the one with a trailing dot is no photo.
    let options = BackupOptions {
        selection: Selection {
            only: Only::All,
            ..Selection::new()
        },
        ..BackupOptions::default()
    };
    let (first, seen) = run_backup(&phone, dest, &options);
    assert!(first.succeeded(), "{:?} {seen:?}", first.stopped);
    // The samples, the text file, and the four awkward ones.
    let expected = samples().len() + 1 + 4;
    assert_eq!(first.summary.copied, expected as u64);
    assert_all_backed_up(&phone, storage, dest);
    let files = tree(dest);
    assert_eq!(files.len(), expected, "{:?}", files.keys());
    let (second, _) = run_backup(&phone, dest, &options);
    assert!(second.succeeded(), "{:?}", second.stopped);
    assert_eq!(
        (second.summary.copied, second.summary.already),
        (0, first.summary.copied)
    );
    assert_eq!(tree(dest), files, "the second run changes nothing");
    assert!(
        !std::fs::read_dir(dest.join(".mtpull/tmp")).unwrap().any(|_| true),
        "no temp file left"
    );
    files
}

#[test]
fn a_fusefat_destination_is_backed_up_into_with_safe_names() {
    let Some(disk) = fat() else { return };
    let files = backs_up_everything_twice_over(&disk.mountpoint.join("backup"));
    let names: Vec<&str> = files.keys().map(String::as_str).collect();
    assert!(names.contains(&"2024/03/03/what_ why_.jpg"), "{names:?}");
    assert!(names.contains(&"2024/03/03/trailing dot_"), "{names:?}");
    // IMG_1.JPG and img_1.jpg are one name on FAT: the second is numbered, not written over it.
    let ones: Vec<&&str> = names
        .iter()
        .filter(|n| n.to_lowercase().contains("img_1"))
        .collect();
    assert_eq!(ones.len(), 2, "{names:?}");
}

/// On FAT a folder entry holds the file's size and first cluster, and a rename writes
/// the new entry without them until the inode is written back (kernel vfat): fsyncing
/// the folder alone made empty files durable, and power cuts in the guest lost photos
/// already deleted from the phone. So each file renamed into place on FAT is fsynced
/// again under its new name, before the batch is committed.
#[test]
fn on_fat_each_renamed_file_is_synced_under_its_new_name_before_the_commit() {
    let Some(disk) = fat() else { return };
    let (phone, _) = phone(Profile::Android);
    let plan = Plan::new(0, Action::Crash);
    let armed = fault_points::adopt(Some(plan.clone()));
    let (report, seen) = run_backup(&phone, &disk.mountpoint.join("backup"), &BackupOptions::default());
    drop(armed);
    assert!(report.succeeded(), "{:?} {seen:?}", report.stopped);
    let log = plan.log();
    let syncs = log.iter().filter(|s| **s == "sync a renamed file").count();
    assert_eq!(syncs as u64, report.summary.copied, "{log:?}");
    // (The first file's rename is tried three ways: only the last takes.)
    let mut unsynced = false;
    for step in &log {
        match *step {
            "rename into place" => unsynced = true,
            "sync a renamed file" => unsynced = false,
            "commit the manifest" => assert!(!unsynced, "committed before the sync: {log:?}"),
            _ => {}
        }
    }
    assert!(!unsynced, "{log:?}");
}

/// A backup's dry run into FAT names each file as the real run then files it: the
/// characters FAT refuses, a trailing dot, and a case-only clash numbered.
#[test]
fn a_backup_dry_run_into_fusefat_names_files_as_the_real_run() {
    let Some(disk) = fat() else { return };
    let dest = disk.mountpoint.join("backup");
    let (phone, _) = awkward_phone();
    let every_file = BackupOptions {
        selection: Selection {
            only: Only::All,
            ..Selection::new()
        },
        ..BackupOptions::default()
    };
    let dry = BackupOptions {
        dry_run: true,
        ..every_file.clone()
    };
    let (report, predicted) = run_backup(&phone, &dest, &dry);
    assert!(report.succeeded(), "{:?}", report.stopped);
    let (real, filed) = run_backup(&phone, &dest, &every_file);
    assert!(real.succeeded(), "{:?}", real.stopped);
    let filed: BTreeMap<String, String> = filed
        .outcomes
        .into_iter()
        .map(|(path, outcome)| match outcome {
            FileOutcome::Copied { dest, .. } => (path, dest.to_string_lossy().into_owned()),
            other => panic!("{path}: {other:?}"),
        })
        .collect();
    assert_eq!(predicted.would_copy, filed);
    for name in ["2024/03/03/what_ why_.jpg", "2024/03/03/trailing dot_"] {
        assert!(filed.values().any(|dest| dest == name), "{name} in {filed:?}");
    }
}

#[test]
fn an_ntfs_3g_destination_is_backed_up_into() {
    let Some(disk) = ntfs() else { return };
    let files = backs_up_everything_twice_over(&disk.mountpoint.join("backup"));
    assert!(
        files.contains_key("2024/03/03/what: why?.jpg"),
        "{:?}",
        files.keys()
    );
}

#[test]
fn sort_moves_into_a_fusefat_destination() {
    let Some(disk) = fat() else { return };
    let src = tempfile::tempdir().unwrap();
    let dest = disk.mountpoint.join("sorted");
    util::put(&src.path().join("IMG_20240526_101500.jpg"), b"one", 1_700_000_000);
    util::put(
        &src.path().join("IMG_20240526_101500.xmp"),
        b"edits",
        1_700_000_000,
    );
    util::put(
        &src.path().join("a/img_20240526_101500.JPG"),
        b"two",
        1_700_000_000,
    );
    let output = util::mtpull(
        [
            "sort".as_ref(),
            src.path().as_os_str(),
            dest.as_os_str(),
            "--move".as_ref(),
        ],
        "UTC",
    );
    assert!(output.status.success(), "{output:?}");
    let filed: Vec<(String, Vec<u8>)> = util::tree(&dest);
    let expected = [
        ("2024/05/26/IMG_20240526_101500.jpg", b"one".as_slice()),
        ("2024/05/26/IMG_20240526_101500.xmp", b"edits"),
        ("2024/05/26/img_20240526_101500-1.JPG", b"two"),
    ];
    let expected: Vec<(String, Vec<u8>)> = expected
        .iter()
        .map(|(p, c)| (p.to_string(), c.to_vec()))
        .collect();
    assert_eq!(filed, expected);
    assert!(util::tree(src.path()).is_empty(), "everything moved");
}

/// Each file's destination in a `sort --json` run, by source.
fn sort_destinations(src: &Path, dest: &Path, dry_run: bool) -> BTreeMap<String, String> {
    let mut args = vec![
        "sort",
        src.to_str().unwrap(),
        dest.to_str().unwrap(),
        "--json",
        "--only",
        "all",
    ];
    if dry_run {
        args.push("--dry-run");
    }
    let output = util::mtpull(&args, "UTC");
    assert!(output.status.success(), "{args:?}: {output:?}");
    util::json_lines(&output)
        .into_iter()
        .filter_map(|line| {
            let destination = line["destination"].as_str()?.to_owned();
            Some((line["source"].as_str()?.to_owned(), destination))
        })
        .collect()
}

/// On FAT the dry run names each file as the real run does: the characters FAT
/// refuses, a trailing dot, a leading dot, and two names that differ only in case
/// (with a sidecar that follows its photo's number).
#[test]
fn a_sort_dry_run_into_fusefat_names_files_as_the_real_run() {
    let Some(disk) = fat() else { return };
    let src = tempfile::tempdir().unwrap();
    let dest = disk.mountpoint.join("sorted");
    for (name, bytes) in [
        ("IMG_20240526_101500.jpg", b"one".as_slice()),
        ("a/img_20240526_101500.JPG", b"two"),
        ("a/img_20240526_101500.xmp", b"edits of two"),
        ("what: why?.jpg", b"colon and question mark"),
        ("trailing dot.", b"a trailing dot"),
        (".hidden.jpg", b"a leading dot"),
    ] {
        util::put(&src.path().join(name), bytes, 1_700_000_000);
    }
    let predicted = sort_destinations(src.path(), &dest, true);
    assert!(util::tree(&dest).is_empty(), "a dry run writes nothing");
    let filed = sort_destinations(src.path(), &dest, false);
    assert_eq!(predicted, filed);
    let names: Vec<&str> = filed.values().map(|p| p.rsplit('/').next().unwrap()).collect();
    for name in [
        "img_20240526_101500-1.JPG",
        "img_20240526_101500-1.xmp",
        "what_ why_.jpg",
        "trailing dot_",
        "_hidden.jpg",
    ] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
}
