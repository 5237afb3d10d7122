use std::time::{Duration, SystemTime};

use tempfile::TempDir;

use super::*;

/// A scratch area with a `src` folder of inputs and an empty `dest`.
struct Scratch {
    _dir: TempDir,
    src: PathBuf,
    dest: PathBuf,
}

impl Scratch {
    fn new() -> Scratch {
        let dir = TempDir::new().unwrap();
        let src = dir.path().join("src");
        let dest = dir.path().join("dest");
        fs::create_dir(&src).unwrap();
        Scratch { _dir: dir, src, dest }
    }

    fn input(&self, name: &str, content: &[u8]) -> PathBuf {
        let path = self.src.join(name);
        fs::write(&path, content).unwrap();
        path
    }

    fn dest_file(&self, rel: &str, content: &[u8]) {
        let path = self.dest.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, content).unwrap();
    }

    /// Every file under dest, relative, sorted, with its content.
    fn dest_tree(&self) -> Vec<(String, Vec<u8>)> {
        crate::testing::tree(&self.dest)
    }
}

fn tree(entries: &[(&str, &[u8])]) -> Vec<(String, Vec<u8>)> {
    entries.iter().map(|(p, c)| (p.to_string(), c.to_vec())).collect()
}

#[test]
fn a_copy_lands_under_its_planned_name_with_the_source_mtime() {
    let s = Scratch::new();
    let src = s.input("IMG_1.jpg", b"photo");
    let mtime = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    File::options()
        .write(true)
        .open(&src)
        .unwrap()
        .set_modified(mtime)
        .unwrap();

    let filed = file_into(&s.dest, Path::new("2024/05/26/IMG_1.jpg"), &src, Mode::Copy).unwrap();

    assert_eq!(
        filed,
        Filed {
            path: s.dest.join("2024/05/26/IMG_1.jpg"),
            outcome: Outcome::Filed
        }
    );
    assert_eq!(s.dest_tree(), tree(&[("2024/05/26/IMG_1.jpg", b"photo")]));
    assert_eq!(fs::metadata(&filed.path).unwrap().modified().unwrap(), mtime);
    assert!(src.exists(), "a copy leaves the source");
}

#[test]
fn a_move_takes_the_source_away() {
    let s = Scratch::new();
    let src = s.input("IMG_1.jpg", b"photo");
    file_into(&s.dest, Path::new("2024/IMG_1.jpg"), &src, Mode::Move).unwrap();
    assert!(!src.exists());
    assert_eq!(s.dest_tree(), tree(&[("2024/IMG_1.jpg", b"photo")]));
}

#[test]
fn identical_content_is_a_duplicate_and_nothing_is_written() {
    let s = Scratch::new();
    s.dest_file("2024/IMG_1.jpg", b"photo");
    for mode in [Mode::Copy, Mode::Move] {
        let src = s.input("IMG_1.jpg", b"photo");
        let filed = file_into(&s.dest, Path::new("2024/IMG_1.jpg"), &src, mode).unwrap();
        assert_eq!(
            filed,
            Filed {
                path: s.dest.join("2024/IMG_1.jpg"),
                outcome: Outcome::Duplicate
            }
        );
        assert!(src.exists(), "{mode:?} leaves a duplicate where it is");
    }
    assert_eq!(s.dest_tree(), tree(&[("2024/IMG_1.jpg", b"photo")]));
}

#[test]
fn clashes_are_numbered_and_nothing_is_overwritten() {
    let s = Scratch::new();
    s.dest_file("d/IMG_1.jpg", b"first");
    let planned = Path::new("d/IMG_1.jpg");
    let second = file_into(&s.dest, planned, &s.input("a", b"second"), Mode::Copy).unwrap();
    let third = file_into(&s.dest, planned, &s.input("b", b"third"), Mode::Copy).unwrap();
    let again = file_into(&s.dest, planned, &s.input("c", b"second"), Mode::Copy).unwrap();
    let longer = file_into(&s.dest, planned, &s.input("d", b"first, longer"), Mode::Copy).unwrap();

    assert_eq!(second.outcome, Outcome::Renamed(1));
    assert_eq!(third.outcome, Outcome::Renamed(2));
    assert_eq!(
        again,
        Filed {
            path: s.dest.join("d/IMG_1-1.jpg"),
            outcome: Outcome::Duplicate
        }
    );
    assert_eq!(longer.path, s.dest.join("d/IMG_1-3.jpg"));
    let expected = tree(&[
        ("d/IMG_1-1.jpg", b"second"),
        ("d/IMG_1-2.jpg", b"third"),
        ("d/IMG_1-3.jpg", b"first, longer"),
        ("d/IMG_1.jpg", b"first"),
    ]);
    assert_eq!(s.dest_tree(), expected);
}

