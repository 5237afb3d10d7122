//! `mtpull install-udev`: the udev rule and the two systemd user units from
//! `udev/`, written where udev and systemd look for them, with the path of
//! this mtpull in the units. Pure planning here; the command writes and
//! reloads.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The rule that starts a backup when a phone or camera appears.
pub const RULES: &str = include_str!("../../udev/69-mtpull.rules");
/// The user unit the rule starts, one instance per USB port.
pub const BACKUP_UNIT: &str = include_str!("../../udev/mtpull-backup@.service");
/// The user unit that runs `mtpull watch`.
pub const WATCH_UNIT: &str = include_str!("../../udev/mtpull-watch.service");

/// The rule's file name: after libmtp's 69-libmtp.rules (whose ID_MTP_DEVICE it
/// reads), before 73-seat-late.rules (which applies its uaccess tag).
pub const RULES_NAME: &str = "69-mtpull.rules";
/// Where udev reads local rules, under the prefix.
pub const RULES_DIR: &str = "etc/udev/rules.d";
/// Where every user's systemd finds user units installed by the administrator.
pub const USER_UNIT_DIR: &str = "etc/systemd/user";
/// The file names of the units.
pub const BACKUP_UNIT_NAME: &str = "mtpull-backup@.service";
/// The user unit `mtpull watch` runs as.
pub const WATCH_UNIT_NAME: &str = "mtpull-watch.service";

/// Stands for the mtpull binary in the unit files.
const MTPULL_PLACEHOLDER: &str = "@MTPULL@";

/// One file to install.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallFile {
    /// Where it goes (under the prefix).
    pub path: PathBuf,
    /// What it holds.
    pub content: String,
}

/// The files to install under `prefix` ("/" for the running system) for the
/// mtpull binary at `mtpull` (an absolute path).
pub fn plan(prefix: &Path, mtpull: &Path) -> io::Result<Vec<InstallFile>> {
    let exec = exec_path(mtpull)?;
    let unit = |text: &str| text.replace(MTPULL_PLACEHOLDER, &exec);
    Ok(vec![
        InstallFile {
            path: prefix.join(RULES_DIR).join(RULES_NAME),
            content: RULES.to_owned(),
        },
        InstallFile {
            path: prefix.join(USER_UNIT_DIR).join(BACKUP_UNIT_NAME),
            content: unit(BACKUP_UNIT),
        },
        InstallFile {
            path: prefix.join(USER_UNIT_DIR).join(WATCH_UNIT_NAME),
            content: unit(WATCH_UNIT),
        },
    ])
}

/// Every path [`plan`] writes under `prefix`, for `--uninstall`.
pub fn installed_paths(prefix: &Path) -> Vec<PathBuf> {
    vec![
        prefix.join(RULES_DIR).join(RULES_NAME),
        prefix.join(USER_UNIT_DIR).join(BACKUP_UNIT_NAME),
        prefix.join(USER_UNIT_DIR).join(WATCH_UNIT_NAME),
    ]
}

/// Writes `file` (readable by all: udev and every user's systemd read it)
/// through a temporary file and a rename, so udev never reads half a rule.
pub fn write(file: &InstallFile) -> io::Result<()> {
    let context = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", file.path.display()));
    let dir = file
        .path
        .parent()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no parent folder"))
        .map_err(context)?;
    fs::create_dir_all(dir).map_err(context)?;
    let name = file
        .path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let temp = dir.join(format!(".{name}.mtpull-tmp"));
    let result = (|| {
        let mut out = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o644)
            .open(&temp)?;
        out.write_all(file.content.as_bytes())?;
        out.sync_all()?;
        fs::rename(&temp, &file.path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result.map_err(context)
}

/// Removes `path`; `Ok(false)` when it was not there.
pub fn remove(path: &Path) -> io::Result<bool> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io::Error::new(e.kind(), format!("{}: {e}", path.display()))),
    }
}

