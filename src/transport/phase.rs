//! Phases out of synchronous bulk-IN transfers, for backends that read one
//! transfer at a time (libusb's synchronous API).
//!
//! A host transfer of N bytes (a multiple of the packet size) ends when N bytes
//! have arrived or at a short (or zero-length) packet. A transfer that ends
//! short ends the phase; one that fills up does not, and the next transfer
//! carries on. A transfer cut off by the timeout keeps its bytes and does not
//! end the phase either.

use super::TransportError;

/// How one bulk-IN transfer came back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Received {
    /// Bytes that arrived.
    pub len: usize,
    /// The timeout cut the transfer off after `len` bytes (more may follow).
    pub cut_by_timeout: bool,
}

/// The bytes of the transfer being read and where the phase stands.
pub(crate) struct PhaseReader {
    transfer: Vec<u8>,
    start: usize,
    end: usize,
    /// The buffered transfer ended short: the phase ends once it is read.
    ends_phase: bool,
}

impl PhaseReader {
    /// `transfer_size` must be a non-zero multiple of the packet size.
    pub fn new(transfer_size: usize) -> Self {
        Self {
            transfer: vec![0; transfer_size],
            start: 0,
            end: 0,
            ends_phase: false,
        }
    }

    /// Reads from the phase under way; `Ok(0)` exactly once at its end.
    /// `bulk_in` performs one transfer into the buffer it is given.
    pub fn read(
        &mut self,
        out: &mut [u8],
        mut bulk_in: impl FnMut(&mut [u8]) -> Result<Received, TransportError>,
    ) -> Result<usize, TransportError> {
        if out.is_empty() {
            return Err(TransportError::Other(
                "read_phase needs room for at least one byte".into(),
            ));
        }
        loop {
            if self.start < self.end {
                let len = out.len().min(self.end - self.start);
                out[..len].copy_from_slice(&self.transfer[self.start..self.start + len]);
                self.start += len;
                return Ok(len);
            }
            if std::mem::take(&mut self.ends_phase) {
                return Ok(0);
            }
            let received = bulk_in(&mut self.transfer)?;
            let len = received.len.min(self.transfer.len());
            (self.start, self.end) = (0, len);
            if received.cut_by_timeout {
                if len == 0 {
                    // Backends report that as `Timeout`; never mistake it for a phase end.
                    return Err(TransportError::Other(
                        "a transfer timed out before any byte arrived".into(),
                    ));
                }
                continue;
            }
            if len == 0 {
                // A zero-length packet: the phase ended on a transfer boundary.
                return Ok(0);
            }
            self.ends_phase = len < self.transfer.len();
        }
    }

