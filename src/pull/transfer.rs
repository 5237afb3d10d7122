//! Moving one device file's bytes into its temp file: whole with GetObject,
//! or from where an earlier run stopped with GetPartialObject64 /
//! GetPartialObject, checking that the bytes already held still match.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use super::partial::{Overrun, PartialFile};
use super::remote::RemoteFile;
use crate::ptp::HEADER_LEN;
use crate::session::{Session, SessionError};

/// Large files are fetched in pieces of this size where the device allows
/// partial reads, so that Ctrl-C takes effect within one piece (a data phase
/// under way is always read to its end) and a cut costs one round trip to resume.
pub(super) const PIECE: u64 = 64 << 20;

/// On resume, this much of what the temp file holds is fetched again and
/// compared, so a temp file whose tail never reached the disk is caught.
pub(super) const OVERLAP: u64 = 64 << 10;

/// Why a download stopped.
#[derive(Debug)]
pub(super) enum TransferError {
    /// The device or the link failed (see [`SessionError::needs_recovery`]).
    Session(SessionError),
    /// Writing the temp file failed.
    Local(io::Error),
    /// The device's bytes disagree with its listing (more or fewer than the
    /// size listed): the file changed on the phone, or the device is wrong.
    Mismatch(String),
    /// The cancel flag was raised between pieces.
    Cancelled,
}

impl From<io::Error> for TransferError {
    fn from(error: io::Error) -> Self {
        TransferError::Local(error)
    }
}

impl From<SessionError> for TransferError {
    fn from(error: SessionError) -> Self {
        match error {
            SessionError::Io { source, .. } if is_overrun(&source) => {
                TransferError::Mismatch(source.to_string())
            }
            SessionError::Io { source, .. } => TransferError::Local(source),
            other => TransferError::Session(other),
        }
    }
}

fn is_overrun(error: &io::Error) -> bool {
    error.get_ref().is_some_and(|inner| inner.is::<Overrun>())
}

/// The data container header's length, which Samsung's hang counts in.
const CONTAINER_HEADER: u64 = HEADER_LEN as u64;

/// How many bytes to ask of a partial read of up to `want` bytes from
/// `offset` in a file of `size`: one less when the read would reach the end
/// of the file with its data container filling its last 512-byte packet,
/// (len + 12) % 512 == 0 — Samsung Galaxy phones never answer that read
/// (libmtp's SAMSUNG_OFFSET_BUG). The byte left out comes with the next read.
/// Every device gets this: it costs one round trip in 512 end-of-file reads,
/// and a Samsung not yet known as one is spared the hang.
pub(super) fn partial_read_len(size: u64, offset: u64, want: u64) -> u64 {
    let want = want.min(size.saturating_sub(offset));
    if want > 1 && offset + want == size && (want + CONTAINER_HEADER).is_multiple_of(512) {
        want - 1
    } else {
        want
    }
}

