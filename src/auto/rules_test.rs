//! The udev rule, run by the real `udevadm test` against fake sysfs devices
//! built from the transport's table of real interface descriptors: the rule
//! must fire exactly where `transport::classify` finds MTP or PTP, except
//! where udev cannot see what the classifier sees (the Microsoft OS
//! descriptor), and there libmtp's verdict must make it fire.
//!
//! udev reads /sys, so each run happens in a private mount namespace (a user
//! namespace when not root) with a made-up sysfs device and only two rule
//! files: systemd's 50-udev-default.rules (which computes ID_USB_INTERFACES
//! from the raw descriptors) and ours, plus a stand-in for libmtp's verdict
//! where a case needs it; /run is a fresh tmpfs, so udev's database of other
//! runs stays out. Skipped, saying why, where udevadm or namespaces are missing.

use std::fmt::Write as _;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::install::{RULES, RULES_NAME};
use crate::transport::classify::real_devices::table;
use crate::transport::classify::{CLASS_VENDOR, Evidence, InterfaceFacts, classify};

const UDEV_DEFAULT_RULES: &str = "50-udev-default.rules";
/// libmtp's rule file name: it sorts before ours, as the real one does.
const LIBMTP_STAND_IN: &str = "\
SUBSYSTEM==\"usb\", ENV{DEVTYPE}==\"usb_device\", ATTR{libmtp_says_mtp}==\"1\", ENV{ID_MTP_DEVICE}=\"1\"\n";

/// One made-up USB device.
struct FakeDevice {
    name: String,
    interfaces: Vec<InterfaceFacts>,
    /// Whether libmtp (its hwdb or mtp-probe) has set ID_MTP_DEVICE=1.
    libmtp_says_mtp: bool,
}

/// What udev decided for one device.
#[derive(Debug)]
struct Decision {
    tags: String,
    user_wants: String,
}

impl Decision {
    fn fired(&self) -> bool {
        let tagged = self.tags.contains(":uaccess:") && self.tags.contains(":systemd:");
        let wants = self.user_wants.contains("mtpull-backup@");
        assert_eq!(tagged, wants, "the rule tags and starts together: {self:?}");
        wants
    }
}

/// Why the test cannot run here, if it cannot.
fn unavailable() -> Option<String> {
    if Command::new("udevadm").arg("--version").output().is_err() {
        return Some("udevadm is not installed (Debian package udev)".into());
    }
    if udev_default_rules().is_none() {
        return Some(format!("systemd's {UDEV_DEFAULT_RULES} is not installed"));
    }
    let namespaces = Command::new("unshare")
        .args(["--user", "--map-root-user", "--mount", "true"])
        .output();
    match namespaces {
        Ok(out) if out.status.success() => None,
        Ok(out) => Some(format!(
            "cannot make a mount namespace: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(e) => Some(format!("unshare (util-linux) cannot run: {e}")),
    }
}

fn udev_default_rules() -> Option<PathBuf> {
    ["/usr/lib/udev/rules.d", "/lib/udev/rules.d"]
        .iter()
        .map(|dir| Path::new(dir).join(UDEV_DEFAULT_RULES))
        .find(|path| path.is_file())
}

/// Raw descriptors as the kernel's sysfs `descriptors` file holds them: the
/// device, configuration 1, and each interface with MTP's three endpoints.
fn descriptors(interfaces: &[InterfaceFacts]) -> Vec<u8> {
    // USB 2.0, class from the interfaces, vendor 1209 (pid.codes), product 0012.
    let mut bytes = vec![
        18, 0x01, 0x00, 0x02, 0, 0, 0, 64, 0x09, 0x12, 0x12, 0x00, 0x00, 0x01, 1, 2, 0, 1,
    ];
    let total = 9 + interfaces.len() * (9 + 3 * 7);
    let total = u16::try_from(total).unwrap().to_le_bytes();
    let count = u8::try_from(interfaces.len()).unwrap();
    bytes.extend_from_slice(&[9, 0x02, total[0], total[1], count, 1, 0, 0x80, 50]);
    for (number, facts) in (0u8..).zip(interfaces) {
        bytes.extend_from_slice(&[
            9,
            0x04,
            number,
            0,
            3,
            facts.class,
            facts.subclass,
            facts.protocol,
            0,
        ]);
        let endpoint = |address: u8, kind: u8, size: u16| {
            let [low, high] = size.to_le_bytes();
            [7, 0x05, address, kind, low, high, 0]
        };
        bytes.extend_from_slice(&endpoint(0x81 + 2 * number, 0x02, 512));
        bytes.extend_from_slice(&endpoint(0x02 + 2 * number, 0x02, 512));
        bytes.extend_from_slice(&endpoint(0x83 + 2 * number, 0x03, 28));
    }
    bytes
}

fn put(path: &Path, content: impl AsRef<[u8]>) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, content).unwrap();
}

