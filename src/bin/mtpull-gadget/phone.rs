//! The simulated phone's side of the cable, as the gadget drives it: bulk-OUT
//! transfers in, bulk-IN bytes out (whole packets, a phase's end, the
//! zero-length packet after a phase that fills its last packet), events, and
//! the class requests.

use std::time::Duration;

use mtpull::sim::SimTransport;
use mtpull::transport::{Transport, TransportError};

/// What the phone has to send next on bulk-IN.
#[derive(Debug, PartialEq, Eq)]
pub enum Outgoing {
    /// Nothing: it is waiting for the host's next transfer.
    Nothing,
    /// `len` bytes of a phase, in the buffer given; a multiple of the packet
    /// size unless the phase ends with them. `then_zlp`: the phase ends with
    /// them on a packet boundary, and a zero-length packet must follow.
    Bytes { len: usize, then_zlp: bool },
    /// A zero-length packet ends the phase whose last bytes already went out.
    ZeroLength,
}

/// PTP response codes Get Device Status answers with.
const OK: u16 = 0x2001;
const TRANSACTION_CANCELLED: u16 = 0x201F;

/// One connection (from the host's SET_CONFIGURATION to the unplug) to the phone.
pub struct Phone {
    link: SimTransport,
    packet_size: usize,
    /// Send zero-length packets after phases that fill their last packet.
    zero_length_packets: bool,
    /// Bytes of the IN phase under way already handed out.
    phase_sent: u64,
    /// The phone abandoned a transaction and halted the endpoints: the next
    /// Get Device Status says so, once.
    cancelled: bool,
}

impl Phone {
    pub fn new(link: SimTransport, packet_size: usize, zero_length_packets: bool) -> Phone {
        Phone {
            link,
            packet_size,
            zero_length_packets,
            phase_sent: 0,
            cancelled: false,
        }
    }

    /// Hands over one bulk-OUT transfer; `ends_phase` when it ended with a
    /// short or zero-length packet.
    pub fn bulk_out(&mut self, transfer: &[u8], ends_phase: bool) -> Result<(), TransportError> {
        if !transfer.is_empty() {
            self.link.write_phase(transfer)?;
        }
        if ends_phase {
            self.link.end_write_phase()?;
        }
        Ok(())
    }

    /// Fills `buf` with what the phone sends next, up to the end of the phase.
    pub fn bulk_in(&mut self, buf: &mut [u8]) -> Result<Outgoing, TransportError> {
        let mut len = 0;
        loop {
            if len == buf.len() {
                self.phase_sent += len as u64;
                return Ok(Outgoing::Bytes { len, then_zlp: false });
            }
            match self.link.read_phase(&mut buf[len..]) {
                Ok(0) => {
                    let total = self.phase_sent + len as u64;
                    self.phase_sent = 0;
                    let zlp = self.zero_length_packets && total % self.packet_size as u64 == 0;
                    if len > 0 {
                        return Ok(Outgoing::Bytes { len, then_zlp: zlp });
                    }
                    if zlp {
                        return Ok(Outgoing::ZeroLength);
                    }
                }
                Ok(read) => len += read,
                // The simulator answers at once: a timeout means nothing is queued.
                Err(TransportError::Timeout(_)) if len == 0 => return Ok(Outgoing::Nothing),
                Err(TransportError::Timeout(_)) => {
                    self.phase_sent += len as u64;
                    return Ok(Outgoing::Bytes { len, then_zlp: false });
                }
                Err(TransportError::Stall) => {
                    // The gadget halts both endpoints; Get Device Status says why.
                    self.abandon();
                    self.cancelled = true;
                    return Err(TransportError::Stall);
                }
                Err(other) => return Err(other),
            }
        }
    }

    /// The host's Cancel (or Device Reset) request: the transaction under way
    /// is dropped. Android's server then waits for the next command; it
    /// neither halts the endpoints nor reports the cancel in Get Device Status
    /// (that is for transactions the phone itself abandons).
    pub fn cancel(&mut self) {
        self.abandon();
    }

    fn abandon(&mut self) {
        let _ = self.link.clear_halt();
        self.phase_sent = 0;
    }

    /// The answer to Get Device Status, laid out as Android's MTP server
    /// writes it: the length field counts 8 bytes (4 of them undefined) when
    /// all is well; after the phone halted the endpoints it counts 12, the code
    /// is Transaction Cancelled, and the endpoints follow as two 16-bit addresses.
    pub fn device_status(&mut self, bulk_in: u8, bulk_out: u8) -> Vec<u8> {
        let mut answer = vec![0u8; 8];
        if std::mem::take(&mut self.cancelled) {
            answer.resize(12, 0);
            answer[0] = 12;
            answer[2..4].copy_from_slice(&TRANSACTION_CANCELLED.to_le_bytes());
            answer[4] = bulk_in;
            answer[6] = bulk_out;
        } else {
            answer[0] = 8;
            answer[2..4].copy_from_slice(&OK.to_le_bytes());
        }
        answer
    }

    /// An event waiting to go out on the interrupt endpoint.
    pub fn next_event(&mut self) -> Option<Vec<u8>> {
        let mut packet = [0u8; 64];
        match self.link.read_event(&mut packet, Duration::ZERO) {
            Ok(Some(len)) => Some(packet[..len].to_vec()),
            _ => None,
        }
    }
}
