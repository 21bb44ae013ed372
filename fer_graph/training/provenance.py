"""Where a run's numbers come from: a hash of what decides them and the code commit that made them."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

# Keys that change where a run is written or how fast it goes, never its numbers (a store's
# content is fixed by the data and graph parameters, which are hashed).
UNHASHED = (
    "experiment", "graphs.store", "graphs.num_workers", "graphs.address", "graphs.ship_images", "train.resume",
    "train.progress", "train.num_workers", "search.storage_path", "train.distributed.address",
    "data.max_missing",  # admits or refuses a run; the samples it drops are in results.json
    "data.loading",  # preload or stream: the same batches either way (tests/training/test_loaders.py)
)
# Keys added after runs were recorded, with the value that reproduces those runs: hashed only
# when set to something else, so the recorded runs keep their hash and stay reusable.
HASHED_UNLESS = {
    "data.labels": "majority", "loss.target": "hard", "data.layout_options": {}, "data.face_crop": False,
    "loss.ba_form": "batch_mean", "loss.class_weights": "none", "train.sampler": "none",
    "train.select_metric": "val_accuracy", "train.max_nonfinite_steps": 10, "model.sren_readout": "linear",
    # off, or a mapping: the worker count is hashed, since BatchNorm sees each worker's share
    "train.distributed": None,
}


def portable(value):
    """Absolute paths inside the repository tree become relative, so a hash travels between clones."""
    if isinstance(value, dict):
        return {k: portable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [portable(v) for v in value]
    if isinstance(value, str) and os.path.isabs(value):
        return os.path.relpath(value, REPO_ROOT)
    return value


def config_sha256(config: dict) -> str:
    """SHA-256 of a resolved config; equal hashes, equal runs.

    Leaves out the `UNHASHED` keys, and the `HASHED_UNLESS` keys where they hold their listed value.
    """
    kept = copy.deepcopy(config)
    for key in (*UNHASHED, *HASHED_UNLESS):
        *parents, last = key.split(".")
        node = kept
        for part in parents:
            node = node.get(part) or {}  # a section may be null (train.distributed)
        if key in UNHASHED or node.get(last) == HASHED_UNLESS[key]:
            node.pop(last, None)
    text = json.dumps(portable(kept), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def code_commit() -> str:
    """`git rev-parse HEAD` of the fer_graph checkout, `+dirty` when tracked files differ, or 'unknown'."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True,
                              text=True, check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO_ROOT,
                               capture_output=True, text=True, check=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head}+dirty" if dirty else head


# Read when the code is imported, not when a run ends: a long study must record the commit
# whose code it runs, even if the checkout moves on meanwhile.
COMMIT_AT_IMPORT = code_commit()


def run_provenance(config: dict) -> dict:
    """The provenance keys every run.json carries."""
    return {"config_sha256": config_sha256(config), "commit": COMMIT_AT_IMPORT,
            "epochs": config["train"]["epochs"]}
