//! Backing up on connect: the udev rule and systemd units that start a
//! backup when a phone or camera is plugged in, and `mtpull watch`, which
//! does the same from a user's own process.
//!
//! - [`config`]: the user's settings (`~/.config/mtpull/config.toml`).
//! - [`install`]: the rule and units from `udev/`, ready to install.
//! - `arrivals`: devices coming and going, from USB or a simulator ([`Arrival`]).
//! - [`job`]: one device's backup: lock, open, allow, wait for unlock, back up.
//! - `watch`: a job for every arrival, until stopped ([`watch()`]).
//! - [`lock`], `notify`: one backup per device; desktop notifications ([`Notifier`]).

mod arrivals;
pub mod config;
pub mod install;
pub mod job;
pub mod lock;
mod notify;
mod watch;

#[cfg(test)]
mod rules_test;

pub use arrivals::{Arrival, DeviceEvent, usb_events};
pub use config::{Config, ConfigError, DevicePolicy};
pub use job::{JobOutcome, JobSettings, Notice};
pub use lock::lock_device;
pub use notify::Notifier;
pub use watch::watch;
