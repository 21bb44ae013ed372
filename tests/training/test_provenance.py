"""Config hashes decide reuse: equal for runs that must be equal, different otherwise."""

from __future__ import annotations

import re
import subprocess

from fer_graph.training.config import load_config
from fer_graph.training.provenance import REPO_ROOT, code_commit, config_sha256

from training_helpers import TINY


def test_hash_ignores_placement_and_speed_keys_but_not_training_keys(tmp_path) -> None:
    data = f"data.root={tmp_path / 'synthetic'}"
    base = config_sha256(load_config(TINY, [data]))
    moved = load_config(TINY, [data, f"experiment.output_dir={tmp_path}", "experiment.name=other",
                               "experiment.seeds=[3]", "train.resume=true", "graphs.num_workers=2",
                               "graphs.store=elsewhere.h5", "data.max_missing=5",
                               "data.loading=stream"])
    assert config_sha256(moved) == base
    assert config_sha256(load_config(TINY, [data, "train.lr=0.5"])) != base
    assert config_sha256(load_config(TINY, [data, "model.graph_head=concat"])) != base


def test_label_and_target_keys_at_their_default_keep_the_hash_of_configs_recorded_before_them(tmp_path) -> None:
    config = load_config(TINY, [f"data.root={tmp_path / 'synthetic'}"])
    recorded = {**config, "data": {k: v for k, v in config["data"].items() if k != "labels"},
                "loss": {k: v for k, v in config["loss"].items() if k != "target"}}
    assert config_sha256(config) == config_sha256(recorded)
    config["loss"]["target"] = "soft"
    assert config_sha256(config) != config_sha256(recorded)
    without_options = {**config, "data": {k: v for k, v in config["data"].items() if k != "layout_options"}}
    assert config["data"]["layout_options"] == {} and config_sha256(config) == config_sha256(without_options)
    config["data"]["layout_options"] = {"frames": 1}
    assert config_sha256(config) != config_sha256(without_options)


NEW_KEYS = {"loss": ("ba_form", "class_weights"), "model": ("sren_readout",),
            "train": ("sampler", "select_metric", "max_nonfinite_steps")}


def test_imbalance_fidelity_and_guard_keys_at_their_default_keep_recorded_hashes(tmp_path) -> None:
    config = load_config(TINY, [f"data.root={tmp_path / 'synthetic'}"])
    recorded = {**config, **{section: {k: v for k, v in config[section].items() if k not in keys}
                             for section, keys in NEW_KEYS.items()}}
    assert config_sha256(config) == config_sha256(recorded)
    for override in ("loss.ba_form=per_sample", "loss.class_weights=balanced", "train.sampler=class_balanced",
                     "train.select_metric=val_uf1", "train.max_nonfinite_steps=1"):
        changed = load_config(TINY, [f"data.root={tmp_path / 'synthetic'}", override])
        assert config_sha256(changed) != config_sha256(config), override


def test_paths_in_the_repository_hash_relative_to_it() -> None:
    config = load_config(TINY)
    assert config["data"]["root"].startswith(str(REPO_ROOT))
    relative = {**config, "data": {**config["data"], "root": config["data"]["root"][len(str(REPO_ROOT)) + 1:]}}
    assert config_sha256(relative) == config_sha256(config)


def test_commit_is_this_checkout_head() -> None:
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True)
    commit = code_commit()
    if head.returncode != 0:
        assert commit == "unknown"
        return
    assert re.fullmatch(r"[0-9a-f]{40}(\+dirty)?", commit)
    assert commit.startswith(head.stdout.strip())