/// Writes device `index` (kernel name `1-<index>`) under `sys/devices`;
/// returns its sysfs path as udev will see it.
fn make_device(sys: &Path, index: usize, device: &FakeDevice) -> String {
    let syspath = format!("/sys/devices/pci0000:00/0000:00:14.0/usb1/1-{index}");
    let dir = sys.join(syspath.trim_start_matches("/sys/"));
    let devnum = index + 1;
    put(
        &dir.join("uevent"),
        format!(
            "MAJOR=189\nMINOR={index}\nDEVNAME=bus/usb/001/{devnum:03}\nDEVTYPE=usb_device\nDRIVER=usb\n\
             PRODUCT=1209/12/100\nTYPE=0/0/0\nBUSNUM=001\nDEVNUM={devnum:03}\n"
        ),
    );
    symlink("../../../../../bus/usb", dir.join("subsystem")).unwrap();
    for (attribute, value) in [
        ("idVendor", "1209"),
        ("idProduct", "0012"),
        ("bDeviceClass", "00"),
        ("bConfigurationValue", "1"),
        ("busnum", "1"),
        ("devnum", &devnum.to_string()),
        ("manufacturer", "mtpull test"),
        ("product", &device.name),
        ("libmtp_says_mtp", if device.libmtp_says_mtp { "1" } else { "0" }),
    ] {
        put(&dir.join(attribute), format!("{value}\n"));
    }
    put(&dir.join("descriptors"), descriptors(&device.interfaces));
    for (number, facts) in device.interfaces.iter().enumerate() {
        let interface = dir.join(format!("1-{index}:1.{number}"));
        put(&interface.join("bInterfaceNumber"), format!("{number:02x}\n"));
        put(
            &interface.join("bInterfaceClass"),
            format!("{:02x}\n", facts.class),
        );
        put(
            &interface.join("bInterfaceSubClass"),
            format!("{:02x}\n", facts.subclass),
        );
        put(
            &interface.join("bInterfaceProtocol"),
            format!("{:02x}\n", facts.protocol),
        );
        if let Some(string) = &facts.interface_string {
            put(&interface.join("interface"), format!("{string}\n"));
        }
    }
    syspath
}

