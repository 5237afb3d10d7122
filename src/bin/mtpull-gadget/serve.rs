//! Serving the phone over FunctionFS: ep0 (plug events and class requests),
//! the bulk pump and the event pump, each on its own thread, all driving the
//! simulator's device end ([`DeviceEnd`]) of the cable.
//!
//! The bulk pump is one thread doing blocking I/O, as Android's MTP server
//! is: while the phone has a phase to send it writes, and it reads the next
//! command only once everything has been sent. So a client killed
//! mid-transfer leaves the pump blocked in a write nobody reads, and the next
//! client's command is NAKed — until the host sends the class request
//! Cancel. Then ep0's thread hands the Cancel to the phone and interrupts the
//! pump's write with a signal (FunctionFS dequeues an interrupted request, as
//! Android's io_cancel does), and the pump goes on with whatever the phone
//! sends next. Only a transaction the phone abandons itself (a disk error)
//! halts both bulk endpoints.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::Duration;

use anyhow::{Context, Result};
use mtpull::sim::{BulkIn, DeviceEnd, EndpointError, SimDevice, class_request};
use nix::sys::pthread::{Pthread, pthread_kill, pthread_self};
use nix::sys::signal::Signal;
use signal_hook::consts::SIGUSR1;

use crate::ffs::{self, Endpoints, Event, Setup};

/// Bytes per bulk request: a multiple of every packet size.
const CHUNK: usize = 128 * 1024;
/// The longest the pump sleeps before asking a slow phone again.
const NAK_POLL: Duration = Duration::from_millis(20);

/// Where each plug event and class request is logged, one line each.
pub struct Options {
    pub record: Option<PathBuf>,
}

struct Shared {
    device: SimDevice,
    /// The end of the cable the host has configured, if any.
    end: Mutex<Option<DeviceEnd>>,
    plugged: Condvar,
    /// Set by a Cancel: the pump must drop the transfer it is blocked in.
    interrupt_requested: AtomicBool,
    record: Mutex<Option<File>>,
}

impl Shared {
    fn end(&self) -> MutexGuard<'_, Option<DeviceEnd>> {
        self.end.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn log(&self, line: &str) {
        eprintln!("mtpull-gadget: {line}");
        let mut record = self
            .record
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(file) = record.as_mut() {
            let _ = writeln!(file, "{line}");
        }
    }

    /// The end of the cable, once the host has configured the device.
    fn wait_plugged(&self) -> DeviceEnd {
        let mut end = self.end();
        loop {
            if let Some(end) = end.as_ref() {
                return end.clone();
            }
            end = self
                .plugged
                .wait(end)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }
}

/// Serves `device` on the opened function until the process is stopped.
pub fn start(device: SimDevice, endpoints: Endpoints, options: Options) -> Result<()> {
    let record = match &options.record {
        Some(path) => Some(
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("opening {}", path.display()))?,
        ),
        None => None,
    };
    let shared = Arc::new(Shared {
        device,
        end: Mutex::new(None),
        plugged: Condvar::new(),
        interrupt_requested: AtomicBool::new(false),
        record: Mutex::new(record),
    });
    // The pump's blocking writes are interrupted with SIGUSR1; the handler
    // itself has nothing to do.
    signal_hook::flag::register(SIGUSR1, Arc::new(AtomicBool::new(false)))
        .context("installing the SIGUSR1 handler")?;

    let Endpoints {
        control,
        bulk_in,
        bulk_out,
        interrupt,
    } = endpoints;
    let (pump_id, pump) = std::sync::mpsc::channel();
    {
        let shared = Arc::clone(&shared);
        thread::Builder::new().name("bulk".into()).spawn(move || {
            let _ = pump_id.send(pthread_self());
            pump_bulk(&shared, &bulk_in, &bulk_out)
        })?;
    }
    let pump = pump.recv().context("the bulk pump did not start")?;
    {
        let shared = Arc::clone(&shared);
        thread::Builder::new()
            .name("events".into())
            .spawn(move || pump_events(&shared, &interrupt))?;
    }
    thread::Builder::new().name("ep0".into()).spawn(move || {
        let control = Control {
            shared,
            file: control,
            pump,
        };
        control.run()
    })?;
    Ok(())
}

/// ep0: plug events and control requests.
struct Control {
    shared: Arc<Shared>,
    file: File,
    /// The bulk pump's thread, for the signal that interrupts its write.
    pump: Pthread,
}

