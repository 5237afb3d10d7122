//! Where a bulk-IN phase ends.
//!
//! A host transfer of N bytes (a multiple of the packet size) ends when N bytes
//! have arrived or at a short (or zero-length) packet. A transfer that ends
//! short ends the phase; one that fills up does not, and the next transfer
//! carries on. A transfer cut off by the timeout keeps its bytes and does not
//! end the phase either.
//!
//! Every phase on a PTP bulk pipe is a container whose first four bytes give
//! its length, so a phase also ends when that many bytes have been read: a
//! device that leaves out the zero-length packet after a phase ending on a
//! packet boundary (QEMU's usb-mtp does when a phase fills a host transfer; so
//! do some players) would otherwise run two phases together. [`PhaseBounds`]
//! tracks that for both backends; [`PhaseReader`] reads phases out of
//! synchronous transfers for the libusb backend.

#[cfg(any(feature = "libusb", feature = "sim", test))]
use super::TransportError;

use crate::ptp::{ContainerKind, HEADER_LEN, LENGTH_UNKNOWN};

/// The container header's length, counted as the phase's bytes are.
const CONTAINER_HEADER_LEN: u64 = HEADER_LEN as u64;

/// The declared length of the phase under way and how much of it has been read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PhaseBounds {
    /// The container's length and type fields, as they arrive.
    header: [u8; 6],
    consumed: u64,
    declared: Option<u64>,
    kind: Option<ContainerKind>,
}

impl PhaseBounds {
    /// How many of `wanted` bytes may be read now. Until the length field is
    /// known, reads stop at the end of the container header, so that a read can
    /// never run past a phase shorter than the caller's buffer.
    pub(crate) fn limit(&self, wanted: usize) -> usize {
        let left = match self.declared {
            Some(declared) => declared.saturating_sub(self.consumed),
            None if self.consumed < CONTAINER_HEADER_LEN => CONTAINER_HEADER_LEN - self.consumed,
            None => u64::MAX,
        };
        usize::try_from(left).map_or(wanted, |left| wanted.min(left))
    }

    /// Accounts for bytes just read from the phase.
    pub(crate) fn record(&mut self, bytes: &[u8]) {
        for (offset, &byte) in bytes.iter().enumerate() {
            let position = self.consumed + offset as u64;
            if position >= 6 {
                break;
            }
            self.header[position as usize] = byte;
            if position == 3 {
                let [a, b, c, d, ..] = self.header;
                let length = u32::from_le_bytes([a, b, c, d]);
                let plausible = length != LENGTH_UNKNOWN && u64::from(length) >= CONTAINER_HEADER_LEN;
                self.declared = plausible.then_some(u64::from(length));
            }
            if position == 5 {
                self.kind =
                    ContainerKind::from_wire(u16::from_le_bytes([self.header[4], self.header[5]])).ok();
            }
        }
        self.consumed += bytes.len() as u64;
    }

    /// Only the 12-byte header of a container declaring more (or 4 GiB and
    /// more) has been read: a short transfer here is a device sending the
    /// header on its own (iPhones converting HEIC, Garmin, old Android;
    /// libgphoto2's split header data), not the phase's end.
    pub(crate) fn awaits_payload(&self) -> bool {
        self.consumed == CONTAINER_HEADER_LEN && self.declared != Some(CONTAINER_HEADER_LEN)
    }

    /// The container's type, once its type field has been read.
    pub(crate) fn kind(&self) -> Option<ContainerKind> {
        self.kind
    }

    /// Whether the container's declared length has been read in full.
    pub(crate) fn complete(&self) -> bool {
        self.declared.is_some_and(|declared| self.consumed >= declared)
    }

    /// Starts over for the next phase.
    pub(crate) fn reset(&mut self) {
        *self = Self::default();
    }
}

/// How one bulk-IN transfer came back.
#[cfg(any(feature = "libusb", feature = "sim", test))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Received {
    /// Bytes that arrived.
    pub len: usize,
    /// The timeout cut the transfer off after `len` bytes (more may follow).
    pub cut_by_timeout: bool,
}