/// Runs `udevadm test --action=ACTION` on each device; with `libmtp`, a
/// stand-in for libmtp's rules sets ID_MTP_DEVICE where a device says so.
fn udev_decisions(devices: &[FakeDevice], action: &str, libmtp: bool) -> Vec<Decision> {
    let work = tempfile::tempdir().unwrap();
    let sys = work.path().join("sys");
    fs::create_dir_all(sys.join("bus/usb/devices")).unwrap();
    let rules = work.path().join("rules");
    fs::create_dir_all(&rules).unwrap();
    fs::copy(udev_default_rules().unwrap(), rules.join(UDEV_DEFAULT_RULES)).unwrap();
    put(&rules.join(RULES_NAME), RULES);
    if libmtp {
        put(&rules.join("69-libmtp.rules"), LIBMTP_STAND_IN);
    }
    let empty = work.path().join("empty");
    fs::create_dir_all(&empty).unwrap();

    let mut script = String::from("set -e\n");
    for (target, source) in [
        ("/sys/devices", sys.join("devices")),
        ("/sys/bus", sys.join("bus")),
        ("/usr/lib/udev/rules.d", rules.clone()),
        ("/etc/udev/rules.d", empty.clone()),
    ] {
        fs::create_dir_all(&source).unwrap();
        writeln!(script, "mount --bind '{}' '{target}'", source.display()).unwrap();
    }
    // A fresh /run: udev's database of earlier runs (sticky tags) and any
    // runtime rules stay out, and nothing is written to the real one.
    script.push_str("mount -t tmpfs mtpull-test /run\n");
    for (index, device) in devices.iter().enumerate() {
        let syspath = make_device(&sys, index + 1, device);
        writeln!(script, "echo '=== device'").unwrap();
        writeln!(
            script,
            "SYSTEMD_DEVICE_VERIFY_SYSFS=0 SYSTEMD_LOG_LEVEL=info udevadm test --action={action} '{syspath}' 2>>'{}'",
            work.path().join("log").display()
        )
        .unwrap();
    }
    let output = Command::new("unshare")
        .args(["--user", "--map-root-user", "--mount", "sh", "-c", &script])
        .output()
        .unwrap();
    let log = fs::read_to_string(work.path().join("log")).unwrap_or_default();
    assert!(
        output.status.success(),
        "udevadm failed: {}\n{log}",
        String::from_utf8_lossy(&output.stderr)
    );
    let complaints: Vec<&str> = log
        .lines()
        .filter(|line| line.contains(RULES_NAME) && !line.starts_with("Reading rules file"))
        .collect();
    assert!(
        complaints.is_empty(),
        "udev complains about the rule: {complaints:#?}"
    );

    let stdout = String::from_utf8(output.stdout).unwrap();
    let decisions: Vec<Decision> = stdout
        .split("=== device\n")
        .skip(1)
        .map(|properties| {
            let value = |key: &str| {
                properties
                    .lines()
                    .find_map(|line| line.strip_prefix(key)?.strip_prefix('='))
                    .unwrap_or_default()
                    .to_owned()
            };
            assert!(
                !value("ID_USB_INTERFACES").is_empty() || action == "remove",
                "usb_id did not read the fake descriptors: {properties}"
            );
            Decision {
                tags: value("TAGS"),
                user_wants: value("SYSTEMD_USER_WANTS"),
            }
        })
        .collect();
    assert_eq!(decisions.len(), devices.len(), "{stdout}");
    decisions
}

fn single(name: &str, facts: &InterfaceFacts, libmtp_says_mtp: bool) -> FakeDevice {
    FakeDevice {
        name: name.to_owned(),
        interfaces: vec![facts.clone()],
        libmtp_says_mtp,
    }
}

/// The one thing udev cannot see: a vendor-class interface that only the
/// Microsoft OS descriptor identifies.
fn needs_the_os_descriptor(facts: &InterfaceFacts) -> bool {
    facts.class == CLASS_VENDOR && classify(facts).is_some_and(|c| c.evidence == Evidence::OsDescriptor)
}

macro_rules! skip_if_unavailable {
    () => {
        if let Some(reason) = unavailable() {
            return crate::testing::cannot_run(&reason);
        }
    };
}

