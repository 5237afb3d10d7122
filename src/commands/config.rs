//! `mtpull config init|show`: write the auto-backup settings file, and check
//! what it says.

use std::path::{self, Path};
use std::process::ExitCode;

use anyhow::{Context, bail};
use mtpull::auto::{Config, Notifier, config};

use crate::cli::ConfigCommand;

/// Where backups go unless `config init --destination` says otherwise.
const DEFAULT_DESTINATION: &str = "~/Pictures/Phone backup";

pub fn run(command: &ConfigCommand) -> anyhow::Result<ExitCode> {
    match command {
        ConfigCommand::Init {
            destination,
            force,
            settings,
        } => init(&settings.path()?, destination.as_deref(), *force),
        ConfigCommand::Show { settings } => show(&settings.path()?),
    }
}

fn init(path: &Path, destination: Option<&Path>, force: bool) -> anyhow::Result<ExitCode> {
    let destination = match destination {
        Some(dir) => {
            let dir = path::absolute(dir).with_context(|| dir.display().to_string())?;
            let Some(text) = dir.to_str() else {
                bail!(
                    "{}: the settings file is UTF-8; pick a folder whose name is too",
                    dir.display()
                );
            };
            text.to_owned()
        }
        None => DEFAULT_DESTINATION.to_owned(),
    };
    config::init(path, &destination, force)?;
    println!("wrote {} (backups go to {destination})", path.display());
    println!("Edit it to choose what is backed up and from which devices; `mtpull config show` checks it.");
    println!(
        "Then turn auto-backup on: `sudo mtpull install-udev` (a backup starts when a phone is plugged in), \
         or `mtpull watch` (in a terminal, or as a user service)."
    );
    Ok(ExitCode::SUCCESS)
}

fn show(path: &Path) -> anyhow::Result<ExitCode> {
    let Some(config) = Config::load(path)? else {
        bail!(
            "no settings at {}: `mtpull config init` writes them",
            path.display()
        );
    };
    let notify = match (config.notify, Notifier::from_env().program()) {
        (false, _) => "no".to_owned(),
        (true, Some(program)) => format!("yes ({})", program.display()),
        (true, None) => "yes, but notify-send is not installed (package libnotify-bin)".to_owned(),
    };
    println!("settings:       {}", path.display());
    println!("destination:    {}", config.destination.display());
    println!("devices:        {}", config.devices);
    println!(
        "folders:        {} for a Pixel 8's DCIM/Camera/IMG_1.jpg taken on 26 May 2024",
        config
            .destination
            .join(config.backup.template.example())
            .display()
    );
    println!("only:           {}", config.backup.selection.only);
    println!("unlock timeout: {} s", config.unlock_timeout.as_secs());
    println!("notify:         {notify}");
    Ok(ExitCode::SUCCESS)
}
