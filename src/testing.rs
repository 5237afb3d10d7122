//! For tests that need something of the machine (a tool, root): where it is
//! missing they say so and stop, except under CI (which sets `CI=true`),
//! where they fail, so that a green CI run proves each of them ran. The unit
//! tests use it as `crate::testing`, the integration tests through `#[path]`.

/// Ends a test that cannot run its check here (the caller returns right
/// after): a note on stderr, or a failure when `CI` is set.
pub fn cannot_run(reason: &str) {
    let in_ci = std::env::var("CI").is_ok_and(|value| !value.is_empty() && value != "false");
    assert!(!in_ci, "CI is set and this test cannot run its check: {reason}");
    eprintln!("skipped: {reason}");
}