#[test]
fn a_folder_or_link_at_the_name_is_passed_over() {
    let s = Scratch::new();
    fs::create_dir_all(s.dest.join("d/IMG_1.jpg")).unwrap();
    std::os::unix::fs::symlink(s.src.join("IMG_1.jpg"), s.dest.join("d/IMG_1-1.jpg")).unwrap();
    let src = s.input("IMG_1.jpg", b"photo");
    let filed = file_into(&s.dest, Path::new("d/IMG_1.jpg"), &src, Mode::Copy).unwrap();
    assert_eq!(
        filed,
        Filed {
            path: s.dest.join("d/IMG_1-2.jpg"),
            outcome: Outcome::Renamed(2)
        }
    );
}

#[test]
fn motion_photos_keep_their_mp_extension_when_numbered() {
    let s = Scratch::new();
    s.dest_file("PXL_1.MP.jpg", b"one");
    let filed = file_into(
        &s.dest,
        Path::new("PXL_1.MP.jpg"),
        &s.input("x", b"two"),
        Mode::Copy,
    )
    .unwrap();
    assert_eq!(filed.path, s.dest.join("PXL_1-1.MP.jpg"));
}

#[test]
fn paths_that_could_leave_the_destination_are_refused() {
    let s = Scratch::new();
    let src = s.input("x", b"x");
    for planned in ["../x", "/tmp/x", "a/../../x", "", "a/.."] {
        let result = file_into(&s.dest, Path::new(planned), &src, Mode::Copy);
        assert!(
            matches!(result, Err(SortError::UnsafePath(_))),
            "{planned:?}: {result:?}"
        );
    }
    assert!(!s.dest.exists());
}

#[test]
fn no_temp_file_is_left_behind() {
    let s = Scratch::new();
    s.dest_file("IMG_1.jpg", b"one");
    file_into(&s.dest, Path::new("IMG_1.jpg"), &s.input("a", b"two"), Mode::Copy).unwrap();
    let names: Vec<_> = fs::read_dir(&s.dest)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|name| name != STATE_DIR)
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    let temps = fs::read_dir(s.dest.join(STATE_DIR).join(TEMP_DIR))
        .unwrap()
        .count();
    assert_eq!(temps, 0);
}

#[test]
fn a_copy_that_fails_reports_the_source_and_leaves_nothing() {
    let s = Scratch::new();
    let missing = s.src.join("gone.jpg");
    let result = file_into(&s.dest, Path::new("IMG_1.jpg"), &missing, Mode::Copy);
    assert!(matches!(result, Err(SortError::Io { .. })), "{result:?}");
    assert_eq!(s.dest_tree(), vec![]);
}

#[test]
fn every_way_of_taking_a_name_refuses_an_existing_one() {
    for way in [NoReplace::Kernel, NoReplace::Link, NoReplace::CheckThenRename] {
        let s = Scratch::new();
        s.dest_file("d/IMG_1.jpg", b"first");
        let _lock = DestLock::acquire(&s.dest).unwrap();
        let mut filer = Filer::new(&s.dest, Mode::Move);
        filer.open().unwrap();
        filer.opened.as_mut().unwrap().no_replace = way;
        let filed = filer
            .file(Path::new("d/IMG_1.jpg"), &s.input("a", b"second"))
            .unwrap();
        assert_eq!(filed.outcome, Outcome::Renamed(1), "{way:?}");
        filer.sync().unwrap();
        assert!(!s.src.join("a").exists(), "{way:?}");
        assert_eq!(
            s.dest_tree(),
            tree(&[("d/IMG_1-1.jpg", b"second"), ("d/IMG_1.jpg", b"first")]),
            "{way:?}"
        );
        assert_eq!(filer.opened.as_ref().unwrap().intents.pending().unwrap(), None);
    }
}