impl Control {
    fn run(self) {
        loop {
            let events = match ffs::read_events(&self.file) {
                Ok(events) => events,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.shared.log(&format!("ep0 failed: {e}"));
                    return;
                }
            };
            for event in events {
                self.handle(event);
            }
        }
    }

    fn handle(&self, event: Event) {
        match event {
            // Configured (after enumeration or a bus reset): a fresh link, no session.
            Event::Enable => {
                *self.shared.end() = Some(self.shared.device.plug());
                self.shared.plugged.notify_all();
                self.shared.log("enable");
            }
            Event::Disable | Event::Unbind => {
                *self.shared.end() = None;
                self.shared.device.unplug();
                self.shared.log(if event == Event::Disable {
                    "disable"
                } else {
                    "unbind"
                });
            }
            Event::Bind => self.shared.log("bind"),
            Event::Setup(setup) => self.setup(setup),
            Event::Suspend | Event::Resume | Event::Unknown(_) => {}
        }
    }

    fn setup(&self, setup: Setup) {
        let known = setup.is_class()
            && matches!(
                (setup.request, setup.is_in()),
                (class_request::CANCEL | class_request::RESET, false)
                    | (class_request::GET_DEVICE_STATUS, true)
            );
        let result = if known {
            self.class_request(setup)
        } else {
            self.shared.log(&format!(
                "refused request 0x{:02x} type 0x{:02x}",
                setup.request, setup.request_type
            ));
            ffs::halt(&self.file, setup.is_in())
        };
        if let Err(e) = result {
            self.shared
                .log(&format!("control request 0x{:02x} failed: {e}", setup.request));
        }
    }

    fn class_request(&self, setup: Setup) -> io::Result<()> {
        // An OUT request's data stage (reading it also completes the status stage).
        let mut data = vec![
            0u8;
            if setup.is_in() {
                0
            } else {
                usize::from(setup.length)
            }
        ];
        if !setup.is_in() {
            let len = (&self.file).read(&mut data)?;
            data.truncate(len);
        }
        match setup.request {
            class_request::CANCEL => {
                let transaction = data.get(2..6).map_or("?".into(), |id| {
                    format!("0x{:08x}", u32::from_le_bytes([id[0], id[1], id[2], id[3]]))
                });
                self.shared.log(&format!("cancel transaction {transaction}"));
            }
            // Logged so that a test can check the host never sends it: it can
            // kill Android's MTP server until the cable is replugged.
            class_request::RESET => self.shared.log("reset"),
            _ => {}
        }
        let answer = match self.shared.end().clone() {
            Some(mut end) => end.control(setup.request, setup.value, setup.index, &data),
            None => Err(EndpointError::Disconnected),
        };
        if !setup.is_in() {
            self.interrupt_pump();
            return Ok(());
        }
        match answer {
            Ok(status) => {
                let code = status.get(2..4).map_or(0, |c| u16::from_le_bytes([c[0], c[1]]));
                self.shared.log(&format!("device status 0x{code:04x}"));
                let len = status.len().min(usize::from(setup.length));
                (&self.file).write_all(&status[..len])
            }
            // No answer at all: the host's request times out.
            Err(EndpointError::Nak) => {
                self.shared.log("device status: no answer");
                Ok(())
            }
            Err(_) => ffs::halt(&self.file, true),
        }
    }

    /// Interrupts the transfer the pump is blocked in, if any: after a Cancel
    /// (or a reset) the phone sends something else, or nothing.
    fn interrupt_pump(&self) {
        self.shared.interrupt_requested.store(true, Ordering::SeqCst);
        // A signal that lands just before the pump blocks is lost: repeat
        // until the pump has seen the request.
        for _ in 0..200 {
            if !self.shared.interrupt_requested.load(Ordering::SeqCst) {
                return;
            }
            // The pump thread never exits (its loop has no way out), so its id
            // stays valid; SIGUSR1 has a handler (see `start`): it only interrupts.
            let _ = pthread_kill(self.pump, Signal::SIGUSR1);
            thread::sleep(Duration::from_millis(5));
        }
        self.shared
            .log("the bulk pump did not take the cancel within 1 s");
    }
}

