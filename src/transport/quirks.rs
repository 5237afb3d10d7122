//! Device quirks: how the transport treats one device, decided once when it is
//! opened, from the USB host controller it hangs off and its vendor:product id.
//!
//! Every special case lives in [`TABLE`], one row per device or controller, so
//! that a new phone's quirk is one row. The environment variable
//! [`QUIRKS_VAR`] overrides any of them (for a device not in the table, or to
//! switch a workaround off), and `-v` prints what applied and why.
//!
//! The defaults are what a phone on a real host controller gets: several
//! bulk-IN transfers queued, event waits that block, no CPU pinning.

use std::fmt;
use std::time::Duration;

#[cfg(target_os = "linux")]
use super::sysfs::HostController;

/// The environment variable that overrides the table, e.g.
/// `MTPULL_QUIRKS=pin_cpu=off` or `MTPULL_QUIRKS=in_transfers=1,event_poll_ms=200`.
pub(super) const QUIRKS_VAR: &str = "MTPULL_QUIRKS";

/// Bulk-IN transfers kept submitted on real host controllers.
pub(super) const QUEUED_IN_TRANSFERS: usize = 4;
/// The most bulk-IN transfers an override may ask for.
const MAX_IN_TRANSFERS: usize = 32;

/// How the transport treats one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quirks {
    /// Bulk-IN transfers kept submitted (nusb backend).
    pub in_transfers: usize,
    /// `Some(every)`: an event wait resubmits its transfer this often (for a
    /// host controller that retries a NAKed transfer only when its doorbell
    /// rings); `None`: it blocks until an event arrives or the wait ends.
    pub event_poll: Option<Duration>,
    /// Keep the USB threads on the CPU that takes the xHCI interrupts.
    pub pin_to_interrupt_cpu: bool,
    /// What set these: the table rows that matched, then the override.
    pub sources: Vec<String>,
}

impl Default for Quirks {
    fn default() -> Self {
        Quirks {
            in_transfers: QUEUED_IN_TRANSFERS,
            event_poll: None,
            pin_to_interrupt_cpu: false,
            sources: Vec::new(),
        }
    }
}

impl fmt::Display for Quirks {
    /// "1 queued IN transfer, events polled every 200 ms, pinned to the xHCI
    /// interrupt's CPU (QEMU xHCI 1b36:000d)".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = if self.in_transfers == 1 { "" } else { "s" };
        write!(f, "{} queued IN transfer{plural}, ", self.in_transfers)?;
        match self.event_poll {
            Some(every) => write!(f, "events polled every {} ms, ", every.as_millis())?,
            None => f.write_str("blocking event waits, ")?,
        }
        f.write_str(if self.pin_to_interrupt_cpu {
            "pinned to the xHCI interrupt's CPU"
        } else {
            "no CPU pinning"
        })?;
        if self.sources.is_empty() {
            f.write_str(" (defaults)")
        } else {
            write!(f, " ({})", self.sources.join("; "))
        }
    }
}

/// Which devices a row is for.
#[derive(Debug, Clone, Copy)]
pub(super) enum Match {
    /// Every device behind this PCI host controller (vendor, device).
    HostController(u16, u16),
    /// Devices of this USB vendor behind any xHCI.
    VendorBehindXhci(u16),
    /// One USB vendor:product. No row needs one yet; a phone's own quirk
    /// will (the tests match it already).
    #[cfg_attr(not(test), allow(dead_code))]
    Device(u16, u16),
}

/// One row of the table: which devices, and what they need.
pub(super) struct Row {
    /// What the row is about, for `-v`.
    pub name: &'static str,
    /// Which devices it applies to.
    pub matches: Match,
    /// What it changes.
    pub apply: fn(&mut Quirks),
}

/// QEMU's xHCI retries a NAKed transfer only when the host rings the doorbell,
/// and turns the No-Op TRBs of cancelled transfers into zero-length transfers
/// that usb-mtp stalls: one queued IN transfer, event waits resubmitted every
/// 200 ms. Under software emulation a wake-up handed between virtual CPUs
/// costs more than a transaction: keep the USB threads on the interrupt's CPU.
fn qemu_xhci(quirks: &mut Quirks) {
    quirks.in_transfers = 1;
    quirks.event_poll = Some(Duration::from_millis(200));
    quirks.pin_to_interrupt_cpu = true;
}

