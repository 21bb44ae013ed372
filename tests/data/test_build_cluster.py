"""Graph builds on simulated Ray clusters in one machine: the same file as a local build, a node
lost mid-build, and a node that cannot see the dataset's files (its own mount namespace)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from fer_graph.data.build import build_graph_store
from fer_graph.data.build_cluster import ClusterSetupError, Shipped, package_runtime_env, ship, worker_identity
from fer_graph.data.build_ray import BuildRun, ChunkBuilder, chunk_items, run_tasks
from fer_graph.data.readers import discover
from fer_graph.data.shards import shard_path
from fer_graph.granular.graph import GBRParams

from test_build import CHUNK, _assert_same_contents, _dataset

ray = pytest.importorskip("ray")
from ray.cluster_utils import Cluster  # noqa: E402

# Notice a killed node within a second or two instead of the default ~15 s.
FAST_HEALTH = {"_system_config": {"health_check_period_ms": 500, "health_check_failure_threshold": 2}}


@pytest.fixture(scope="module")
def local_build(tmp_path_factory):
    """The 27-file dataset (3 bad files) and its store built on a local runtime."""
    tmp = tmp_path_factory.mktemp("cluster")
    index = discover(_dataset(tmp / "ds"))
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    build_graph_store(index, tmp / "local.h5", num_workers=2, progress=False, chunk_size=CHUNK)
    return index, tmp / "local.h5"


@pytest.fixture
def cluster():
    """A head node without CPUs (the driver's) to which each test adds worker nodes."""
    head = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, **FAST_HEALTH})
    yield head
    ray.shutdown()
    head.shutdown()


def test_shipped_bytes_build_the_same_graph_as_the_file(local_build):
    index, _ = local_build
    items = chunk_items(index, sorted(index.samples, key=lambda s: s.id))
    # the bytes alone, at locations no process can read
    shipped = [(sample_id, f"/nonexistent/{sample_id}", payload) for sample_id, _, payload in ship(items)]
    assert sum(isinstance(p, Shipped) for _, _, p in shipped) == 27
    builder = ChunkBuilder(GBRParams().to_dict())
    from_files, from_bytes = builder.build(items, "float16"), builder.build(shipped, "float16")
    assert len(from_files["ids"]) == 24
    for key in from_files:
        if key not in ("cpu_seconds", "failures"):
            assert np.array_equal(from_bytes[key], from_files[key]), key
    # the three bad files fail with the reasons a local build records
    assert from_bytes["failures"][:, [0, 2]].tolist() == from_files["failures"][:, [0, 2]].tolist()


def test_ship_records_why_the_driver_cannot_read_a_file(tmp_path):
    (tmp_path / "dangling.jpg").symlink_to(tmp_path / "gone.jpg")
    (_, _, missing), (_, _, dangling) = ship([("a", str(tmp_path / "absent.png"), None),
                                             ("b", str(tmp_path / "dangling.jpg"), None)])
    assert missing == "file not found" and dangling.startswith("broken symbolic link")


@pytest.mark.parametrize("ship_images", ["auto", "always"])
def test_two_node_build_equals_the_local_file(local_build, cluster, tmp_path, ship_images):
    index, local = local_build
    cluster.add_node(num_cpus=1)
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    lines: list[str] = []
    summary = build_graph_store(index, tmp_path / "cluster.h5", address=cluster.address, progress=False,
                                chunk_size=CHUNK, log=lines.append, ship_images=ship_images)
    _assert_same_contents(tmp_path / "cluster.h5", local)
    assert summary.num_built == 24 and len(summary.failures) == 3
    assert not any("cannot read" in line for line in lines)  # every node sees the files


