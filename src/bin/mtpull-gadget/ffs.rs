//! FunctionFS at run time: ep0's events and control transfers, the endpoint
//! files, halting an endpoint.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::Path;

use anyhow::{Context, Result};

/// `struct usb_functionfs_event`: an 8-byte SETUP packet, a type, 3 bytes of padding.
pub const EVENT_LEN: usize = 12;

/// One ep0 event (`enum usb_functionfs_event_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Bind,
    Unbind,
    Enable,
    Disable,
    Setup(Setup),
    Suspend,
    Resume,
    Unknown(u8),
}

/// A control request's SETUP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setup {
    pub request_type: u8,
    pub request: u8,
    pub value: u16,
    pub index: u16,
    pub length: u16,
}

impl Setup {
    /// Device to host.
    pub fn is_in(&self) -> bool {
        self.request_type & 0x80 != 0
    }

    /// A class request (as the Still Image requests are).
    pub fn is_class(&self) -> bool {
        self.request_type & 0x60 == 0x20
    }
}

impl Event {
    pub fn parse(raw: &[u8; EVENT_LEN]) -> Event {
        let word = |at: usize| u16::from_le_bytes([raw[at], raw[at + 1]]);
        match raw[8] {
            0 => Event::Bind,
            1 => Event::Unbind,
            2 => Event::Enable,
            3 => Event::Disable,
            4 => Event::Setup(Setup {
                request_type: raw[0],
                request: raw[1],
                value: word(2),
                index: word(4),
                length: word(6),
            }),
            5 => Event::Suspend,
            6 => Event::Resume,
            other => Event::Unknown(other),
        }
    }
}

/// The function's files: ep0 and the three endpoints the descriptors declare.
pub struct Endpoints {
    pub control: File,
    pub bulk_in: File,
    pub bulk_out: File,
    pub interrupt: File,
}

fn open(path: &Path) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))
}

impl Endpoints {
    /// Writes the descriptors and strings to ep0, which makes the endpoint
    /// files appear, and opens them.
    pub fn open(ffs_dir: &Path, descriptors: &[u8], strings: &[u8]) -> Result<Endpoints> {
        let mut control = open(&ffs_dir.join("ep0"))?;
        control
            .write_all(descriptors)
            .context("writing the descriptors to ep0 (the kernel log says which one it refused)")?;
        control.write_all(strings).context("writing the strings to ep0")?;
        Ok(Endpoints {
            control,
            bulk_in: open(&ffs_dir.join("ep1"))?,
            bulk_out: open(&ffs_dir.join("ep2"))?,
            interrupt: open(&ffs_dir.join("ep3"))?,
        })
    }
}

/// Reads the events waiting on ep0 (blocking until there is one).
pub fn read_events(mut control: &File) -> io::Result<Vec<Event>> {
    let mut raw = [0u8; EVENT_LEN * 4];
    let len = control.read(&mut raw)?;
    Ok(raw[..len - len % EVENT_LEN]
        .chunks_exact(EVENT_LEN)
        .map(|chunk| Event::parse(chunk.try_into().expect("chunks are EVENT_LEN long")))
        .collect())
}

/// Halts an endpoint. FunctionFS halts an endpoint on I/O in the wrong
/// direction (a read on an IN endpoint, a write on an OUT one) and answers
/// EBADMSG when it did. Also how ep0 refuses (stalls) a control request.
pub fn halt(mut file: &File, is_in: bool) -> io::Result<()> {
    let result = if is_in {
        file.read(&mut [])
    } else {
        file.write(&[])
    };
    match result {
        Err(e) if e.raw_os_error() == Some(rustix::io::Errno::BADMSG.raw_os_error()) => Ok(()),
        Err(e) => Err(e),
        Ok(_) => Err(io::Error::other("the endpoint did not halt")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setup_events_carry_the_request() {
        let raw = [0xA1, 0x67, 0, 0, 0, 0, 64, 0, 4, 0, 0, 0];
        let Event::Setup(setup) = Event::parse(&raw) else {
            panic!("not a setup event")
        };
        assert_eq!((setup.request, setup.length, setup.index), (0x67, 64, 0));
        assert!(setup.is_in() && setup.is_class());
        let cancel = [0x21, 0x64, 0, 0, 0, 0, 6, 0, 4, 0, 0, 0];
        let Event::Setup(setup) = Event::parse(&cancel) else {
            panic!("not a setup event")
        };
        assert!(!setup.is_in() && setup.is_class());
    }

    #[test]
    fn other_events_are_named() {
        let mut raw = [0u8; EVENT_LEN];
        for (kind, event) in [
            (0, Event::Bind),
            (2, Event::Enable),
            (3, Event::Disable),
            (9, Event::Unknown(9)),
        ] {
            raw[8] = kind;
            assert_eq!(Event::parse(&raw), event);
        }
    }
}
