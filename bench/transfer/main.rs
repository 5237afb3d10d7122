//! Copy rate off the simulated phone against a plain copy of the same bytes.
//!
//! A file of `MTPULL_BENCH_MIB` MiB (default 1024) is served by the simulator
//! from a folder (read from disk at transfer time, as a phone reads its
//! flash) and backed up with `pull::backup` — listing, GetObject /
//! GetPartialObject64 through the real codec and session, an XXH3-128 hash of
//! every byte computed inline on the copying thread, fsync, filing and the
//! manifest. The peers copy the same file on the same filesystem and fsync it:
//! `std::fs::copy` (what `cp` does; the kernel copies, no bytes pass through
//! the process) and a read/write loop with a 1 MiB buffer (bytes through the
//! process, no protocol, no hash). The baseline of issue 16's target reads the
//! same bytes off the same simulated phone, through the same link, with the
//! plainest client: a GetObject whose data phase is read 1 MiB at a time into
//! a file (the simulated phone's own work — it runs in this process, on the same
//! cores — is in it as in the backup's time). Each is run `MTPULL_BENCH_ROUNDS` times
//! (default 9, as bench/transfer/run.sh and the README's table), interleaved;
//! best and median wall times and the median CPU time are reported.
//!
//! Run: `cargo bench --bench transfer` (or bench/transfer/run.sh for this and
//! the 5 GiB test).

use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use mtpull::ptp::{HEADER_LEN, Message, ObjectHandle, OperationCode, ResponseCode};
use mtpull::pull::{BackupOptions, Event, backup};
use mtpull::session::Session;
use mtpull::sim::{Profile, SimConfig, SimDevice, StorageSpec, generated_bytes};
use mtpull::transport::Transport;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn write_source(path: &Path, size: u64) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut file = File::create(path).unwrap();
    let mut buf = vec![0u8; 1 << 20];
    let mut offset = 0;
    while offset < size {
        let n = (size - offset).min(buf.len() as u64) as usize;
        generated_bytes(1, offset, &mut buf[..n]);
        file.write_all(&buf[..n]).unwrap();
        offset += n as u64;
    }
    file.sync_all().unwrap();
}

fn plain_copy(src: &Path, dst: &Path) {
    fs::copy(src, dst).unwrap();
    File::open(dst).unwrap().sync_all().unwrap();
}

fn loop_copy(src: &Path, dst: &Path) {
    let mut input = File::open(src).unwrap();
    let mut output = File::create(dst).unwrap();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = input.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        output.write_all(&buf[..n]).unwrap();
    }
    output.sync_all().unwrap();
}

fn mtpull_backup(phone: &SimDevice, dest: &Path, size: u64) {
    let mut session = Session::open(Box::new(phone.connect())).unwrap();
    let report = backup(
        &mut session,
        dest,
        &BackupOptions::default(),
        &AtomicBool::new(false),
        &mut |_: &Event<'_>| {},
    );
    assert!(report.succeeded(), "{:?}", report.stopped);
    assert_eq!(report.summary.bytes_copied, size);
}

/// CPU time of the whole process (every thread), user + system.
fn cpu_time() -> Duration {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::uninit();
    // SAFETY: getrusage fills the struct it is given.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr());
        usage.assume_init()
    };
    let time = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    time(usage.ru_utime) + time(usage.ru_stime)
}

/// Wall and CPU time of one run.
#[derive(Clone, Copy)]
struct Cost {
    wall: Duration,
    cpu: Duration,
}

fn timed(run: impl FnOnce()) -> Cost {
    let (start, cpu) = (Instant::now(), cpu_time());
    run();
    Cost {
        wall: start.elapsed(),
        cpu: cpu_time() - cpu,
    }
}

/// The best and the median wall time, and the median CPU time.
struct Summary {
    best: Duration,
    median: Duration,
    cpu: Duration,
}