#[test]
fn udev_fires_where_mtpull_finds_mtp_or_ptp_and_nowhere_else() {
    skip_if_unavailable!();
    let devices = table();
    let fakes: Vec<FakeDevice> = devices.iter().map(|d| single(d.name, &d.facts, false)).collect();
    let decisions = udev_decisions(&fakes, "add", false);
    let mut os_descriptor_only = Vec::new();
    for (device, decision) in devices.iter().zip(&decisions) {
        let found = classify(&device.facts).is_some();
        if needs_the_os_descriptor(&device.facts) {
            assert!(!decision.fired(), "{}: udev cannot know this", device.name);
            os_descriptor_only.push(device.name);
        } else {
            assert_eq!(decision.fired(), found, "{}: {decision:?}", device.name);
        }
        if decision.fired() {
            let kernel_name = decision.user_wants.trim_start_matches("mtpull-backup@");
            assert!(kernel_name.starts_with("1-") && kernel_name.ends_with(".service"));
        }
    }
    assert_eq!(
        os_descriptor_only,
        ["Vendor-class media player confirmed by the OS descriptor"],
        "the table's only case udev alone cannot see"
    );
    let fired = decisions.iter().filter(|d| d.fired()).count();
    assert!(
        fired >= 5 && fired < decisions.len(),
        "both outcomes are exercised"
    );
}

#[test]
fn with_libmtp_installed_every_mtp_or_ptp_device_fires() {
    skip_if_unavailable!();
    let devices = table();
    // libmtp's mtp-probe reads the same interface strings and OS descriptor:
    // its verdict is MTP where the classifier's is.
    let fakes: Vec<FakeDevice> = devices
        .iter()
        .map(|d| {
            let mtp = classify(&d.facts).is_some_and(|c| c.protocol == crate::transport::Protocol::Mtp);
            single(d.name, &d.facts, mtp)
        })
        .collect();
    for (device, decision) in devices.iter().zip(udev_decisions(&fakes, "add", true)) {
        assert_eq!(
            decision.fired(),
            classify(&device.facts).is_some(),
            "{}",
            device.name
        );
    }
}

#[test]
fn composite_phones_fire_on_any_of_the_first_interfaces_and_only_on_add_or_bind() {
    skip_if_unavailable!();
    let facts = |class, subclass, protocol, string: Option<&str>| InterfaceFacts {
        class,
        subclass,
        protocol,
        interface_string: string.map(str::to_owned),
        os_compat_id: None,
    };
    let adb = facts(0xFF, 0x42, 0x01, Some("ADB Interface"));
    let named_vendor_mtp = facts(0xFF, 0xFF, 0x00, Some("MTP"));
    let still_image = facts(0x06, 0x01, 0x01, None);
    let keyboard = facts(0x03, 0x01, 0x01, None);
    let mass_storage = facts(0x08, 0x06, 0x50, None);
    let composite = |name: &str, interfaces: Vec<InterfaceFacts>| FakeDevice {
        name: name.into(),
        interfaces,
        libmtp_says_mtp: false,
    };
    let devices = vec![
        composite(
            "ADB, then vendor MTP",
            vec![adb.clone(), named_vendor_mtp.clone()],
        ),
        composite(
            "RNDIS x2, ADB, vendor MTP fourth",
            vec![
                facts(0xE0, 0x01, 0x03, None),
                facts(0x0A, 0x00, 0x00, None),
                adb.clone(),
                named_vendor_mtp.clone(),
            ],
        ),
        composite("PTP, then ADB", vec![still_image, adb.clone()]),
        composite("keyboard and a stick", vec![keyboard, mass_storage]),
        composite(
            "class 06/00/00 named MTP: not PTP's subclass",
            vec![facts(0x06, 0, 0, Some("MTP"))],
        ),
    ];
    let fired: Vec<bool> = udev_decisions(&devices, "add", false)
        .iter()
        .map(Decision::fired)
        .collect();
    assert_eq!(fired, [true, true, true, false, false]);
    for (device, fired) in devices.iter().zip(fired) {
        let found = device.interfaces.iter().any(|i| classify(i).is_some());
        assert_eq!(fired, found, "{}: the classifier agrees", device.name);
    }

    let pixel = vec![single("Pixel", &facts(0x06, 0x01, 0x01, Some("MTP")), true)];
    assert!(udev_decisions(&pixel, "bind", false)[0].fired());
    assert!(!udev_decisions(&pixel, "change", false)[0].fired());
    assert!(!udev_decisions(&pixel, "remove", true)[0].fired());
}
