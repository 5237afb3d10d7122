//! Running the built `mtpull` binary.

use std::process::{Command, Output};

/// What one run of `mtpull` printed and how it ended.
pub struct Run {
    pub status: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `mtpull` with `args`.
pub fn mtpull(args: &[&str]) -> Run {
    let Output {
        status,
        stdout,
        stderr,
    } = Command::new(env!("CARGO_BIN_EXE_mtpull"))
        .args(args)
        .output()
        .expect("the mtpull binary runs");
    Run {
        status: status.code(),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
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
