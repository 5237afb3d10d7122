//! Serving the phone over FunctionFS: ep0 (plug events and class requests),
//! the bulk pump and the event pump, each on its own thread.
//!
//! The bulk pump is one thread doing blocking I/O, as Android's MTP server
//! is: while the phone has a phase to send it writes, and it reads the next
//! command only once everything has been sent. So a client killed
//! mid-transfer leaves the pump blocked in a write nobody reads, and the next
//! client's command is NAKed — until the host sends the class request
//! Cancel. Then ep0's thread drops the transaction and interrupts the pump's
//! write with a signal (FunctionFS dequeues an interrupted request, as
//! Android's io_cancel does), and the pump goes back to reading commands.
//! Only a transaction the phone itself abandons (a disk error) halts both
//! bulk endpoints.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::thread::JoinHandleExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::Duration;

use anyhow::{Context, Result};
use mtpull::sim::SimDevice;
use mtpull::transport::TransportError;
use signal_hook::consts::SIGUSR1;

use crate::ffs::{self, Endpoints, Event, Setup};
use crate::phone::{Outgoing, Phone};

/// Bytes per bulk request: a multiple of every packet size.
const CHUNK: usize = 128 * 1024;
/// How often the event pump looks for the phone's events.
const EVENT_POLL: Duration = Duration::from_millis(20);

/// The Still Image class requests.
const CANCEL: u8 = 0x64;
const DEVICE_RESET: u8 = 0x66;
const GET_DEVICE_STATUS: u8 = 0x67;

/// How the phone is served.
pub struct Options {
    pub packet_size: usize,
    pub zero_length_packets: bool,
    /// Where each plug event and class request is logged, one line each.
    pub record: Option<PathBuf>,
}

/// The connection the host has configured, if any.
struct Connection {
    /// Counts every plug and unplug, so that bytes read for one connection
    /// never reach the next.
    generation: u64,
    phone: Option<Phone>,
}

struct Shared {
    device: SimDevice,
    options: Options,
    connection: Mutex<Connection>,
    plugged: Condvar,
    /// Set by a Cancel: the pump must drop the transfer it is blocked in.
    interrupt_requested: AtomicBool,
    record: Mutex<Option<File>>,
}

impl Shared {
    fn connection(&self) -> MutexGuard<'_, Connection> {
        self.connection
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
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

