//! Opens the MTP device through a transport backend and runs raw transactions
//! with hand-encoded containers, printing every `read_phase` result, so that the
//! phase semantics can be checked on real USB:
//!
//!   cargo run --example raw_probe [--features libusb] -- [--backend nusb|libusb] [--device SERIAL] [--objects]
//!
//! OpenSession and GetDeviceInfo always; with `--objects` also GetStorageIDs,
//! GetObjectHandles on the first storage's root and GetObject of every file
//! there (each data phase's length checked against its container header).

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
}

fn parse_args() -> Result<Options, String> {
    let mut options = Options {
        backend: Backend::Nusb,
        selector: DeviceSelector::Only,
        objects: false,
        compare: None,
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
    let opened = transport::open_device_with(options.backend, &options.selector)
        .map_err(|e| e.to_string())?;
    let summary = &opened.summary;
    println!(
        "opened {} via {:?}: interface {} ({} by {:?}), {}, speed {}",
        summary.describe(),
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
            return Err(format!(
                "extra read_phase after the response returned {other:?}"
            ));
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
                let (object_info, _) = transact(
                    transport,
                    "GetObjectInfo",
                    0x1008,
                    transaction,
                    &[handle],
                    true,
                )?;
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
                let (object, response) =
                    transact(transport, "GetObject", 0x1009, transaction, &[handle], true)?;
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
                    "    object 0x{handle:08x} {name:?}: ObjectInfo size {size}, received {} bytes: {verdict}",
                    object.len()
                );
            }
        }
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
