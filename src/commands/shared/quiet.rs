//! `-q/--quiet`: errors only. What a backup still says when asked to be quiet.

use mtpull::human;
use mtpull::pull::{Event, FileOutcome, Observer};

/// Tells of a backup only the files that failed and those mtpull kept on the phone
/// (`--delete-after`), each line after `prefix` (`mtpull: `, or an auto job's device name).
pub struct FailuresOnly {
    pub prefix: String,
}

impl Observer for FailuresOnly {
    fn event(&mut self, event: &Event<'_>) {
        let prefix = &self.prefix;
        match event {
            Event::Finished {
                file,
                outcome: FileOutcome::Failed { error },
            } => note!("{prefix}failed {}: {error}", human::name(&file.display_path())),
            Event::Deleted {
                file,
                error: Some(error),
            } => note!(
                "{prefix}kept {} on the device: {error}",
                human::name(&file.display_path())
            ),
            _ => {}
        }
    }
}
