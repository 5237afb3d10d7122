//! The storages of the device a command opened, waited for while the phone
//! is locked, for the commands that work on one place (preview, restore, rm).

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::Context;
use mtpull::session::{Session, Storage};

use super::exit::PhoneLocked;
use super::progress::locked_line;

/// Every storage, waiting up to `wait` for a locked phone; none is an error.
pub fn readable(session: &mut Session, wait: Duration, cancel: &AtomicBool) -> anyhow::Result<Vec<Storage>> {
    let storages = session
        .storages(wait, cancel, |hint| note!("{}", locked_line(wait, hint)))
        .context("reading the storages")?;
    if storages.is_empty() {
        return Err(PhoneLocked(session.no_storage_hint()).into());
    }
    Ok(storages)
}