/// The bulk endpoints: send what the phone has to send, else read the next
/// transfer from the host.
fn pump_bulk(shared: &Shared, bulk_in: &File, bulk_out: &File) {
    let mut buf = vec![0u8; CHUNK];
    loop {
        let mut end = shared.wait_plugged();
        // A cancel: whatever the pump was sending or reading is gone.
        shared.interrupt_requested.store(false, Ordering::SeqCst);
        let result = match end.bulk_in(CHUNK) {
            Ok(BulkIn::Data(packets)) => write_packets(bulk_in, &packets),
            // A fault fired mid-packet (the next call says which): the whole
            // packets go out, the partial one never leaves a real device.
            Ok(BulkIn::Cut(mut packets)) => {
                packets.truncate(packets.len() - packets.len() % end.max_packet_size());
                if packets.is_empty() {
                    Ok(())
                } else {
                    write_packets(bulk_in, &packets)
                }
            }
            Ok(BulkIn::Nak { ready_in: Some(wait) }) => {
                thread::sleep(wait.min(NAK_POLL));
                Ok(())
            }
            Ok(BulkIn::Nak { ready_in: None }) => {
                read_transfer(bulk_out, &mut buf).map(|len| deliver(shared, &mut end, &buf[..len]))
            }
            Err(EndpointError::Stall) => {
                // The phone failed mid-phase (a disk error): both endpoints
                // halt, and the host's CLEAR_FEATURE reaches the UDC, not
                // us, so the phone's side is cleared here.
                halt_both(shared, bulk_in, bulk_out);
                let _ = end.clear_halt();
                Ok(())
            }
            // Until ep0 has seen the unplug (or a fault pulled the cable).
            Err(EndpointError::Disconnected) => {
                thread::sleep(NAK_POLL);
                Ok(())
            }
            // A timeout fault: the phone pauses.
            Err(EndpointError::Nak) => {
                thread::sleep(NAK_POLL);
                Ok(())
            }
        };
        match result {
            Ok(()) => {}
            // A cancel interrupted the write or read.
            Err(e) if e.kind() == io::ErrorKind::Interrupted => shared.log("transfer dropped"),
            // Unplugged (ESHUTDOWN) or reconfigured: the next end starts afresh.
            Err(e) => {
                if end.is_plugged() {
                    shared.log(&format!("bulk I/O failed: {e}"));
                }
                thread::sleep(NAK_POLL);
            }
        }
    }
}

/// Hands an OUT transfer to the phone, waiting while it does not take it
/// (a server that is gone until replug).
fn deliver(shared: &Shared, end: &mut DeviceEnd, transfer: &[u8]) {
    loop {
        match end.bulk_out(transfer) {
            Err(EndpointError::Nak) if !shared.interrupt_requested.load(Ordering::SeqCst) => {
                thread::sleep(NAK_POLL)
            }
            Err(EndpointError::Nak) => return,
            Err(e @ EndpointError::Stall) => {
                shared.log(&format!("the phone refused a bulk-OUT transfer: {e}"));
                return;
            }
            Ok(()) | Err(EndpointError::Disconnected) => return,
        }
    }
}

/// OUT first: a host sees the IN endpoint's stall first, and by then both are halted.
fn halt_both(shared: &Shared, bulk_in: &File, bulk_out: &File) {
    for (file, is_in, name) in [(bulk_out, false, "bulk-out"), (bulk_in, true, "bulk-in")] {
        match ffs::halt(file, is_in) {
            Ok(()) => shared.log(&format!("halted {name}")),
            Err(e) => shared.log(&format!("could not halt {name}: {e}")),
        }
    }
}

/// One IN request: `bytes` as packets; empty is a zero-length packet.
fn write_packets(mut file: &File, bytes: &[u8]) -> io::Result<()> {
    let written = file.write(bytes)?;
    if written != bytes.len() {
        return Err(io::Error::other(format!(
            "wrote {written} of {} bytes",
            bytes.len()
        )));
    }
    Ok(())
}

/// One bulk-OUT request: returns at a short packet or when `buf` is full.
fn read_transfer(mut file: &File, buf: &mut [u8]) -> io::Result<usize> {
    file.read(buf)
}

/// The interrupt endpoint: the phone's events, one packet each.
fn pump_events(shared: &Shared, interrupt: &File) {
    loop {
        let mut end = shared.wait_plugged();
        match end.wait_event(Duration::from_secs(1)) {
            // An unplug fails the write; the event is lost with the connection.
            Ok(Some(event)) => {
                if let Err(e) = write_packets(interrupt, &event) {
                    shared.log(&format!("event not sent: {e}"));
                }
            }
            Ok(None) => {}
            Err(_) => thread::sleep(NAK_POLL),
        }
    }
}