/// The quirks table.
pub(super) const TABLE: &[Row] = &[
    Row {
        name: "QEMU xHCI (qemu-xhci, PCI 1b36:000d)",
        matches: Match::HostController(0x1b36, 0x000d),
        apply: qemu_xhci,
    },
    Row {
        // QEMU's nec-usb-xhci carries a real chip's PCI ids; its devices are QEMU's.
        name: "a QEMU-emulated device (vendor 46f4) behind an xHCI",
        matches: Match::VendorBehindXhci(super::discover::QEMU_USB_VENDOR),
        apply: qemu_xhci,
    },
];

/// What the table needs to know about a device.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct DeviceFacts {
    /// The PCI host controller (vendor, device, is an xHCI), when known.
    pub controller: Option<(u16, u16, bool)>,
    /// idVendor.
    pub vendor_id: u16,
    /// idProduct.
    pub product_id: u16,
}

impl Match {
    fn matches(self, device: &DeviceFacts) -> bool {
        match self {
            Match::HostController(vendor, id) => {
                device.controller.is_some_and(|(v, d, _)| (v, d) == (vendor, id))
            }
            Match::VendorBehindXhci(vendor) => {
                device.vendor_id == vendor && device.controller.is_some_and(|(_, _, xhci)| xhci)
            }
            Match::Device(vendor, product) => (device.vendor_id, device.product_id) == (vendor, product),
        }
    }
}

/// The quirks `table` gives `device`, then `override_text` (the environment
/// variable's value) on top.
pub(super) fn quirks_for(
    table: &[Row],
    device: &DeviceFacts,
    override_text: Option<&str>,
) -> Result<Quirks, String> {
    let mut quirks = Quirks::default();
    for row in table.iter().filter(|row| row.matches.matches(device)) {
        (row.apply)(&mut quirks);
        quirks.sources.push(row.name.to_owned());
    }
    if let Some(text) = override_text.map(str::trim).filter(|t| !t.is_empty()) {
        apply_override(&mut quirks, text)?;
        quirks.sources.push(format!("{QUIRKS_VAR}={text}"));
    }
    Ok(quirks)
}

/// Reads `key=value,key=value`: `in_transfers=N` (1–32), `event_poll_ms=N`
/// (0 or `off`: blocking waits), `pin_cpu=on|off`.
fn apply_override(quirks: &mut Quirks, text: &str) -> Result<(), String> {
    const KNOWN: &str = "in_transfers=N, event_poll_ms=N|off, pin_cpu=on|off";
    for setting in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (key, value) = setting
            .split_once('=')
            .ok_or_else(|| format!("{QUIRKS_VAR}: \"{setting}\" is not key=value (known: {KNOWN})"))?;
        let bad = || format!("{QUIRKS_VAR}: bad value in \"{setting}\" (known: {KNOWN})");
        match key.trim() {
            "in_transfers" => {
                let n: usize = value.trim().parse().map_err(|_| bad())?;
                if !(1..=MAX_IN_TRANSFERS).contains(&n) {
                    return Err(bad());
                }
                quirks.in_transfers = n;
            }
            "event_poll_ms" => {
                quirks.event_poll = match value.trim() {
                    "off" | "0" => None,
                    ms => Some(Duration::from_millis(ms.parse().map_err(|_| bad())?)),
                };
            }
            "pin_cpu" => quirks.pin_to_interrupt_cpu = on_off(value).ok_or_else(bad)?,
            other => {
                return Err(format!(
                    "{QUIRKS_VAR}: unknown quirk \"{other}\" (known: {KNOWN})"
                ));
            }
        }
    }
    Ok(())
}

fn on_off(value: &str) -> Option<bool> {
    match value.trim() {
        "on" | "1" | "yes" | "true" => Some(true),
        "off" | "0" | "no" | "false" => Some(false),
        _ => None,
    }
}

