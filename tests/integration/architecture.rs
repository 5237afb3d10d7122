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
    ("human", &[]),
    ("fault_points", &[]),
    ("transport", &["ptp"]),
    ("session", &["ptp", "transport"]),
    ("sort", &["ptp", "lock_file", "fault_points"]),
    (
        "pull",
        &["ptp", "session", "sort", "lock_file", "human", "fault_points"],
    ),
    (
        "auto",
        &[
            "ptp",
            "transport",
            "session",
            "sort",
            "pull",
            "lock_file",
            "human",
        ],
    ),
    ("restore", &["ptp", "session", "sort", "pull", "fault_points"]),
    ("preview", &["ptp", "session", "pull"]),
    // Test support above the product: a simulated phone is an `auto::Arrival` too.
    ("sim", &["ptp", "transport", "auto"]),
];

/// Library modules that are not layers: what only tests use.
const TEST_SUPPORT: &[&str] = &["testing"];

/// The modules under src/commands that every command may use.
const COMMAND_SUPPORT: &[&str] = &["mod", "shared", "connect"];

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

/// The modules `src/lib.rs` declares (`mod name;`, public or not).
fn library_modules() -> Vec<String> {
    let lib = code(&src().join("lib.rs"));
    lib.lines()
        .filter_map(|line| line.trim().strip_suffix(';'))
        .filter_map(|line| line.strip_prefix("pub mod ").or(line.strip_prefix("mod ")))
        .map(str::to_owned)
        .collect()
}

/// The subcommands: every module under src/commands but the shared ones, so
/// that a new command is checked without anyone adding it to a list.
fn commands() -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(src().join("commands"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter_map(|path| {
            let name = path.file_stem()?.to_str()?.to_owned();
            let is_module = path.is_dir() || path.extension().is_some_and(|e| e == "rs");
            (is_module && !COMMAND_SUPPORT.contains(&name.as_str())).then_some(name)
        })
        .collect();
    names.sort();
    names
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
fn every_library_module_is_a_checked_layer() {
    let modules = library_modules();
    assert!(
        modules.iter().any(|m| m == "ptp"),
        "no modules read from lib.rs: {modules:?}"
    );
    let unchecked: Vec<&String> = modules
        .iter()
        .filter(|m| !LAYERS.iter().any(|(name, _)| name == m) && !TEST_SUPPORT.contains(&m.as_str()))
        .collect();
    assert!(
        unchecked.is_empty(),
        "modules of lib.rs with no place in LAYERS (and ARCHITECTURE.md): {unchecked:?}"
    );
}

#[test]
fn commands_share_through_shared_not_through_each_other() {
    let cli = code(&src().join("cli.rs"));
    assert!(!cli.contains("crate::commands"), "cli.rs imports commands");
    let commands = commands();
    for expected in [
        "backup", "ls", "preview", "restore", "rm", "sort", "verify", "watch",
    ] {
        assert!(
            commands.iter().any(|c| c == expected),
            "{expected} not among {commands:?}"
        );
    }
    let mut broken = Vec::new();
    // The commands, and what they share: nothing under src/commands but its
    // mod.rs may name a command.
    let sharing = COMMAND_SUPPORT
        .iter()
        .filter(|m| **m != "mod")
        .map(|m| m.to_string());
    for module in commands.iter().cloned().chain(sharing) {
        for file in files_of(&format!("commands/{module}")) {
            let code = code(&file);
            let used = names_after(&code, "super::").into_iter();
            let used = used.chain(names_after(&code, "crate::commands::"));
            for used in used.filter(|used| commands.iter().any(|c| c == used)) {
                broken.push(format!("{} uses {used}", file.display()));
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
