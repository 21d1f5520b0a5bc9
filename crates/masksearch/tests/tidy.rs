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

/// The modules of a crate as paths (`a`, `a::b`) with the file that holds each.
fn modules(name: &str) -> Vec<(String, PathBuf)> {
    let src = root().join("crates").join(name).join("src");
    let mut out = Vec::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("src dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path
                .strip_prefix(&src)
                .expect("under src")
                .with_extension("");
            let mut parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if matches!(
                parts.last().map(String::as_str),
                Some("mod" | "lib" | "main")
            ) {
                parts.pop();
            }
            out.push((parts.join("::"), path));
        }
    }
    out
}

/// The modules `module`'s non-test code names through `crate::…` or `super::…` paths, as
/// module paths of the crate (the longest one the path starts with).
fn uses(module: &str, file: &std::path::Path, all: &BTreeSet<String>) -> BTreeSet<String> {
    let text = std::fs::read_to_string(file).expect("source");
    // Code only: not the tests, not comments (a doc link names a module without using it).
    let code: String = text
        .split("#[cfg(test)]")
        .next()
        .unwrap_or("")
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let code = code.as_str();
    let parent: Vec<&str> = module.split("::").collect();
    let mut found = BTreeSet::new();
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    for (at, _) in code
        .match_indices("crate::")
        .chain(code.match_indices("super::"))
    {
        if code[..at].chars().next_back().is_some_and(is_word) {
            continue;
        }
        let rest = &code[at..];
        let (base, rest): (Vec<&str>, &str) = if let Some(r) = rest.strip_prefix("crate::") {
            (Vec::new(), r)
        } else {
            let r = rest.strip_prefix("super::").unwrap_or(rest);
            (parent[..parent.len().saturating_sub(1)].to_vec(), r)
        };
        // `crate::{a, b::c}` names several modules at once.
        let names: Vec<&str> = match rest.strip_prefix('{') {
            Some(list) => list[..list.find('}').unwrap_or(list.len())]
                .split(',')
                .map(str::trim)
                .collect(),
            None => vec![rest],
        };
        for name in names {
            let segments: Vec<&str> = name
                .split("::")
                .map(|s| s.split(|c: char| !is_word(c)).next().unwrap_or(""))
                .take_while(|s| !s.is_empty())
                .collect();
            let mut path: Vec<&str> = base.clone();
            let mut best = None;
            for s in segments {
                path.push(s);
                let candidate = path.join("::");
                if all.contains(&candidate) {
                    best = Some(candidate);
                }
            }
            if let Some(target) = best {
                found.insert(target);
            }
        }
    }
    found
}

#[test]
fn no_two_modules_of_a_crate_use_each_other() {
    let crates: Vec<String> = std::fs::read_dir(root().join("crates"))
        .expect("crates/")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    let mut cycles = Vec::new();
    for name in &crates {
        let modules = modules(name);
        let all: BTreeSet<String> = modules.iter().map(|(m, _)| m.clone()).collect();
        let related = |a: &str, b: &str| {
            a.is_empty()
                || b.is_empty()
                || a.starts_with(&format!("{b}::"))
                || b.starts_with(&format!("{a}::"))
                || a == b
        };
        let edges: BTreeSet<(String, String)> = modules
            .iter()
            .flat_map(|(m, file)| {
                uses(m, file, &all)
                    .into_iter()
                    .filter(|t| !related(m, t))
                    .map(|t| (m.clone(), t))
                    .collect::<Vec<_>>()
            })
            .collect();
        // A cycle of any length: a module that reaches itself.
        for start in &all {
            let mut seen = BTreeSet::new();
            let mut stack: Vec<&String> = edges
                .iter()
                .filter(|(a, _)| a == start)
                .map(|(_, b)| b)
                .collect();
            while let Some(next) = stack.pop() {
                if next == start {
                    cycles.push(format!("{name}: {start}"));
                    break;
                }
                if seen.insert(next.clone()) {
                    stack.extend(edges.iter().filter(|(a, _)| a == next).map(|(_, b)| b));
                }
            }
        }
    }
    assert!(cycles.is_empty(), "modules in a cycle of use: {cycles:#?}");
}
