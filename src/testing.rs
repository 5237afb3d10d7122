//! What unit and integration tests share (the unit tests use it as
//! `crate::testing`, the integration tests through `#[path]`):
//! - tests that need something of the machine (a tool, root): where it is
//!   missing they say so and stop, except under CI (which sets `CI=true`),
//!   where they fail, so that a green CI run proves each of them ran;
//! - what a destination holds.

use std::fs;
use std::path::Path;

use walkdir::WalkDir;

/// Ends a test that cannot run its check here (the caller returns right
/// after): a note on stderr, or a failure when `CI` is set.
pub(crate) fn cannot_run(reason: &str) {
    let in_ci = std::env::var("CI").is_ok_and(|value| !value.is_empty() && value != "false");
    assert!(!in_ci, "CI is set and this test cannot run its check: {reason}");
    eprintln!("skipped: {reason}");
}

/// Every regular file under `root` but mtpull's own state (`.mtpull/`): relative
/// path and content, sorted (none when `root` does not exist).
pub(crate) fn tree(root: &Path) -> Vec<(String, Vec<u8>)> {
    if !root.exists() {
        return Vec::new();
    }
    let state = root.join(".mtpull");
    let mut found: Vec<(String, Vec<u8>)> = WalkDir::new(root)
        .into_iter()
        .filter_entry(|entry| entry.path() != state)
        .map(Result::unwrap)
        .filter(|entry| entry.file_type().is_file())
        .map(|entry| {
            let rel = entry.path().strip_prefix(root).unwrap();
            (
                rel.to_string_lossy().into_owned(),
                fs::read(entry.path()).unwrap(),
            )
        })
        .collect();
    found.sort();
    found
}
