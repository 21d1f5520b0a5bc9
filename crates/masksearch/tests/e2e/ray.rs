//! End to end on Ray: `integrations/ray` on a real local Ray cluster (a head and two worker
//! nodes on 127.0.0.1, Ray 2.60 from the project's `.venv`) — ramp, rule-teacher trajectories
//! and eval in 4 shards equal to the one-machine run with a worker node killed mid-eval, dense
//! embedding in 4 shards put together, and a retrieval server per node restarted when killed
//! (`integrations/ray/test_masksearch_ray.py`).

use crate::common::repo;

#[test]
fn sharded_jobs_and_per_node_retrieval_survive_a_killed_node_on_a_local_ray_cluster() {
    let python = repo(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run `make setup` (scripts/setup.sh installs ray into .venv)",
        python.display()
    );
    let out = std::process::Command::new(python)
        .arg(repo("integrations/ray/test_masksearch_ray.py"))
        .arg("--bin")
        .arg(env!("CARGO_BIN_EXE_masksearch"))
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
    assert!(!stdout.contains("FAIL"), "{stdout}");
}