    /// Waits until the host has configured the device; returns the connection's generation.
    fn wait_plugged(&self) -> u64 {
        let mut connection = self.connection();
        while connection.phone.is_none() {
            connection = self
                .plugged
                .wait(connection)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
        connection.generation
    }

    /// Runs `f` on the phone if the connection is still `generation`.
    fn with_phone<R>(&self, generation: u64, f: impl FnOnce(&mut Phone) -> R) -> Option<R> {
        let mut connection = self.connection();
        if connection.generation != generation {
            return None;
        }
        connection.phone.as_mut().map(f)
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
        options,
        connection: Mutex::new(Connection {
            generation: 0,
            phone: None,
        }),
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
    let bulk_in = Arc::new(bulk_in);
    let bulk_out = Arc::new(bulk_out);
    let pump = {
        let shared = Arc::clone(&shared);
        let (bulk_in, bulk_out) = (Arc::clone(&bulk_in), Arc::clone(&bulk_out));
        thread::Builder::new()
            .name("bulk".into())
            .spawn(move || pump_bulk(&shared, &bulk_in, &bulk_out))?
    };
    {
        let shared = Arc::clone(&shared);
        thread::Builder::new()
            .name("events".into())
            .spawn(move || pump_events(&shared, &interrupt))?;
    }
    let addresses = (
        ffs::endpoint_address(&bulk_in).unwrap_or(0x81),
        ffs::endpoint_address(&bulk_out).unwrap_or(0x02),
    );
    thread::Builder::new().name("ep0".into()).spawn(move || {
        let control = Control {
            shared,
            file: control,
            pump,
            addresses,
        };
        control.run()
    })?;
    Ok(())
}

/// ep0: plug events and control requests.
struct Control {
    shared: Arc<Shared>,
    file: File,
    pump: thread::JoinHandle<()>,
    /// The bulk IN and OUT endpoints' USB addresses.
    addresses: (u8, u8),
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
            Event::Enable => {
                let mut connection = self.shared.connection();
                connection.generation += 1;
                connection.phone = Some(Phone::new(
                    self.shared.device.connect(),
                    self.shared.options.packet_size,
                    self.shared.options.zero_length_packets,
                ));
                drop(connection);
                self.shared.plugged.notify_all();
                self.shared.log("enable");
            }
            Event::Disable | Event::Unbind => {
                let mut connection = self.shared.connection();
                connection.generation += 1;
                connection.phone = None; // dropping the link unplugs the phone
                drop(connection);
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
        let result = match (setup.is_class(), setup.request) {
            (true, CANCEL) if !setup.is_in() => self.cancel(setup),
            (true, DEVICE_RESET) if !setup.is_in() => {
                // Recorded so that a test can check the host never sends it:
                // it can kill Android's MTP server until the cable is replugged.
                self.shared.log("reset");
                self.interrupt_transaction();
                self.acknowledge(setup).map(drop)
            }
            (true, GET_DEVICE_STATUS) if setup.is_in() => self.device_status(setup),
            _ => {
                self.shared.log(&format!(
                    "refused request 0x{:02x} type 0x{:02x}",
                    setup.request, setup.request_type
                ));
                ffs::halt(&self.file, setup.is_in())
            }
        };
        if let Err(e) = result {
            self.shared
                .log(&format!("control request 0x{:02x} failed: {e}", setup.request));
        }
    }

    /// Reads an OUT request's data stage (or, with none, completes its status stage).
    fn acknowledge(&self, setup: Setup) -> io::Result<Vec<u8>> {
        let mut data = vec![0u8; usize::from(setup.length)];
        let len = (&self.file).read(&mut data)?;
        data.truncate(len);
        Ok(data)
    }

    fn cancel(&self, setup: Setup) -> io::Result<()> {
        let data = self.acknowledge(setup)?;
        let transaction = data
            .get(2..6)
            .map(|id| u32::from_le_bytes([id[0], id[1], id[2], id[3]]));
        self.shared.log(&format!(
            "cancel transaction {}",
            transaction.map_or("?".into(), |id| format!("0x{id:08x}"))
        ));
        self.interrupt_transaction();
        Ok(())
    }

    /// Drops the transaction under way, and the transfer the pump is blocked in.
    fn interrupt_transaction(&self) {
        {
            let mut connection = self.shared.connection();
            if let Some(phone) = connection.phone.as_mut() {
                phone.cancel();
            }
        }
        self.shared.interrupt_requested.store(true, Ordering::SeqCst);
        // A signal that lands just before the pump blocks is lost: repeat
        // until the pump has seen the request.
        for _ in 0..200 {
            if !self.shared.interrupt_requested.load(Ordering::SeqCst) {
                return;
            }
            // SAFETY: the pump thread never exits while the process runs (its
            // loop has no way out), so its pthread_t stays valid; SIGUSR1 has a
            // handler installed (in `start`), so the signal only interrupts it.
            unsafe {
                libc::pthread_kill(self.pump.as_pthread_t(), SIGUSR1);
            }
            thread::sleep(Duration::from_millis(5));
        }
        self.shared
            .log("the bulk pump did not take the cancel within 1 s");
    }

    fn device_status(&self, setup: Setup) -> io::Result<()> {
        let answer = {
            let mut connection = self.shared.connection();
            match connection.phone.as_mut() {
                Some(phone) => Some(phone.device_status(self.addresses.0, self.addresses.1)),
                None => None,
            }
        };
        let Some(answer) = answer else {
            return ffs::halt(&self.file, true);
        };
        let code = u16::from_le_bytes([answer[2], answer[3]]);
        self.shared.log(&format!("device status 0x{code:04x}"));
        let len = answer.len().min(usize::from(setup.length));
        (&self.file).write_all(&answer[..len])
    }
}

/// The bulk endpoints: send what the phone has to send, else read the next
/// transfer from the host.
fn pump_bulk(shared: &Shared, bulk_in: &File, bulk_out: &File) {
    let mut buf = vec![0u8; CHUNK];
    loop {
        let generation = shared.wait_plugged();
        // A cancel: whatever the pump was sending or reading is gone.
        shared.interrupt_requested.store(false, Ordering::SeqCst);
        let Some(outgoing) = shared.with_phone(generation, |phone| phone.bulk_in(&mut buf)) else {
            continue;
        };
        let result = match outgoing {
            Ok(Outgoing::Bytes { len, then_zlp }) => write_packets(bulk_in, &buf[..len]).and_then(|()| {
                if then_zlp {
                    write_packets(bulk_in, &[])
                } else {
                    Ok(())
                }
            }),
            Ok(Outgoing::ZeroLength) => write_packets(bulk_in, &[]),
            Ok(Outgoing::Nothing) => read_transfer(bulk_out, &mut buf).map(|len| {
                let ends_phase = len < buf.len();
                let delivered =
                    shared.with_phone(generation, |phone| phone.bulk_out(&buf[..len], ends_phase));
                if let Some(Err(e)) = delivered {
                    shared.log(&format!("the phone refused a bulk-OUT transfer: {e}"));
                }
            }),
            Err(TransportError::Stall) => {
                // The phone failed mid-phase (a disk error): it stalls both
                // endpoints and says why in Get Device Status.
                shared.log("phone stalled");
                halt_both(shared, bulk_in, bulk_out);
                Ok(())
            }
            Err(e) => {
                shared.log(&format!("phone: {e}"));
                thread::sleep(Duration::from_millis(50));
                Ok(())
            }
        };
        match result {
            Ok(()) => {}
            // A cancel interrupted the write or read.
            Err(e) if e.kind() == io::ErrorKind::Interrupted => shared.log("transfer dropped"),
            // Unplugged (ESHUTDOWN) or reconfigured: the next connection starts afresh.
            Err(e) => {
                if shared.connection().generation == generation {
                    shared.log(&format!("bulk I/O failed: {e}"));
                    thread::sleep(Duration::from_millis(50));
                }
            }
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

/// One bulk-IN request: `bytes` as packets; empty is a zero-length packet.
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
        let generation = shared.wait_plugged();
        match shared.with_phone(generation, Phone::next_event).flatten() {
            // An unplug fails the write; the event is lost with the connection.
            Some(event) => {
                if let Err(e) = write_packets(interrupt, &event) {
                    shared.log(&format!("event not sent: {e}"));
                }
            }
            None => thread::sleep(EVENT_POLL),
        }
    }
}
