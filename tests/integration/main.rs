//! Integration tests: the `mtpull` binary and the library against simulated
//! devices and real folders.
//!
//! One test binary (faster to link than one per file); each area is a module.

mod backup;
mod backup_faults;
mod backup_util;
mod cli_devices;
mod cli_ls;
mod run;
mod session_sim;
mod sort;
#[path = "../../src/sort/testdata.rs"]
mod testdata;
mod util;
