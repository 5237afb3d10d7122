//! mtpull-gadget: the simulated phone (`mtpull::sim`) as a real USB device.
//!
//! Linux can be the device side of USB: this program sets up a gadget
//! through configfs (libcomposite) with one FunctionFS function, writes the
//! descriptors an Android phone presents in MTP mode, binds it to a UDC
//! (dummy_hcd's, in the test guest: the same kernel is then the host, and
//! mtpull talks to the phone through the real host stack), and pumps the
//! endpoints through the simulator's responder. See tests/vm/README.md.

mod configfs;
mod descriptors;
mod ffs;
mod serve;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand, ValueEnum};
use mtpull::session::Session;
use mtpull::sim::{self, Content, Fault, Profile, SimConfig, SimDevice, StorageSpec, generated_bytes};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use descriptors::Presentation;

#[derive(Parser)]
#[command(about = "Serve the simulated phone over FunctionFS (USB gadget mode)")]
struct Cli {
    /// Where FunctionFS is mounted.
    #[arg(long, default_value = "/dev/ffs-mtp", global = true)]
    ffs_dir: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum Speed {
    High,
    Super,
}

/// The simulated phone: its profile, what it holds, how it misbehaves.
#[derive(Args)]
struct PhoneArgs {
    /// The simulator's profile: android, samsung, ptp-camera…
    #[arg(long, default_value = "android")]
    profile: Profile,
    /// Serve this folder as the phone's storage (read-only).
    #[arg(long)]
    serve: Option<PathBuf>,
    /// The storage's description.
    #[arg(long, default_value = "Internal shared storage")]
    desc: String,
    /// Add FOLDERS:FILES generated small files under DCIM/Tree.
    #[arg(long, value_name = "FOLDERS:FILES")]
    tree: Option<String>,
    /// Add a generated file of this many bytes at the storage's root,
    /// named big.bin (its content: `generated`).
    #[arg(long, value_name = "BYTES")]
    big_file: Option<u64>,
    /// Leave out zero-length packets after phases that fill their last
    /// packet (as Android 8.0 and QEMU's usb-mtp do).
    #[arg(long)]
    no_zlp: bool,
    /// Halt both bulk endpoints once this many bytes of data phases have
    /// gone out (as a phone does on a disk error), once.
    #[arg(long, value_name = "BYTES")]
    stall_after: Option<u64>,
    /// Scale the profile's time model (first-byte delays per transaction
    /// and per listed object): 1 as the phone, 0 for instant answers.
    #[arg(long, default_value_t = 1.0)]
    time_scale: f64,
    /// Answer every transaction this many milliseconds late.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// A locked phone is unlocked, an iPhone trusted, this many
    /// milliseconds after the gadget starts (as the user does; they start
    /// locked / untrusted).
    #[arg(long, value_name = "MS")]
    unlock_after_ms: Option<u64>,
    /// Present a vendor-class interface (0xFF) with no name, as media
    /// players and some phones do: only the Microsoft OS descriptor says
    /// it speaks MTP.
    #[arg(long)]
    vendor_class: bool,
}

#[derive(Subcommand)]
enum LocalTask {
    /// Walk every storage, as `mtpull ls -r` does.
    List,
    /// Download big.bin into DEST.
    Download { dest: PathBuf },
}

#[derive(Subcommand)]
enum Command {
    /// Set the gadget up, plug it in and serve the phone until SIGTERM.
    Serve {
        #[command(flatten)]
        phone: PhoneArgs,
        /// The fastest speed to offer (dummy_hcd's module options decide what the bus runs at).
        #[arg(long, value_enum, default_value = "high")]
        speed: Speed,
        /// Log plug events and class requests to this file, one line each.
        #[arg(long)]
        record: Option<PathBuf>,
        /// The UDC to bind to (default: the first one).
        #[arg(long)]
        udc: Option<String>,
    },
    /// The same phone over the in-process simulated link (no USB): time
    /// mtpull's session walking every storage, or downloading big.bin into
    /// DEST, to set beside the figures over USB.
    Local {
        #[command(flatten)]
        phone: PhoneArgs,
        #[command(subcommand)]
        task: LocalTask,
    },
    /// Unbind the gadget: the host sees the phone unplugged.
    Unplug,
    /// Bind the gadget again: the host sees the phone plugged in.
    Plug {
        #[arg(long)]
        udc: Option<String>,
    },
    /// Remove the gadget (after `serve` has exited).
    Down,
    /// Write `serve --big-file BYTES`'s content to stdout (pipe it to
    /// sha256sum to check a download).
    Generated { bytes: u64 },
}

/// Where `--big-file` puts its file, and the seed of its generated content.
const BIG_FILE: &str = "big.bin";
const BIG_FILE_SEED: u64 = 1;

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve {
            phone,
            speed,
            record,
            udc,
        } => {
            let zero_length_packets = !phone.no_zlp;
            let shown = presentation(phone.profile, phone.vendor_class);
            let device = phone.build(speed)?;
            let udc = match udc {
                Some(udc) => udc,
                None => configfs::first_udc()?,
            };
            serve_phone(
                device,
                &shown,
                &cli.ffs_dir,
                speed,
                &udc,
                zero_length_packets,
                record,
            )
        }
        Command::Local { phone, task } => local(phone.build(Speed::High)?, task),
        Command::Unplug => configfs::unbind(),
        Command::Plug { udc } => configfs::bind(&match udc {
            Some(udc) => udc,
            None => configfs::first_udc()?,
        }),
        Command::Down => configfs::remove(&cli.ffs_dir),
        Command::Generated { bytes } => write_generated(bytes, &mut std::io::stdout().lock()),
    }
}