#[test]
fn links_inside_the_destination_are_never_followed() {
    let s = Scratch::new();
    let outside = s.src.join("outside");
    fs::create_dir_all(&outside).unwrap();
    fs::create_dir_all(&s.dest).unwrap();
    std::os::unix::fs::symlink(&outside, s.dest.join("2024")).unwrap();
    let result = file_into(
        &s.dest,
        Path::new("2024/05/IMG_1.jpg"),
        &s.input("a", b"x"),
        Mode::Copy,
    );
    let error = result.unwrap_err().to_string();
    assert!(error.contains("follows no link"), "{error}");
    assert_eq!(
        fs::read_dir(&outside).unwrap().count(),
        0,
        "nothing written outside"
    );
}

#[test]
fn the_state_folder_is_never_a_target() {
    let s = Scratch::new();
    for planned in [".mtpull/x.jpg", ".MTPULL/tmp/x.jpg"] {
        let result = file_into(&s.dest, Path::new(planned), &s.input("a", b"x"), Mode::Copy);
        assert!(
            matches!(result, Err(SortError::UnsafePath(_))),
            "{planned}: {result:?}"
        );
    }
}

#[test]
fn copies_a_cut_run_left_are_swept_by_the_next() {
    let s = Scratch::new();
    let temps = s.dest.join(STATE_DIR).join(TEMP_DIR);
    fs::create_dir_all(&temps).unwrap();
    fs::write(temps.join("copy-7.tmp"), b"half").unwrap();
    fs::write(temps.join("0a0b0c0d-123.part"), b"a download").unwrap();
    file_into(&s.dest, Path::new("IMG_1.jpg"), &s.input("a", b"one"), Mode::Copy).unwrap();
    let mut left: Vec<_> = fs::read_dir(&temps)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    assert_eq!(left, ["0a0b0c0d-123.part"], "downloads are the backup's to keep");
}

#[test]
fn a_dry_run_writes_nothing_but_sees_clashes_within_the_run() {
    let s = Scratch::new();
    s.dest_file("d/IMG_1.jpg", b"on disk");
    let mut dry = DryRun::new(&s.dest);
    let planned = Path::new("d/IMG_1.jpg");
    let on_disk = dry.file(planned, &s.input("a", b"on disk")).unwrap();
    let first = dry.file(planned, &s.input("b", b"new")).unwrap();
    let same_as_first = dry.file(planned, &s.input("c", b"new")).unwrap();
    let other = dry.file(planned, &s.input("d", b"other")).unwrap();
    let fresh = dry.file(Path::new("e/f.jpg"), &s.input("e", b"e")).unwrap();

    assert_eq!(on_disk.outcome, Outcome::Duplicate);
    assert_eq!(
        first,
        Filed {
            path: s.dest.join("d/IMG_1-1.jpg"),
            outcome: Outcome::Renamed(1)
        }
    );
    assert_eq!(
        same_as_first,
        Filed {
            path: s.dest.join("d/IMG_1-1.jpg"),
            outcome: Outcome::Duplicate
        }
    );
    assert_eq!(other.outcome, Outcome::Renamed(2));
    assert_eq!(fresh.outcome, Outcome::Filed);
    assert_eq!(s.dest_tree(), tree(&[("d/IMG_1.jpg", b"on disk")]));
}

#[test]
fn folders_are_synced_once_per_batch() {
    let s = Scratch::new();
    let mut filer = Filer::new(&s.dest, Mode::Copy);
    filer.file(Path::new("a/b/1.jpg"), &s.input("1", b"1")).unwrap();
    filer.file(Path::new("a/b/2.jpg"), &s.input("2", b"2")).unwrap();
    let expected: BTreeSet<PathBuf> = ["", "a", "a/b"].map(PathBuf::from).into();
    assert_eq!(filer.unsynced, expected);
    filer.sync().unwrap();
    assert!(filer.unsynced.is_empty());
}

#[test]
fn the_mount_table_gives_the_type_of_the_deepest_mount_above_a_path() {
    let table = "\
22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw
42 22 0:39 / /media/my\\040card rw,nosuid - fuse.fusefat fusefat rw,user_id=0
43 22 0:40 / /media/my rw - tmpfs tmpfs rw
";
    let at = |path: &str| mount_type(table, Path::new(path));
    assert_eq!(at("/media/my card/DCIM"), Some("fuse.fusefat"));
    assert_eq!(at("/media/my/x"), Some("tmpfs"));
    assert_eq!(at("/media/my cardboard"), Some("ext4"));
    assert_eq!(at("/home"), Some("ext4"));
}