/// `path` as one ExecStart= word: quoted when it holds anything but plain path
/// characters, with systemd's specifier (`%`) and variable (`$`) signs doubled.
fn exec_path(path: &Path) -> io::Result<String> {
    let text = path.to_str().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{}: a systemd unit cannot name a path that is not UTF-8",
                path.display()
            ),
        )
    })?;
    if !path.is_absolute() || text.chars().any(char::is_control) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{text:?}: the units need an absolute path without control characters"),
        ));
    }
    let plain = text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._+-".contains(c));
    if plain {
        return Ok(text.to_owned());
    }
    let mut quoted = String::from("\"");
    for c in text.chars() {
        match c {
            '"' | '\\' => {
                quoted.push('\\');
                quoted.push(c);
            }
            '%' => quoted.push_str("%%"),
            '$' => quoted.push_str("$$"),
            _ => quoted.push(c),
        }
    }
    quoted.push('"');
    Ok(quoted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_units_run_this_mtpull_and_the_rule_is_copied_as_is() {
        let files = plan(Path::new("/stage"), Path::new("/usr/local/bin/mtpull")).unwrap();
        let paths: Vec<&Path> = files.iter().map(|f| f.path.as_path()).collect();
        assert_eq!(
            paths,
            [
                Path::new("/stage/etc/udev/rules.d/69-mtpull.rules"),
                Path::new("/stage/etc/systemd/user/mtpull-backup@.service"),
                Path::new("/stage/etc/systemd/user/mtpull-watch.service"),
            ]
        );
        assert_eq!(paths, installed_paths(Path::new("/stage")));
        assert_eq!(files[0].content, RULES);
        assert!(
            files[1]
                .content
                .contains("\nExecStart=/usr/local/bin/mtpull --device %i auto\n")
        );
        assert!(
            files[2]
                .content
                .contains("\nExecStart=/usr/local/bin/mtpull watch\n")
        );
        assert!(files.iter().all(|f| !f.content.contains("@MTPULL@")));
    }

    #[test]
    fn the_rule_starts_the_unit_that_is_installed() {
        // The rule names the template's instances; a rename of one must follow the other.
        let wanted = format!(
            "SYSTEMD_USER_WANTS}}+=\"{}",
            BACKUP_UNIT_NAME.replace("@.", "@%k.")
        );
        assert!(RULES.contains(&wanted), "{wanted}");
        assert!(RULES.contains("TAG+=\"uaccess\"") && RULES.contains("TAG+=\"systemd\""));
        let rules = RULES.lines().filter(|line| !line.starts_with('#'));
        assert!(
            rules.clone().all(|line| !line.contains("RUN")),
            "no work in udev's RUN"
        );
        assert!(
            rules.clone().all(|line| !line.contains("PROGRAM")),
            "no program run as root"
        );
    }

    #[test]
    fn awkward_binary_paths_are_quoted_for_systemd() {
        let exec = |p: &str| exec_path(Path::new(p));
        assert_eq!(
            exec("/opt/mtpull-1.0/bin/mtpull").unwrap(),
            "/opt/mtpull-1.0/bin/mtpull"
        );
        assert_eq!(
            exec("/home/ana/my tools/mtpull").unwrap(),
            "\"/home/ana/my tools/mtpull\""
        );
        assert_eq!(exec("/x/100%/$HOME/\"q\"").unwrap(), r#""/x/100%%/$$HOME/\"q\"""#);
        assert!(exec("relative/mtpull").is_err());
        assert!(exec("/a\nExecStartPre=/bin/evil").is_err());
    }

    #[test]
    fn files_are_written_whole_and_readable_by_all_then_removed() {
        let dir = tempfile::tempdir().unwrap();
        let files = plan(dir.path(), Path::new("/usr/bin/mtpull")).unwrap();
        for file in &files {
            write(file).unwrap();
            assert_eq!(fs::read_to_string(&file.path).unwrap(), file.content);
            let mode = fs::metadata(&file.path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o644);
        }
        // Writing again replaces; no temporary file is left behind.
        write(&files[0]).unwrap();
        let leftovers: Vec<_> = fs::read_dir(files[0].path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, ["69-mtpull.rules"]);
        for path in installed_paths(dir.path()) {
            assert!(remove(&path).unwrap());
            assert!(!remove(&path).unwrap(), "already gone");
        }
    }
}
