//! The auto-backup settings: `~/.config/mtpull/config.toml`, written by
//! `mtpull config init` and read by `mtpull auto` (the udev-started unit) and
//! `mtpull watch`. The file [`TEMPLATE`] writes documents every key.

use std::ffi::OsString;
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::pull::{BackupOptions, Only, Selection};
use crate::sort::Template;

/// How long a locked phone is waited for when the file does not say.
pub const DEFAULT_UNLOCK_TIMEOUT: Duration = Duration::from_secs(120);

/// Which devices are backed up when they are plugged in.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum DevicePolicy {
    /// Every phone and camera.
    #[default]
    Any,
    /// Only these serial numbers (as `mtpull devices` shows them, or the USB serial).
    Serials(Vec<String>),
}

impl DevicePolicy {
    /// Whether a device that goes by any of `serials` (its MTP serial, its USB
    /// serial) may be backed up.
    pub fn allows<'a>(&self, serials: impl IntoIterator<Item = &'a str>) -> bool {
        match self {
            DevicePolicy::Any => true,
            DevicePolicy::Serials(allowed) => serials
                .into_iter()
                .map(str::trim)
                .any(|serial| !serial.is_empty() && allowed.iter().any(|a| a == serial)),
        }
    }
}

impl fmt::Display for DevicePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DevicePolicy::Any => f.write_str("any"),
            DevicePolicy::Serials(serials) => write!(f, "only {}", serials.join(", ")),
        }
    }
}

/// The settings, checked and ready to use.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where backups go.
    pub destination: PathBuf,
    /// Which devices are backed up.
    pub devices: DevicePolicy,
    /// What each backup copies and how it files it.
    pub backup: BackupOptions,
    /// How long to wait for a locked phone to be unlocked.
    pub unlock_timeout: Duration,
    /// Whether to show a desktop notification when a backup ends.
    pub notify: bool,
}

/// Why the settings could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Neither `$XDG_CONFIG_HOME` nor `$HOME` says where the file is.
    #[error("cannot tell where the settings file is: neither XDG_CONFIG_HOME nor HOME is set")]
    NoHome,
    /// The file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The settings file.
        path: PathBuf,
        #[source]
        /// What the OS said.
        source: io::Error,
    },
    /// The file is not valid TOML, or has an unknown key or a bad value.
    #[error("{}: {message}", path.display())]
    Invalid {
        /// The settings file.
        path: PathBuf,
        /// What is wrong, and where.
        message: String,
    },
    /// `config init` would overwrite an existing file.
    #[error("{} already exists; edit it, or pass --force to start again from the defaults", .0.display())]
    Exists(PathBuf),
}

/// The file as written, before checking.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    destination: String,
    #[serde(default)]
    devices: RawDevices,
    template: Option<String>,
    only: Option<String>,
    #[serde(default)]
    include: Vec<String>,
    #[serde(default)]
    exclude: Vec<String>,
    unlock_timeout_secs: Option<u64>,
    notify: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawDevices {
    Word(String),
    Serials(Vec<String>),
}

impl Default for RawDevices {
    fn default() -> Self {
        RawDevices::Word("any".into())
    }
}

/// The file `config init` writes, with `@DESTINATION@` replaced by a TOML string.
const TEMPLATE: &str = r#"# mtpull auto-backup settings, read when a phone or camera is plugged in
# (the udev rule's mtpull-backup@.service, or `mtpull watch`). See the README,
# section "Auto-backup". `mtpull config show` checks this file.

# Where the backups go ("~/" is your home folder).
destination = @DESTINATION@

# Which devices are backed up: "any", or a list of serial numbers as
# `mtpull devices` shows them, e.g. ["R58M1234567", "28101FDH2000XY"].
devices = "any"

# Folder layout under destination: a chrono strftime pattern, with the tokens
# {device} (the phone's model) and {folder} (Camera, Screenshots…); {name} and
# {seq} (0001, 0002… per folder) in the last level name the file.
template = "%Y/%m/%d"

