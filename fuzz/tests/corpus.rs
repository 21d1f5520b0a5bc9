//! The kept corpus of every fuzz target replayed through the target's body, so `make test`
//! holds every invariant on every input libFuzzer ever kept (crashes it found included)
//! without the instrumented build; and every target has its binary and its corpus.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn inputs(target: &str) -> Vec<PathBuf> {
    let dir = root().join("corpus").join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("an entry").path())
        .collect();
    files.sort();
    files
}

#[test]
fn every_kept_input_of_every_target_holds_its_invariant() {
    for (target, body) in fuzz::TARGETS {
        let files = inputs(target);
        assert!(!files.is_empty(), "{target} has no seed corpus");
        for file in files {
            let data = std::fs::read(&file).expect("a corpus file");
            let shown = file.display().to_string();
            if std::panic::catch_unwind(|| body(&data)).is_err() {
                panic!("{target}: {shown} breaks the invariant");
            }
        }
    }
}

#[test]
fn every_target_has_a_binary_and_the_binaries_are_the_targets() {
    let named: Vec<String> = fuzz::TARGETS.iter().map(|(t, _)| t.to_string()).collect();
    let mut binaries: Vec<String> = std::fs::read_dir(root().join("fuzz_targets"))
        .expect("fuzz_targets/")
        .map(|e| {
            let path = e.expect("an entry").path();
            Path::new(&path)
                .file_stem()
                .expect("a name")
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    binaries.sort();
    let mut sorted = named.clone();
    sorted.sort();
    assert_eq!(binaries, sorted);
    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).expect("Cargo.toml");
    for target in named {
        assert!(
            manifest.contains(&format!("name = \"{target}\"")),
            "{target} has no [[bin]] in fuzz/Cargo.toml"
        );
    }
}
