//! Rules of the repository that no compiler checks: ARCHITECTURE.md's crate table says what
//! each crate depends on, and dependencies point one way, down that table.

use std::{collections::BTreeSet, path::PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The crate table of ARCHITECTURE.md: each library crate with the crates it says it uses,
/// in table order (the binary's "all of the above" row left out).
fn table() -> Vec<(String, BTreeSet<String>)> {
    let text = std::fs::read_to_string(root().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    text.lines()
        .filter(|l| l.starts_with("| `"))
        .filter_map(|row| {
            let cells: Vec<&str> = row.split(" | ").collect();
            let name = cells[0].trim_start_matches("| `").trim_end_matches('`');
            let uses = cells.last()?.trim_end_matches(" |");
            (name != "masksearch").then(|| (name.to_string(), ticked(uses)))
        })
        .collect()
}

/// The `code` words of a Markdown cell, without what follows them in parentheses.
fn ticked(cell: &str) -> BTreeSet<String> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// The workspace crates `name`'s Cargo.toml lists under `[dependencies]`.
fn dependencies(name: &str, workspace: &BTreeSet<String>) -> BTreeSet<String> {
    let manifest = root().join("crates").join(name).join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).expect("Cargo.toml");
    let mut section = "";
    let mut found = BTreeSet::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line;
        } else if section == "[dependencies]" {
            let key = line.split(['.', ' ', '=']).next().unwrap_or("");
            if workspace.contains(key) {
                found.insert(key.to_string());
            }
        }
    }
    found
}

#[test]
fn the_architecture_table_says_what_each_crate_depends_on_and_arrows_point_down() {
    let table = table();
    let workspace: BTreeSet<String> = table.iter().map(|(name, _)| name.clone()).collect();
    let on_disk: BTreeSet<String> = std::fs::read_dir(root().join("crates"))
        .expect("crates/")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name != "masksearch")
        .collect();
    assert_eq!(workspace, on_disk, "every library crate has a row");
    for (at, (name, said)) in table.iter().enumerate() {
        let actual = dependencies(name, &workspace);
        assert_eq!(&actual, said, "{name}: Cargo.toml against ARCHITECTURE.md");
        let above: BTreeSet<&String> = table[..at].iter().map(|(n, _)| n).collect();
        for dep in &actual {
            assert!(above.contains(dep), "{name} depends on {dep}, below it");
        }
    }
}
