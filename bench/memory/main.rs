//! Peak memory of listing, planning, a dry run and a backup of 10,000 to
//! 100,000 objects on the simulated Android phone, in-process.
//!
//! The phone holds `N / 100` folders of 100 small generated files each
//! (`SimDevice::add_generated_tree`). Each (phase, N) runs in a child process
//! of its own, so that its peak RSS (`VmHWM`) is its own. A counting
//! allocator tags every allocation with who made it: the simulator (building
//! its tree, and everything done inside a transport call, where the simulated
//! phone answers) or mtpull (everything else). The peak RSS includes both;
//! mtpull's own share is its start-up RSS plus the peak of its live heap.
//!
//! Phases (each starts from a fresh process and a fresh simulator):
//! - `simulator`: only the simulated phone is built (its tree and handles);
//! - `listing`: `pull::list_files` (every storage walked into `RemoteFile`s);
//! - `plan`: the listing, then `Plan::new` against an empty manifest;
//! - `dry-run`: `backup --dry-run` into an empty DEST, each line formatted
//!   as the command prints it and written to /dev/null;
//! - `backup`: a real backup into DEST (on tmpfs by default);
//! - `backup-again`: a second real backup into that DEST (nothing new: the
//!   plan is made against a manifest holding every file).
//!
//! Run: `bash bench/memory/run.sh` or `cargo bench --bench memory`;
//! `MTPULL_BENCH_COUNTS=10000,50000,100000` and `MTPULL_BENCH_DIR=/dev/shm`
//! change the sizes and where DEST goes.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};
use std::time::{Duration, Instant};

use mtpull::pull::{BackupOptions, Event, Plan, Selection, backup, list_files};
use mtpull::session::Session;
use mtpull::sim::{Profile, SimDevice, StorageSpec};
use mtpull::transport::{DeviceStatus, Transport, TransportError};

/// Who an allocation is for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Mtpull = 0,
    Simulator = 1,
}

thread_local! {
    static SIDE: Cell<Side> = const { Cell::new(Side::Mtpull) };
}

/// Live bytes and their peak, per side.
static LIVE: [AtomicIsize; 2] = [AtomicIsize::new(0), AtomicIsize::new(0)];
static PEAK: [AtomicIsize; 2] = [AtomicIsize::new(0), AtomicIsize::new(0)];

/// The system allocator, with a small header before each block that says
/// which side allocated it (so that a block freed by the other side is
/// still counted against its maker).
struct Counting;

impl Counting {
    fn header(layout: Layout) -> usize {
        layout.align().max(16)
    }

    fn outer(layout: Layout) -> Layout {
        Layout::from_size_align(layout.size() + Self::header(layout), Self::header(layout)).unwrap()
    }

    fn add(side: usize, bytes: isize) {
        let live = LIVE[side].fetch_add(bytes, Ordering::Relaxed) + bytes;
        PEAK[side].fetch_max(live, Ordering::Relaxed);
    }
}

