"""experiments/run.py end to end at tiny scale, then prediction from its checkpoint equals its
saved test predictions (graph store built by Ray actors, bf16 autocast, channels-last)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from fer_graph.inference.loading import load_model
from fer_graph.inference.predict import Predictor
from fer_graph.training.config import load_config
from fer_graph.training.experiment import run_experiment
from fer_graph.training.report import read_predictions

TINY = Path(__file__).resolve().parents[2] / "experiments" / "configs" / "tiny.yaml"


@pytest.mark.parametrize("tta", [False, True], ids=["plain", "flip_tta"])
def test_predictions_equal_run_py_saved_test_predictions(tmp_path, tta):
    config = load_config(TINY, [
        f"experiment.output_dir={tmp_path}", "data.synthetic.samples_per_class=12",
        "train.amp=bf16", "train.channels_last=true", "train.batch_size=8", f"train.tta_hflip={str(tta).lower()}",
    ])
    run_experiment(config, Console(quiet=True))
    run_dir = tmp_path / config["experiment"]["name"] / "seed0" / "official"
    saved = read_predictions(run_dir / "predictions_test.csv")
    loaded = load_model(run_dir / "checkpoints" / "best.pt")
    assert loaded.amp == "bf16" and loaded.channels_last

    root = Path(config["data"]["root"])
    rows = Predictor(loaded).predict_paths([root / i for i in saved["ids"]], batch_size=8)
    ours = np.stack([r.probabilities for r in rows])
    assert len(saved["ids"]) >= 7
    # the CSV keeps 6 significant digits
    np.testing.assert_allclose(ours, saved["probabilities"], rtol=1e-5, atol=1e-6)
    assert [r.top for r in rows] == saved["predicted"].tolist()