def test_a_node_lost_mid_build_is_retried_and_the_shards_are_complete(local_build, cluster, tmp_path):
    index, _ = local_build
    cluster.add_node(num_cpus=1)
    doomed = cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, runtime_env=package_runtime_env(), log_to_driver=False)
    samples = sorted(index.samples, key=lambda s: s.id)
    chunks = [samples[i:i + 2] for i in range(0, len(samples), 2)]
    saved = []

    def on_shard() -> None:
        saved.append(time.monotonic())
        if len(saved) == 1:
            cluster.remove_node(doomed, allow_graceful=False)

    run = BuildRun(index=index, chunks=chunks, work_dir=tmp_path, params=GBRParams(), feature_dtype="float16",
                   num_workers=2, progress=False)
    run_tasks(run, list(range(len(chunks))), on_shard)
    assert len(saved) == len(chunks)
    # the node is gone (the GCS may notice only after the build finished on the other one)
    deadline = time.monotonic() + 30
    while sum(n["Alive"] and n["Resources"].get("CPU", 0) > 0 for n in ray.nodes()) != 1:
        assert time.monotonic() < deadline, "the removed node is still listed alive"
        time.sleep(0.5)
    builder = ChunkBuilder(GBRParams().to_dict())
    for chunk_id, chunk in enumerate(chunks):
        want = builder.build(chunk_items(index, chunk), "float16")
        with np.load(shard_path(tmp_path, chunk_id)) as got:
            for key, value in want.items():
                if key != "cpu_seconds":
                    assert np.array_equal(got[key], value), (chunk_id, key)


def _blind_node(address: str, hidden: Path) -> subprocess.Popen:
    """A Ray worker node in its own mount namespace, where ``hidden`` is an empty tmpfs."""
    ray_cli = Path(sys.executable).with_name("ray")
    script = f'mount -t tmpfs tmpfs "{hidden}" && exec "{ray_cli}" start --address={address} --num-cpus=1 --block'
    env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
    return subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh", "-c", script], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def _namespaces_work(tmp_path: Path) -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c",
                            f'mount -t tmpfs tmpfs "{tmp_path}"'], capture_output=True)
    return probe.returncode == 0


def test_a_node_without_the_files_is_named_or_fed_bytes(local_build, cluster, tmp_path):
    if not _namespaces_work(tmp_path):
        pytest.skip("needs unshare -m and mount (root in a Linux container) to hide files from one node")
    index, local = local_build
    node = _blind_node(cluster.address, index.root)
    try:
        ray.init(address=cluster.address, runtime_env=package_runtime_env(), log_to_driver=False)
        deadline = time.monotonic() + 60
        while not any(n["Alive"] and n["Resources"].get("CPU", 0) for n in ray.nodes()):
            assert time.monotonic() < deadline, "the blind node did not join"
            time.sleep(0.5)
        with pytest.raises(ClusterSetupError, match=rf"cannot read {re.escape(str(index.root))}/\S+ \(1 node\(s\)"):
            build_graph_store(index, tmp_path / "never.h5", progress=False, chunk_size=CHUNK,
                              ship_images="never")
        assert not (tmp_path / "never.h5").exists()
        lines: list[str] = []
        build_graph_store(index, tmp_path / "auto.h5", progress=False, chunk_size=CHUNK, log=lines.append)
        _assert_same_contents(tmp_path / "auto.h5", local)
        assert any(f"cannot read {index.root}/" in line and "ships" in line for line in lines)
    finally:
        os.killpg(node.pid, 15)
        node.wait(timeout=60)


def test_a_worker_running_other_code_is_named(local_build, cluster, tmp_path, monkeypatch):
    index, _ = local_build
    cluster.add_node(num_cpus=1)
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    ours = worker_identity()
    # The driver's own identity changes (as if the cluster ran an older release); workers keep theirs.
    monkeypatch.setattr("fer_graph.data.build_cluster.worker_identity",
                        lambda: {**ours, "version": "0.0.0-driver"})
    with pytest.raises(ClusterSetupError, match=rf"runs fer_graph {ours['version']} .* the driver 0.0.0-driver"):
        build_graph_store(index, tmp_path / "x.h5", address=cluster.address, progress=False, chunk_size=CHUNK)
