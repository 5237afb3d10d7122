//! Opens the MTP device through a transport backend and runs raw transactions
//! with hand-encoded containers, printing every `read_phase` result, so that the
//! phase semantics can be checked on real USB (the QEMU guest harness):
//!
//!   cargo build --example raw_probe [--features libusb]
//!   raw_probe [--backend nusb|libusb] [--device SERIAL] [--objects [--compare DIR]]
//!             [--upload FILE]... [--events SECS] [--hold SECS]
//!
//! Always OpenSession and GetDeviceInfo, one more read that must time out (the
//! phase end came exactly once), Get Device Status and a short event wait, then
//! CloseSession. `--objects`: GetStorageIDs, GetObjectHandles on the first
//! storage's root and GetObject of every file there, each compared with the
//! file under DIR. `--upload`: SendObjectInfo + SendObject of FILE to the root;
//! on a failure, Cancel and clear halt, then a transaction to show it recovered.
//! `--events`: list the root and print the events that arrive. `--hold`: keep
//! the device claimed for a while first (to see what a second opener is told).

use std::process::ExitCode;
use std::time::Duration;

use mtpull::transport::{self, Backend, DeviceSelector, Transport, TransportError};

const COMMAND: u16 = 1;
const DATA: u16 = 2;
const RESPONSE: u16 = 3;
const HEADER_LEN: usize = 12;

struct Options {
    backend: Backend,
    selector: DeviceSelector,
    objects: bool,
    /// The folder the device serves, to compare each object with its file.
    compare: Option<std::path::PathBuf>,
    /// Files to send to the storage root (SendObjectInfo + SendObject).
    uploads: Vec<std::path::PathBuf>,
    /// Seconds to keep the device open before talking to it.
    hold: u64,
    /// Seconds to wait for events after listing the storage root.
    events: u64,
}

fn parse_args() -> Result<Options, String> {
    let mut options = Options {
        backend: Backend::Nusb,
        selector: DeviceSelector::Only,
        objects: false,
        compare: None,
        uploads: Vec::new(),
        hold: 0,
        events: 0,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--backend" => {
                options.backend = match args.next().as_deref() {
                    Some("nusb") => Backend::Nusb,
                    #[cfg(feature = "libusb")]
                    Some("libusb") => Backend::Libusb,
                    other => {
                        return Err(format!(
                            "unknown backend {other:?} (libusb needs --features libusb)"
                        ));
                    }
                }
            }
            "--device" => options.selector = DeviceSelector::from_arg(args.next().as_deref()),
            "--objects" => options.objects = true,
            "--compare" => options.compare = args.next().map(Into::into),
            "--upload" => options.uploads.extend(args.next().map(Into::into)),
            "--events" => {
                options.events = args
                    .next()
                    .and_then(|s| s.parse().ok())
                    .ok_or("--events needs seconds")?
            }
            "--hold" => {
                options.hold = args
                    .next()
                    .and_then(|s| s.parse().ok())
                    .ok_or("--hold needs seconds")?
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(options)
}

fn command(code: u16, transaction: u32, params: &[u32]) -> Vec<u8> {
    let length = u32::try_from(HEADER_LEN + 4 * params.len()).expect("at most five parameters");
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&length.to_le_bytes());
    bytes.extend_from_slice(&COMMAND.to_le_bytes());
    bytes.extend_from_slice(&code.to_le_bytes());
    bytes.extend_from_slice(&transaction.to_le_bytes());
    for param in params {
        bytes.extend_from_slice(&param.to_le_bytes());
    }
    bytes
}

struct Container {
    length: u32,
    kind: u16,
    code: u16,
    transaction: u32,
    payload: Vec<u8>,
}

fn decode(bytes: &[u8]) -> Result<Container, String> {
    let header: &[u8; HEADER_LEN] = bytes
        .first_chunk()
        .ok_or_else(|| format!("{} bytes: shorter than a container header", bytes.len()))?;
    Ok(Container {
        length: u32::from_le_bytes([header[0], header[1], header[2], header[3]]),
        kind: u16::from_le_bytes([header[4], header[5]]),
        code: u16::from_le_bytes([header[6], header[7]]),
        transaction: u32::from_le_bytes([header[8], header[9], header[10], header[11]]),
        payload: bytes[HEADER_LEN..].to_vec(),
    })
}