/// The quirks for the device at `sysfs_dir` (Linux: its host controller is
/// read from sysfs), with the environment's override.
pub(super) fn quirks_at(
    sysfs_dir: Option<&std::path::Path>,
    vendor_id: u16,
    product_id: u16,
) -> Result<Quirks, String> {
    let facts = DeviceFacts {
        controller: host_controller(sysfs_dir),
        vendor_id,
        product_id,
    };
    let override_text = std::env::var(QUIRKS_VAR).ok();
    quirks_for(TABLE, &facts, override_text.as_deref())
}

#[cfg(target_os = "linux")]
fn host_controller(sysfs_dir: Option<&std::path::Path>) -> Option<(u16, u16, bool)> {
    let dir = std::fs::canonicalize(sysfs_dir?).ok()?;
    super::sysfs::host_controller(&dir).map(
        |HostController {
             vendor,
             device,
             is_xhci,
         }| (vendor, device, is_xhci),
    )
}

#[cfg(not(target_os = "linux"))]
fn host_controller(_sysfs_dir: Option<&std::path::Path>) -> Option<(u16, u16, bool)> {
    None
}

/// Keeps the calling thread, and the threads it starts from now on (nusb's
/// event thread among them), on the CPU that takes the xHCI interrupts.
///
/// Every transaction hands each completed transfer from the interrupt to
/// nusb's event thread to the thread waiting for it. Under QEMU's software
/// emulation a wakeup across virtual CPUs is very expensive: listing 10,000
/// files took 12 s (20 s of guest sys time) unpinned and 3 s (2.4 s sys) with
/// both threads on the interrupt's CPU, in the same guest boot. Best effort:
/// without /proc/interrupts, or if the kernel refuses, nothing changes.
#[cfg(target_os = "linux")]
pub(crate) fn keep_on_interrupt_cpu() {
    let Some(cpu) = std::fs::read_to_string("/proc/interrupts")
        .ok()
        .and_then(|table| busiest_cpu(&table, "xhci"))
    else {
        return;
    };
    if cpu >= rustix::thread::CpuSet::MAX_CPU {
        return;
    }
    let mut set = rustix::thread::CpuSet::new();
    set.set(cpu);
    // None: this thread.
    let _ = rustix::thread::sched_setaffinity(None, &set);
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn keep_on_interrupt_cpu() {}

/// The CPU column with the most interrupts on the `/proc/interrupts` lines
/// naming `driver`.
#[cfg(target_os = "linux")]
fn busiest_cpu(table: &str, driver: &str) -> Option<usize> {
    let cpus = table.lines().next()?.split_whitespace().count();
    let mut totals = vec![0u64; cpus];
    for line in table.lines().skip(1).filter(|line| line.contains(driver)) {
        let counts = line.split_whitespace().skip(1).take(cpus);
        for (total, count) in totals.iter_mut().zip(counts) {
            *total += count.parse::<u64>().unwrap_or(0);
        }
    }
    let (cpu, &most) = totals.iter().enumerate().max_by_key(|&(_, total)| *total)?;
    (most > 0).then_some(cpu)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PIXEL: (u16, u16) = (0x18d1, 0x4ee1);
    const INTEL_XHCI: Option<(u16, u16, bool)> = Some((0x8086, 0xa36d, true));
    const QEMU_XHCI_FACTS: Option<(u16, u16, bool)> = Some((0x1b36, 0x000d, true));

    fn facts(controller: Option<(u16, u16, bool)>, (vendor_id, product_id): (u16, u16)) -> DeviceFacts {
        DeviceFacts {
            controller,
            vendor_id,
            product_id,
        }
    }

    #[test]
    fn a_phone_on_a_real_controller_gets_the_defaults() {
        let quirks = quirks_for(TABLE, &facts(INTEL_XHCI, PIXEL), None).unwrap();
        assert_eq!(quirks, Quirks::default());
        assert_eq!(quirks.in_transfers, 4);
        assert_eq!(
            quirks.to_string(),
            "4 queued IN transfers, blocking event waits, no CPU pinning (defaults)"
        );
    }

    #[test]
    fn behind_qemus_xhci_every_device_gets_the_qemu_workarounds() {
        for device in [PIXEL, (0x46f4, 0x0004)] {
            let quirks = quirks_for(TABLE, &facts(QEMU_XHCI_FACTS, device), None).unwrap();
            assert_eq!(quirks.in_transfers, 1);
            assert_eq!(quirks.event_poll, Some(Duration::from_millis(200)));
            assert!(quirks.pin_to_interrupt_cpu);
        }
        // QEMU's nec-usb-xhci has a real chip's ids; usb-mtp's vendor gives it away.
        let nec = quirks_for(TABLE, &facts(INTEL_XHCI, (0x46f4, 0x0004)), None).unwrap();
        assert_eq!(nec.in_transfers, 1);
        assert_eq!(
            nec.to_string(),
            "1 queued IN transfer, events polled every 200 ms, pinned to the xHCI interrupt's CPU \
             (a QEMU-emulated device (vendor 46f4) behind an xHCI)"
        );
        // QEMU's EHCI polls by itself.
        let ehci = quirks_for(TABLE, &facts(Some((0x8086, 0x293a, false)), (0x46f4, 4)), None).unwrap();
        assert_eq!(ehci, Quirks::default());
    }

    #[test]
    fn the_environment_overrides_the_table_and_pinning_can_be_switched_off() {
        let qemu = facts(QEMU_XHCI_FACTS, (0x46f4, 0x0004));
        let unpinned = quirks_for(TABLE, &qemu, Some("pin_cpu=off")).unwrap();
        assert!(!unpinned.pin_to_interrupt_cpu);
        assert_eq!(unpinned.in_transfers, 1, "the rest of the row stays");
        assert!(
            unpinned.to_string().ends_with("MTPULL_QUIRKS=pin_cpu=off)"),
            "{unpinned}"
        );

        let phone = quirks_for(
            TABLE,
            &facts(INTEL_XHCI, PIXEL),
            Some(" in_transfers=2, event_poll_ms=50 ,pin_cpu=on"),
        )
        .unwrap();
        assert_eq!(phone.in_transfers, 2);
        assert_eq!(phone.event_poll, Some(Duration::from_millis(50)));
        assert!(phone.pin_to_interrupt_cpu);
        let blocking = quirks_for(TABLE, &qemu, Some("event_poll_ms=off")).unwrap();
        assert_eq!(blocking.event_poll, None);
        let blank = quirks_for(TABLE, &qemu, Some("  ")).unwrap();
        assert!(
            blank
                .sources
                .iter()
                .all(|source| !source.contains("MTPULL_QUIRKS"))
        );
    }

    #[test]
    fn a_bad_override_says_what_is_known() {
        let phone = facts(None, PIXEL);
        for bad in [
            "turbo=on",
            "in_transfers=0",
            "in_transfers=x",
            "pin_cpu=maybe",
            "pin_cpu",
        ] {
            let error = quirks_for(TABLE, &phone, Some(bad)).unwrap_err();
            assert!(
                error.contains("MTPULL_QUIRKS") && error.contains("in_transfers=N"),
                "{error}"
            );
        }
    }

    #[test]
    fn a_new_device_is_one_row() {
        fn slow_events(quirks: &mut Quirks) {
            quirks.event_poll = Some(Duration::from_millis(500));
        }
        let table = [Row {
            name: "Example player 1234:5678",
            matches: Match::Device(0x1234, 0x5678),
            apply: slow_events,
        }];
        let player = quirks_for(&table, &facts(INTEL_XHCI, (0x1234, 0x5678)), None).unwrap();
        assert_eq!(player.event_poll, Some(Duration::from_millis(500)));
        assert_eq!(player.sources, ["Example player 1234:5678"]);
        assert_eq!(
            quirks_for(&table, &facts(INTEL_XHCI, PIXEL), None).unwrap(),
            Quirks::default()
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_cpu_taking_most_xhci_interrupts_wins() {
        let table = "           CPU0       CPU1\n  \
                     1:          9          0   IO-APIC    1-edge      i8042\n \
                     24:         31     183735   PCI-MSI 65536-edge      xhci_hcd\n \
                     25:          0          2   PCI-MSI 65537-edge      xhci_hcd\n";
        assert_eq!(busiest_cpu(table, "xhci"), Some(1));
        assert_eq!(busiest_cpu(table, "ehci"), None, "no such lines");
        assert_eq!(busiest_cpu("", "xhci"), None);
    }
}
