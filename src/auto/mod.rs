//! Backing up on connect: the udev rule and systemd units that start a
//! backup when a phone or camera is plugged in, and `mtpull watch`, which
//! does the same from a user's own process.
//!
//! - [`config`]: the user's settings (`~/.config/mtpull/config.toml`).
//! - [`install`]: the rule and units from `udev/`, ready to install.
//! - [`lock`], [`notify`]: one backup per device; desktop notifications.

pub mod config;
pub mod install;
pub mod lock;
pub mod notify;

#[cfg(test)]
mod rules_test;

pub use config::{Config, ConfigError, DevicePolicy};
pub use lock::DeviceLock;
pub use notify::Notifier;