fn summarize(costs: &[Cost]) -> Summary {
    let sorted = |mut times: Vec<Duration>| {
        times.sort();
        times
    };
    let wall = sorted(costs.iter().map(|c| c.wall).collect());
    let cpu = sorted(costs.iter().map(|c| c.cpu).collect());
    Summary {
        best: wall[0],
        median: wall[wall.len() / 2],
        cpu: cpu[cpu.len() / 2],
    }
}

/// How many cores this process gets right now (1.0 to 2.0 on two cores):
/// the same spin on one thread, then on two at once. On a shared machine the
/// figures only mean something beside this: the peers and the backup compete
/// with whatever else runs.
fn cores_free_now() -> f64 {
    fn spin() -> u64 {
        let mut x = 0u64;
        for i in 0..300_000_000u64 {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(i);
        }
        x
    }
    let start = Instant::now();
    std::hint::black_box(spin());
    let one = start.elapsed();
    let start = Instant::now();
    let other = std::thread::spawn(spin);
    std::hint::black_box(spin());
    std::hint::black_box(other.join().unwrap());
    2.0 * one.as_secs_f64() / start.elapsed().as_secs_f64()
}

/// The protocol alone: GetObject through the session into a file, fsynced
/// (no hash, no filing, no manifest).
fn session_get_object(phone: &SimDevice, dst: &Path) {
    let mut session = Session::open(Box::new(phone.connect())).unwrap();
    let handle = the_file(&mut session);
    let mut file = File::create(dst).unwrap();
    session.get_object(handle, &mut file).unwrap();
    file.sync_all().unwrap();
}

/// The one file on the phone.
fn the_file(session: &mut Session) -> ObjectHandle {
    let storage = session.storage_ids().unwrap()[0];
    session
        .walk(storage, None)
        .unwrap()
        .into_iter()
        .find(|e| !e.is_folder())
        .unwrap()
        .handle
}

