//! Copy rate off the simulated phone against a plain copy of the same bytes.
//!
//! A file of `MTPULL_BENCH_MIB` MiB (default 1024) is served by the simulator
//! from a folder (read from disk at transfer time, as a phone reads its
//! flash) and backed up with `pull::backup` — listing, GetObject /
//! GetPartialObject64 through the real codec and session, BLAKE3 of every
//! byte, fsync, filing and the manifest. The peers copy the same file on the
//! same filesystem and fsync it: `std::fs::copy` (what `cp` does; the kernel
//! copies, no bytes pass through the process) and a read/write loop with a
//! 1 MiB buffer (bytes through the process, no protocol, no hash). Each is
//! run `MTPULL_BENCH_ROUNDS` times (default 5), interleaved; medians are reported.
//!
//! Run: `cargo bench --bench transfer` (or bench/transfer/run.sh for this and
//! the 5 GiB test).

use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use mtpull::pull::{BackupOptions, Event, backup};
use mtpull::session::Session;
use mtpull::sim::{Profile, SimDevice, StorageSpec, generated_bytes};

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

/// Medians of wall and CPU time, each taken on its own.
fn median(costs: &[Cost]) -> Cost {
    let pick = |mut times: Vec<Duration>| {
        times.sort();
        times[times.len() / 2]
    };
    Cost {
        wall: pick(costs.iter().map(|c| c.wall).collect()),
        cpu: pick(costs.iter().map(|c| c.cpu).collect()),
    }
}

/// The protocol alone: GetObject through the session into a file, fsynced
/// (no hash, no filing, no manifest).
fn session_get_object(phone: &SimDevice, dst: &Path) {
    let mut session = Session::open(Box::new(phone.connect())).unwrap();
    let storage = session.storage_ids().unwrap()[0];
    let entry = session
        .walk(storage, None)
        .unwrap()
        .into_iter()
        .find(|e| !e.is_folder())
        .unwrap();
    let mut file = File::create(dst).unwrap();
    session.get_object(entry.handle, &mut file).unwrap();
    file.sync_all().unwrap();
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
    let rounds = env_u64("MTPULL_BENCH_ROUNDS", 5).max(1);
    let work =
        tempfile::tempdir_in(std::env::var("MTPULL_BENCH_DIR").unwrap_or_else(|_| "target".into())).unwrap();
    let phone_root = work.path().join("phone");
    let source = phone_root.join("DCIM/Camera/VID_20240526_101500.mp4");
    write_source(&source, size);
    let phone = SimDevice::new(Profile::Android);
    phone
        .serve_folder(StorageSpec::new("Internal shared storage"), &phone_root, false)
        .unwrap();

    let rss_before = peak_rss_kib();
    let names = [
        "std::fs::copy + fsync",
        "read/write loop + fsync",
        "session GetObject -> file + fsync",
        "mtpull backup (hash, file, record)",
    ];
    let mut costs: [Vec<Cost>; 4] = Default::default();
    for round in 0..rounds {
        let out = work.path().join(format!("out{round}"));
        fs::create_dir_all(&out).unwrap();
        costs[0].push(timed(|| plain_copy(&source, &out.join("copy.mp4"))));
        costs[1].push(timed(|| loop_copy(&source, &out.join("loop.mp4"))));
        costs[2].push(timed(|| session_get_object(&phone, &out.join("session.mp4"))));
        let dest = out.join("backup");
        costs[3].push(timed(|| mtpull_backup(&phone, &dest, size)));
        fs::remove_dir_all(&out).unwrap();
    }
    let rss_after = peak_rss_kib();

    let rate = |t: Duration| size as f64 / 1e6 / t.as_secs_f64();
    let medians: Vec<Cost> = costs.iter().map(|c| median(c)).collect();
    println!(
        "transfer benchmark: {} MiB, {rounds} rounds, medians (in {})",
        size >> 20,
        work.path().display()
    );
    for (name, cost) in names.iter().zip(&medians) {
        println!(
            "  {name:36} {:8.1} MB/s  wall {:.2} s  cpu {:.2} s",
            rate(cost.wall),
            cost.wall.as_secs_f64(),
            cost.cpu.as_secs_f64()
        );
    }
    let loop_copy = medians[1];
    for (name, cost) in names.iter().zip(&medians).skip(2) {
        let over = |a: Duration, b: Duration| (a.as_secs_f64() / b.as_secs_f64() - 1.0) * 100.0;
        println!(
            "  {name} vs read/write loop: wall {:+.1}%, cpu {:+.1}%",
            over(cost.wall, loop_copy.wall),
            over(cost.cpu, loop_copy.cpu)
        );
    }
    println!("  peak RSS (VmHWM): {rss_before} KiB before the runs, {rss_after} KiB after");
}
