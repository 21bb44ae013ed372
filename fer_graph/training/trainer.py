"""The training loop: warm-up + cosine schedule, AMP, clipping, NaN guard, logs, checkpoints, resume.

Batches are `(images, GraphBatch | None, labels[, target distributions])` as produced by
`fer_graph.data.dataset.collate_batch`; the model returns a `ModelOutput` and the loss, called
as `loss_fn(output, labels, distributions or None)`, returns `(total, {"ce", "ba"})`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import torch
from rich.console import Console

from fer_graph.data.dataset import evaluation_collate
from fer_graph.models.checkpoint import load_checkpoint, save_checkpoint
from fer_graph.models.devices import autocast, machine_record, native_bf16_here, resolve_device
from fer_graph.models.output import view_probabilities
from fer_graph.training.checkpoint import capture_rng_state, restore_rng_state
from fer_graph.training.logs import EpochLog, epoch_progress
from fer_graph.training.metrics import classification_metrics

EpochCallback = Callable[[dict, Path], None]


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN or infinite loss; the run stops instead of training on garbage."""


@dataclass
class EvalResult:
    """Outputs of one pass over a split, in loader order.

    ``weights`` holds the fusion weights W (N, K), averaged over test-time views, for models
    that have them (None otherwise).
    """

    loss: float
    labels: np.ndarray
    probabilities: np.ndarray
    weights: np.ndarray | None = None

    @property
    def predicted(self) -> np.ndarray:
        return self.probabilities.argmax(axis=1)


@dataclass
class FitResult:
    """What `Trainer.fit` leaves behind: the history and the epoch selected on validation."""

    history: list[dict]
    best_epoch: int
    best_metrics: dict
    best_path: Path
    resumed_from: int | None = None
    extra: dict = field(default_factory=dict)
    machines: list[dict] = field(default_factory=list)


def build_optimizer(model: torch.nn.Module, train: dict) -> torch.optim.Optimizer:
    """Adam, AdamW or SGD (Nesterov momentum) over the trainable parameters."""
    params = [p for p in model.parameters() if p.requires_grad]
    lr, wd = train["lr"], train["weight_decay"]
    if train["optimizer"] == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=wd)
    if train["optimizer"] == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=wd)
    return torch.optim.SGD(params, lr=lr, weight_decay=wd, momentum=train["momentum"], nesterov=True)


def machine_segments(machines: list[dict], epoch: int, machine: dict) -> list[dict]:
    """The machines a run trained on, each with the first epoch it trained, once ``machine``
    takes over at ``epoch``: a resumed run may continue on another CPU kind, whose bits differ.

    A run resumed from a checkpoint made before checkpoints named their machine starts its
    list at the resumed epoch; the epochs before it name no machine.
    """
    if machines and {k: v for k, v in machines[-1].items() if k != "from_epoch"} == machine:
        return list(machines)
    return [*machines, {"from_epoch": epoch, **machine}]


