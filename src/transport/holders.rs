//! Who else has the phone open: a scan of `/proc/*/fd` for the device node, and
//! the words that tell the user how to release it.
//!
//! Linux lets one program claim an interface. When claiming fails with "busy",
//! the culprit is nearly always a desktop service (gvfs on GNOME, kiod on KDE)
//! that mounted the phone when it appeared. Naming it, with the command that
//! releases it, answers the most asked question of every MTP tool.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

/// The device node Linux's usbfs gives a device: `/dev/bus/usb/BBB/DDD`.
pub(super) fn usbfs_node(bus_number: u8, address: u8) -> PathBuf {
    PathBuf::from(format!("/dev/bus/usb/{bus_number:03}/{address:03}"))
}

/// A process that has the device node open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// Its process id.
    pub pid: u32,
    /// The program's name: argv\[0\]'s file name, else `/proc/PID/comm`.
    pub name: String,
}

/// What a scan of `/proc` found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HolderScan {
    /// The processes found with it open.
    pub holders: Vec<Holder>,
    /// Processes whose open files could not be read (another user's, usually).
    pub unreadable: usize,
}

/// Lists the processes under `proc_root` with `node` open, leaving out
/// `own_pid` (mtpull itself has the node open when claiming fails).
pub(super) fn find_holders(proc_root: &Path, node: &Path, own_pid: u32) -> HolderScan {
    let mut scan = HolderScan::default();
    let Ok(entries) = fs::read_dir(proc_root) else {
        return scan;
    };
    let mut pids: Vec<u32> = entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&pid| pid != own_pid)
        .collect();
    pids.sort_unstable();
    for pid in pids {
        let process = proc_root.join(pid.to_string());
        match has_open(&process.join("fd"), node) {
            Some(true) => scan.holders.push(Holder {
                pid,
                name: program_name(&process),
            }),
            Some(false) => {}
            None => scan.unreadable += 1,
        }
    }
    scan
}

/// `None` when the process's fd directory cannot be read.
fn has_open(fd_dir: &Path, node: &Path) -> Option<bool> {
    let fds = fs::read_dir(fd_dir).ok()?;
    Some(
        fds.filter_map(Result::ok)
            .any(|fd| fs::read_link(fd.path()).is_ok_and(|target| target == node)),
    )
}

fn program_name(process: &Path) -> String {
    let from_cmdline = fs::read(process.join("cmdline")).ok().and_then(|cmdline| {
        let argv0 = cmdline.split(|&b| b == 0).next()?;
        let argv0 = String::from_utf8_lossy(argv0);
        let base = argv0.rsplit('/').next()?.to_owned();
        (!base.is_empty()).then_some(base)
    });
    from_cmdline
        .or_else(|| {
            fs::read_to_string(process.join("comm"))
                .ok()
                .map(|c| c.trim().to_owned())
        })
        .unwrap_or_else(|| "an unnamed program".to_owned())
}

/// What to run to make `holder` let go of the phone.
pub(super) fn release_advice(holder: &Holder) -> String {
    let pid = holder.pid;
    let name = holder.name.as_str();
    match name {
        "gvfsd-mtp" => format!(
            "GNOME (gvfs) has mounted the phone: run `gio mount -s mtp` (or eject the phone in Files), \
             or `kill {pid}`"
        ),
        "gvfsd-gphoto2" => format!(
            "GNOME (gvfs) has mounted the camera: run `gio mount -s gphoto2` (or eject it in Files), \
             or `kill {pid}`"
        ),
        n if n.starts_with("gvfs-mtp-volume") || n.starts_with("gvfs-gphoto2-vo") => {
            let unit = if n.contains("mtp") {
                "gvfs-mtp-volume-monitor"
            } else {
                "gvfs-gphoto2-volume-monitor"
            };
            format!(
                "GNOME's volume monitor is watching the phone: run `systemctl --user stop {unit}` \
                 (or `kill {pid}`); `systemctl --user mask {unit}` keeps it away for good"
            )
        }
        n if n.starts_with("gvfs") => {
            "GNOME (gvfs) is using the phone: run `gio mount -s mtp`, or `systemctl --user stop gvfs-daemon`"
                .to_owned()
        }
        "kiod" | "kiod5" | "kiod6" => format!(
            "KDE (kiod) is using the phone: close it in Dolphin, then `kill {pid}` \
             (KDE starts kiod again when it needs it)"
        ),
        n if n.starts_with("kioworker") || n.starts_with("kioslave") || n.starts_with("kio_mtp") => {
            format!("a KDE file view is browsing the phone: close it in Dolphin, or `kill {pid}`")
        }
        "adb" => format!(
            "the adb server has the phone open for USB debugging; it normally leaves file transfer alone, \
             but if it is the one holding it, run `adb kill-server` (or `kill {pid}`)"
        ),
        "mtpull" => format!("another mtpull is using the phone: let it finish, or stop it with `kill {pid}`"),
        n if n.starts_with("mtp-")
            || ["jmtpfs", "simple-mtpfs", "go-mtpfs", "aft-mtp-mount"].contains(&n) =>
        {
            format!(
                "{n} (libmtp/FUSE) has the phone open: unmount it with `fusermount -u MOUNTPOINT`, or `kill {pid}`"
            )
        }
        n => format!("{n} has the phone open: close it, or `kill {pid}`"),
    }
}

