//! End to end: the verl integration's parts that need no torch, run by plain `python3` against
//! the real binary — the Python copy of the tags grammar against the shared table of cases
//! (`testdata/student/turns.jsonl`), the `web_search` tool against a live `masksearch serve`.
//! verl's own code loading our parquet, reward, tool and parser runs in `make verl-check`.

use crate::common::repo;

#[test]
fn the_verl_integration_reads_turns_as_the_runtime_and_searches_a_live_server() {
    let out = std::process::Command::new("python3")
        .arg(repo("integrations/verl/test_masksearch_student.py"))
        .arg("--bin")
        .arg(env!("CARGO_BIN_EXE_masksearch"))
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(" passed, 0 failed") && !stdout.contains("skipped"),
        "{stdout}"
    );
}
