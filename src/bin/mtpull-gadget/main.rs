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
mod phone;
mod serve;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use chrono::NaiveDate;
use clap::{Parser, Subcommand, ValueEnum};
use mtpull::sim::{Content, Fault, Profile, SimConfig, SimDevice, StorageSpec};
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

#[derive(Subcommand)]
enum Command {
    /// Set the gadget up, plug it in and serve the phone until SIGTERM.
    Serve {
        /// The simulator's profile: android, samsung, ptp-camera…
        #[arg(long, default_value = "android")]
        profile: Profile,
        /// The fastest speed to offer (dummy_hcd's module options decide what the bus runs at).
        #[arg(long, value_enum, default_value = "high")]
        speed: Speed,
        /// Serve this folder as the phone's storage (read-only).
        #[arg(long)]
        serve: Option<PathBuf>,
        /// The storage's description.
        #[arg(long, default_value = "Internal shared storage")]
        desc: String,
        /// Add FOLDERS:FILES generated small files under DCIM/Tree.
        #[arg(long, value_name = "FOLDERS:FILES")]
        tree: Option<String>,
        /// Add a generated file of this many bytes at DCIM/big.bin.
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
        /// Answer every transaction this many milliseconds late.
        #[arg(long, default_value_t = 0)]
        latency_ms: u64,
        /// Log plug events and class requests to this file, one line each.
        #[arg(long)]
        record: Option<PathBuf>,
        /// The UDC to bind to (default: the first one).
        #[arg(long)]
        udc: Option<String>,
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
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve {
            profile,
            speed,
            serve,
            desc,
            tree,
            big_file,
            no_zlp,
            stall_after,
            latency_ms,
            record,
            udc,
        } => {
            let config = SimConfig::new(profile).latency(Duration::from_millis(latency_ms));
            let device = config.build();
            let storage = match &serve {
                Some(root) => device.serve_folder(StorageSpec::new(desc), root, false)?,
                None => device.add_storage(StorageSpec::new(desc)),
            };
            if let Some(tree) = tree {
                let (folders, files) = tree
                    .split_once(':')
                    .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
                    .context("--tree wants FOLDERS:FILES")?;
                device.add_generated_tree(storage, "DCIM/Tree", folders, files)?;
            }
            if let Some(bytes) = big_file {
                let when = NaiveDate::from_ymd_opt(2024, 1, 1)
                    .and_then(|d| d.and_hms_opt(0, 0, 0))
                    .context("a fixed date")?;
                device.add_file(storage, "DCIM/big.bin", Content::generated(bytes, 1), when)?;
            }
            if let Some(bytes) = stall_after {
                device.arm(Fault::stall_after(bytes));
            }
            let udc = match udc {
                Some(udc) => udc,
                None => configfs::first_udc()?,
            };
            serve_phone(device, &cli.ffs_dir, speed, &udc, !no_zlp, record)
        }
        Command::Unplug => configfs::unbind(),
        Command::Plug { udc } => configfs::bind(&match udc {
            Some(udc) => udc,
            None => configfs::first_udc()?,
        }),
        Command::Down => configfs::remove(&cli.ffs_dir),
    }
}

fn presentation(profile: Profile) -> Presentation {
    match profile {
        Profile::PtpCamera | Profile::Qemu => Presentation::ptp(),
        _ => Presentation::android(),
    }
}

fn serve_phone(
    device: SimDevice,
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
        serial: identity.serial.clone(),
        max_speed: match speed {
            Speed::High => "high-speed",
            Speed::Super => "super-speed",
        },
    };
    configfs::create(&facts, ffs_dir)?;
    let shown = presentation(device.profile());
    let endpoints = ffs::Endpoints::open(
        ffs_dir,
        &descriptors::descriptors(&shown),
        &descriptors::strings(&shown),
    )?;
    let mut signals = Signals::new([SIGTERM, SIGINT]).context("installing the SIGTERM handler")?;
    configfs::bind(udc)?;
    let current = configfs::current_speed(udc);
    let packet_size = match current.as_str() {
        "super-speed" | "super-speed-plus" => descriptors::SUPER_SPEED_PACKET,
        "high-speed" => descriptors::HIGH_SPEED_PACKET,
        "full-speed" => descriptors::FULL_SPEED_PACKET,
        other => bail!("{udc} runs at {other:?}: no host is connected to it"),
    };
    serve::start(
        device,
        endpoints,
        serve::Options {
            packet_size: usize::from(packet_size),
            zero_length_packets,
            record,
        },
    )?;
    eprintln!(
        "mtpull-gadget: serving {} on {udc} at {current} ({packet_size}-byte packets{})",
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
