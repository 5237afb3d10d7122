//! Integration tests: one test binary (faster to link than one per file).

mod backup;
mod backup_faults;
mod backup_util;
mod cli_devices;
mod cli_ls;
mod run;
mod session_sim;
