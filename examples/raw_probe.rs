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

use mtpull::ptp::HEADER_LEN;
use mtpull::ptp::{
    Codec, ContainerKind, DeviceInfo, Header, Message, ObjectFormat, ObjectInfo, OperationCode, Reader,
    ResponseCode,
};
use mtpull::transport::{self, Backend, DeviceSelector, Transport, TransportError};

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

/// The library's encoding of a command container.
fn command(code: OperationCode, transaction: u32, params: &[u32]) -> Vec<u8> {
    Message::command(code.0, transaction, params).encode()
}

/// A container's header, decoded by the library, and the bytes after it.
struct Container {
    header: Header,
    payload: Vec<u8>,
}

fn decode(bytes: &[u8]) -> Result<Container, String> {
    let header = Header::decode(bytes).map_err(|e| format!("{} bytes: {e}", bytes.len()))?;
    Ok(Container {
        header,
        payload: bytes[HEADER_LEN..].to_vec(),
    })
}

/// Decodes a response container and prints it.
fn response(bytes: &[u8]) -> Result<Message, String> {
    let response = Message::decode(bytes).map_err(|e| format!("{} bytes: {e}", bytes.len()))?;
    if response.kind != ContainerKind::Response {
        return Err(format!(
            "expected a response container, got a {:?}",
            response.kind
        ));
    }
    println!(
        "    response: code 0x{:04x} ({}), transaction {}, params {:x?}",
        response.code,
        ResponseCode(response.code),
        response.transaction_id,
        response.params
    );
    Ok(response)
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
/// the response.
fn transact(
    transport: &mut dyn Transport,
    code: OperationCode,
    transaction: u32,
    params: &[u32],
    expect_data: bool,
) -> Result<(Vec<u8>, Message), String> {
    println!(
        "{code} (0x{:04x}, transaction {transaction}, params {params:x?})",
        code.0
    );
    transport
        .write_phase(&command(code, transaction, params))
        .map_err(|e| e.to_string())?;
    transport.end_write_phase().map_err(|e| e.to_string())?;
    let mut data = Vec::new();
    let mut first = read_phase(transport, "phase 1").map_err(|e| e.to_string())?;
    if expect_data && decode(&first)?.header.kind == ContainerKind::Data {
        let Container { header, payload } = decode(&first)?;
        println!(
            "    data container: length field {} ({}), code 0x{:04x}, transaction {}; {} bytes arrived",
            header.length,
            if header.length as usize == first.len() {
                "matches"
            } else {
                "DOES NOT MATCH"
            },
            header.code,
            header.transaction_id,
            first.len()
        );
        let declared = header.length as usize;
        if first.len() > declared && declared >= HEADER_LEN {
            // The device sent no zero-length packet: the response ran on.
            println!("    NO PHASE END after the data: the response followed in the same phase");
            let response = first.split_off(declared);
            data = first[HEADER_LEN..].to_vec();
            first = response;
        } else {
            data = payload;
            first = read_phase(transport, "phase 2").map_err(|e| e.to_string())?;
        }
    }
    Ok((data, response(&first)?))
}

/// Sends a command, a data phase (`payload`), and reads the response.
fn send(
    transport: &mut dyn Transport,
    code: OperationCode,
    transaction: u32,
    params: &[u32],
    payload: &[u8],
) -> Result<Message, TransportError> {
    println!(
        "{code} (0x{:04x}, transaction {transaction}, params {params:x?}) with {} data bytes",
        code.0,
        payload.len()
    );
    let step =
        |what: &str, result: Result<(), TransportError>| result.inspect_err(|e| println!("    {what}: {e}"));
    step(
        "command phase",
        transport.write_phase(&command(code, transaction, params)),
    )?;
    step("end of command phase", transport.end_write_phase())?;
    let mut header = Vec::with_capacity(HEADER_LEN);
    Header::for_data(code.0, transaction, payload.len() as u64).encode(&mut header);
    step(
        "data phase",
        transport
            .write_phase(&header)
            .and_then(|()| transport.write_phase(payload)),
    )?;
    step("end of data phase", transport.end_write_phase())?;
    let bytes = read_phase(transport, "response phase")?;
    response(&bytes).map_err(TransportError::Other)
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
    let info = ObjectInfo {
        format: ObjectFormat::UNDEFINED,
        compressed_size: size,
        filename: name.to_owned(),
        ..ObjectInfo::default()
    }
    .to_bytes();
    let outcome = send(
        transport,
        OperationCode::SEND_OBJECT_INFO,
        *transaction,
        &[0x0001_0001, 0xFFFF_FFFF],
        &info,
    )
    .and_then(|_| {
        *transaction += 1;
        send(transport, OperationCode::SEND_OBJECT, *transaction, &[], &content)
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

/// The u32 array (count, then elements) a data phase carries.
fn u32_array(payload: &[u8]) -> Vec<u32> {
    Reader::new(payload).u32_array("array").unwrap_or_default()
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
        summary.usb.speed.map_or("unknown".into(), |s| s.to_string())
    );
    let mut transport = opened.transport;
    let transport = transport.as_mut();

    let (_, opened_session) = transact(transport, OperationCode::OPEN_SESSION, 1, &[1], false)?;
    let opened = ResponseCode(opened_session.code);
    if opened != ResponseCode::OK && opened != ResponseCode::SESSION_ALREADY_OPEN {
        return Err("OpenSession failed".into());
    }
    let (info, _) = transact(transport, OperationCode::GET_DEVICE_INFO, 2, &[], true)?;
    match DeviceInfo::decode(&info) {
        Ok(info) => println!(
            "    DeviceInfo: manufacturer {:?}, model {:?}",
            info.manufacturer, info.model
        ),
        Err(e) => println!("    DeviceInfo unreadable: {e}"),
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
        let (storages, _) = transact(transport, OperationCode::GET_STORAGE_IDS, transaction, &[], true)?;
        transaction += 1;
        let storages = u32_array(&storages);
        println!("    storages: {storages:x?}");
        if let Some(&storage) = storages.first() {
            let (handles, _) = transact(
                transport,
                OperationCode::GET_OBJECT_HANDLES,
                transaction,
                &[storage, 0, 0xFFFF_FFFF],
                true,
            )?;
            transaction += 1;
            for handle in u32_array(&handles) {
                let (object_info, _) = transact(
                    transport,
                    OperationCode::GET_OBJECT_INFO,
                    transaction,
                    &[handle],
                    true,
                )?;
                transaction += 1;
                let info = ObjectInfo::decode(&object_info).map_err(|e| format!("ObjectInfo: {e}"))?;
                let size = info.compressed_size;
                if info.format.is_folder() {
                    println!("    handle 0x{handle:08x} is a folder");
                    continue;
                }
                let started = std::time::Instant::now();
                let (object, response) =
                    transact(transport, OperationCode::GET_OBJECT, transaction, &[handle], true)?;
                let elapsed = started.elapsed();
                transaction += 1;
                let name = info.filename;
                let verdict = match &options.compare {
                    _ if object.len() != size as usize || ResponseCode(response.code) != ResponseCode::OK => {
                        "WRONG SIZE"
                    }
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
            OperationCode::GET_OBJECT_HANDLES,
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
                Some(n) => match Message::decode(&event[..n]) {
                    Ok(event) => println!(
                        "    event: {n} bytes, {:?}, code 0x{:04x}, params {:x?}",
                        event.kind, event.code, event.params
                    ),
                    Err(e) => println!("    event: {n} bytes {:02x?}: {e}", &event[..n]),
                },
            }
        }
    }
    for path in &options.uploads {
        upload(transport, path, &mut transaction)?;
        transact(transport, OperationCode::GET_STORAGE_IDS, transaction, &[], true)?;
        transaction += 1;
    }
    transact(transport, OperationCode::CLOSE_SESSION, transaction, &[], false)?;
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
