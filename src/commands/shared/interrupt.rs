//! Ctrl-C (and `systemctl stop`, which sends the same signal): the first
//! asks the run to stop between files and pieces; a second ends the process
//! at once, which still loses nothing (partial files resume next time).

use std::io;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use signal_hook::consts::SIGINT;
use signal_hook::flag;

use super::exit::INTERRUPTED;

/// Installs the SIGINT handlers; returns the flag the first Ctrl-C raises.
pub fn cancel_on_ctrl_c() -> io::Result<Arc<AtomicBool>> {
    let cancel = Arc::new(AtomicBool::new(false));
    // Registered first, so it sees the flag as the earlier Ctrl-C left it.
    flag::register_conditional_shutdown(SIGINT, i32::from(INTERRUPTED), Arc::clone(&cancel))?;
    flag::register(SIGINT, Arc::clone(&cancel))?;
    Ok(cancel)
}