def lr_factor(step: int, warmup_steps: int, total_steps: int, min_ratio: float) -> float:
    """Linear warm-up to 1, then cosine decay to `min_ratio` at `total_steps`."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def _to_device(batch: tuple, device: torch.device, channels_last: bool) -> tuple:
    """(images, graphs, labels, distributions or None) on the device."""
    images, graphs, labels, *distributions = batch
    images = images.to(device, non_blocking=True)
    if channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    if graphs is not None:
        graphs = graphs.to(device, non_blocking=True)
    distribution = distributions[0].to(device, non_blocking=True) if distributions else None
    return images, graphs, labels.to(device, non_blocking=True), distribution


@torch.no_grad()
def evaluate(model, loader: Iterable, loss_fn, device: torch.device, amp=False, channels_last=False,
             views: int = 1) -> EvalResult:
    """Run the model over a loader without gradients; returns loss, labels and probabilities.

    With ``views`` > 1 each batch holds that many views of its samples, view-major (see
    ``collate_with_mirrors``): probabilities are averaged over views, the loss over all rows.
    """
    model.eval()
    total_loss, count, labels, probs, weights = 0.0, 0, [], [], []
    for batch in loader:
        images, graphs, targets, _ = _to_device(batch, device, channels_last)
        with autocast(device, amp):
            output = model(images, graphs)
            loss, _ = loss_fn(output, targets.repeat(views))
        total_loss += float(loss) * len(targets)
        count += len(targets)
        labels.append(targets.cpu().numpy())
        probs.append(view_probabilities(output.logits, views).cpu().numpy())
        if output.weights is not None:
            w = output.weights.float()
            weights.append(w.reshape(views, -1, w.shape[1]).mean(dim=0).cpu().numpy())
    return EvalResult(
        loss=total_loss / max(count, 1),
        labels=np.concatenate(labels) if labels else np.zeros(0, dtype=np.int64),
        probabilities=np.concatenate(probs) if probs else np.zeros((0, 0), dtype=np.float32),
        weights=np.concatenate(weights) if weights else None,
    )


class Trainer:
    """Trains one model on one fold with one seed, selecting the checkpoint on validation.

    Args:
        model: the network (already on CPU; moved to the configured device here).
        loss_fn: callable `(output, labels, distributions or None) -> (total, parts)`.
        config: the resolved experiment config (saved into checkpoints).
        run_dir: folder for checkpoints/, log.csv, tensorboard/.
        class_names: names of the label ids, for per-class metrics.
        console: where progress bars and epoch lines go.
        device: where to train; None: ``train.device`` resolved here.

    After `distribute`, this process is one replica of a data-parallel run (see
    `fer_graph.training.distributed`).
    """

    def __init__(self, model, loss_fn, config: dict, run_dir: Path, class_names, console: Console | None = None,
                 device: torch.device | None = None):
        self.train_cfg = config["train"]
        self.config = config
        self.run_dir = Path(run_dir)
        self.class_names = list(class_names)
        self.console = console or Console()
        self.device = device or resolve_device(self.train_cfg["device"])
        self.amp = self.train_cfg["amp"]
        if self.amp == "bf16" and self.device.type == "cpu" and native_bf16_here() is False:
            self.console.print("train.amp: bf16 on a CPU without AVX512-BF16 or AMX: convolutions and matrix products "
                               "run in fp32 on bf16-rounded values (devices.RoundedProducts)", style="yellow")
        self.model = model.to(self.device)
        if self.train_cfg["channels_last"]:
            self.model = self.model.to(memory_format=torch.channels_last)
        # what training steps call; the DDP wrapper after `distribute`. `model` stays the bare
        # network: checkpoints, validation and test use it (state_dict keys without "module.")
        self.train_model = self.model
        self.rank, self.world = 0, 1
        self.loss_fn = loss_fn
        self.optimizer = build_optimizer(self.model, self.train_cfg)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp == "fp16")
        self.nonfinite_run = 0  # non-finite losses in a row, across epochs
        self.ckpt_dir = self.run_dir / "checkpoints"

    def distribute(self, rank: int, world: int) -> None:
        """Make this process replica `rank` of `world` in the torch process group already set up.

        Gradients are averaged over replicas (DistributedDataParallel). On CPUs BatchNorm
        normalises each replica's share with its own statistics and keeps rank 0's running
        buffers (DDP broadcasts them); on GPUs it is SyncBatchNorm. Only rank 0 validates, saves
        checkpoints and writes logs.
        """
        self.rank, self.world = rank, world
        if world == 1:
            return
        ids = None
        if self.device.type == "cuda":
            # batch statistics over the global batch, as one process computes them; the modules
            # keep their parameters (the optimizer's) and state_dict keys. CPUs lack SyncBatchNorm.
            self.model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(self.model)
            ids = [self.device.index]
        self.train_model = torch.nn.parallel.DistributedDataParallel(self.model, device_ids=ids)

    @property
    def chief(self) -> bool:
        """Whether this process writes outputs: rank 0, or the only process."""
        return self.rank == 0

    def _reduce_over_replicas(self, values: list[float], op=None) -> list[float]:
        """Values summed (or `op`-reduced) over replicas; unchanged in one process."""
        if self.world == 1:
            return values
        tensor = torch.tensor(values, dtype=torch.float64, device=self.device)
        torch.distributed.all_reduce(tensor, op=op or torch.distributed.ReduceOp.SUM)
        return tensor.tolist()

    def _scheduler(self, steps_per_epoch: int) -> torch.optim.lr_scheduler.LambdaLR:
        cfg = self.train_cfg
        warmup, total = cfg["warmup_epochs"] * steps_per_epoch, cfg["epochs"] * steps_per_epoch
        return torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda step: lr_factor(step, warmup, total, cfg["min_lr_ratio"])
        )

    def fit(self, train_loader, val_loader, on_epoch_end: EpochCallback | None = None) -> FitResult:
        """Train for `train.epochs`, evaluating on validation every `train.eval_every` epochs.

        The checkpoint kept as `best.pt` is the epoch with the highest `train.select_metric`
        (the first such epoch on ties).

        With `train.resume` and a `checkpoints/last.pt` in the run folder, training continues
        from it with model, optimizer, schedule, history and random states restored.

        A replica other than rank 0 (see `distribute`) only trains: its rows carry the training
        figures; ``on_epoch_end`` is called on every replica.
        """
        cfg = self.train_cfg
        steps = len(train_loader)
        if cfg["max_steps_per_epoch"]:
            steps = min(steps, cfg["max_steps_per_epoch"])
        scheduler = self._scheduler(steps)
        metric = cfg["select_metric"]
        history, best, start, resumed = [], {"epoch": 0, metric: -1.0}, 0, None
        machines = []
        last_path = self.ckpt_dir / "last.pt"
        if cfg["resume"] and last_path.is_file():
            state = load_checkpoint(last_path)
            self.model.load_state_dict(state["state_dict"])
            self.optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            self.scaler.load_state_dict(state["scaler"])
            history, best, start = state["history"], state["best"], state["epoch"]
            machines = state.get("machines", [])
            restore_rng_state(state["rng"])
            resumed = start
            self.console.print(f"resumed from {last_path} after epoch {start}")
        # a resume with no epoch left to train only evaluates: that machine is run.json's `machine`
        self.machines = (machine_segments(machines, start + 1, machine_record(self.device))
                         if start < cfg["epochs"] else machines)
        log = EpochLog(self.run_dir) if self.chief else None
        try:
            for epoch in range(start + 1, cfg["epochs"] + 1):
                row = self._train_epoch(train_loader, scheduler, epoch, steps)
                if not self.chief:
                    history.append(row)
                    if on_epoch_end is not None:
                        on_epoch_end(row, self.ckpt_dir)
                    continue
                if epoch % cfg["eval_every"] == 0 or epoch == cfg["epochs"]:
                    val_started = time.perf_counter()
                    row.update(self._validate(val_loader))
                    row["val_seconds"] = time.perf_counter() - val_started
                    if row[metric] > best.get(metric, -1.0):
                        best = {k: v for k, v in row.items() if not isinstance(v, dict)}
                        self._save(self.ckpt_dir / "best.pt", epoch, row, scheduler, history, best, full=False)
                history.append({k: v for k, v in row.items() if not isinstance(v, dict)})
                log.write(history)
                self._save(last_path, epoch, row, scheduler, history, best, full=True)
                self._print_epoch(history[-1])
                if on_epoch_end is not None:
                    on_epoch_end(history[-1], self.ckpt_dir)
        finally:
            if log is not None:
                log.close()
        return FitResult(history, best["epoch"], best, self.ckpt_dir / "best.pt", resumed, machines=self.machines)

    def _train_epoch(self, loader, scheduler, epoch: int, steps: int) -> dict:
        self.train_model.train()
        cfg, started = self.train_cfg, time.perf_counter()
        sums = {"loss": 0.0, "ce": 0.0, "ba": 0.0}
        correct = seen = skipped = 0
        if hasattr(loader.dataset, "set_epoch"):
            loader.dataset.set_epoch(epoch)
        with epoch_progress(self.console, cfg["progress"]) as progress:
            task = progress.add_task(f"epoch {epoch}/{cfg['epochs']}", total=steps, loss=0.0, acc=0.0, ips=0.0)
            for step, batch in enumerate(loader):
                if step >= steps:
                    break
                images, graphs, targets, distributions = _to_device(batch, self.device, cfg["channels_last"])
                with autocast(self.device, self.amp):
                    output = self.train_model(images, graphs)
                    loss, parts = self.loss_fn(output, targets, distributions)
                loss_value = loss.detach()
                self.optimizer.zero_grad(set_to_none=True)
                # replicas skip a step together, or the others would wait on its gradients forever
                finite = self._reduce_over_replicas([float(torch.isfinite(loss_value))], torch.distributed.ReduceOp.MIN)[0]
                if not finite:
                    self._skip_nonfinite(loss_value, epoch, step)
                    skipped += 1
                    scheduler.step()  # the schedule counts steps taken or not, so it stays in step
                    continue
                self.nonfinite_run = 0
                self.scaler.scale(loss).backward()
                if cfg["grad_clip"]:
                    self.scaler.unscale_(self.optimizer)
                    torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg["grad_clip"])
                if self.scaler.is_enabled():
                    scale = self.scaler.get_scale()
                    self.scaler.step(self.optimizer)  # skipped when a gradient is inf or NaN
                    self.scaler.update()
                    skipped += int(self.scaler.get_scale() < scale)
                else:
                    self.optimizer.step()
                scheduler.step()
                n = len(targets)
                sums["loss"] += float(loss_value) * n
                for key in ("ce", "ba"):
                    sums[key] += float(parts[key].detach()) * n if key in parts else 0.0
                correct += int((output.logits.argmax(1) == targets).sum())
                seen += n
                ips = seen / (time.perf_counter() - started)
                progress.update(task, advance=1, loss=sums["loss"] / seen, acc=correct / seen, ips=ips)
        seconds = time.perf_counter() - started
        # figures of the global batch: each replica saw its share of every step's samples (a
        # skipped step is skipped by all replicas together, so `skipped` needs no sum)
        totals = self._reduce_over_replicas([sums["loss"], sums["ce"], sums["ba"], correct, seen])
        sums["loss"], sums["ce"], sums["ba"] = totals[:3]
        correct, seen = int(totals[3]), int(totals[4])
        row = {
            "epoch": epoch,
            "lr": self.optimizer.param_groups[0]["lr"],
            "train_loss": sums["loss"] / max(seen, 1),
            "train_ce": sums["ce"] / max(seen, 1),
            "train_ba": sums["ba"] / max(seen, 1),
            "train_accuracy": correct / max(seen, 1),
            "images_per_s": seen / seconds,
            "epoch_seconds": seconds,
        }
        if skipped or self.scaler.is_enabled():
            row["skipped_steps"] = skipped
        return row

    def _skip_nonfinite(self, loss_value: torch.Tensor, epoch: int, step: int) -> None:
        """Count a non-finite loss; raise once `train.max_nonfinite_steps` came in a row.

        Under fp16 the scaler's scale is lowered as for an overflowing gradient: a loss that
        overflows in half precision is what a smaller scale cures.
        """
        self.nonfinite_run += 1
        limit = self.train_cfg["max_nonfinite_steps"]
        if self.nonfinite_run >= limit:
            raise NonFiniteLossError(
                f"loss was non-finite for {self.nonfinite_run} steps in a row (last {loss_value.item()} "
                f"at epoch {epoch}, step {step + 1}; train.max_nonfinite_steps is {limit}): "
                "lower train.lr, set train.grad_clip, or turn off train.amp"
            )
        if self.scaler.is_enabled():
            self.scaler.scale(loss_value)  # creates the scale tensor when this is the first step
            self.scaler.update(self.scaler.get_scale() * self.scaler.get_backoff_factor())
        self.console.print(f"epoch {epoch}, step {step + 1}: loss {loss_value.item()}, step skipped",
                           style="yellow")

    def _validate(self, loader) -> dict:
        result = self.evaluate(loader)
        m = classification_metrics(result.labels, result.predicted, self.class_names)
        return {"val_loss": result.loss, "val_accuracy": m["accuracy"], "val_uf1": m["uf1"], "val_uar": m["uar"]}

    def evaluate(self, loader) -> EvalResult:
        """Evaluate the current weights on a loader."""
        _, views = evaluation_collate(self.train_cfg["tta_hflip"])
        return evaluate(self.model, loader, self.loss_fn, self.device, self.amp, self.train_cfg["channels_last"], views)

    def _save(self, path: Path, epoch: int, row: dict, scheduler, history, best, full: bool) -> None:
        payload = {
            "state_dict": self.model.state_dict(),
            "config": self.config,
            "metrics": {k: v for k, v in row.items() if isinstance(v, (int, float))},
            "epoch": epoch,
            "class_names": self.class_names,
        }
        if full:
            payload.update(
                optimizer=self.optimizer.state_dict(),
                scheduler=scheduler.state_dict(),
                scaler=self.scaler.state_dict(),
                history=history,
                best=best,
                machines=self.machines,
                rng=capture_rng_state(),
            )
        save_checkpoint(payload, path)

    def _print_epoch(self, row: dict) -> None:
        val = f"  val loss {row['val_loss']:.4f} acc {row['val_accuracy']:.4f}" if "val_loss" in row else ""
        self.console.print(
            f"epoch {row['epoch']:>3}  train loss {row['train_loss']:.4f} acc {row['train_accuracy']:.4f}"
            f"{val}  {row['images_per_s']:.0f} img/s  {row['epoch_seconds']:.1f}s"
        )

    def load_best(self, path: Path) -> dict:
        """Load the selected checkpoint's weights into the model; returns the checkpoint."""
        state = load_checkpoint(path, map_location=self.device)
        self.model.load_state_dict(state["state_dict"])
        return state
