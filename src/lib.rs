//! mtpull: copy photos and videos off a phone over MTP and file them by capture date.
//!
//! Layers, bottom up:
//! - [`ptp`]: the protocol as pure functions over byte slices (no I/O).
//! - [`transport`]: the [`transport::Transport`] trait and its USB backends.
//! - [`session`]: MTP transactions and operations over any transport.
//! - `sim` (feature `sim`): a simulated MTP device that answers over the same trait.
//! - [`sort`]: dating files by capture time and filing them into folders.
//! - [`pull`]: planning and copying a backup from a device into a destination.
//! - [`restore`]: sending files back to a device, dated, resumable after a cut.
//! - [`preview`]: a page of the device's thumbnails on which a person chooses what to copy.
//! - [`auto`]: backing up on connect (udev rule, systemd units, `mtpull watch`).
//!
//! And [`fault_points`], where a test cuts or fails a run at any file-system step;
//! [`lock_file`], the one flock(2) lock that DEST's run lock and the
//! per-device locks share; [`human`], numbers and names as people read them.

#![warn(missing_docs, unreachable_pub)]

pub mod auto;
pub mod fault_points;
pub mod human;
pub mod lock_file;
pub mod preview;
pub mod ptp;
pub mod pull;
pub mod restore;
pub mod session;
#[cfg(feature = "sim")]
pub mod sim;
pub mod sort;
pub mod transport;

#[cfg(test)]
mod testing;
