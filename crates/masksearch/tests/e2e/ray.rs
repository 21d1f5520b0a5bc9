//! End to end on Ray: `integrations/ray` on a real local Ray cluster (a head and two worker
//! nodes on 127.0.0.1, Ray 2.60 from the project's `.venv`) — ramp, rule-teacher trajectories
//! and eval in 4 shards equal to the one-machine run with a worker node killed mid-eval, dense
//! embedding in 4 shards put together, and a retrieval server per node restarted when killed
//! (`integrations/ray/test_masksearch_ray.py`).

use crate::common::{repo, venv_python};

#[test]
fn sharded_jobs_and_per_node_retrieval_survive_a_killed_node_on_a_local_ray_cluster() {
    let script = repo("integrations/ray/test_masksearch_ray.py");
    let binary = std::path::Path::new(env!("CARGO_BIN_EXE_masksearch"));
    let stdout = venv_python(&[script.as_os_str(), "--bin".as_ref(), binary.as_os_str()]);
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
    assert!(!stdout.contains("FAIL"), "{stdout}");
}