/// Reads one phase to its `Ok(0)`, printing how it came back.
fn read_phase(transport: &mut dyn Transport, what: &str) -> Result<Vec<u8>, TransportError> {
    let mut phase = Vec::new();
    let mut buf = vec![0; 64 * 1024];
    let mut calls = 0;
    loop {
        calls += 1;
        match transport.read_phase(&mut buf)? {
            0 => break,
            n => phase.extend_from_slice(&buf[..n]),
        }
    }
    println!(
        "    {what}: {} bytes in {} read_phase calls, the last returning Ok(0)",
        phase.len(),
        calls
    );
    Ok(phase)
}

/// One transaction with an optional data-in phase; returns the data payload and
/// the response container.
fn transact(
    transport: &mut dyn Transport,
    name: &str,
    code: u16,
    transaction: u32,
    params: &[u32],
    expect_data: bool,
) -> Result<(Vec<u8>, Container), String> {
    println!("{name} (0x{code:04x}, transaction {transaction}, params {params:x?})");
    transport
        .write_phase(&command(code, transaction, params))
        .map_err(|e| e.to_string())?;
    transport.end_write_phase().map_err(|e| e.to_string())?;
    let mut data = Vec::new();
    let mut first = read_phase(transport, "phase 1").map_err(|e| e.to_string())?;
    if expect_data && decode(&first)?.kind == DATA {
        let container = decode(&first)?;
        println!(
            "    data container: length field {} ({}), code 0x{:04x}, transaction {}; {} bytes arrived",
            container.length,
            if container.length as usize == first.len() {
                "matches"
            } else {
                "DOES NOT MATCH"
            },
            container.code,
            container.transaction,
            first.len()
        );
        let declared = container.length as usize;
        if first.len() > declared && declared >= HEADER_LEN {
            // The device sent no zero-length packet: the response ran on.
            println!("    NO PHASE END after the data: the response followed in the same phase");
            let response = first.split_off(declared);
            data = first[HEADER_LEN..].to_vec();
            first = response;
        } else {
            data = container.payload;
            first = read_phase(transport, "phase 2").map_err(|e| e.to_string())?;
        }
    }
    let response = decode(&first)?;
    if response.kind != RESPONSE {
        return Err(format!(
            "expected a response container, got type {}",
            response.kind
        ));
    }
    let params: Vec<u32> = response
        .payload
        .chunks_exact(4)
        .map(|p| u32::from_le_bytes([p[0], p[1], p[2], p[3]]))
        .collect();
    println!(
        "    response: code 0x{:04x} ({}), transaction {}, params {params:x?}",
        response.code,
        response_name(response.code),
        response.transaction
    );
    Ok((data, response))
}

fn data_container(code: u16, transaction: u32, payload_len: usize) -> Vec<u8> {
    let length = u32::try_from(HEADER_LEN + payload_len).unwrap_or(u32::MAX);
    let mut header = Vec::new();
    header.extend_from_slice(&length.to_le_bytes());
    header.extend_from_slice(&DATA.to_le_bytes());
    header.extend_from_slice(&code.to_le_bytes());
    header.extend_from_slice(&transaction.to_le_bytes());
    header
}

fn ptp_string(text: &str) -> Vec<u8> {
    let units: Vec<u16> = text.encode_utf16().chain([0]).collect();
    let mut bytes = vec![u8::try_from(units.len()).expect("short name")];
    for unit in units {
        bytes.extend_from_slice(&unit.to_le_bytes());
    }
    bytes
}

