//! What several commands need: exit statuses, Ctrl-C, progress lines and
//! bars, what `--quiet` leaves, and the auto-backup job's reporting. Commands import from here (and
//! from `connect`), never from each other.

pub mod auto_job;
pub mod exit;
pub mod interrupt;
pub mod progress;
pub mod quiet;
pub mod storages;