impl PhoneArgs {
    /// The simulated phone, its storage filled as asked.
    fn build(self, speed: Speed) -> Result<SimDevice> {
        let mut config = SimConfig::new(self.profile)
            .speed(match speed {
                Speed::High => sim::Speed::High,
                Speed::Super => sim::Speed::Super,
            })
            .time_scale(self.time_scale)
            .latency(Duration::from_millis(self.latency_ms));
        if self.no_zlp {
            config.quirks.zero_length_packets = false;
        }
        let device = config.build();
        let spec = StorageSpec::new(self.desc);
        let storage = match &self.serve {
            Some(root) => device.serve_folder(spec, root, false)?,
            None => device.add_storage(spec),
        };
        if let Some(tree) = self.tree {
            let (folders, files) = tree
                .split_once(':')
                .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
                .context("--tree wants FOLDERS:FILES")?;
            device.add_generated_tree(storage, "DCIM/Tree", folders, files)?;
        }
        if let Some(bytes) = self.big_file {
            let when = NaiveDate::from_ymd_opt(2024, 1, 1)
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .context("a fixed date")?;
            device.add_file(storage, BIG_FILE, Content::generated(bytes, BIG_FILE_SEED), when)?;
        }
        if let Some(bytes) = self.stall_after {
            device.arm(Fault::stall_after(bytes));
        }
        if let Some(ms) = self.unlock_after_ms {
            let phone = device.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(ms));
                phone.unlock();
                phone.trust();
            });
        }
        Ok(device)
    }
}

