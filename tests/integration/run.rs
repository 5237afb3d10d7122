//! `util::mtpull` with the output as text and the status checked, for the
//! device commands' tests.

use crate::util;

/// What one run of `mtpull` printed and how it ended.
pub struct Run {
    pub status: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `mtpull` with `args` (in UTC).
pub fn mtpull(args: &[&str]) -> Run {
    let output = util::mtpull(args, "UTC");
    Run {
        status: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

impl Run {
    /// Panics with everything printed unless the exit status is `code`.
    pub fn expect_status(self, code: i32) -> Run {
        assert_eq!(
            self.status,
            Some(code),
            "stdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
}