# Which files: "media" (photos and videos), "photos", "videos" or "all".
only = "media"

# Device paths to keep, and to skip (globs; "**" crosses folders).
include = []
exclude = []

# How long to wait for a locked phone to be unlocked (File transfer chosen)
# before giving up, in seconds.
unlock_timeout_secs = 120

# Show a desktop notification (notify-send) when a backup ends.
notify = true
"#;

/// The text of a new settings file backing up into `destination`.
pub fn template(destination: &str) -> String {
    let quoted = toml::Value::String(destination.to_owned()).to_string();
    TEMPLATE.replace("@DESTINATION@", &quoted)
}

/// Where the settings file is: `$XDG_CONFIG_HOME/mtpull/config.toml`, else
/// `$HOME/.config/mtpull/config.toml`. A relative XDG_CONFIG_HOME is ignored,
/// as the XDG spec says.
pub fn default_path(
    xdg_config_home: Option<OsString>,
    home: Option<OsString>,
) -> Result<PathBuf, ConfigError> {
    let xdg = xdg_config_home.map(PathBuf::from).filter(|p| p.is_absolute());
    let base = match (xdg, home) {
        (Some(xdg), _) => xdg,
        (None, Some(home)) if !home.is_empty() => PathBuf::from(home).join(".config"),
        _ => return Err(ConfigError::NoHome),
    };
    Ok(base.join("mtpull").join("config.toml"))
}

/// [`default_path`] from this process's environment.
pub fn path_from_env() -> Result<PathBuf, ConfigError> {
    default_path(std::env::var_os("XDG_CONFIG_HOME"), std::env::var_os("HOME"))
}

impl Config {
    /// Reads and checks the file; `Ok(None)` when there is none.
    pub fn load(path: &Path) -> Result<Option<Config>, ConfigError> {
        match fs::read_to_string(path) {
            Ok(text) => Config::parse(&text, path, home_dir().as_deref()).map(Some),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(ConfigError::Io {
                path: path.to_owned(),
                source,
            }),
        }
    }

    /// Checks `text` (the content of `path`); `home` replaces a leading `~/`.
    pub fn parse(text: &str, path: &Path, home: Option<&Path>) -> Result<Config, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            path: path.to_owned(),
            message,
        };
        let raw: RawConfig = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        let destination = expand_home(&raw.destination, home)
            .ok_or_else(|| invalid("destination: \"~/\" needs HOME to be set".into()))?;
        if !destination.is_absolute() {
            return Err(invalid(format!(
                "destination {:?} must be an absolute path (or start with ~/)",
                raw.destination
            )));
        }
        let devices = match raw.devices {
            RawDevices::Word(word) if word == "any" => DevicePolicy::Any,
            RawDevices::Word(word) => {
                return Err(invalid(format!(
                    "devices = {word:?}: write \"any\" or a list of serial numbers, e.g. [\"{word}\"]"
                )));
            }
            RawDevices::Serials(serials) if serials.is_empty() => {
                return Err(invalid(
                    "devices = []: no device would ever be backed up; write \"any\" or some serial numbers"
                        .into(),
                ));
            }
            RawDevices::Serials(serials) => DevicePolicy::Serials(serials),
        };
        let only: Only = match raw.only {
            Some(only) => only.parse().map_err(|e| invalid(format!("only: {e}")))?,
            None => Only::default(),
        };
        let template = match raw.template {
            Some(pattern) => Template::new(&pattern).map_err(|e| invalid(format!("template: {e}")))?,
            None => Template::default(),
        };
        let selection = Selection {
            only,
            ..Selection::new()
        }
        .include(&raw.include)
        .and_then(|s| s.exclude(&raw.exclude))
        // The settings' keys are `include` and `exclude`, not options.
        .map_err(|e| invalid(e.to_string().trim_start_matches("--").to_owned()))?;
        Ok(Config {
            destination,
            devices,
            backup: BackupOptions {
                selection,
                template,
                // The settings name the folder once, on purpose: make it whole.
                create_parents: true,
                ..BackupOptions::default()
            },
            unlock_timeout: raw
                .unlock_timeout_secs
                .map_or(DEFAULT_UNLOCK_TIMEOUT, Duration::from_secs),
            notify: raw.notify.unwrap_or(true),
        })
    }

    /// Settings for `mtpull watch DEST` run without a settings file: every
    /// device, the backup's defaults.
    pub fn defaults_for(destination: PathBuf) -> Config {
        Config {
            destination,
            devices: DevicePolicy::Any,
            // Unattended runs make their folder whole rather than fail each arrival.
            backup: BackupOptions {
                create_parents: true,
                ..BackupOptions::default()
            },
            unlock_timeout: DEFAULT_UNLOCK_TIMEOUT,
            notify: true,
        }
    }
}

