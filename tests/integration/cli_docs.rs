//! Shell completions, man pages and `--help` examples, as a user installs and reads them.

use std::fs;
use std::process::Command;

use crate::run::mtpull;

#[test]
fn the_bash_completion_loads_and_completes_commands_and_options() {
    let script = mtpull(&["completions", "bash"]).expect_status(0).stdout;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mtpull.bash");
    fs::write(&file, &script).unwrap();
    // Load it as bash-completion would, then complete `mtpull back` and `mtpull backup --dry`.
    let probe = r#"
        source "$1"
        complete -p mtpull
        COMP_WORDS=(mtpull back); COMP_CWORD=1; _mtpull mtpull back mtpull; echo "words: ${COMPREPLY[*]}"
        COMP_WORDS=(mtpull backup --dry); COMP_CWORD=2; _mtpull mtpull --dry backup; echo "options: ${COMPREPLY[*]}"
    "#;
    let output = Command::new("bash")
        .args(["-c", probe, "probe"])
        .arg(&file)
        .output()
        .expect("bash runs");
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(said.contains("-F _mtpull mtpull"), "{said}");
    assert!(said.contains("words: backup"), "{said}");
    assert!(said.contains("options: --dry-run"), "{said}");
}

#[test]
fn zsh_and_fish_completions_name_every_command() {
    let zsh = mtpull(&["completions", "zsh"]).expect_status(0).stdout;
    assert!(zsh.starts_with("#compdef mtpull"), "{}", &zsh[..80]);
    let fish = mtpull(&["completions", "fish"]).expect_status(0).stdout;
    for command in [
        "devices", "ls", "sort", "backup", "verify", "status", "restore", "man",
    ] {
        assert!(zsh.contains(&format!("'{command}:")), "zsh lacks {command}");
        assert!(
            fish.contains(&format!("-a \"{command}\"")),
            "fish lacks {command}"
        );
    }
    mtpull(&["completions", "tcsh"]).expect_status(2);
}

#[test]
fn the_man_pages_describe_every_command_and_option() {
    let page = mtpull(&["man"]).expect_status(0).stdout;
    assert!(page.contains(".TH mtpull 1"), "{}", &page[..200]);
    assert!(page.contains("\\fB\\-q\\fR, \\fB\\-\\-quiet\\fR"), "{page}");
    let dir = tempfile::tempdir().unwrap();
    let pages = dir.path().join("man1");
    mtpull(&["man", "--dir", pages.to_str().unwrap()]).expect_status(0);
    let backup = fs::read_to_string(pages.join("mtpull-backup.1")).unwrap();
    assert!(backup.contains(".TH mtpull-backup 1"), "{backup}");
    assert!(backup.contains("\\-\\-delete\\-after"), "{backup}");
    assert!(backup.contains("Exit status: 0"), "{backup}");
    assert!(
        backup.contains("mtpull backup ~/Pictures/Phone \\-\\-dry\\-run"),
        "{backup}"
    );
    for command in [
        "devices", "ls", "sort", "verify", "status", "preview", "restore", "rm", "watch",
    ] {
        assert!(pages.join(format!("mtpull-{command}.1")).exists(), "{command}");
    }
}

#[test]
fn help_shows_examples_for_backup_sort_and_ls() {
    for command in ["backup", "sort", "ls"] {
        for flag in ["-h", "--help"] {
            let help = mtpull(&[command, flag]).expect_status(0).stdout;
            let examples = help
                .split("Examples:\n")
                .nth(1)
                .unwrap_or_else(|| panic!("{command} {flag}:\n{help}"));
            assert!(
                examples.lines().filter(|l| l.starts_with("  mtpull")).count() >= 5,
                "{command}:\n{examples}"
            );
        }
    }
}

#[test]
fn device_options_are_offered_only_by_commands_that_open_a_device() {
    for command in [
        &["sort", "--help"][..],
        &["config", "--help"],
        &["config", "init", "--help"],
        &["config", "show", "--help"],
        &["install-udev", "--help"],
        &["verify", "--help"],
    ] {
        let help = mtpull(command).expect_status(0).stdout;
        assert!(help.contains("Usage:"), "{command:?}:\n{help}");
        for option in ["--demo", "--device"] {
            assert!(!help.contains(option), "{command:?} lists {option}:\n{help}");
        }
    }
    for command in [
        "devices", "ls", "backup", "status", "preview", "restore", "rm", "auto", "watch",
    ] {
        let help = mtpull(&[command, "--help"]).expect_status(0).stdout;
        for option in ["--demo", "--device <SERIAL>"] {
            assert!(help.contains(option), "{command} lacks {option}:\n{help}");
        }
    }
}

#[test]
fn device_options_work_before_or_after_the_command_and_not_for_sort() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("dest");
    let dest = dest.to_str().unwrap();
    for args in [
        &["--demo", "ls"][..],
        &["ls", "--demo"],
        &["--device", "demo", "devices"],
        &["devices", "--device", "DEMO0001"],
    ] {
        let output = mtpull(args).expect_status(0);
        assert!(
            output.stdout.contains("Internal shared storage"),
            "{args:?}: {}",
            output.stdout
        );
    }
    let clash = mtpull(&["--device", "demo", "ls", "--device", "OTHER"]).expect_status(2);
    assert!(
        clash.stderr.contains("--device is given twice"),
        "{}",
        clash.stderr
    );
    let src = dir.path().to_str().unwrap();
    let misplaced = mtpull(&["sort", "--demo", src, dest]).expect_status(2);
    assert!(misplaced.stderr.contains("--demo"), "{}", misplaced.stderr);
    let before = mtpull(&["--demo", "sort", src, dest]).expect_status(2);
    assert!(
        before.stderr.contains("sort works on local files"),
        "{}",
        before.stderr
    );
    assert!(!dir.path().join("dest").exists(), "a refused sort wrote DEST");
}
