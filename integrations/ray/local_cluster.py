"""A Ray cluster on this machine for the test and the bench: a head that runs nothing and worker
nodes, each its own raylet process, every one of them on 127.0.0.1 (Ray otherwise advertises the
machine's address). Import this before anything imports ray."""

import os

os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
os.environ["RAY_USAGE_STATS_ENABLED"] = "0"

import ray  # noqa: E402
from ray.cluster_utils import Cluster  # noqa: E402

OBJECT_STORE = 80 * 1024 * 1024
# A node that stops answering is declared dead within about two seconds, not Ray's default 30.
FAST_FAILURE = {
    "health_check_initial_delay_ms": 0,
    "health_check_period_ms": 500,
    "health_check_timeout_ms": 500,
    "health_check_failure_threshold": 4,
}


def add_worker(cluster, cpus):
    return cluster.add_node(num_cpus=cpus, object_store_memory=OBJECT_STORE, node_ip_address="127.0.0.1")


def start(temp_dir, workers, cpus):
    """A head and `workers` nodes of `cpus` CPUs, connected to; (cluster, worker nodes). Ray's
    files (sessions, logs, sockets, the current cluster's address) go under `temp_dir`."""
    os.makedirs(temp_dir, exist_ok=True)
    os.environ["RAY_TMPDIR"] = str(temp_dir)
    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 0, "node_ip_address": "127.0.0.1", "object_store_memory": OBJECT_STORE,
        "include_dashboard": False, "_system_config": FAST_FAILURE,
    })
    nodes = [add_worker(cluster, cpus) for _ in range(workers)]
    ray.init(address=cluster.address, log_to_driver=False)
    return cluster, nodes


def stop(cluster):
    ray.shutdown()
    cluster.shutdown()