/// The bytes of the transfer being read and where the phase stands.
#[cfg(any(feature = "libusb", feature = "sim", test))]
pub(crate) struct PhaseReader {
    transfer: Vec<u8>,
    start: usize,
    end: usize,
    /// The buffered transfer ended short: the phase ends once it is read.
    ends_phase: bool,
    bounds: PhaseBounds,
}

#[cfg(any(feature = "libusb", feature = "sim", test))]
impl PhaseReader {
    /// `transfer_size` must be a non-zero multiple of the packet size.
    pub(crate) fn new(transfer_size: usize) -> Self {
        Self {
            transfer: vec![0; transfer_size],
            start: 0,
            end: 0,
            ends_phase: false,
            bounds: PhaseBounds::default(),
        }
    }

    /// Reads from the phase under way; `Ok(0)` exactly once at its end.
    /// `bulk_in` performs one transfer into the buffer it is given.
    pub(crate) fn read(
        &mut self,
        out: &mut [u8],
        mut bulk_in: impl FnMut(&mut [u8]) -> Result<Received, TransportError>,
    ) -> Result<usize, TransportError> {
        if out.is_empty() {
            return Err(TransportError::Other(
                "read_phase needs room for at least one byte".into(),
            ));
        }
        if self.bounds.complete() {
            self.settle_declared_end(&mut bulk_in)?;
            return Ok(self.end_phase());
        }
        loop {
            if self.start < self.end {
                let len = self.bounds.limit(out.len()).min(self.end - self.start);
                out[..len].copy_from_slice(&self.transfer[self.start..self.start + len]);
                self.start += len;
                self.bounds.record(&out[..len]);
                return Ok(len);
            }
            if std::mem::take(&mut self.ends_phase) && !self.bounds.awaits_payload() {
                return Ok(self.end_phase());
            }
            if self.fill(&mut bulk_in)? == 0 && !self.bounds.awaits_payload() {
                // A zero-length packet: the phase ended on a transfer boundary.
                return Ok(self.end_phase());
            }
        }
    }

    /// Performs one transfer into the buffer; returns its length.
    fn fill(
        &mut self,
        bulk_in: &mut impl FnMut(&mut [u8]) -> Result<Received, TransportError>,
    ) -> Result<usize, TransportError> {
        let received = bulk_in(&mut self.transfer)?;
        let len = received.len.min(self.transfer.len());
        if received.cut_by_timeout && len == 0 {
            // Backends report that as `Timeout`; never mistake it for a phase end.
            return Err(TransportError::Other(
                "a transfer timed out before any byte arrived".into(),
            ));
        }
        (self.start, self.end) = (0, len);
        self.ends_phase = !received.cut_by_timeout && len > 0 && len < self.transfer.len();
        Ok(len)
    }

    /// The declared length has been read. Bytes still buffered belong to the
    /// next phase; a transfer that ended short ended the phase; after a full
    /// transfer a zero-length packet may follow, and is swallowed if it does.
    fn settle_declared_end(
        &mut self,
        bulk_in: &mut impl FnMut(&mut [u8]) -> Result<Received, TransportError>,
    ) -> Result<(), TransportError> {
        if self.start < self.end || std::mem::take(&mut self.ends_phase) {
            return Ok(());
        }
        match self.fill(bulk_in) {
            // Nothing followed in time: the declared length ended the phase.
            Err(TransportError::Timeout(_)) => Ok(()),
            other => other.map(drop),
        }
    }

    fn end_phase(&mut self) -> usize {
        self.bounds.reset();
        0
    }

