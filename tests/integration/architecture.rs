//! The import rules of ARCHITECTURE.md, checked on the source: every
//! `crate::` path in a layer's files must name the layer itself or one it
//! may use, and commands never import each other.

use std::fs;
use std::path::{Path, PathBuf};

use walkdir::WalkDir;

/// Each library layer and the layers it may import (besides itself).
const LAYERS: &[(&str, &[&str])] = &[
    ("ptp", &[]),
    ("lock_file", &[]),
    ("fault_points", &[]),
    ("transport", &["ptp"]),
    ("session", &["ptp", "transport"]),
    ("sort", &["ptp", "lock_file", "fault_points"]),
    ("pull", &["ptp", "session", "sort", "lock_file", "fault_points"]),
    (
        "auto",
        &["ptp", "transport", "session", "sort", "pull", "lock_file"],
    ),
    // Test support above the product: a simulated phone is an `auto::Arrival` too.
    ("sim", &["ptp", "transport", "auto"]),
];

/// The subcommands' modules under src/commands.
const COMMANDS: &[&str] = &[
    "auto",
    "backup",
    "config",
    "devices",
    "install_udev",
    "ls",
    "sort",
    "watch",
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The Rust files of a module: `src/<name>.rs` or everything under `src/<name>/`.
fn files_of(module: &str) -> Vec<PathBuf> {
    let dir = src().join(module);
    let file = src().join(format!("{module}.rs"));
    if file.is_file() {
        return vec![file];
    }
    let files: Vec<PathBuf> = WalkDir::new(&dir)
        .into_iter()
        .map(|entry| entry.unwrap().into_path())
        .filter(|path| path.extension().is_some_and(|e| e == "rs"))
        .collect();
    assert!(!files.is_empty(), "no sources for {module} in {}", dir.display());
    files
}

/// The code of a file without its comments (doc comments name other layers freely).
fn code(path: &Path) -> String {
    without_comments(&fs::read_to_string(path).unwrap())
}

fn without_comments(text: &str) -> String {
    text.lines()
        .map(|line| line.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every `<prefix>name` in `code`: the names right after the prefix.
fn names_after<'a>(code: &'a str, prefix: &str) -> Vec<&'a str> {
    code.match_indices(prefix)
        .map(|(at, _)| {
            let rest = &code[at + prefix.len()..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            &rest[..end]
        })
        .collect()
}

#[test]
fn library_layers_import_only_the_layers_below_them() {
    let mut broken = Vec::new();
    for (layer, allowed) in LAYERS {
        for file in files_of(layer) {
            let code = code(&file);
            if code.contains("crate::{") {
                // A grouped import would hide the layers it names.
                broken.push(format!("{} groups crate imports: name each path", file.display()));
            }
            for used in names_after(&code, "crate::") {
                let known = LAYERS.iter().any(|(name, _)| *name == used);
                if known && used != *layer && !allowed.contains(&used) {
                    broken.push(format!("{} uses crate::{used}", file.display()));
                }
            }
        }
    }
    assert!(
        broken.is_empty(),
        "imports against ARCHITECTURE.md:\n{}",
        broken.join("\n")
    );
}

#[test]
fn commands_share_through_shared_not_through_each_other() {
    let cli = code(&src().join("cli.rs"));
    assert!(!cli.contains("crate::commands"), "cli.rs imports commands");
    let mut broken = Vec::new();
    for command in COMMANDS {
        let file = src().join("commands").join(format!("{command}.rs"));
        let code = code(&file);
        for used in names_after(&code, "super::") {
            if COMMANDS.contains(&used) {
                broken.push(format!("{} uses super::{used}", file.display()));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "commands importing commands:\n{}",
        broken.join("\n")
    );
}

#[test]
fn the_checks_see_a_forbidden_import() {
    let code = "use crate::session::Session;\nuse crate::ptp::{Codec};";
    assert_eq!(names_after(code, "crate::"), ["session", "ptp"]);
    assert_eq!(
        without_comments("// crate::pull\nlet x = 1; // super::ls"),
        "\nlet x = 1; "
    );
}
