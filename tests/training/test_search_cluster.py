"""Searches on a simulated two-node Ray cluster: shared storage, trial logs kept, resume after kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fer_graph.training.search import storage_path

from training_helpers import TINY

pytest.importorskip("ray")

EPOCHS = 5
DRIVER = f"""
import sys
sys.path.insert(0, {str(TINY.parents[2] / "tests" / "training")!r})
import ray
from ray.cluster_utils import Cluster
from rich.console import Console
from fer_graph.training.config import load_config
from fer_graph.training.search import run_search

cluster = Cluster(initialize_head=True, head_node_args={{"num_cpus": 1}})
cluster.add_node(num_cpus=1)
run_search(load_config({str(TINY)!r}, sys.argv[1:]), Console(quiet=True), address=cluster.address)
ray.shutdown()
cluster.shutdown()
"""


def _descendants(pid: int) -> list[int]:
    """Every process below `pid` (Ray's GCS, raylets and workers), read from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _kill_tree(process: subprocess.Popen) -> None:
    victims = [process.pid, *_descendants(process.pid)]
    for pid in victims:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    process.wait()


def _epochs(trial_dir: Path) -> list[int]:
    lines = (trial_dir / "result.json").read_text().splitlines() if (trial_dir / "result.json").is_file() else []
    return [json.loads(line)["epoch"] for line in lines if line.strip()]


def test_storage_path_is_resolved_on_the_driver(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert storage_path("shared/tune", tmp_path / "x") == str(tmp_path / "shared" / "tune")
    assert storage_path("s3://bucket/tune", tmp_path) == "s3://bucket/tune"
    assert storage_path(None, Path("out")) == str(tmp_path / "out")


@pytest.mark.slow
def test_search_killed_with_sigkill_resumes_finished_trials_kept_killed_one_continued(
        shared_data, tmp_path) -> None:
    storage = tmp_path / "shared_storage"
    overrides = [f"{k}={v}" for k, v in shared_data.items()] + [
        f"experiment.output_dir={tmp_path / 'runs'}", "experiment.name=tune_kill",
        f"train.epochs={EPOCHS}", "train.max_steps_per_epoch=2", "train.warmup_epochs=0",
        "search.space={train.lr: {type: loguniform, low: 1e-4, high: 1e-2}}",
        "search.num_samples=2", "search.max_concurrent_trials=1", "search.cpus_per_trial=1",
        "search.scheduler={type: none}", f"search.storage_path={storage}",
    ]
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    env = {**os.environ, "PYTHONPATH": str(TINY.parents[2])}
    run = [sys.executable, str(script), *overrides]

    first = subprocess.Popen(run, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 600
    # kill -9 once one trial has finished and the next is part-way through
    while True:
        trials = {d: _epochs(d) for d in (storage / "search").glob("*/") if d.is_dir()}
        done = [d for d, e in trials.items() if len(e) == EPOCHS]
        running = [d for d, e in trials.items() if 0 < len(e) < EPOCHS - 2]
        if done and running:
            break
        assert first.poll() is None, "the search ended before it could be killed"
        assert time.monotonic() < deadline, f"no killable moment within 10 minutes: {trials}"
        time.sleep(0.1)
    _kill_tree(first)
    finished, killed = done[0], running[0]
    before_kill = {finished: _epochs(finished), killed: _epochs(killed)}

    second = subprocess.run([*run, "train.resume=true"], env=env, capture_output=True, text=True, timeout=900)
    assert second.returncode == 0, second.stderr[-3000:]

    assert _epochs(finished) == before_kill[finished] == list(range(1, EPOCHS + 1))  # not trained again
    resumed = _epochs(killed)
    assert resumed[: len(before_kill[killed])] == before_kill[killed]
    assert resumed.count(1) == 1 and sorted(set(resumed)) == list(range(1, EPOCHS + 1))  # continued, not restarted
    outcome = json.loads((tmp_path / "runs" / "tune_kill" / "search" / "search_results.json").read_text())
    assert [t["epochs"] for t in outcome["trials"]] == [EPOCHS, EPOCHS] and outcome["failed_trials"] == 0
    for trial in (finished, killed):
        log = (tmp_path / "runs" / "tune_kill" / "search" / "trials" / trial.name / "log.csv").read_text()
        assert [int(row.split(",")[0]) for row in log.splitlines()[1:]] == list(range(1, EPOCHS + 1))
        assert list((tmp_path / "runs" / "tune_kill" / "search" / "trials" / trial.name / "tensorboard").iterdir())
