//! What a dry run reads to date 30,000 photos on a phone paced like USB 2.
//!
//! The simulated Android phone (its own time model: 300 µs per transaction,
//! 150 µs per object a listing walks, plus 1 ms of latency per request, as the
//! demo phone) holds `MTPULL_BENCH_FILES` (default 30,000) camera photos of
//! 2–5 MB, each an EXIF JPEG followed by image data; every byte it sends is
//! held to 35 MB/s (what MTP moves over high speed in practice). Two ways of
//! reading the same files over the same link, in one run:
//! - `backup --dry-run`: the whole dry run (listing, plan, dating, the
//!   predicted destinations), which reads each file's headers in place — its
//!   first 16 KiB, more only where the date readers ask;
//! - the same dry run again: the dates the first one read are kept in a cache
//!   (as `mtpull backup --dry-run` keeps them in the user's cache folder), so it
//!   reads no file bytes;
//! - the peer: one 128 KiB GetPartialObject per file, what the dry run read
//!   before (the time of the reads alone, after a listing).
//!
//! Reported: the files, bytes read per file (mean and largest) and the wall
//! time of each. Run: `bash bench/dryrun/run.sh` or `cargo bench --bench dryrun`.

use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use mtpull::pull::{BackupOptions, Event, Selection, list_files};
use mtpull::session::Session;
use mtpull::sim::media::{ExifTags, jpeg};
use mtpull::sim::{Content, Profile, SimConfig, SimDevice, StorageSpec, Synthesize, generated_bytes};
use mtpull::transport::{DeviceStatus, Transport, TransportError};

/// What MTP moves over USB 2 in practice (as the demo phone).
const USB2_BYTES_PER_SECOND: f64 = 35_000_000.0;

/// The simulator's transport with every byte it sends held to USB 2's rate.
struct Usb2 {
    inner: Box<dyn Transport>,
    started: Instant,
    delivered: u64,
    /// Bytes of data phases received: what the host read.
    received: u64,
}

impl Usb2 {
    fn new(inner: Box<dyn Transport>) -> Self {
        Usb2 {
            inner,
            started: Instant::now(),
            delivered: 0,
            received: 0,
        }
    }
}

impl Transport for Usb2 {
    fn max_packet_size(&self) -> usize {
        self.inner.max_packet_size()
    }
    fn write_phase(&mut self, data: &[u8]) -> Result<(), TransportError> {
        self.inner.write_phase(data)
    }
    fn end_write_phase(&mut self) -> Result<(), TransportError> {
        self.inner.end_write_phase()
    }
    fn read_phase(&mut self, buf: &mut [u8]) -> Result<usize, TransportError> {
        let n = self.inner.read_phase(buf)?;
        self.delivered += n as u64;
        self.received += n as u64;
        let due = Duration::from_secs_f64(self.delivered as f64 / USB2_BYTES_PER_SECOND);
        let elapsed = self.started.elapsed();
        if due > elapsed + Duration::from_millis(2) {
            std::thread::sleep(due - elapsed);
        } else if elapsed > due + Duration::from_millis(50) {
            // An idle link does not bank its unused rate.
            self.started = Instant::now();
            self.delivered = 0;
        }
        Ok(n)
    }
    fn read_event(&mut self, buf: &mut [u8], timeout: Duration) -> Result<Option<usize>, TransportError> {
        self.inner.read_event(buf, timeout)
    }
    fn clear_halt(&mut self) -> Result<(), TransportError> {
        self.inner.clear_halt()
    }
    fn set_timeout(&mut self, timeout: Duration) {
        self.inner.set_timeout(timeout)
    }
    fn cancel_transaction(&mut self, transaction_id: u32) -> Result<(), TransportError> {
        self.inner.cancel_transaction(transaction_id)
    }
    fn device_status(&mut self) -> Result<DeviceStatus, TransportError> {
        self.inner.device_status()
    }
}

/// A camera photo: its EXIF JPEG, then generated image data up to `len`.
struct Photo {
    head: std::sync::Arc<[u8]>,
    len: u64,
    seed: u64,
}

impl Synthesize for Photo {
    fn len(&self) -> u64 {
        self.len
    }
    fn reader_at(&self, offset: u64) -> Box<dyn std::io::Read + Send> {
        Box::new(PhotoReader {
            head: self.head.clone(),
            len: self.len,
            seed: self.seed,
            position: offset,
        })
    }
}

struct PhotoReader {
    head: std::sync::Arc<[u8]>,
    len: u64,
    seed: u64,
    position: u64,
}

impl std::io::Read for PhotoReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let head_len = self.head.len() as u64;
        let n = if self.position < head_len {
            let from = self.position as usize;
            let n = buf.len().min(self.head.len() - from);
            buf[..n].copy_from_slice(&self.head[from..from + n]);
            n
        } else {
            let n = buf.len().min((self.len - self.position.min(self.len)) as usize);
            generated_bytes(self.seed, self.position, &mut buf[..n]);
            n
        };
        self.position += n as u64;
        Ok(n)
    }
}