// SAFETY: every block is the system's, with `header` bytes in front; the
// side byte sits just before the pointer handed out.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let header = Self::header(layout);
        // SAFETY: the outer layout is non-zero in size.
        let base = unsafe { System.alloc(Self::outer(layout)) };
        if base.is_null() {
            return base;
        }
        let side = SIDE.try_with(Cell::get).unwrap_or(Side::Mtpull) as usize;
        Self::add(side, layout.size() as isize);
        // SAFETY: header >= 16 bytes lie before the returned pointer.
        unsafe {
            let user = base.add(header);
            *user.sub(1) = side as u8;
            user
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let header = Self::header(layout);
        // SAFETY: `ptr` came from `alloc` above with this layout.
        unsafe {
            let side = *ptr.sub(1) as usize;
            Self::add(side, -(layout.size() as isize));
            System.dealloc(ptr.sub(header), Self::outer(layout));
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let header = Self::header(layout);
        // SAFETY: `ptr` came from `alloc`; the header keeps its size and alignment.
        unsafe {
            let side = *ptr.sub(1) as usize;
            let base = System.realloc(ptr.sub(header), Self::outer(layout), new_size + header);
            if base.is_null() {
                return base;
            }
            Self::add(side, new_size as isize - layout.size() as isize);
            base.add(header)
        }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `f` with its allocations counted as the simulator's.
fn as_simulator<T>(f: impl FnOnce() -> T) -> T {
    let before = SIDE.with(|side| side.replace(Side::Simulator));
    let result = f();
    SIDE.with(|side| side.set(before));
    result
}

/// The simulator's transport, with every call counted as the simulator's
/// work (the simulated phone answers inside these calls).
struct Tagged(Box<dyn Transport>);

impl Transport for Tagged {
    fn max_packet_size(&self) -> usize {
        as_simulator(|| self.0.max_packet_size())
    }
    fn write_phase(&mut self, data: &[u8]) -> Result<(), TransportError> {
        as_simulator(|| self.0.write_phase(data))
    }
    fn end_write_phase(&mut self) -> Result<(), TransportError> {
        as_simulator(|| self.0.end_write_phase())
    }
    fn read_phase(&mut self, buf: &mut [u8]) -> Result<usize, TransportError> {
        as_simulator(|| self.0.read_phase(buf))
    }
    fn read_event(&mut self, buf: &mut [u8], timeout: Duration) -> Result<Option<usize>, TransportError> {
        as_simulator(|| self.0.read_event(buf, timeout))
    }
    fn clear_halt(&mut self) -> Result<(), TransportError> {
        as_simulator(|| self.0.clear_halt())
    }
    fn set_timeout(&mut self, timeout: Duration) {
        as_simulator(|| self.0.set_timeout(timeout))
    }
    fn cancel_transaction(&mut self, transaction_id: u32) -> Result<(), TransportError> {
        as_simulator(|| self.0.cancel_transaction(transaction_id))
    }
    fn device_status(&mut self) -> Result<DeviceStatus, TransportError> {
        as_simulator(|| self.0.device_status())
    }
}

fn status_kib(field: &str) -> u64 {
    fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

const PHASES: &[&str] = &[
    "simulator",
    "listing",
    "plan",
    "dry-run",
    "backup",
    "backup-again",
];

fn phone(count: usize) -> SimDevice {
    as_simulator(|| {
        let phone = SimDevice::new(Profile::Android);
        let storage = phone.add_storage(StorageSpec::new("Internal shared storage"));
        phone
            .add_generated_tree(storage, "DCIM", count.div_ceil(100), 100.min(count))
            .unwrap();
        phone
    })
}

/// A dry run's lines, formatted as `mtpull backup --dry-run` prints them.
fn print_dry_run(out: &mut impl Write, dest: &Path, event: &Event<'_>) {
    if let Event::WouldCopy { file, entry } = event {
        let source = entry.date_source.as_deref().unwrap_or("no date found");
        writeln!(
            out,
            "{}  {} B  -> {}  ({source})",
            file.display_path(),
            file.size,
            dest.join(&entry.dest).display()
        )
        .unwrap();
    }
}

/// One phase in this process: prints `RESULT phase count …`.
fn child(phase: &str, count: usize, dest: &Path) {
    let start_rss = status_kib("VmRSS:");
    let phone = phone(count);
    let sim_rss = status_kib("VmRSS:");
    let mtpull_live_before = LIVE[Side::Mtpull as usize].load(Ordering::Relaxed);
    let sim_live_before = LIVE[Side::Simulator as usize].load(Ordering::Relaxed);
    for side in [Side::Mtpull, Side::Simulator] {
        PEAK[side as usize].store(LIVE[side as usize].load(Ordering::Relaxed), Ordering::Relaxed);
    }
    // The peak so far is the simulator's build; what follows is measured from here.
    fs::write("/proc/self/clear_refs", "5").unwrap();
    let cancel = AtomicBool::new(false);
    let started = Instant::now();
    let open = || Session::open(Box::new(Tagged(Box::new(phone.connect())))).unwrap();
    let mut files = 0usize;
    match phase {
        "simulator" => {}
        "listing" | "plan" => {
            let mut session = open();
            let listing =
                list_files(&mut session, &Selection::new(), Duration::ZERO, &cancel, |_| {}).unwrap();
            files = listing.files.len();
            if phase == "plan" {
                let plan = Plan::new(
                    &listing.serial,
                    listing.files,
                    &Selection::new(),
                    &Default::default(),
                );
                files = plan.to_copy.len();
            }
        }
        "dry-run" | "backup" | "backup-again" => {
            let mut session = open();
            let options = BackupOptions {
                dry_run: phase == "dry-run",
                ..BackupOptions::default()
            };
            let mut out = BufWriter::new(File::create("/dev/null").unwrap());
            let mut observer = |event: &Event<'_>| print_dry_run(&mut out, dest, event);
            let report = backup(&mut session, dest, &options, &cancel, &mut observer);
            assert!(report.succeeded(), "{phase}: {:?}", report.stopped);
            let summary = &report.summary;
            files = (summary.planned + summary.already) as usize;
            if phase == "backup" {
                assert_eq!(summary.copied, count as u64);
            }
        }
        _ => panic!("unknown phase {phase}"),
    }
    let secs = started.elapsed().as_secs_f64();
    let peak = |side: Side, before: isize| (PEAK[side as usize].load(Ordering::Relaxed) - before) >> 10;
    println!(
        "RESULT {phase} {count} files={files} start_kib={start_rss} sim_built_kib={sim_rss} peak_kib={} \
         mtpull_heap_peak_kib={} sim_heap_peak_kib={} secs={secs:.2}",
        status_kib("VmHWM:"),
        peak(Side::Mtpull, mtpull_live_before),
        peak(Side::Simulator, sim_live_before),
    );
}

fn field(line: &str, name: &str) -> f64 {
    line.split_whitespace()
        .find_map(|word| word.strip_prefix(name)?.strip_prefix('='))
        .and_then(|value| value.parse().ok())
        .unwrap_or(f64::NAN)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|arg| arg == "--list") {
        return; // `cargo test --benches` asks for a list; there are no unit benches.
    }
    if let Some(at) = args.iter().position(|arg| arg == "--child") {
        let count = args[at + 2].parse().unwrap();
        return child(&args[at + 1], count, Path::new(&args[at + 3]));
    }
    let counts: Vec<usize> = std::env::var("MTPULL_BENCH_COUNTS")
        .unwrap_or_else(|_| "10000,50000,100000".into())
        .split(',')
        .map(|n| n.trim().parse().unwrap())
        .collect();
    let work = tempfile::tempdir_in(std::env::var("MTPULL_BENCH_DIR").unwrap_or_else(|_| "/dev/shm".into()))
        .unwrap();
    println!(
        "memory benchmark: simulated Android phone, 100 files per folder, DEST in {}",
        work.path().display()
    );
    println!(
        "  {:13} {:>7} {:>9} {:>9} {:>10} {:>10} {:>11} {:>8} {:>10}",
        "phase", "objects", "start MiB", "sim MiB", "peak RSS", "mtpull", "sim heap", "secs", "us/object"
    );
    let mib = |kib: f64| kib / 1024.0;
    for &count in &counts {
        let dest = work.path().join(format!("dest-{count}"));
        for phase in PHASES {
            let output = Command::new(std::env::current_exe().unwrap())
                .args(["--child", phase, &count.to_string()])
                .arg(&dest)
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&output.stdout);
            let Some(line) = stdout.lines().find(|l| l.starts_with("RESULT")) else {
                panic!(
                    "{phase} {count} failed:\n{stdout}\n{}",
                    String::from_utf8_lossy(&output.stderr)
                );
            };
            let start = field(line, "start_kib");
            let mtpull_own = start + field(line, "mtpull_heap_peak_kib");
            let secs = field(line, "secs");
            println!(
                "  {phase:13} {count:>7} {:>9.1} {:>9.1} {:>10.1} {:>10.1} {:>11.1} {:>8.2} {:>10.1}",
                mib(start),
                mib(field(line, "sim_built_kib")),
                mib(field(line, "peak_kib")),
                mib(mtpull_own),
                mib(field(line, "sim_heap_peak_kib")),
                secs,
                secs * 1e6 / count as f64,
            );
        }
        fs::remove_dir_all(&dest).ok();
    }
    println!(
        "  start: the process before the simulator is built; sim: after; peak RSS: the whole process \
         (simulator included) during the phase; mtpull: start + the peak of mtpull's live heap \
         (what it would hold with a real phone); sim heap: the simulator's live-heap peak during the phase"
    );
}
