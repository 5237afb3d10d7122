//! A bounded cut campaign: `backup` (with and without `--delete-after`), `sort` and
//! `sort --move` cut at every step the run reports (each progress event: a piece
//! received, a file filed, a file deleted from the phone), as a crash there would cut
//! it (the run unwinds at that point), then checked and run again.
//!
//! After each cut: every file under a final name is a whole phone file, none twice,
//! every manifest record holds its bytes, nothing is deleted from the phone that DEST
//! does not hold visibly, nothing is written outside DEST. After the rerun: every file
//! exactly once, no temp file or intent left, manifest rows = files.
//! Cuts between two events (inside one filing step) are not reached by this harness.

use std::fs;
use std::num::NonZeroUsize;
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;
use std::sync::Once;
use std::sync::atomic::AtomicBool;

use mtpull::pull::{BackupOptions, Manifest, Only};
use mtpull::sim::Profile;
use mtpull::sort::IntentLog;
use mtpull::sort::{DateResolver, Mode, Template, TreeOptions, sort_tree};

use crate::backup_util::{assert_consistent_with, phone, phone_files, run_backup, run_backup_with, tree};
use crate::util::{self, put};

/// The payload of a simulated crash.
struct Cut;

/// Keeps the panic hook quiet for cuts, loud for anything else.
fn quiet_cuts() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !info.payload().is::<Cut>() {
                default(info);
            }
        }));
    });
}

/// Runs `run` with a callback that crashes at its `at`-th call; returns how many calls
/// there were and whether it was cut. Any other panic fails the test.
fn cut_at(at: u64, run: impl FnOnce(&mut dyn FnMut())) -> (u64, bool) {
    let mut calls = 0;
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
        run(&mut || {
            calls += 1;
            if calls == at {
                panic::panic_any(Cut);
            }
        })
    }));
    match outcome {
        Ok(()) => (calls, false),
        Err(payload) if payload.is::<Cut>() => (calls, true),
        Err(payload) => panic::resume_unwind(payload),
    }
}

fn no_leftovers(dest: &Path) {
    let temps = dest.join(".mtpull/tmp");
    let left: Vec<_> = fs::read_dir(&temps).map(|d| d.count()).into_iter().collect();
    assert!(
        left.iter().all(|&n| n == 0),
        "temp files left in {}",
        temps.display()
    );
    assert_eq!(IntentLog::new(dest).pending().unwrap(), None, "an intent left");
    let hidden = tree(dest)
        .into_keys()
        .filter(|p| p.split('/').any(|l| l.starts_with('.')));
    assert_eq!(hidden.count(), 0, "hidden files left in DEST");
}

/// One backup campaign; returns the cuts made.
fn backup_campaign(options: &BackupOptions) -> u64 {
    [Profile::Android, Profile::Samsung, Profile::PtpCamera]
        .into_iter()
        .map(|profile| backup_campaign_on(profile, options))
        .sum()
}