/// Writes a new settings file at `path` backing up into `destination`; refuses
/// to replace an existing one unless `force`.
pub fn init(path: &Path, destination: &str, force: bool) -> Result<(), ConfigError> {
    let text = template(destination);
    // The text must read back, or the user would be left with a file that fails later.
    Config::parse(&text, path, home_dir().as_deref())?;
    let io_error = |source| ConfigError::Io {
        path: path.to_owned(),
        source,
    };
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(io_error)?;
    }
    let mut options = fs::OpenOptions::new();
    options.write(true);
    if force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let mut file = options.open(path).map_err(|e| {
        if e.kind() == io::ErrorKind::AlreadyExists {
            ConfigError::Exists(path.to_owned())
        } else {
            io_error(e)
        }
    })?;
    io::Write::write_all(&mut file, text.as_bytes()).map_err(io_error)
}

fn home_dir() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}

/// `~` or `~/rest` with `home` in front; other paths as they are.
fn expand_home(path: &str, home: Option<&Path>) -> Option<PathBuf> {
    match path.strip_prefix('~') {
        Some("") => home.map(Path::to_path_buf),
        Some(rest) if rest.starts_with('/') => home.map(|h| h.join(rest.trim_start_matches('/'))),
        _ => Some(PathBuf::from(path)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("config.toml"), Some(Path::new("/home/ana")))
    }

    fn message(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn the_template_reads_back_as_the_defaults() {
        let config = parse(&template("~/Pictures/Phone")).unwrap();
        assert_eq!(config.destination, Path::new("/home/ana/Pictures/Phone"));
        assert_eq!(config.devices, DevicePolicy::Any);
        assert_eq!(config.backup.selection.only, Only::Media);
        assert_eq!(config.backup.template.to_string(), "%Y/%m/%d");
        assert_eq!(config.unlock_timeout, Duration::from_secs(120));
        assert!(config.notify);
        assert!(!config.backup.delete_after && !config.backup.dry_run);
    }

    #[test]
    fn a_destination_with_quotes_and_backslashes_survives_the_template() {
        let awkward = r#"/srv/photos "Ana's" \ backup"#;
        let config = parse(&template(awkward)).unwrap();
        assert_eq!(config.destination, Path::new(awkward));
    }

    #[test]
    fn every_key_is_read() {
        let config = parse(
            r#"
            destination = "/srv/backup"
            devices = ["R58M1234567", "28101FDH2000XY"]
            template = "%Y/%m"
            only = "photos"
            include = ["DCIM/**"]
            exclude = ["**/Screenshots/**"]
            unlock_timeout_secs = 5
            notify = false
            "#,
        )
        .unwrap();
        assert_eq!(config.destination, Path::new("/srv/backup"));
        assert_eq!(
            config.devices,
            DevicePolicy::Serials(vec!["R58M1234567".into(), "28101FDH2000XY".into()])
        );
        assert_eq!(config.backup.template.to_string(), "%Y/%m");
        assert_eq!(config.backup.selection.only, Only::Photos);
        assert!(config.backup.selection.include.is_some());
        assert!(config.backup.selection.exclude.is_some());
        assert_eq!(config.unlock_timeout, Duration::from_secs(5));
        assert!(!config.notify);
    }

    #[test]
    fn only_destination_is_required() {
        let config = parse(r#"destination = "/srv/backup""#).unwrap();
        assert_eq!(config.devices, DevicePolicy::Any);
        assert_eq!(config.unlock_timeout, DEFAULT_UNLOCK_TIMEOUT);
        assert!(message("notify = true").contains("destination"));
    }

    #[test]
    fn mistakes_are_named() {
        assert!(message(r#"destination = "Pictures""#).contains("absolute"));
        assert!(message("destination = \"/b\"\ndevices = \"all\"").contains("\"any\" or a list"));
        assert!(message("destination = \"/b\"\ndevices = []").contains("no device would ever"));
        assert!(message("destination = \"/b\"\nonly = \"songs\"").contains("only"));
        assert!(message("destination = \"/b\"\ntemplate = \"/abs/%Y\"").contains("template"));
        assert!(message("destination = \"/b\"\ninclude = [\"[\"]").contains("include \"[\": unclosed"));
        assert!(message("destination = \"/b\"\ndestnation = \"/c\"").contains("destnation"));
        assert!(message("destination = \"/b\"\nunlock_timeout_secs = -1").contains("unlock_timeout_secs"));
        assert!(message("destination = ").contains("config.toml"));
    }

    #[test]
    fn policy_matches_either_serial_and_never_a_blank_one() {
        let only = DevicePolicy::Serials(vec!["ABC".into()]);
        assert!(only.allows(["0123", "ABC"]));
        assert!(only.allows([" ABC "]));
        assert!(!only.allows(["abc", "ABCD"]));
        assert!(!only.allows(["", " "]));
        assert!(DevicePolicy::Any.allows([]));
    }

    #[test]
    fn the_file_lives_under_xdg_config_home_or_home() {
        let path = |xdg: Option<&str>, home: Option<&str>| {
            default_path(xdg.map(OsString::from), home.map(OsString::from))
        };
        assert_eq!(
            path(Some("/x"), Some("/home/ana")).unwrap(),
            Path::new("/x/mtpull/config.toml")
        );
        assert_eq!(
            path(Some("relative"), Some("/home/ana")).unwrap(),
            Path::new("/home/ana/.config/mtpull/config.toml")
        );
        assert!(matches!(path(None, None), Err(ConfigError::NoHome)));
        assert!(matches!(path(None, Some("")), Err(ConfigError::NoHome)));
    }

    #[test]
    fn init_writes_once_and_force_rewrites() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("deep/mtpull/config.toml");
        init(&path, "/srv/a", false).unwrap();
        let first = Config::load(&path).unwrap().unwrap();
        assert_eq!(first.destination, Path::new("/srv/a"));
        assert!(matches!(
            init(&path, "/srv/b", false),
            Err(ConfigError::Exists(_))
        ));
        assert_eq!(
            Config::load(&path).unwrap().unwrap().destination,
            Path::new("/srv/a")
        );
        init(&path, "/srv/b", true).unwrap();
        assert_eq!(
            Config::load(&path).unwrap().unwrap().destination,
            Path::new("/srv/b")
        );
        assert!(Config::load(&dir.path().join("none.toml")).unwrap().is_none());
    }

    #[test]
    fn home_is_expanded_only_at_the_front() {
        let home = Some(Path::new("/home/ana"));
        assert_eq!(expand_home("~", home).unwrap(), Path::new("/home/ana"));
        assert_eq!(expand_home("~/P", home).unwrap(), Path::new("/home/ana/P"));
        assert_eq!(expand_home("~bob/P", home).unwrap(), Path::new("~bob/P"));
        assert_eq!(expand_home("/a/~/b", home).unwrap(), Path::new("/a/~/b"));
        assert_eq!(expand_home("~/P", None), None);
    }
}