    /// Drops what is buffered (after a stall is cleared).
    pub fn reset(&mut self) {
        (self.start, self.end, self.ends_phase) = (0, 0, false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::VecDeque;

    /// A device's bulk-IN endpoint: packets queued phase after phase.
    struct FakeEndpoint {
        packets: VecDeque<Vec<u8>>,
        max_packet: usize,
        /// Transfers (by index) that the timeout cuts off after this many packets.
        cut_after: Vec<(usize, usize)>,
        transfers: usize,
    }

    impl FakeEndpoint {
        fn new(phases: &[Vec<u8>], max_packet: usize, zero_length_packets: bool) -> Self {
            let mut packets = VecDeque::new();
            for phase in phases {
                packets.extend(phase.chunks(max_packet).map(<[u8]>::to_vec));
                if zero_length_packets && phase.len() % max_packet == 0 {
                    packets.push_back(Vec::new());
                }
            }
            Self {
                packets,
                max_packet,
                cut_after: Vec::new(),
                transfers: 0,
            }
        }

        fn transfer(&mut self, buf: &mut [u8]) -> Result<Received, TransportError> {
            let cut = self
                .cut_after
                .iter()
                .find(|(t, _)| *t == self.transfers)
                .map(|(_, n)| *n);
            self.transfers += 1;
            let mut len = 0;
            let mut packets = 0;
            while len < buf.len() {
                if cut == Some(packets) {
                    return match len {
                        0 => Err(TransportError::Timeout(std::time::Duration::from_secs(1))),
                        _ => Ok(Received {
                            len,
                            cut_by_timeout: true,
                        }),
                    };
                }
                let Some(packet) = self.packets.pop_front() else {
                    return Err(TransportError::Timeout(std::time::Duration::from_secs(1)));
                };
                buf[len..len + packet.len()].copy_from_slice(&packet);
                len += packet.len();
                packets += 1;
                if packet.len() < self.max_packet {
                    break;
                }
            }
            Ok(Received {
                len,
                cut_by_timeout: false,
            })
        }
    }

    fn read_phase(
        reader: &mut PhaseReader,
        endpoint: &mut FakeEndpoint,
        chunk: usize,
    ) -> Result<Vec<u8>, TransportError> {
        let mut phase = Vec::new();
        let mut buf = vec![0; chunk];
        loop {
            match reader.read(&mut buf, |b| endpoint.transfer(b))? {
                0 => return Ok(phase),
                n => phase.extend_from_slice(&buf[..n]),
            }
        }
    }

    fn bytes(len: usize, seed: u8) -> Vec<u8> {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect()
    }

    #[test]
    fn data_then_response_come_back_as_two_phases() {
        let phases = vec![bytes(700, 1), bytes(12, 2)];
        let mut endpoint = FakeEndpoint::new(&phases, 512, true);
        let mut reader = PhaseReader::new(4096);
        assert_eq!(
            read_phase(&mut reader, &mut endpoint, 100).unwrap(),
            phases[0]
        );
        assert_eq!(
            read_phase(&mut reader, &mut endpoint, 100).unwrap(),
            phases[1]
        );
    }

    #[test]
    fn zero_length_packet_after_a_full_transfer_ends_the_phase() {
        let phases = vec![bytes(4096, 3), bytes(12, 4)];
        let mut endpoint = FakeEndpoint::new(&phases, 512, true);
        let mut reader = PhaseReader::new(4096);
        assert_eq!(
            read_phase(&mut reader, &mut endpoint, 4096).unwrap(),
            phases[0]
        );
        assert_eq!(
            read_phase(&mut reader, &mut endpoint, 4096).unwrap(),
            phases[1]
        );
        assert_eq!(
            endpoint.transfers, 3,
            "the data transfer, the zero-length packet, the response"
        );
    }

    #[test]
    fn zero_length_packet_inside_a_transfer_ends_it_short() {
        let phases = vec![bytes(1024, 5), bytes(12, 6)];
        let mut endpoint = FakeEndpoint::new(&phases, 512, true);
        let mut reader = PhaseReader::new(8192);
        assert_eq!(
            read_phase(&mut reader, &mut endpoint, 8192).unwrap(),
            phases[0]
        );
        assert_eq!(
            read_phase(&mut reader, &mut endpoint, 8192).unwrap(),
            phases[1]
        );
        assert_eq!(endpoint.transfers, 2);
    }

    #[test]
    fn a_transfer_cut_by_the_timeout_keeps_its_bytes_and_the_phase_goes_on() {
        let phases = vec![bytes(3000, 7), bytes(12, 8)];
        let mut endpoint = FakeEndpoint::new(&phases, 512, true);
        endpoint.cut_after = vec![(0, 2)];
        let mut reader = PhaseReader::new(4096);
        assert_eq!(
            read_phase(&mut reader, &mut endpoint, 333).unwrap(),
            phases[0]
        );
        assert_eq!(
            read_phase(&mut reader, &mut endpoint, 333).unwrap(),
            phases[1]
        );
    }

    #[test]
    fn a_timeout_with_nothing_received_is_an_error_and_reading_can_resume() {
        let phases = vec![bytes(100, 9)];
        let mut endpoint = FakeEndpoint::new(&phases, 512, true);
        endpoint.cut_after = vec![(0, 0)];
        let mut reader = PhaseReader::new(4096);
        let mut buf = [0; 64];
        assert!(matches!(
            reader.read(&mut buf, |b| endpoint.transfer(b)),
            Err(TransportError::Timeout(_))
        ));
        assert_eq!(
            read_phase(&mut reader, &mut endpoint, 64).unwrap(),
            phases[0]
        );
    }

    #[test]
    fn empty_phase_is_a_lone_zero_length_packet() {
        let phases = vec![Vec::new(), bytes(12, 1)];
        let mut endpoint = FakeEndpoint::new(&phases, 64, true);
        let mut reader = PhaseReader::new(512);
        assert_eq!(
            read_phase(&mut reader, &mut endpoint, 16).unwrap(),
            Vec::<u8>::new()
        );
        assert_eq!(
            read_phase(&mut reader, &mut endpoint, 16).unwrap(),
            phases[1]
        );
    }

    #[test]
    fn reset_drops_a_partial_phase() {
        let phases = vec![bytes(700, 1), bytes(12, 2)];
        let mut endpoint = FakeEndpoint::new(&phases, 512, true);
        let mut reader = PhaseReader::new(4096);
        let mut buf = [0; 10];
        assert_eq!(reader.read(&mut buf, |b| endpoint.transfer(b)).unwrap(), 10);
        reader.reset();
        assert_eq!(
            read_phase(&mut reader, &mut endpoint, 64).unwrap(),
            phases[1]
        );
    }

    #[test]
    fn empty_buffer_is_refused() {
        let mut reader = PhaseReader::new(512);
        assert!(
            reader
                .read(&mut [], |_| panic!("no transfer for an empty buffer"))
                .is_err()
        );
    }

    #[test]
    fn without_the_zero_length_packet_two_phases_run_together() {
        // What a device that leaves the ZLP out does: the documented limit.
        let phases = vec![bytes(1024, 1), bytes(12, 2)];
        let mut endpoint = FakeEndpoint::new(&phases, 512, false);
        let mut reader = PhaseReader::new(1024);
        let merged = read_phase(&mut reader, &mut endpoint, 4096).unwrap();
        assert_eq!(merged, [phases[0].clone(), phases[1].clone()].concat());
    }

    proptest! {
        #[test]
        fn phases_come_back_whole_whatever_the_sizes(
            lengths in prop::collection::vec(0usize..5000, 1..6),
            packet_shift in 6u32..11,
            transfers_in_packets in 1usize..12,
            chunk in 1usize..3000,
        ) {
            let max_packet = 1usize << packet_shift;
            let phases: Vec<Vec<u8>> = lengths.iter().enumerate().map(|(i, &len)| bytes(len, i as u8)).collect();
            let mut endpoint = FakeEndpoint::new(&phases, max_packet, true);
            let mut reader = PhaseReader::new(max_packet * transfers_in_packets);
            for phase in &phases {
                prop_assert_eq!(&read_phase(&mut reader, &mut endpoint, chunk).unwrap(), phase);
            }
            prop_assert!(endpoint.packets.is_empty());
        }
    }
}