/// The plain copy from the device: the same bytes off the same simulated phone,
/// through the same link and transport (its packets, its phase reader), read 1 MiB
/// at a time and written to a file, fsynced — a minimal client (OpenSession, one
/// GetObject, containers taken apart by hand), with none of mtpull's session,
/// hashing, filing or manifest. The baseline of issue 16's 5% target.
fn device_loop_copy(phone: &SimDevice, handle: ObjectHandle, dst: &Path) {
    let mut link = phone.connect();
    let mut buf = vec![0u8; 1 << 20];
    let command = |link: &mut dyn Transport, code: OperationCode, transaction: u32, params: &[u32]| {
        link.write_phase(&Message::command(code.0, transaction, params).encode())
            .unwrap();
        link.end_write_phase().unwrap();
    };
    command(&mut link, OperationCode::OPEN_SESSION, 0, &[1]);
    expect_ok(&mut link, &mut buf);
    command(&mut link, OperationCode::GET_OBJECT, 1, &[handle.0]);
    let mut output = File::create(dst).unwrap();
    // The data container's header comes first, on its own: then the file's bytes.
    let mut header = 0;
    loop {
        let n = link.read_phase(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        let skip = (HEADER_LEN - header).min(n);
        header += skip;
        output.write_all(&buf[skip..n]).unwrap();
    }
    expect_ok(&mut link, &mut buf);
    output.sync_all().unwrap();
}

/// Reads a response phase and checks it says OK.
fn expect_ok(link: &mut dyn Transport, buf: &mut [u8]) {
    let mut response = Vec::new();
    loop {
        let n = link.read_phase(buf).unwrap();
        if n == 0 {
            break;
        }
        response.extend_from_slice(&buf[..n]);
    }
    let response = Message::decode(&response).unwrap();
    assert_eq!(response.code, ResponseCode::OK.0, "{response:?}");
}

fn peak_rss_kib() -> u64 {
    fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn main() {
    if std::env::args().any(|arg| arg == "--list") {
        return; // `cargo test --benches` asks for a list; there are no unit benches.
    }
    let size = env_u64("MTPULL_BENCH_MIB", 1024) << 20;
    let rounds = env_u64("MTPULL_BENCH_ROUNDS", 9).max(1);
    let work =
        tempfile::tempdir_in(std::env::var("MTPULL_BENCH_DIR").unwrap_or_else(|_| "target".into())).unwrap();
    let phone_root = work.path().join("phone");
    let source = phone_root.join("DCIM/Camera/VID_20240526_101500.mp4");
    write_source(&source, size);
    // Handles kept across sessions: the plain copy uses the one the session found.
    let phone = SimConfig::new(Profile::Android).stable_handles().build();
    phone
        .serve_folder(StorageSpec::new("Internal shared storage"), &phone_root, false)
        .unwrap();

    let handle = the_file(&mut Session::open(Box::new(phone.connect())).unwrap());

    let rss_before = peak_rss_kib();
    let names = [
        "std::fs::copy + fsync",
        "read/write loop + fsync",
        "device read/write loop + fsync",
        "session GetObject -> file + fsync",
        "mtpull backup (hash, file, record)",
    ];
    let mut costs: [Vec<Cost>; 5] = Default::default();
    // MTPULL_BENCH_ONLY=N runs method N alone (0-4, in the table's order), e.g. under
    // `valgrind --tool=callgrind` for instruction counts, which the load does not change.
    let only: Option<usize> = std::env::var("MTPULL_BENCH_ONLY")
        .ok()
        .and_then(|v| v.parse().ok());
    for round in 0..rounds {
        let out = work.path().join(format!("out{round}"));
        fs::create_dir_all(&out).unwrap();
        // Each round starts with the next method, so that none always runs
        // right after the others have filled the page cache.
        for step in 0..costs.len() {
            let method = (step + round as usize) % costs.len();
            if only.is_some_and(|only| only != method) {
                continue;
            }
            let cost = match method {
                0 => timed(|| plain_copy(&source, &out.join("copy.mp4"))),
                1 => timed(|| loop_copy(&source, &out.join("loop.mp4"))),
                2 => timed(|| device_loop_copy(&phone, handle, &out.join("device.mp4"))),
                3 => timed(|| session_get_object(&phone, &out.join("session.mp4"))),
                _ => timed(|| mtpull_backup(&phone, &out.join("backup"), size)),
            };
            costs[method].push(cost);
        }
        fs::remove_dir_all(&out).unwrap();
    }
    let rss_after = peak_rss_kib();

    let rate = |t: Duration| size as f64 / 1e6 / t.as_secs_f64();
    if let Some(only) = only {
        let summary = summarize(&costs[only]);
        println!(
            "{}: best {:.0} MB/s, median {:.0} MB/s, median cpu {:.2}s",
            names[only],
            rate(summary.best),
            rate(summary.median),
            summary.cpu.as_secs_f64()
        );
        return;
    }
    let summaries: Vec<Summary> = costs.iter().map(|c| summarize(c)).collect();
    println!(
        "transfer benchmark: {} MiB, {rounds} rounds (in {})",
        size >> 20,
        work.path().display()
    );
    println!(
        "  cores free for this process (of 2), measured now: {:.1}",
        cores_free_now()
    );
    println!(
        "  {:36} {:>10} {:>12} {:>11}",
        "", "best MB/s", "median MB/s", "median cpu"
    );
    for (name, summary) in names.iter().zip(&summaries) {
        println!(
            "  {name:36} {:10.0} {:12.0} {:>10.2}s",
            rate(summary.best),
            rate(summary.median),
            summary.cpu.as_secs_f64()
        );
    }
    let over = |a: Duration, b: Duration| (a.as_secs_f64() / b.as_secs_f64() - 1.0) * 100.0;
    for (peer, compared) in [(1, 2..5), (2, 3..5)] {
        for (name, summary) in names[compared.clone()].iter().zip(&summaries[compared]) {
            let base = &summaries[peer];
            println!(
                "  {name} vs {}: best {:+.1}%, median {:+.1}%, cpu {:+.1}%",
                names[peer],
                over(summary.best, base.best),
                over(summary.median, base.median),
                over(summary.cpu, base.cpu)
            );
        }
    }
    println!("  peak RSS (VmHWM): {rss_before} KiB before the runs, {rss_after} KiB after");
}