/// Fills `part` with `file`'s bytes, continuing from what it holds.
///
/// `received` is told of each block of bytes as it arrives. On any error the
/// bytes written so far stay in `part` (a prefix of the file) for a later resume.
/// Returns a note for the user when the device misbehaved and the file was
/// read another way.
pub(super) fn download(
    session: &mut Session,
    file: &RemoteFile,
    part: &mut PartialFile,
    cancel: &AtomicBool,
    received: &mut dyn FnMut(u64),
) -> Result<Option<String>, TransferError> {
    if file.exact_size().is_none() {
        // "4 GiB or more": only a whole GetObject (read to its short packet)
        // says where the file ends, so it is fetched whole, from the start.
        if !part.is_empty() {
            part.restart()?;
        }
        let mut sink = Metered {
            inner: &mut *part,
            received: &mut *received,
        };
        session.get_object(file.handle, &mut sink)?;
        return Ok(None);
    }
    if file.size == 0 {
        return empty_file(session, file, part, received);
    }
    let mut note = None;
    // Whether pieces were read: they stop at the listed size, so only a look past it
    // shows a listing that is too short.
    let mut by_pieces = false;
    // Only bytes from an earlier run need checking against the device.
    let mut check_tail = !part.is_empty();
    // GetObject sent other bytes than listed: read the original in pieces.
    let mut avoid_get_object = false;
    while !part.is_complete() || check_tail {
        if cancel.load(Ordering::Relaxed) {
            return Err(TransferError::Cancelled);
        }
        let offset = part.len();
        let can_resume = session.can_read_partially(offset);
        if !can_resume || (offset == 0 && file.size <= PIECE && !avoid_get_object) {
            // From the start, in one go (also when the device cannot resume).
            if offset > 0 {
                part.restart()?;
            }
            let mut sink = Metered {
                inner: &mut *part,
                received: &mut *received,
            };
            let whole = session.get_object(file.handle, &mut sink);
            let sent = match whole {
                Ok(sent) if sent == file.size => break,
                Ok(sent) => format!("{sent} bytes"),
                Err(SessionError::Io { source, .. }) if is_overrun(&source) => {
                    format!("more than the {} bytes", file.size)
                }
                Err(error) => return Err(error.into()),
            };
            if !can_resume || avoid_get_object {
                return Err(TransferError::Mismatch(format!(
                    "GetObject sent {sent} for a file listed at {} bytes (a phone that converts \
                     files as it sends them, like Android's \"convert videos to AVC\", does this)",
                    file.size
                )));
            }
            note = Some(format!(
                "GetObject sent {sent} for a file listed at {} bytes: the phone converts it as it \
                 sends it (Android's \"convert videos to AVC\" setting?); copied unconverted with \
                 partial reads instead",
                file.size
            ));
            part.restart()?;
            avoid_get_object = true;
            continue;
        }
        let overlap = if check_tail { OVERLAP.min(offset) } else { 0 };
        let start = offset - overlap;
        let want = partial_read_len(file.size, start, PIECE + overlap).min(u64::from(u32::MAX));
        let mut sink = TailCheck {
            expected: part.tail(overlap)?,
            checked: 0,
            mismatch: false,
            inner: Metered {
                inner: &mut *part,
                received: &mut *received,
            },
        };
        let sent = session.get_partial_object(file.handle, start, want as u32, &mut sink)?;
        by_pieces = true;
        if sink.mismatch {
            // The temp file does not hold what the device has: start over.
            part.restart()?;
        } else if sent <= overlap && !part.is_complete() {
            // Partial reads that send nothing where the listing promises
            // data: the device's fault (a broken GetPartialObject64 was
            // already retried as GetPartialObject). Read files whole.
            session.give_up_partial_reads();
            note = Some(format!(
                "the device's partial reads sent nothing from byte {offset} of the {} bytes it \
                 listed (a fault of its MTP server): copied whole with GetObject instead",
                file.size
            ));
            avoid_get_object = false;
        }
        check_tail = false;
    }
    if !part.is_complete() {
        return Err(TransferError::Mismatch(format!(
            "the device sent {} of the {} bytes it listed",
            part.len(),
            file.size
        )));
    }
    if by_pieces {
        beyond_the_listed_size(session, file)?;
    }
    Ok(note)
}

/// A file listed at 0 bytes: copied empty only if the device sends nothing for it. A
/// listing can say 0 for a file still being written, or lie; an empty copy taken on
/// its word would let `--delete-after` delete the photo.
fn empty_file(
    session: &mut Session,
    file: &RemoteFile,
    part: &mut PartialFile,
    received: &mut dyn FnMut(u64),
) -> Result<Option<String>, TransferError> {
    if !part.is_empty() {
        part.restart()?;
    }
    let mut sink = Metered {
        inner: part,
        received,
    };
    match session.get_object(file.handle, &mut sink) {
        Ok(0) => Ok(None),
        Ok(_) => Err(listed_short(file)),
        Err(SessionError::Io { source, .. }) if is_overrun(&source) => Err(listed_short(file)),
        Err(error) => Err(error.into()),
    }
}

/// After reading a file in pieces up to its listed size: one byte more is asked for,
/// and must not come (partial reads clip at the end of the file). A device whose
/// listing is shorter than the file would otherwise leave a cut copy that counts as
/// the backup. A device that refuses the read at the end is taken at its word.
fn beyond_the_listed_size(session: &mut Session, file: &RemoteFile) -> Result<(), TransferError> {
    match session.get_partial_object(file.handle, file.size, 1, &mut io::sink()) {
        Ok(0) => Ok(()),
        Ok(_) => Err(listed_short(file)),
        Err(error) if error.needs_recovery() => Err(error.into()),
        Err(_) => Ok(()),
    }
}

fn listed_short(file: &RemoteFile) -> TransferError {
    TransferError::Mismatch(format!(
        "the device holds more than the {} bytes it listed for this file",
        file.size
    ))
}

/// Counts bytes on their way to the temp file.
struct Metered<'a> {
    inner: &'a mut PartialFile,
    received: &'a mut dyn FnMut(u64),
}

impl Write for Metered<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let written = self.inner.write(bytes)?;
        (self.received)(written as u64);
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Compares the first bytes received with `expected` (the temp file's
/// tail), then passes the rest on; after a mismatch it drops everything.
struct TailCheck<'a> {
    expected: Vec<u8>,
    checked: usize,
    mismatch: bool,
    inner: Metered<'a>,
}

impl Write for TailCheck<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if self.mismatch {
            return Ok(bytes.len());
        }
        let compare = (self.expected.len() - self.checked).min(bytes.len());
        if bytes[..compare] != self.expected[self.checked..self.checked + compare] {
            self.mismatch = true;
            return Ok(bytes.len());
        }
        self.checked += compare;
        self.inner.write_all(&bytes[compare..])?;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