/// An ObjectInfo dataset for a plain file in the storage root.
fn object_info(name: &str, size: u32) -> Vec<u8> {
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&0u32.to_le_bytes()); // StorageID
    bytes.extend_from_slice(&0x3000u16.to_le_bytes()); // ObjectFormat: undefined
    bytes.extend_from_slice(&0u16.to_le_bytes()); // ProtectionStatus
    bytes.extend_from_slice(&size.to_le_bytes()); // ObjectCompressedSize
    bytes.extend_from_slice(&0u16.to_le_bytes()); // ThumbFormat
    bytes.extend_from_slice(&[0; 4 * 6]); // thumb size, thumb and image dimensions, bit depth
    bytes.extend_from_slice(&0u32.to_le_bytes()); // ParentObject
    bytes.extend_from_slice(&0u16.to_le_bytes()); // AssociationType
    bytes.extend_from_slice(&[0; 8]); // AssociationDesc, SequenceNumber
    bytes.extend_from_slice(&ptp_string(name));
    bytes.extend_from_slice(&[0, 0, 0]); // DateCreated, DateModified, Keywords: empty
    bytes
}

/// Sends a command, a data phase (`payload`), and reads the response.
fn send(
    transport: &mut dyn Transport,
    name: &str,
    code: u16,
    transaction: u32,
    params: &[u32],
    payload: &[u8],
) -> Result<Container, TransportError> {
    println!(
        "{name} (0x{code:04x}, transaction {transaction}, params {params:x?}) with {} data bytes",
        payload.len()
    );
    let step =
        |what: &str, result: Result<(), TransportError>| result.inspect_err(|e| println!("    {what}: {e}"));
    step(
        "command phase",
        transport.write_phase(&command(code, transaction, params)),
    )?;
    step("end of command phase", transport.end_write_phase())?;
    let header = data_container(code, transaction, payload.len());
    step(
        "data phase",
        transport
            .write_phase(&header)
            .and_then(|()| transport.write_phase(payload)),
    )?;
    step("end of data phase", transport.end_write_phase())?;
    let response = read_phase(transport, "response phase")?;
    let response = decode(&response).map_err(TransportError::Other)?;
    let params: Vec<u32> = response
        .payload
        .chunks_exact(4)
        .map(|p| u32::from_le_bytes([p[0], p[1], p[2], p[3]]))
        .collect();
    println!(
        "    response: code 0x{:04x} ({}), transaction {}, params {params:x?}",
        response.code,
        response_name(response.code),
        response.transaction
    );
    Ok(response)
}

/// SendObjectInfo + SendObject of `path`; on a transport error, the recovery
/// a session would do: Cancel (class request), clear halt.
fn upload(
    transport: &mut dyn Transport,
    path: &std::path::Path,
    transaction: &mut u32,
) -> Result<(), String> {
    let content = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let name = path.file_name().and_then(|n| n.to_str()).ok_or("file name")?;
    let size = u32::try_from(content.len()).map_err(|_| "file too large for this probe")?;
    let info = object_info(name, size);
    let outcome = send(
        transport,
        "SendObjectInfo",
        0x100C,
        *transaction,
        &[0x0001_0001, 0xFFFF_FFFF],
        &info,
    )
    .and_then(|_| {
        *transaction += 1;
        send(transport, "SendObject", 0x100D, *transaction, &[], &content)
    });
    let failed_transaction = *transaction;
    *transaction += 1;
    match outcome {
        Ok(_) => Ok(()),
        Err(error) => {
            println!(
                "    failed: {error}; recovering: Cancel (0x64) for transaction {failed_transaction}, then clear halt"
            );
            transport
                .cancel_transaction(failed_transaction)
                .map_err(|e| format!("cancel: {e}"))?;
            transport.clear_halt().map_err(|e| format!("clear halt: {e}"))?;
            println!("    recovered");
            Ok(())
        }
    }
}

fn response_name(code: u16) -> &'static str {
    match code {
        0x2001 => "OK",
        0x2002 => "General Error",
        0x2003 => "Session Not Open",
        0x2005 => "Operation Not Supported",
        0x2009 => "Invalid ObjectHandle",
        0x201E => "Session Already Open",
        _ => "other",
    }
}

