"""The Trainer on the CPU: fp16 with a gradient scaler, skipped steps, non-finite losses, selection metric."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from rich.console import Console

from fer_graph.models.checkpoint import load_checkpoint
from fer_graph.models.sren import dgl_available
from fer_graph.training.checkpoint import seed_everything
from fer_graph.training.config import load_config
from fer_graph.training.experiment import build_model_and_loss, run_experiment
from fer_graph.training.loaders import make_loader
from fer_graph.training.prepare import prepare_data
from fer_graph.training.trainer import NonFiniteLossError, Trainer, lr_factor

QUIET = Console(quiet=True)


def _trainer(config: dict, run_dir: Path):
    """A real Trainer with the tiny config's train and validation loaders."""
    index, store, folds = prepare_data(config, QUIET)
    seed_everything(0)
    model, loss_fn = build_model_and_loss(config)
    trainer = Trainer(model, loss_fn, config, run_dir, index.class_names, QUIET)
    train = make_loader(config, index, store, folds[0].train_ids, train=True, seed=0)
    val = make_loader(config, index, store, folds[0].val_ids, train=False, seed=0)
    return trainer, train, val


def _expected_lr(config: dict, steps_taken: int, steps_per_epoch: int) -> float:
    train = config["train"]
    total = train["epochs"] * steps_per_epoch
    return train["lr"] * lr_factor(steps_taken, train["warmup_epochs"] * steps_per_epoch, total,
                                   train["min_lr_ratio"])


def test_fp16_run_of_the_tiny_config_completes_on_the_cpu(tiny_config) -> None:
    config = tiny_config("train.amp=fp16", "train.graph_reliance=false")
    results = run_experiment(config, QUIET)
    run = results["runs"][0]
    assert 0.0 <= run["test"]["accuracy"] <= 1.0 and math.isfinite(run["best_val"]["val_loss"])
    log = Path(config["experiment"]["output_dir"]) / "tiny" / "seed0" / "official" / "log.csv"
    rows = list(csv.DictReader(log.open()))
    assert len(rows) == config["train"]["epochs"] and "skipped_steps" in rows[0]


def test_inf_gradient_step_is_skipped_by_the_scaler_and_the_schedule_stays_in_step(tiny_config, tmp_path) -> None:
    config = tiny_config("train.amp=fp16", "train.epochs=2", "train.max_steps_per_epoch=2",
                         "train.warmup_epochs=1")
    trainer, train, val = _trainer(config, tmp_path)
    weight = trainer.model.chn.fc.weight
    calls = []

    def poison_first(grad: torch.Tensor) -> torch.Tensor:
        calls.append(1)
        return torch.full_like(grad, math.inf) if len(calls) == 1 else grad

    weight.register_hook(poison_first)
    scale = trainer.scaler.get_scale()
    fit = trainer.fit(train, val)

    assert [row["skipped_steps"] for row in fit.history] == [1, 0]
    assert trainer.scaler.get_scale() == scale * trainer.scaler.get_backoff_factor()
    # four scheduler steps for four batches, one of them skipped by the scaler
    for epoch, row in enumerate(fit.history, start=1):
        assert row["lr"] == pytest.approx(_expected_lr(config, 2 * epoch, 2), rel=1e-12)


def test_a_skipped_step_leaves_the_weights_untouched(tiny_config, tmp_path) -> None:
    config = tiny_config("train.amp=fp16", "train.max_steps_per_epoch=1")
    trainer, train, val = _trainer(config, tmp_path)
    trainer.model.chn.fc.weight.register_hook(lambda grad: torch.full_like(grad, math.nan))
    before = {name: p.detach().clone() for name, p in trainer.model.named_parameters()}
    fit = trainer.fit(train, val)
    assert fit.history[0]["skipped_steps"] == 1
    for name, param in trainer.model.named_parameters():
        torch.testing.assert_close(param.detach(), before[name], rtol=0, atol=0, msg=name)