fn backup_campaign_on(profile: Profile, options: &BackupOptions) -> u64 {
    quiet_cuts();
    for at in 1.. {
        let (phone, storage) = phone(profile);
        let originals = phone_files(&phone, storage);
        let serial = phone.identity().serial;
        let root = tempfile::tempdir().unwrap();
        let dest = root.path().join("dest");
        let (_, cut) = cut_at(at, |crash| {
            run_backup_with(&phone, &dest, options, &AtomicBool::new(false), |_| crash());
        });
        phone.unplug();
        if !cut {
            // Every event before this one was a cut.
            return at - 1;
        }
        let label = format!("{profile}, cut at event {at}");
        assert_consistent_with(&originals, &serial, &dest);
        let in_dest = tree(&dest);
        for (path, content) in &originals {
            if !phone_files(&phone, storage).contains_key(path) {
                let kept = in_dest
                    .iter()
                    .any(|(name, bytes)| !name.starts_with('.') && content.matches(&bytes[..]).unwrap());
                assert!(kept, "{label}: {path} deleted from the phone but not in DEST");
            }
        }
        let outside: Vec<_> = fs::read_dir(root.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(outside.len() <= 1, "{label}: written outside DEST: {outside:?}");

        let (rerun, _) = run_backup(&phone, &dest, options);
        assert!(rerun.succeeded(), "{label}: rerun {:?}", rerun.stopped);
        assert_consistent_with(&originals, &serial, &dest);
        let media = originals.keys().filter(|p| !p.ends_with(".txt")).count();
        assert_eq!(tree(&dest).len(), media, "{label}: every file exactly once");
        let manifest = Manifest::open_read_only(&dest).unwrap().unwrap();
        assert_eq!(
            manifest.keys_for(&serial).unwrap().len(),
            media,
            "{label}: manifest rows = files"
        );
        no_leftovers(&dest);
    }
    unreachable!()
}

#[test]
fn backup_cut_at_every_step_loses_nothing() {
    let cuts = backup_campaign(&BackupOptions::default());
    assert!(cuts >= 60, "{cuts} cuts");
    eprintln!("campaign: backup, {cuts} cuts");
}

#[test]
fn backup_delete_after_cut_at_every_step_loses_nothing() {
    let options = BackupOptions {
        delete_after: true,
        ..BackupOptions::default()
    };
    let cuts = backup_campaign(&options);
    assert!(cuts >= 60, "{cuts} cuts");
    eprintln!("campaign: backup --delete-after, {cuts} cuts");
}

/// Distinct photos dated by name, a sidecar, and an undated file.
fn sort_source(src: &Path) -> Vec<Vec<u8>> {
    let mut contents = Vec::new();
    for i in 0..40u8 {
        let bytes = vec![i; 1000 + usize::from(i) * 37];
        put(
            &src.join(format!("d{}/IMG_2024050{}_10150{i:x}.jpg", i % 3, 1 + i % 5)),
            &bytes,
            1_700_000_000,
        );
        contents.push(bytes);
    }
    put(&src.join("d0/IMG_20240501_101500.xmp"), b"edits", 1_700_000_000);
    contents.push(b"edits".to_vec());
    put(&src.join("notes.txt"), b"undated", 0);
    contents.push(b"undated".to_vec());
    contents
}

fn sort_campaign(mode: Mode) -> u64 {
    quiet_cuts();
    let options = TreeOptions {
        template: Template::default(),
        mode,
        dry_run: false,
        jobs: NonZeroUsize::MIN,
        // The campaign's source has a document too: every file is sorted.
        only: Only::All,
    };
    let resolver = DateResolver::system();
    let never = AtomicBool::new(false);
    for at in 1.. {
        let root = tempfile::tempdir().unwrap();
        let (src, dest) = (root.path().join("src"), root.path().join("dest"));
        let contents = sort_source(&src);
        let (_, cut) = cut_at(at, |crash| {
            let _ = sort_tree(&src, &dest, &options, &resolver, &never, |_| crash());
        });
        if !cut {
            // Every event before this one was a cut.
            return at - 1;
        }
        let label = format!("{mode:?} cut at event {at}");
        // Nothing half-made or twice in DEST; nothing lost between SRC and DEST.
        let in_dest = util::tree(&dest);
        let in_src = util::tree(&src);
        for (name, bytes) in &in_dest {
            assert!(contents.contains(bytes), "{label}: {name} is no source file");
            assert_eq!(
                in_dest.iter().filter(|(_, b)| b == bytes).count(),
                1,
                "{label}: {name} twice"
            );
        }
        for bytes in &contents {
            let somewhere = in_dest.iter().chain(&in_src).any(|(_, b)| b == bytes);
            assert!(somewhere, "{label}: a file was lost");
        }
        sort_tree(&src, &dest, &options, &resolver, &never, |_| {}).unwrap();
        let in_dest = util::tree(&dest);
        for bytes in &contents {
            let copies = in_dest.iter().filter(|(_, b)| b == bytes).count();
            let left = util::tree(&src).iter().any(|(_, b)| b == bytes);
            // A sidecar whose photo moved in the cut run stays in SRC, by design.
            let sidecar_stayed = mode == Mode::Move && bytes == b"edits" && left;
            assert!(
                copies == 1 || sidecar_stayed,
                "{label}: {copies} copies after the rerun"
            );
            if mode == Mode::Move && !sidecar_stayed {
                assert!(!left, "{label}: a moved file is still in SRC");
            }
        }
        no_leftovers(&dest);
    }
    unreachable!()
}

#[test]
fn sort_cut_at_every_step_loses_nothing() {
    let cuts = sort_campaign(Mode::Copy);
    assert!(cuts >= 42, "{cuts} cuts");
    eprintln!("campaign: sort, {cuts} cuts");
}

#[test]
fn sort_move_cut_at_every_step_loses_nothing() {
    let cuts = sort_campaign(Mode::Move);
    assert!(cuts >= 42, "{cuts} cuts");
    eprintln!("campaign: sort --move, {cuts} cuts");
}