fn u32_array(payload: &[u8]) -> Vec<u32> {
    payload
        .get(4..)
        .unwrap_or_default()
        .chunks_exact(4)
        .map(|p| u32::from_le_bytes([p[0], p[1], p[2], p[3]]))
        .collect()
}

/// DeviceInfo's Manufacturer and Model strings, found by walking the dataset
/// just far enough to print them.
fn device_info_names(payload: &[u8]) -> Option<(String, String)> {
    fn string(bytes: &[u8], at: &mut usize) -> Option<String> {
        let count = usize::from(*bytes.get(*at)?);
        let units: Vec<u16> = bytes
            .get(*at + 1..*at + 1 + 2 * count)?
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .take_while(|&u| u != 0)
            .collect();
        *at += 1 + 2 * count;
        Some(String::from_utf16_lossy(&units))
    }
    fn skip_array(bytes: &[u8], at: &mut usize) -> Option<()> {
        let count = u32::from_le_bytes(bytes.get(*at..*at + 4)?.try_into().ok()?);
        *at += 4 + 2 * usize::try_from(count).ok()?;
        Some(())
    }
    let mut at = 8; // StandardVersion u16, VendorExtensionID u32, VendorExtensionVersion u16
    let _extensions = string(payload, &mut at)?;
    at += 2; // FunctionalMode
    for _ in 0..5 {
        skip_array(payload, &mut at)?; // operations, events, device props, capture and playback formats
    }
    Some((string(payload, &mut at)?, string(payload, &mut at)?))
}

/// ObjectInfo's Filename: the PTP string after the 52 bytes of fixed fields.
fn object_info_name(payload: &[u8]) -> Option<String> {
    let count = usize::from(*payload.get(52)?);
    let units: Vec<u16> = payload
        .get(53..53 + 2 * count)?
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .take_while(|&u| u != 0)
        .collect();
    Some(String::from_utf16_lossy(&units))
}