/// The whole message for a device that another process holds.
pub(super) fn busy_message(device: &str, node: &Path, scan: &HolderScan) -> String {
    let mut message = format!("{device} is in use by another program");
    match scan.holders.as_slice() {
        [] => {
            message.push_str(
                ": no process of yours has it open, so it is probably held by another user's \
                 program or a system service",
            );
            let _ = write!(message, "; `sudo fuser -v {}` names it", node.display());
        }
        [holder] => {
            let _ = write!(
                message,
                ": {} (pid {}).\n  {}",
                holder.name,
                holder.pid,
                release_advice(holder)
            );
        }
        holders => {
            message.push(':');
            for holder in holders {
                let _ = write!(
                    message,
                    "\n  {} (pid {}): {}",
                    holder.name,
                    holder.pid,
                    release_advice(holder)
                );
            }
        }
    }
    if scan.unreadable > 0 && !scan.holders.is_empty() {
        let _ = write!(
            message,
            "\n  ({} process(es) of other users could not be inspected; `sudo fuser -v {}` shows all)",
            scan.unreadable,
            node.display()
        );
    }
    message.push_str("\n  Then run mtpull again.");
    message
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    struct FakeProc {
        root: tempfile::TempDir,
    }

    impl FakeProc {
        fn new() -> Self {
            Self {
                root: tempfile::tempdir().unwrap(),
            }
        }

        fn process(&self, pid: u32, argv: &[&str], comm: &str, open: &[&str]) -> PathBuf {
            let dir = self.root.path().join(pid.to_string());
            fs::create_dir_all(dir.join("fd")).unwrap();
            fs::write(
                dir.join("cmdline"),
                argv.iter().map(|a| format!("{a}\0")).collect::<String>(),
            )
            .unwrap();
            fs::write(dir.join("comm"), format!("{comm}\n")).unwrap();
            for (fd, target) in open.iter().enumerate() {
                symlink(target, dir.join("fd").join(fd.to_string())).unwrap();
            }
            dir
        }
    }

    const PHONE: &str = "/dev/bus/usb/001/005";

    #[test]
    fn finds_the_processes_holding_the_node_and_skips_mtpull_itself() {
        let proc = FakeProc::new();
        proc.process(
            1234,
            &["/usr/libexec/gvfsd-mtp", "--spawner", ":1.4"],
            "gvfsd-mtp",
            &["/dev/null", PHONE],
        );
        proc.process(77, &["/usr/bin/bash"], "bash", &["/dev/pts/0"]);
        proc.process(4321, &["kiod6"], "kiod6", &["/dev/bus/usb/001/006"]);
        proc.process(999, &["/usr/bin/mtpull", "ls"], "mtpull", &[PHONE]);
        fs::create_dir_all(proc.root.path().join("self")).unwrap();
        fs::write(proc.root.path().join("meminfo"), "").unwrap();

        let scan = find_holders(proc.root.path(), Path::new(PHONE), 999);
        assert_eq!(
            scan.holders,
            vec![Holder {
                pid: 1234,
                name: "gvfsd-mtp".into()
            }]
        );
        assert_eq!(scan.unreadable, 0);
    }

    #[test]
    fn program_name_falls_back_to_comm_for_kernel_threads_and_empty_cmdlines() {
        let proc = FakeProc::new();
        proc.process(10, &[], "gvfs-mtp-volume", &[PHONE]);
        let scan = find_holders(proc.root.path(), Path::new(PHONE), 1);
        assert_eq!(scan.holders[0].name, "gvfs-mtp-volume");
    }

    #[test]
    fn processes_without_a_readable_fd_dir_are_counted() {
        let proc = FakeProc::new();
        proc.process(20, &["adb"], "adb", &[PHONE]);
        fs::create_dir_all(proc.root.path().join("21")).unwrap(); // no fd/: as if unreadable
        let scan = find_holders(proc.root.path(), Path::new(PHONE), 1);
        assert_eq!(scan.holders.len(), 1);
        assert_eq!(scan.unreadable, 1);
    }

    #[test]
    fn missing_proc_gives_an_empty_scan() {
        let scan = find_holders(Path::new("/nonexistent/proc"), Path::new(PHONE), 1);
        assert_eq!(scan, HolderScan::default());
    }

    fn advice(name: &str) -> String {
        release_advice(&Holder {
            pid: 42,
            name: name.into(),
        })
    }

    #[test]
    fn each_known_holder_gets_its_own_fix() {
        assert!(advice("gvfsd-mtp").contains("gio mount -s mtp"));
        assert!(advice("gvfsd-gphoto2").contains("gio mount -s gphoto2"));
        assert!(advice("gvfs-mtp-volume-monitor").contains("systemctl --user stop gvfs-mtp-volume-monitor"));
        assert!(
            advice("gvfs-mtp-volume").contains("gvfs-mtp-volume-monitor"),
            "comm is cut at 15 chars"
        );
        assert!(advice("gvfs-gphoto2-vo").contains("gvfs-gphoto2-volume-monitor"));
        assert!(advice("gvfsd").contains("systemctl --user stop gvfs-daemon"));
        for kiod in ["kiod", "kiod5", "kiod6"] {
            assert!(advice(kiod).contains("KDE (kiod)"), "{kiod}");
            assert!(advice(kiod).contains("kill 42"), "{kiod}");
        }
        assert!(advice("kioworker").contains("Dolphin"));
        assert!(advice("adb").contains("adb kill-server"));
        assert!(advice("mtpull").contains("another mtpull"));
        assert!(advice("jmtpfs").contains("fusermount -u"));
        assert!(advice("mtp-detect").contains("libmtp"));
        assert_eq!(
            advice("darktable"),
            "darktable has the phone open: close it, or `kill 42`"
        );
    }

    #[test]
    fn busy_message_names_the_holder_and_the_fix() {
        let scan = HolderScan {
            holders: vec![Holder {
                pid: 1234,
                name: "gvfsd-mtp".into(),
            }],
            unreadable: 0,
        };
        let message = busy_message("Google Pixel 7 (18d1:4ee1)", Path::new(PHONE), &scan);
        assert_eq!(
            message,
            "Google Pixel 7 (18d1:4ee1) is in use by another program: gvfsd-mtp (pid 1234).\n  \
             GNOME (gvfs) has mounted the phone: run `gio mount -s mtp` (or eject the phone in Files), \
             or `kill 1234`\n  Then run mtpull again."
        );
    }

    #[test]
    fn busy_message_lists_several_holders_and_hidden_processes() {
        let scan = HolderScan {
            holders: vec![
                Holder {
                    pid: 1,
                    name: "adb".into(),
                },
                Holder {
                    pid: 2,
                    name: "kiod6".into(),
                },
            ],
            unreadable: 3,
        };
        let message = busy_message("phone", Path::new(PHONE), &scan);
        assert!(message.contains("\n  adb (pid 1): the adb server"));
        assert!(message.contains("\n  kiod6 (pid 2): KDE (kiod)"));
        assert!(message.contains("3 process(es) of other users could not be inspected"));
    }

    #[test]
    fn busy_message_without_a_holder_points_to_fuser() {
        let message = busy_message(
            "phone",
            Path::new(PHONE),
            &HolderScan {
                holders: vec![],
                unreadable: 5,
            },
        );
        assert!(message.contains("another user's program or a system service"));
        assert!(message.contains("`sudo fuser -v /dev/bus/usb/001/005`"));
    }

    #[test]
    fn usbfs_node_is_zero_padded() {
        assert_eq!(usbfs_node(1, 5), PathBuf::from(PHONE));
        assert_eq!(usbfs_node(12, 123), PathBuf::from("/dev/bus/usb/012/123"));
    }
}
