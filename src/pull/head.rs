//! A device file read in place, for dating it without downloading it: the
//! date parsers read and seek as in a local file, and each block they reach
//! is fetched with GetPartialObject — a small one first (a JPEG's EXIF is
//! almost always within its first 16 KiB), more only where they ask.

use std::io::{self, Read, Seek, SeekFrom};

use super::remote::RemoteFile;
use super::transfer::partial_read_len;
use crate::session::{Session, SessionError};

/// The first block read from a file: what dating a photo usually needs.
const FIRST_BLOCK: u64 = 16 * 1024;
/// Each later block (the rest of a large EXIF segment, a video's boxes).
const NEXT_BLOCK: u64 = 32 * 1024;

/// A device file as a `Read + Seek` source, fetched block by block.
pub(super) struct DeviceFileReader<'a> {
    session: &'a mut Session,
    file: &'a RemoteFile,
    position: u64,
    /// The block fetched last: where it starts, and its bytes.
    block_start: u64,
    block: Vec<u8>,
    /// The file's first block, kept (a dry run compares it with files in DEST).
    head: Vec<u8>,
    /// Bytes fetched from the device.
    fetched: u64,
    /// The device's error, if a read failed (a parser only sees "end of file").
    error: Option<SessionError>,
}

impl<'a> DeviceFileReader<'a> {
    /// A reader at the start of `file`. A device that cannot read part of a
    /// file reads as an empty one.
    pub(super) fn new(session: &'a mut Session, file: &'a RemoteFile) -> Self {
        DeviceFileReader {
            session,
            file,
            position: 0,
            block_start: 0,
            block: Vec::new(),
            head: Vec::new(),
            fetched: 0,
            error: None,
        }
    }

    /// Bytes fetched from the device so far.
    pub(super) fn fetched(&self) -> u64 {
        self.fetched
    }

    /// Ends the reading: the first block, or the error that cut it short.
    pub(super) fn finish(self) -> Result<Vec<u8>, SessionError> {
        match self.error {
            Some(error) => Err(error),
            None => Ok(self.head),
        }
    }

    /// Fetches the block holding `at`; false at the end of what can be read.
    fn fetch(&mut self, at: u64) -> bool {
        if self.error.is_some() || !self.session.can_read_partially(at) {
            return false;
        }
        let want = if at == 0 { FIRST_BLOCK } else { NEXT_BLOCK };
        let len = partial_read_len(self.file.size, at, want) as u32;
        self.block.clear();
        self.block_start = at;
        match self
            .session
            .get_partial_object(self.file.handle, at, len, &mut self.block)
        {
            Ok(_) => {
                self.fetched += self.block.len() as u64;
                if at == 0 {
                    self.head = self.block.clone();
                }
                !self.block.is_empty()
            }
            Err(error) => {
                self.block.clear();
                self.error = Some(error);
                false
            }
        }
    }
}

impl Read for DeviceFileReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() || self.position >= self.file.size {
            return Ok(0);
        }
        let end = self.block_start + self.block.len() as u64;
        if !(self.block_start..end).contains(&self.position) && !self.fetch(self.position) {
            return Ok(0);
        }
        let from = (self.position - self.block_start) as usize;
        let n = buf.len().min(self.block.len() - from);
        buf[..n].copy_from_slice(&self.block[from..from + n]);
        self.position += n as u64;
        Ok(n)
    }
}

impl Seek for DeviceFileReader<'_> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let target = match pos {
            SeekFrom::Start(at) => Some(at),
            SeekFrom::End(delta) => self.file.size.checked_add_signed(delta),
            SeekFrom::Current(delta) => self.position.checked_add_signed(delta),
        };
        self.position =
            target.ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before the start"))?;
        Ok(self.position)
    }
}
