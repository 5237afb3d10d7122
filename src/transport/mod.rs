//! How bytes reach a device: the [`Transport`] trait and its backends.
//!
//! A PTP/MTP exchange over USB is a series of *phases* on the bulk endpoints
//! (command, data, response). A phase ends with a short packet, or with a
//! zero-length packet when its length is a multiple of the packet size. The trait
//! speaks in phases so that the session layer never sees packets, and so that the
//! simulated device (`crate::sim`) can sit behind the very same calls.

pub mod classify;
pub mod error;
pub mod holders;

use std::time::Duration;

pub use error::OpenError;

/// What went wrong below the protocol: the device, the cable or the OS.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// No answer within the timeout.
    #[error("the device did not answer within {0:?}")]
    Timeout(Duration),
    /// The endpoint stalled (the device refused or reported an error).
    #[error("the device stalled the endpoint")]
    Stall,
    /// The device went away (unplugged, or reset).
    #[error("the device was disconnected")]
    Disconnected,
    /// Anything else the OS or USB stack said.
    #[error("USB error: {0}")]
    Other(String),
}

/// One MTP/PTP interface, opened and claimed, seen as three endpoints.
///
/// Every call blocks up to the transport's timeout (see [`Transport::set_timeout`]).
pub trait Transport: Send {
    /// Largest packet on the bulk endpoints (512 at high speed, 1024 at super speed).
    fn max_packet_size(&self) -> usize;

    /// Appends bytes to the bulk-OUT phase under way. Backends may buffer.
    fn write_phase(&mut self, data: &[u8]) -> Result<(), TransportError>;

    /// Ends the bulk-OUT phase: flushes what is buffered, then sends a
    /// zero-length packet if the phase's length is a multiple of the packet size.
    fn end_write_phase(&mut self) -> Result<(), TransportError>;

    /// Reads bytes of the bulk-IN phase under way into `buf`.
    ///
    /// Returns `Ok(0)` once the phase has ended (short or zero-length packet);
    /// the call after that starts reading the next phase.
    fn read_phase(&mut self, buf: &mut [u8]) -> Result<usize, TransportError>;

    /// Waits up to `timeout` for one packet on the interrupt (event) endpoint.
    /// Returns `Ok(None)` when nothing arrived in time.
    fn read_event(
        &mut self,
        buf: &mut [u8],
        timeout: Duration,
    ) -> Result<Option<usize>, TransportError>;

    /// Clears a halt (stall) on both bulk endpoints, dropping any partial phase.
    fn clear_halt(&mut self) -> Result<(), TransportError>;

    /// Sets the timeout for every later call but `read_event`.
    fn set_timeout(&mut self, timeout: Duration);
}