/// One task over the in-process link; prints what it did, how long it took
/// and the CPU time it used (the simulated phone's and the session's), both
/// counted from the session's opening: the simulator's own setup (a tree of
/// 20,000 generated files) has no counterpart over USB, where the gadget is
/// set up before any client is timed.
fn local(device: SimDevice, task: LocalTask) -> Result<()> {
    let started = Instant::now();
    let cpu_started = process_cpu_seconds();
    let mut session = Session::open(Box::new(device.connect())).context("opening a session")?;
    let storages = session.storage_ids()?;
    match task {
        LocalTask::List => {
            let mut objects = 0;
            // Buffered, as `mtpull ls` writes: stdout alone makes one system call a line.
            let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
            for storage in storages {
                for entry in session.walk(storage, None)? {
                    writeln!(out, "{}", entry.name())?;
                    objects += 1;
                }
            }
            out.flush()?;
            eprintln!(
                "listed {objects} objects in {:.2} s, {:.2} CPU s",
                started.elapsed().as_secs_f64(),
                process_cpu_seconds() - cpu_started
            );
        }
        LocalTask::Download { dest } => {
            let storage = *storages.first().context("the phone has no storage")?;
            let entry = session
                .find(storage, &[BIG_FILE])?
                .with_context(|| format!("no {BIG_FILE} on the phone: give --big-file"))?;
            std::fs::create_dir_all(&dest)?;
            let path = dest.join(BIG_FILE);
            let mut file = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&path)?);
            let bytes = session.get_object(entry.handle, &mut file)?;
            file.into_inner().map_err(|e| e.into_error())?.sync_all()?;
            eprintln!(
                "downloaded {bytes} bytes in {:.2} s, {:.2} CPU s",
                started.elapsed().as_secs_f64(),
                process_cpu_seconds() - cpu_started
            );
        }
    }
    Ok(())
}

/// CPU time (user and system) used by this process so far.
fn process_cpu_seconds() -> f64 {
    let time = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    time.tv_sec as f64 + time.tv_nsec as f64 / 1e9
}

fn write_generated(len: u64, out: &mut dyn Write) -> Result<()> {
    let mut buf = vec![0u8; 1 << 20];
    let mut offset = 0;
    while offset < len {
        let n = usize::try_from(len - offset).map_or(buf.len(), |left| left.min(buf.len()));
        generated_bytes(BIG_FILE_SEED, offset, &mut buf[..n]);
        out.write_all(&buf[..n])?;
        offset += n as u64;
    }
    Ok(out.flush()?)
}

fn presentation(profile: Profile, vendor_class: bool) -> Presentation {
    match profile {
        _ if vendor_class => Presentation::vendor_class_mtp(),
        Profile::PtpCamera | Profile::Qemu | Profile::IPhone | Profile::CameraQuirky => Presentation::ptp(),
        Profile::Android | Profile::Samsung | Profile::Locked => Presentation::android(),
    }
}

fn serve_phone(
    device: SimDevice,
    shown: &Presentation,
    ffs_dir: &Path,
    speed: Speed,
    udc: &str,
    zero_length_packets: bool,
    record: Option<PathBuf>,
) -> Result<()> {
    let identity = device.identity();
    let facts = configfs::DeviceFacts {
        vendor_id: identity.vendor_id,
        product_id: identity.product_id,
        manufacturer: identity.manufacturer.clone(),
        product: identity.model.clone(),
        serial: identity.usb_serial().to_owned(),
        max_speed: match speed {
            Speed::High => "high-speed",
            Speed::Super => "super-speed",
        },
    };
    configfs::create(&facts, ffs_dir)?;
    let endpoints = ffs::Endpoints::open(
        ffs_dir,
        &descriptors::descriptors(shown),
        &descriptors::strings(shown),
    )?;
    let mut signals = Signals::new([SIGTERM, SIGINT]).context("installing the SIGTERM handler")?;
    configfs::bind(udc)?;
    let current = configfs::current_speed(udc);
    if current != facts.max_speed {
        bail!(
            "{udc} runs at {current:?}, not {}: load dummy_hcd with is_super_speed=1 for super speed, 0 for high",
            facts.max_speed
        );
    }
    serve::start(device, endpoints, serve::Options { record })?;
    eprintln!(
        "mtpull-gadget: serving {} on {udc} at {current}{}",
        facts.product,
        if zero_length_packets {
            ""
        } else {
            ", no zero-length packets"
        }
    );
    // Until stopped; `down` removes the gadget once this process has exited.
    if signals.forever().next().is_some() {
        configfs::unbind()?;
    }
    Ok(())
}