    /// Drops what is buffered (after a stall is cleared).
    pub(crate) fn reset(&mut self) {
        (self.start, self.end, self.ends_phase) = (0, 0, false);
        self.bounds.reset();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::VecDeque;
    use std::time::Duration;

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

        /// Packets arrive until the transfer is full or one is short, as on a host.
        fn transfer(&mut self, buf: &mut [u8]) -> Result<Received, TransportError> {
            let timeout = TransportError::Timeout(Duration::from_secs(1));
            let cut = self
                .cut_after
                .iter()
                .find(|(t, _)| *t == self.transfers)
                .map(|(_, n)| *n);
            self.transfers += 1;
            let (mut len, mut packets) = (0, 0);
            while len < buf.len() {
                if cut == Some(packets) {
                    return if len == 0 {
                        Err(timeout)
                    } else {
                        Ok(Received {
                            len,
                            cut_by_timeout: true,
                        })
                    };
                }
                let Some(packet) = self.packets.pop_front() else {
                    return if len == 0 {
                        Err(timeout)
                    } else {
                        Ok(Received {
                            len,
                            cut_by_timeout: true,
                        })
                    };
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

    /// A container of `len` bytes (at least 12) whose length field says `declared`.
    fn container_declaring(len: usize, declared: u32, seed: u8) -> Vec<u8> {
        let mut bytes: Vec<u8> = (0..len)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect();
        bytes[..4].copy_from_slice(&declared.to_le_bytes());
        bytes
    }

    fn container(len: usize, seed: u8) -> Vec<u8> {
        container_declaring(len, u32::try_from(len).unwrap(), seed)
    }

    #[test]
    fn data_then_response_come_back_as_two_phases() {
        let phases = vec![container(700, 1), container(12, 2)];
        let mut endpoint = FakeEndpoint::new(&phases, 512, true);
        let mut reader = PhaseReader::new(4096);
        assert_eq!(read_phase(&mut reader, &mut endpoint, 100).unwrap(), phases[0]);
        assert_eq!(read_phase(&mut reader, &mut endpoint, 100).unwrap(), phases[1]);
    }

    #[test]
    fn zero_length_packet_after_a_full_transfer_is_swallowed() {
        let phases = vec![container(4096, 3), container(12, 4)];
        let mut endpoint = FakeEndpoint::new(&phases, 512, true);
        let mut reader = PhaseReader::new(4096);
        assert_eq!(read_phase(&mut reader, &mut endpoint, 4096).unwrap(), phases[0]);
        assert_eq!(read_phase(&mut reader, &mut endpoint, 4096).unwrap(), phases[1]);
        assert_eq!(
            endpoint.transfers, 3,
            "the data transfer, the zero-length packet, the response"
        );
    }

    #[test]
    fn zero_length_packet_inside_a_transfer_ends_it_short() {
        let phases = vec![container(1024, 5), container(12, 6)];
        let mut endpoint = FakeEndpoint::new(&phases, 512, true);
        let mut reader = PhaseReader::new(8192);
        assert_eq!(read_phase(&mut reader, &mut endpoint, 8192).unwrap(), phases[0]);
        assert_eq!(read_phase(&mut reader, &mut endpoint, 8192).unwrap(), phases[1]);
        assert_eq!(endpoint.transfers, 2);
    }

    #[test]
    fn without_the_zero_length_packet_the_declared_length_ends_the_phase() {
        // QEMU's usb-mtp: a phase filling a host transfer exactly, then no ZLP.
        let phases = vec![container(1024, 1), container(12, 2)];
        let mut endpoint = FakeEndpoint::new(&phases, 512, false);
        let mut reader = PhaseReader::new(1024);
        assert_eq!(read_phase(&mut reader, &mut endpoint, 4096).unwrap(), phases[0]);
        assert_eq!(read_phase(&mut reader, &mut endpoint, 4096).unwrap(), phases[1]);
    }

    #[test]
    fn without_the_zero_length_packet_two_phases_in_one_transfer_are_split() {
        // The packet-multiple phase and the response arrive in the same transfer.
        let phases = vec![container(1024, 1), container(16, 2)];
        let mut endpoint = FakeEndpoint::new(&phases, 512, false);
        let mut reader = PhaseReader::new(8192);
        assert_eq!(read_phase(&mut reader, &mut endpoint, 8192).unwrap(), phases[0]);
        assert_eq!(read_phase(&mut reader, &mut endpoint, 8192).unwrap(), phases[1]);
        assert_eq!(endpoint.transfers, 1);
    }

    #[test]
    fn a_header_sent_as_its_own_short_transfer_does_not_end_the_phase() {
        let data = container(3000, 4);
        let mut endpoint = FakeEndpoint::new(&[], 512, true);
        endpoint.packets.push_back(data[..12].to_vec());
        endpoint
            .packets
            .extend(data[12..].chunks(512).map(<[u8]>::to_vec));
        endpoint.packets.push_back(container(12, 5));
        let mut reader = PhaseReader::new(4096);
        assert_eq!(read_phase(&mut reader, &mut endpoint, 4096).unwrap(), data);
        assert_eq!(
            read_phase(&mut reader, &mut endpoint, 4096).unwrap(),
            container(12, 5)
        );
        let mut bounds = PhaseBounds::default();
        bounds.record(&container(12, 1));
        assert!(!bounds.awaits_payload(), "a 12-byte container is whole");
    }

    #[test]
    fn a_phase_shorter_than_declared_ends_at_its_short_packet() {
        let truncated = container_declaring(100, 5000, 1);
        let phases = vec![truncated.clone(), container(12, 2)];
        let mut endpoint = FakeEndpoint::new(&phases, 512, true);
        let mut reader = PhaseReader::new(4096);
        assert_eq!(read_phase(&mut reader, &mut endpoint, 64).unwrap(), truncated);
        assert_eq!(read_phase(&mut reader, &mut endpoint, 64).unwrap(), phases[1]);
    }

    #[test]
    fn objects_of_4_gib_and_more_end_at_the_short_packet() {
        let big = container_declaring(3000, 0xFFFF_FFFF, 9);
        let phases = vec![big.clone(), container(12, 2)];
        let mut endpoint = FakeEndpoint::new(&phases, 512, true);
        let mut reader = PhaseReader::new(1024);
        assert_eq!(read_phase(&mut reader, &mut endpoint, 700).unwrap(), big);
        assert_eq!(read_phase(&mut reader, &mut endpoint, 700).unwrap(), phases[1]);
    }

    #[test]
    fn a_transfer_cut_by_the_timeout_keeps_its_bytes_and_the_phase_goes_on() {
        let phases = vec![container(3000, 7), container(12, 8)];
        let mut endpoint = FakeEndpoint::new(&phases, 512, true);
        endpoint.cut_after = vec![(0, 2)];
        let mut reader = PhaseReader::new(4096);
        assert_eq!(read_phase(&mut reader, &mut endpoint, 333).unwrap(), phases[0]);
        assert_eq!(read_phase(&mut reader, &mut endpoint, 333).unwrap(), phases[1]);
    }

    #[test]
    fn a_timeout_with_nothing_received_is_an_error_and_reading_can_resume() {
        let phases = vec![container(100, 9)];
        let mut endpoint = FakeEndpoint::new(&phases, 512, true);
        endpoint.cut_after = vec![(0, 0)];
        let mut reader = PhaseReader::new(4096);
        let mut buf = [0; 64];
        assert!(matches!(
            reader.read(&mut buf, |b| endpoint.transfer(b)),
            Err(TransportError::Timeout(_))
        ));
        assert_eq!(read_phase(&mut reader, &mut endpoint, 64).unwrap(), phases[0]);
    }

    #[test]
    fn after_the_response_one_more_read_waits_for_the_next_phase() {
        let phases = vec![container(12, 1)];
        let mut endpoint = FakeEndpoint::new(&phases, 512, true);
        let mut reader = PhaseReader::new(4096);
        assert_eq!(read_phase(&mut reader, &mut endpoint, 64).unwrap(), phases[0]);
        let mut buf = [0; 64];
        assert!(matches!(
            reader.read(&mut buf, |b| endpoint.transfer(b)),
            Err(TransportError::Timeout(_))
        ));
    }

    #[test]
    fn empty_phase_is_a_lone_zero_length_packet() {
        let phases = vec![Vec::new(), container(12, 1)];
        let mut endpoint = FakeEndpoint::new(&phases, 64, true);
        let mut reader = PhaseReader::new(512);
        assert_eq!(
            read_phase(&mut reader, &mut endpoint, 16).unwrap(),
            Vec::<u8>::new()
        );
        assert_eq!(read_phase(&mut reader, &mut endpoint, 16).unwrap(), phases[1]);
    }

    #[test]
    fn reset_drops_a_partial_phase() {
        let phases = vec![container(700, 1), container(12, 2)];
        let mut endpoint = FakeEndpoint::new(&phases, 512, true);
        let mut reader = PhaseReader::new(4096);
        let mut buf = [0; 10];
        assert_eq!(reader.read(&mut buf, |b| endpoint.transfer(b)).unwrap(), 10);
        reader.reset();
        assert_eq!(read_phase(&mut reader, &mut endpoint, 64).unwrap(), phases[1]);
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
    fn bounds_read_the_length_field_across_tiny_reads() {
        let mut bounds = PhaseBounds::default();
        assert_eq!(
            bounds.limit(4096),
            12,
            "reads stop at the header until the length is known"
        );
        for byte in 20u32.to_le_bytes() {
            assert!(!bounds.complete());
            bounds.record(&[byte]);
        }
        assert_eq!(bounds.limit(4096), 16);
        bounds.record(&[0; 16]);
        assert!(bounds.complete());
        assert_eq!(bounds.limit(4096), 0);
        bounds.reset();
        assert_eq!(bounds, PhaseBounds::default());
    }

    #[test]
    fn bounds_know_the_container_type_once_its_field_has_arrived() {
        let data_header = [20, 0, 0, 0, 2, 0, 0x08, 0x10, 7, 0, 0, 0];
        let mut bounds = PhaseBounds::default();
        for (i, byte) in data_header.iter().enumerate() {
            assert_eq!(bounds.kind(), None, "before byte {i}");
            bounds.record(&[*byte]);
            if i == 5 {
                break;
            }
        }
        assert_eq!(bounds.kind(), Some(ContainerKind::Data));
        bounds.reset();
        bounds.record(&[12, 0, 0, 0, 3, 0, 1, 0x20, 7, 0, 0, 0]);
        assert_eq!(bounds.kind(), Some(ContainerKind::Response));
        bounds.reset();
        bounds.record(&[12, 0, 0, 0, 9, 0]);
        assert_eq!(bounds.kind(), None, "an unknown type is no kind");
    }

    #[test]
    fn implausible_lengths_leave_the_phase_to_its_short_packet() {
        for declared in [0u32, 11, 0xFFFF_FFFF] {
            let mut bounds = PhaseBounds::default();
            bounds.record(&declared.to_le_bytes());
            bounds.record(&[0; 8]);
            bounds.record(&[0; 5000]);
            assert!(!bounds.complete(), "{declared}");
            assert_eq!(bounds.limit(4096), 4096, "{declared}");
        }
    }

    proptest! {
        #[test]
        fn phases_come_back_whole_whatever_the_sizes(
            lengths in prop::collection::vec(12usize..5000, 1..6),
            packet_shift in 6u32..11,
            transfers_in_packets in 1usize..12,
            chunk in 1usize..3000,
            zero_length_packets: bool,
        ) {
            let max_packet = 1usize << packet_shift;
            let phases: Vec<Vec<u8>> = lengths.iter().enumerate().map(|(i, &len)| container(len, i as u8)).collect();
            let mut endpoint = FakeEndpoint::new(&phases, max_packet, zero_length_packets);
            let mut reader = PhaseReader::new(max_packet * transfers_in_packets);
            for phase in &phases {
                prop_assert_eq!(&read_phase(&mut reader, &mut endpoint, chunk).unwrap(), phase);
            }
            prop_assert!(endpoint.packets.is_empty());
        }
    }
}
