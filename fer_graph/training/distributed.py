"""Data-parallel training on Ray Train (``train.distributed``): the same Trainer in N workers.

Each worker runs `fit_replica` as one replica of a DistributedDataParallel model: every global
batch of ``train.batch_size`` is split among the workers (ShardedBatchSampler), gradients are
averaged, and rank 0 alone validates, selects and writes the run's checkpoints and logs into
the run folder, exactly as one process does. Each epoch rank 0 also hands its checkpoint
folder to Ray Train (`ray.train.report`), which keeps the latest copy under
``<run>/ray_train``. The driver then holds the selected checkpoint and evaluates the test split
itself, once, like a single-process run.

The run folder must be one that every worker sees (one machine, or a shared file system on a
cluster), as Ray Train's storage must be: resume reads ``checkpoints/last.pt`` from it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import torch
from rich.console import Console

from fer_graph.data.protocols import Fold
from fer_graph.data.readers import DatasetIndex
from fer_graph.data.store import GraphStore
from fer_graph.models.checkpoint import load_checkpoint
from fer_graph.training.experiment import build_trainer, fit_replica
from fer_graph.training.trainer import EpochCallback, FitResult, Trainer

RAY_TRAIN_DIR = "ray_train"  # Ray Train's storage inside the run folder


def fit_distributed(
    config: dict,
    index: DatasetIndex,
    store: GraphStore | None,
    fold: Fold,
    seed: int,
    run_dir: Path,
    console: Console,
    on_epoch_end: EpochCallback | None = None,
) -> tuple[Trainer, FitResult]:
    """`fit_fold` on ``train.distributed.workers`` Ray Train workers; see the module docstring.

    ``on_epoch_end`` runs on rank 0's worker (it is pickled there), after each epoch's report.

    Returns:
        A trainer in this process, its model not yet loaded, and the fit read from the
        checkpoints rank 0 wrote.
    """
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    import ray
    from ray.train import CheckpointConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    settings, train = config["train"]["distributed"], config["train"]
    ckpt_dir = run_dir / "checkpoints"
    last = ckpt_dir / "last.pt"
    resumed = load_checkpoint(last)["epoch"] if train["resume"] and last.is_file() else None
    # Resume state lives in checkpoints/last.pt; Ray Train's copy of an earlier attempt is
    # stale, and Ray Train would try to continue it instead of starting this one.
    shutil.rmtree(run_dir / RAY_TRAIN_DIR, ignore_errors=True)
    started = not ray.is_initialized()
    if started:
        # without an address, a new local instance, never another process's Ray found on this machine
        ray.init(address=settings["address"] or "local", include_dashboard=False)
    job = {
        "config": config, "index": index, "fold": fold, "seed": seed, "run_dir": str(run_dir),
        "store": str(store.path) if store is not None else None, "quiet": console.quiet,
        "on_epoch_end": on_epoch_end,
    }
    trainer = TorchTrainer(
        _replica,
        train_loop_config=job,
        scaling_config=ScalingConfig(num_workers=settings["workers"], use_gpu=settings["use_gpu"]),
        run_config=RunConfig(name="fit", storage_path=str(run_dir / RAY_TRAIN_DIR),
                             checkpoint_config=CheckpointConfig(num_to_keep=1)),
    )
    try:
        result = trainer.fit()
    finally:
        if started:
            ray.shutdown()
    if result.checkpoint is not None:
        _fill_from(result.checkpoint, ckpt_dir)
    state = load_checkpoint(last)
    best = state["best"]
    fit = FitResult(state["history"], best["epoch"], best, ckpt_dir / "best.pt", resumed,
                    machines=state.get("machines", []))
    return build_trainer(config, index, fold, seed, run_dir, console), fit


def _fill_from(checkpoint, ckpt_dir: Path) -> None:
    """Copy into ``ckpt_dir`` what it lacks of Ray Train's copy: rank 0 may have run on another node."""
    with checkpoint.as_directory() as reported:
        for path in Path(reported).iterdir():
            if not (ckpt_dir / path.name).exists():
                ckpt_dir.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, ckpt_dir / path.name)


def _replica(job: dict) -> None:
    """One Ray Train worker: `fit_replica` as replica (rank, world), reporting every epoch."""
    import ray.train
    from ray.train import Checkpoint
    from ray.train.torch import get_device

    context = ray.train.get_context()
    rank, world = context.get_world_rank(), context.get_world_size()
    # a fresh handle per worker; the driver's store (and its cache) stays in the driver
    store = GraphStore(job["store"]) if job["store"] else None
    console = Console(quiet=job["quiet"] or rank != 0)
    user_callback = job["on_epoch_end"]

    def report(row: dict, ckpt_dir: Path) -> None:
        # every worker reports every epoch (Ray Train requires it); only rank 0 has a checkpoint
        metrics = {k: v for k, v in row.items() if isinstance(v, (int, float))}
        checkpoint = Checkpoint.from_directory(str(ckpt_dir)) if rank == 0 else None
        ray.train.report(metrics, checkpoint=checkpoint, checkpoint_dir_name=f"epoch{row['epoch']:04d}",
                         delete_local_checkpoint_after_upload=False)
        if rank == 0 and user_callback is not None:
            user_callback(row, ckpt_dir)

    device = get_device()
    if device.type == "cuda":
        torch.cuda.set_device(device)
    fit_replica(job["config"], job["index"], store, job["fold"], job["seed"], Path(job["run_dir"]), console,
                report, device=device, shard=(rank, world))
