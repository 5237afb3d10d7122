//! The gadget's configfs tree (libcomposite): device descriptor facts, one
//! configuration holding one FunctionFS function, and the Microsoft OS
//! descriptor switched on for that configuration, as Android sets it up.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// Where configfs keeps USB gadgets.
const GADGETS: &str = "/sys/kernel/config/usb_gadget";
/// The gadget's directory name under [`GADGETS`].
const NAME: &str = "mtpull";
/// The FunctionFS instance: `functions/ffs.mtp`, mounted as device "mtp".
const FUNCTION: &str = "ffs.mtp";
const FFS_DEVICE: &str = "mtp";
const CONFIG: &str = "c.1";
/// The vendor request code the OS string descriptor announces (Android uses 1).
const OS_VENDOR_CODE: &str = "0x1";

/// USB facts of the device descriptor.
#[derive(Debug, Clone)]
pub struct DeviceFacts {
    pub vendor_id: u16,
    pub product_id: u16,
    pub manufacturer: String,
    pub product: String,
    pub serial: String,
    /// "high-speed" or "super-speed".
    pub max_speed: &'static str,
}

fn gadget_dir() -> PathBuf {
    Path::new(GADGETS).join(NAME)
}

fn write(path: &Path, value: &str) -> Result<()> {
    fs::write(path, value).with_context(|| format!("writing {value:?} to {}", path.display()))
}

fn mkdir(path: &Path) -> Result<()> {
    match fs::create_dir(path) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => {
            Err(e).with_context(|| format!("creating {}", path.display()))
        }
        _ => Ok(()),
    }
}

/// Creates the gadget (without binding it) and mounts its FunctionFS at
/// `ffs_dir`. Anything left by an earlier run is removed first.
pub fn create(facts: &DeviceFacts, ffs_dir: &Path) -> Result<()> {
    if !Path::new(GADGETS).is_dir() {
        bail!("{GADGETS} is missing: load libcomposite and mount configfs on /sys/kernel/config");
    }
    remove(ffs_dir)?;
    let g = gadget_dir();
    mkdir(&g)?;
    write(&g.join("idVendor"), &format!("0x{:04x}", facts.vendor_id))?;
    write(&g.join("idProduct"), &format!("0x{:04x}", facts.product_id))?;
    write(&g.join("bcdDevice"), "0x0100")?;
    write(&g.join("max_speed"), facts.max_speed)?;
    let strings = g.join("strings/0x409");
    mkdir(&strings)?;
    write(&strings.join("manufacturer"), &facts.manufacturer)?;
    write(&strings.join("product"), &facts.product)?;
    write(&strings.join("serialnumber"), &facts.serial)?;

    let config = g.join("configs").join(CONFIG);
    mkdir(&config)?;
    write(&config.join("MaxPower"), "500")?;
    mkdir(&config.join("strings/0x409"))?;
    write(&config.join("strings/0x409/configuration"), "mtp")?;

    let function = g.join("functions").join(FUNCTION);
    mkdir(&function)?;
    std::os::unix::fs::symlink(&function, config.join(FUNCTION))
        .context("linking the function into the configuration")?;

    // The OS string descriptor (index 0xEE) and the extended compat ID
    // request are answered by the composite layer for this configuration.
    write(&g.join("os_desc/use"), "1")?;
    write(&g.join("os_desc/b_vendor_code"), OS_VENDOR_CODE)?;
    write(&g.join("os_desc/qw_sign"), "MSFT100")?;
    std::os::unix::fs::symlink(&config, g.join("os_desc").join(CONFIG))
        .context("linking the configuration into os_desc")?;

    mkdir(ffs_dir)?;
    run(
        "mount",
        &["-t", "functionfs", FFS_DEVICE, &ffs_dir.to_string_lossy()],
    )
}

/// Binds the gadget to `udc`: the host sees the device plugged in.
pub fn bind(udc: &str) -> Result<()> {
    write(&gadget_dir().join("UDC"), udc)
}

/// Unbinds the gadget from its UDC: the host sees the device unplugged.
pub fn unbind() -> Result<()> {
    let udc = gadget_dir().join("UDC");
    if fs::read_to_string(&udc).unwrap_or_default().trim().is_empty() {
        return Ok(());
    }
    write(&udc, "\n")
}

/// The first UDC the kernel has (dummy_hcd's "dummy_udc.0").
pub fn first_udc() -> Result<String> {
    let mut names: Vec<String> = fs::read_dir("/sys/class/udc")
        .context("listing /sys/class/udc: is a UDC driver (dummy_hcd) loaded?")?
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
        .into_iter()
        .next()
        .context("no UDC in /sys/class/udc: load dummy_hcd")
}

/// The speed the UDC runs at now ("high-speed", "super-speed"…).
pub fn current_speed(udc: &str) -> String {
    fs::read_to_string(Path::new("/sys/class/udc").join(udc).join("current_speed"))
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

/// Undoes [`create`]: unbinds, unmounts FunctionFS and removes the configfs
/// tree. Nothing there is fine. The process serving the function must have
/// exited (its open files keep the mount busy).
pub fn remove(ffs_dir: &Path) -> Result<()> {
    let g = gadget_dir();
    if !g.exists() {
        return Ok(());
    }
    unbind()?;
    if is_mounted(ffs_dir) {
        run("umount", &[&ffs_dir.to_string_lossy()])?;
    }
    let config = g.join("configs").join(CONFIG);
    for link in [g.join("os_desc").join(CONFIG), config.join(FUNCTION)] {
        if link.symlink_metadata().is_ok() {
            fs::remove_file(&link).with_context(|| format!("removing {}", link.display()))?;
        }
    }
    for dir in [
        config.join("strings/0x409"),
        config,
        g.join("functions").join(FUNCTION),
        g.join("strings/0x409"),
        g,
    ] {
        if dir.exists() {
            fs::remove_dir(&dir).with_context(|| format!("removing {}", dir.display()))?;
        }
    }
    Ok(())
}

fn is_mounted(dir: &Path) -> bool {
    let dir = dir.to_string_lossy();
    fs::read_to_string("/proc/mounts")
        .unwrap_or_default()
        .lines()
        .any(|line| line.split_whitespace().nth(1) == Some(&dir))
}

fn run(program: &str, args: &[&str]) -> Result<()> {
    let status = Command::new(program)
        .args(args)
        .status()
        .with_context(|| format!("running {program}"))?;
    if !status.success() {
        bail!("{program} {} failed ({status})", args.join(" "));
    }
    Ok(())
}