fn run(options: &Options) -> Result<(), String> {
    let discovery = transport::discover_with(options.backend).map_err(|e| e.to_string())?;
    println!("found {} MTP/PTP device(s):", discovery.devices.len());
    for device in &discovery.devices {
        println!("  {}", device.one_line());
    }
    let opened =
        transport::open_device_with(options.backend, &options.selector).map_err(|e| e.to_string())?;
    let summary = &opened.summary;
    if options.hold > 0 {
        println!("holding the device for {} s", options.hold);
        std::thread::sleep(Duration::from_secs(options.hold));
    }
    println!(
        "opened {} via {:?}: interface {} ({} by {:?}), {}, speed {}",
        summary.one_line(),
        options.backend,
        summary.interface,
        summary.protocol,
        summary.evidence,
        summary
            .endpoints
            .map_or("endpoints unknown".into(), |e| e.to_string()),
        summary.speed.map_or("unknown".into(), |s| s.to_string())
    );
    let mut transport = opened.transport;
    let transport = transport.as_mut();

    let (_, opened_session) = transact(transport, "OpenSession", 0x1002, 1, &[1], false)?;
    if !matches!(opened_session.code, 0x2001 | 0x201E) {
        return Err("OpenSession failed".into());
    }
    let (info, _) = transact(transport, "GetDeviceInfo", 0x1001, 2, &[], true)?;
    if let Some((manufacturer, model)) = device_info_names(&info) {
        println!("    DeviceInfo: manufacturer {manufacturer:?}, model {model:?}");
    }

    // The Ok(0) came exactly once: one more read finds no phase and times out.
    transport.set_timeout(Duration::from_millis(500));
    match transport.read_phase(&mut [0; 512]) {
        Err(TransportError::Timeout(t)) => {
            println!("extra read_phase after the response: timed out after {t:?}, as it must")
        }
        other => {
            return Err(format!("extra read_phase after the response returned {other:?}"));
        }
    }
    transport.set_timeout(transport::DEFAULT_TIMEOUT);

    match transport.device_status() {
        Ok(status) => println!(
            "Get Device Status (class request 0x67): code 0x{:04x}, params {:x?}",
            status.code, status.params
        ),
        Err(e) => println!("Get Device Status (class request 0x67): {e}"),
    }
    let mut event = [0u8; 64];
    match transport.read_event(&mut event, Duration::from_millis(300)) {
        Ok(None) => println!("events: none within 300 ms"),
        Ok(Some(n)) => println!("events: {n} bytes {:02x?}", &event[..n]),
        Err(e) => println!("events: {e}"),
    }

    let mut transaction = 3;
    if options.objects {
        let (storages, _) = transact(transport, "GetStorageIDs", 0x1004, transaction, &[], true)?;
        transaction += 1;
        let storages = u32_array(&storages);
        println!("    storages: {storages:x?}");
        if let Some(&storage) = storages.first() {
            let (handles, _) = transact(
                transport,
                "GetObjectHandles",
                0x1007,
                transaction,
                &[storage, 0, 0xFFFF_FFFF],
                true,
            )?;
            transaction += 1;
            for handle in u32_array(&handles) {
                let (object_info, _) =
                    transact(transport, "GetObjectInfo", 0x1008, transaction, &[handle], true)?;
                transaction += 1;
                let format = object_info
                    .get(4..6)
                    .map_or(0, |f| u16::from_le_bytes([f[0], f[1]]));
                let size = object_info
                    .get(8..12)
                    .map_or(0, |s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]));
                if format == 0x3001 {
                    println!("    handle 0x{handle:08x} is a folder");
                    continue;
                }
                let started = std::time::Instant::now();
                let (object, response) =
                    transact(transport, "GetObject", 0x1009, transaction, &[handle], true)?;
                let elapsed = started.elapsed();
                transaction += 1;
                let name = object_info_name(&object_info).unwrap_or_default();
                let verdict = match &options.compare {
                    _ if object.len() != size as usize || response.code != 0x2001 => "WRONG SIZE",
                    Some(dir) => match std::fs::read(dir.join(&name)) {
                        Ok(file) if file == object => "identical to the file",
                        Ok(_) => "DIFFERS FROM THE FILE",
                        Err(_) => "file not readable here",
                    },
                    None => "complete",
                };
                println!(
                    "    object 0x{handle:08x} {name:?}: ObjectInfo size {size}, received {} bytes in {elapsed:.2?} ({:.1} MB/s): {verdict}",
                    object.len(),
                    object.len() as f64 / elapsed.as_secs_f64() / 1e6
                );
            }
        }
    }
    if options.events > 0 {
        // usb-mtp watches the folders it has listed.
        transact(
            transport,
            "GetObjectHandles",
            0x1007,
            transaction,
            &[0x0001_0001, 0, 0xFFFF_FFFF],
            true,
        )?;
        transaction += 1;
        if let Some(out) = std::env::var_os("VM_OUT") {
            let _ = std::fs::write(std::path::Path::new(&out).join("waiting-for-events"), "");
        }
        println!("waiting {} s for events", options.events);
        let deadline = std::time::Instant::now() + Duration::from_secs(options.events);
        let mut event = [0u8; 64];
        while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
            match transport
                .read_event(&mut event, left)
                .map_err(|e| e.to_string())?
            {
                None => break,
                Some(n) => match decode(&event[..n]) {
                    Ok(c) => println!(
                        "    event: {n} bytes, type {}, code 0x{:04x}, params {:x?}",
                        c.kind,
                        c.code,
                        u32_array(&[[0u8; 4].as_slice(), &c.payload].concat())
                    ),
                    Err(e) => println!("    event: {n} bytes {:02x?}: {e}", &event[..n]),
                },
            }
        }
    }
    for path in &options.uploads {
        upload(transport, path, &mut transaction)?;
        transact(transport, "GetStorageIDs", 0x1004, transaction, &[], true)?;
        transaction += 1;
    }
    transact(transport, "CloseSession", 0x1003, transaction, &[], false)?;
    Ok(())
}

fn main() -> ExitCode {
    let result = parse_args().and_then(|options| run(&options));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("raw_probe: {message}");
            ExitCode::FAILURE
        }
    }
}
