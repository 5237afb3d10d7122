//! Integration tests: the `mtpull` binary run on real folders and on the
//! simulated device, and the library against the simulated device.
//!
//! One test binary (faster to link than one per file); each area is a module.

mod architecture;
mod auto_cli;
mod backup;
mod backup_faults;
mod backup_util;
mod campaign;
mod campaign_kill;
mod cli_backup;
mod cli_devices;
mod cli_docs;
mod cli_ls;
mod cli_pipes;
mod cli_terminal;
mod device_quirks;
mod devices;
mod fuse_dest;
mod hostile;
mod preview;
mod preview_browser;
mod restore;
mod rm;
mod run;
mod safety;
mod session_sim;
mod sort;
mod status;
mod templates;
#[path = "../../src/sort/testdata.rs"]
mod testdata;
#[path = "../../src/testing.rs"]
mod testing;
mod util;
mod watch;
mod zones;