fn phone(files: usize) -> SimDevice {
    let phone = SimConfig::new(Profile::Android)
        .time_scale(1.0)
        .latency(Duration::from_millis(1))
        .build();
    let storage = phone.add_storage(StorageSpec::new("Internal shared storage"));
    let day = NaiveDate::from_ymd_opt(2024, 5, 1)
        .unwrap()
        .and_hms_opt(9, 0, 0)
        .unwrap();
    // 64 different photos (dates, pixels), repeated with their own sizes and data.
    let heads: Vec<std::sync::Arc<[u8]>> = (0..64)
        .map(|i| {
            let tags = ExifTags {
                make: "mtpull".into(),
                model: "Bench Phone".into(),
                taken: day + chrono::Duration::hours(i * 7),
            };
            jpeg(Some(&tags), i as u8).into()
        })
        .collect();
    for n in 0..files {
        let photo = Photo {
            head: heads[n % heads.len()].clone(),
            len: 2_000_000 + (n as u64 * 7_919) % 3_000_000,
            seed: n as u64,
        };
        let path = format!("DCIM/Camera/IMG_{n:05}.jpg");
        let mtime = day + chrono::Duration::minutes(n as i64);
        phone
            .add_file(
                storage,
                &path,
                Content::Synthetic(std::sync::Arc::new(photo)),
                mtime,
            )
            .unwrap();
    }
    phone
}

fn main() {
    if std::env::args().any(|arg| arg == "--list") {
        return; // `cargo test --benches` asks for a list; there are no unit benches.
    }
    let files: usize = std::env::var("MTPULL_BENCH_FILES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30_000);
    let phone = phone(files);
    let cancel = AtomicBool::new(false);
    println!("dry-run benchmark: {files} photos of 2-5 MB, link held to 35 MB/s, 1 ms latency per request");

    // The dry run, as `mtpull backup --dry-run` runs it, with the dates it reads kept
    // in a cache; then again, now served from that cache.
    let dest = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let cache = cache.path().join("dry-run-dates.sqlite");
    let first = dry_run(&phone, dest.path(), &cache);
    let second = dry_run(&phone, dest.path(), &cache);
    assert_eq!(first.planned, files);
    assert_eq!(second.planned, files);

    // The peer: a listing, then a 128 KiB head of every file.
    let mut session = Session::open(Box::new(Usb2::new(Box::new(phone.connect())))).unwrap();
    let started = Instant::now();
    let listing = list_files(&mut session, &Selection::new(), Duration::ZERO, &cancel, |_| {}).unwrap();
    let listed = started.elapsed();
    let mut peer_read = 0u64;
    let mut head = Vec::with_capacity(128 << 10);
    for file in &listing.files {
        head.clear();
        let want = file.size.min(128 << 10) as u32;
        peer_read += session
            .get_partial_object(file.handle, 0, want, &mut head)
            .unwrap();
    }
    let peer = started.elapsed();

    println!(
        "  dated by EXIF: {} of {files} (first run), {} (second)",
        first.dated_by_exif, second.dated_by_exif
    );
    for (name, run) in [
        ("dry run (adaptive reads):", &first),
        ("second dry run (cached):", &second),
    ] {
        println!(
            "  {name:30} {:7.1} s, {:6.1} KiB read per file (largest {:.1} KiB)",
            run.time.as_secs_f64(),
            run.read as f64 / files as f64 / 1024.0,
            run.largest as f64 / 1024.0
        );
    }
    println!(
        "  peer (listing + 128 KiB each): {:6.1} s, {:6.1} KiB read per file (listing alone {:.1} s)",
        peer.as_secs_f64(),
        peer_read as f64 / files as f64 / 1024.0,
        listed.as_secs_f64()
    );
    println!(
        "  dry run / peer: {:.2} of the time, {:.3} of the bytes; second dry run / peer: {:.3} of the time",
        first.time.as_secs_f64() / peer.as_secs_f64(),
        first.read as f64 / peer_read as f64,
        second.time.as_secs_f64() / peer.as_secs_f64()
    );
}

/// What one dry run took and read.
struct DryRun {
    time: Duration,
    planned: usize,
    read: u64,
    largest: u64,
    dated_by_exif: usize,
}

/// One `backup --dry-run` into `dest`, keeping its dates in `cache`.
fn dry_run(phone: &SimDevice, dest: &std::path::Path, cache: &std::path::Path) -> DryRun {
    let mut session = Session::open(Box::new(Usb2::new(Box::new(phone.connect())))).unwrap();
    let mut run = DryRun {
        time: Duration::ZERO,
        planned: 0,
        read: 0,
        largest: 0,
        dated_by_exif: 0,
    };
    let started = Instant::now();
    let report = mtpull::pull::backup(
        &mut session,
        dest,
        &BackupOptions {
            dry_run: true,
            date_cache: Some(cache.to_owned()),
            ..BackupOptions::default()
        },
        &AtomicBool::new(false),
        &mut |event: &Event<'_>| {
            if let Event::WouldCopy { entry, .. } = event {
                run.planned += 1;
                run.read += entry.read_from_device;
                run.largest = run.largest.max(entry.read_from_device);
                run.dated_by_exif +=
                    usize::from(entry.date_source.as_deref() == Some("EXIF DateTimeOriginal"));
            }
        },
    );
    run.time = started.elapsed();
    assert!(report.succeeded(), "{:?}", report.stopped);
    assert!(report.notes.is_empty(), "{:?}", report.notes);
    drop(session);
    phone.unplug();
    run
}
