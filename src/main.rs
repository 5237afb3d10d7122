/// `eprintln!` that never panics: a closed or full stderr (`2>/dev/full`, a pipe
/// whose reader quit) is no reason to stop a backup halfway.
macro_rules! note {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

mod cli;
mod commands;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match commands::run(cli) {
        Ok(code) => code,
        // A reader that stops early (`mtpull ls | head`) is not a failure.
        Err(error) if commands::is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            note!("mtpull: {error:#}");
            ExitCode::from(commands::exit_code(&error))
        }
    }
}