def test_one_non_finite_loss_is_skipped_and_training_goes_on(tiny_config, tmp_path) -> None:
    config = tiny_config("train.epochs=2", "train.max_steps_per_epoch=3")
    trainer, train, val = _trainer(config, tmp_path)
    calls = []

    def nan_once(module, inputs, output):
        calls.append(1)
        return output * math.nan if len(calls) == 2 else output

    trainer.model.chn.register_forward_hook(nan_once)
    fit = trainer.fit(train, val)
    assert [row.get("skipped_steps", 0) for row in fit.history] == [1, 0]
    assert all(math.isfinite(row["train_loss"]) for row in fit.history)
    assert fit.history[-1]["lr"] == pytest.approx(_expected_lr(config, 6, 3), rel=1e-12)


def test_a_run_of_non_finite_losses_stops_training(tiny_config, tmp_path) -> None:
    config = tiny_config("train.amp=fp16", "train.max_nonfinite_steps=3", "train.max_steps_per_epoch=5")
    trainer, train, val = _trainer(config, tmp_path)
    trainer.model.chn.register_forward_hook(lambda module, inputs, output: output * math.nan)
    with pytest.raises(NonFiniteLossError, match=r"^loss was non-finite for 3 steps in a row \(last nan at "
                                                 r"epoch 1, step 3; train\.max_nonfinite_steps is 3\)"):
        trainer.fit(train, val)


@pytest.mark.parametrize("metric", ["val_uf1", "val_uar"])
def test_checkpoint_is_selected_on_the_configured_metric(tiny_config, tmp_path, metric) -> None:
    config = tiny_config("train.epochs=3", "train.max_steps_per_epoch=2", f"train.select_metric={metric}")
    trainer, train, val = _trainer(config, tmp_path)
    fit = trainer.fit(train, val)
    values = [row[metric] for row in fit.history]
    assert fit.best_epoch == int(np.argmax(values)) + 1
    saved = load_checkpoint(fit.best_path)
    assert saved["epoch"] == fit.best_epoch and saved["metrics"][metric] == max(values)


PAPER = Path(__file__).resolve().parents[2] / "experiments" / "configs" / "fer2013.yaml"


@pytest.mark.slow
@pytest.mark.skipif(not dgl_available(), reason="DGL is not installed: no DGL loss to compare the torch one to")
def test_paper_config_trains_two_steps_and_evaluates_with_equal_losses_on_both_graph_backends(
    shared_data, tmp_path
) -> None:
    # the paper model (Swin-B at 224 px, D_e 1024, K 9, random weights) on the tiny data's
    # images and graphs, batch 2 to keep a CPU run short
    overrides = [f"{k}={v}" for k, v in shared_data.items()] + [
        f"experiment.output_dir={tmp_path}", "data.dataset=synthetic", "data.layout=auto",
        "data.synthetic={samples_per_class: 40, seed: 0, size: 48}", "model.pretrained=false",
        "train.batch_size=2", "train.epochs=1", "train.max_steps_per_epoch=2", "train.amp=false",
        "train.channels_last=false", "train.progress=false", "train.num_workers=0",
        "graphs.num_workers=1",
    ]
    losses = {}
    for backend in ("torch", "dgl"):
        config = load_config(PAPER, overrides + [f"model.graph_backend={backend}"])
        model = config["model"]
        assert (model["backbone"], model["img_size"], model["embed_dim"], model["num_components"]) == (
            "swin_base_patch4_window7_224.ms_in1k", 224, 1024, 9)
        index, store, folds = prepare_data(config, QUIET)
        seed_everything(0)
        net, loss_fn = build_model_and_loss(config)
        trainer = Trainer(net, loss_fn, config, tmp_path / backend, index.class_names, QUIET)
        train = make_loader(config, index, store, folds[0].train_ids[:4], train=True, seed=0)
        val = make_loader(config, index, store, folds[0].val_ids[:4], train=False, seed=0)
        row = trainer.fit(train, val).history[0]
        assert math.isfinite(row["train_loss"]) and math.isfinite(row["val_loss"])
        losses[backend] = (row["train_loss"], row["train_ba"], row["val_loss"])
    np.testing.assert_allclose(losses["dgl"], losses["torch"], rtol=1e-4, atol=1e-6)
