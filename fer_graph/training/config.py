"""Experiment configuration: defaults + YAML file (+ optional `base:`) + dotted overrides, validated.

Every problem is reported as one `ConfigError` line naming the offending key or path, before
any data is read or any model is built.
"""

from __future__ import annotations

import copy
from dataclasses import fields
from pathlib import Path
from typing import Any, Iterable

from fer_graph.data.build_cluster import SHIP_IMAGES
from fer_graph.data.dataset import TARGETS
from fer_graph.data.ferplus import LABEL_MODES
from fer_graph.data.readers import LAYOUTS, resolve_options
from fer_graph.data.streaming import LOADING_MODES
from fer_graph.data.transforms import build_transforms
from fer_graph.errors import ConfigError
from fer_graph.faces.params import FaceParams
from fer_graph.granular.graph import GBRParams
from fer_graph.models.factory import resolve_model_config
from fer_graph.models.losses import BA_FORMS
from fer_graph.models.schema import DEFAULT_CONFIG as MODEL_DEFAULTS
from fer_graph.models.schema import key_choices, key_types
from fer_graph.training.config_files import apply_overrides, deep_merge, get_dotted, load_yaml
from fer_graph.training.sampling import CLASS_WEIGHTS, SAMPLERS

# Validation metrics a checkpoint can be selected on (higher is better); a search optimises the same.
SELECT_METRICS = ("val_accuracy", "val_uf1", "val_uar")

_GBR_DEFAULTS = {f.name: f.default for f in fields(GBRParams)}

# The full schema: every key that may appear, with its default. A leaf's type is the type of
# its default unless `_TYPES` says otherwise. Mappings listed in `_OPEN` are handed on to
# another package (which checks their contents), so their keys are not checked here.
DEFAULTS: dict[str, Any] = {
    "experiment": {"name": "experiment", "output_dir": "runs", "seeds": [0]},
    "data": {
        "dataset": "folder",
        "root": None,
        "layout": "auto",
        "layout_options": {},
        "labels": "majority",
        "synthetic": {"samples_per_class": 400, "seed": 0, "size": 48},
        "protocol": {},
        "image_size": 224,
        "in_chans": 3,
        "mean": 0.5,
        "std": 0.5,
        "augmentation": {},
        "max_missing": 0,
        "loading": "preload",
        "face_crop": False,
    },
    "graphs": {"store": None, "num_workers": 2, "address": None, "ship_images": "auto", **_GBR_DEFAULTS},
    "model": copy.deepcopy(MODEL_DEFAULTS),
    "loss": {
        "lambda_ba": 0.1, "bootstrap_alignment": True, "label_smoothing": 0.0, "target": "hard",
        "ba_form": "batch_mean", "class_weights": "none",
    },
    "train": {
        "optimizer": "adam",
        "lr": 1e-4,
        "weight_decay": 0.01,
        "momentum": 0.9,
        "epochs": 40,
        "batch_size": 16,
        "num_workers": 0,
        "warmup_epochs": 0,
        "min_lr_ratio": 0.0,
        "amp": False,
        "channels_last": False,
        "tta_hflip": False,
        "graph_reliance": True,
        "grad_clip": None,
        "device": "auto",
        "num_threads": None,
        "resume": False,
        "eval_every": 1,
        "progress": True,
        "max_steps_per_epoch": None,
        "sampler": "none",
        "select_metric": "val_accuracy",
        "max_nonfinite_steps": 10,
        # null: one process; a mapping of DISTRIBUTED_DEFAULTS keys: data-parallel on Ray Train
        "distributed": None,
    },
}

# `train.distributed` when given: what a key left out means (checked like any section).
DISTRIBUTED_DEFAULTS: dict[str, Any] = {
    "workers": 2,  # data-parallel replicas, one process each; train.batch_size is split among them
    "use_gpu": False,  # one GPU per worker (NCCL, SyncBatchNorm); false: CPU workers over gloo
    "address": None,  # a Ray cluster to join; null: a local Ray instance started for the run
}

SEARCH_DEFAULTS: dict[str, Any] = {
    "space": {},
    "num_samples": 8,
    "metric": "val_accuracy",
    "mode": "max",
    "scheduler": {"type": "asha", "max_t": None, "grace_period": 1, "reduction_factor": 2},
    "cpus_per_trial": 1,
    "gpus_per_trial": 1,
    "max_concurrent_trials": None,
    "name": "search",
    # where Tune keeps trial state and checkpoints: a folder every node sees, or a URI (s3://...)
    "storage_path": None,
}

_OPEN = {"data.protocol", "data.augmentation", "data.layout_options", "search.space"}

_NUM = (int, float)
_TYPES: dict[str, tuple[type, ...]] = {
    "data.root": (str, type(None)),
    "data.mean": (*_NUM, list),
    "data.std": (*_NUM, list),
    "data.face_crop": (bool, dict),  # a mapping of fer_graph.faces.FaceParams fields
    "graphs.store": (str, type(None)),
    "graphs.address": (str, type(None)),
    "graphs.image_size": (int, type(None)),
    **key_types("model."),
    "train.grad_clip": (*_NUM, type(None)),
    "train.num_threads": (int, type(None)),
    "train.max_steps_per_epoch": (int, type(None)),
    "train.amp": (bool, str),
    "train.distributed": (dict, type(None)),
    "train.distributed.address": (str, type(None)),
    "search.scheduler.max_t": (int, type(None)),
    "search.max_concurrent_trials": (int, type(None)),
    "search.storage_path": (str, type(None)),
    "search.cpus_per_trial": _NUM,
    "search.gpus_per_trial": _NUM,
}

_CHOICES: dict[str, tuple[Any, ...]] = {
    "data.dataset": ("synthetic", "folder"),
    "data.layout": ("auto", *LAYOUTS),
    "data.labels": LABEL_MODES,
    "data.loading": LOADING_MODES,
    "graphs.ship_images": SHIP_IMAGES,
    "loss.target": TARGETS,
    "loss.ba_form": BA_FORMS,
    "loss.class_weights": CLASS_WEIGHTS,
    **key_choices("model."),
    "train.optimizer": ("adam", "adamw", "sgd"),
    "train.amp": (False, "bf16", "fp16"),
    "train.device": ("auto", "cpu", "cuda"),
    "train.sampler": SAMPLERS,
    "train.select_metric": SELECT_METRICS,
    "search.mode": ("max", "min"),
    "search.scheduler.type": ("asha", "none"),
}

_POSITIVE = {
    "data.image_size", "data.in_chans", "train.epochs", "train.batch_size", "train.eval_every",
    "train.max_nonfinite_steps",
    "model.num_classes", "search.num_samples",
}

SPACE_TYPES = ("uniform", "loguniform", "choice", "randint")


def resolve_experiment_config(user: dict) -> dict:
    """Fill defaults into a user mapping and validate it; paths are made absolute.

    Raises:
        ConfigError: on unknown keys, wrong types, bad choices, missing paths or
            settings that contradict each other.
    """
    schema = copy.deepcopy(DEFAULTS)
    if "search" in user:
        schema["search"] = copy.deepcopy(SEARCH_DEFAULTS)
    _check_keys(user, schema, "")
    config = deep_merge(schema, user)
    if "search" in user and "metric" not in user["search"]:
        # a search optimises the metric the trials' checkpoints are selected on
        config["search"]["metric"] = config["train"]["select_metric"]
    _check_types(config, schema, "")
    _check_values(config)
    _absolutise(config)
    _check_paths(config)
    return config


def load_config(path: str | Path, overrides: Iterable[str] = ()) -> dict:
    """Load, override and validate an experiment YAML; returns the resolved config."""
    user = apply_overrides(load_yaml(path), overrides)
    return resolve_experiment_config(user)


def _check_keys(user: Any, schema: dict, prefix: str) -> None:
    if not isinstance(user, dict):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'}: expected a mapping, got {_tn(user)}")
    for key, value in user.items():
        dotted = f"{prefix}{key}"
        if key not in schema:
            known = ", ".join(sorted(schema))
            raise ConfigError(f"{dotted}: unknown key (known here: {known})")
        if dotted in _OPEN:
            if not isinstance(value, dict):
                raise ConfigError(f"{dotted}: expected a mapping, got {_tn(value)}")
        elif isinstance(schema[key], dict) and schema[key]:
            _check_keys(value, schema[key], dotted + ".")


def _check_types(config: dict, schema: dict, prefix: str) -> None:
    for key, default in schema.items():
        dotted = f"{prefix}{key}"
        value = config[key]
        if dotted in _OPEN:
            continue
        if isinstance(default, dict):
            _check_types(value, default, dotted + ".")
            continue
        allowed = _TYPES.get(dotted) or ((*_NUM,) if isinstance(default, float) else (type(default),))
        # bool is an int subclass; a `true` where a number belongs is a mistake, not a 1.
        if isinstance(value, bool) and bool not in allowed:
            ok = False
        else:
            ok = isinstance(value, allowed)
        if not ok:
            names = " or ".join("null" if t is type(None) else t.__name__ for t in allowed)
            raise ConfigError(f"{dotted}: expected {names}, got {_tn(value)} {value!r}")
        if dotted in _CHOICES and value not in _CHOICES[dotted]:
            options = ", ".join(str(c).lower() if isinstance(c, bool) else c for c in _CHOICES[dotted])
            raise ConfigError(f"{dotted}: must be one of {options}, got {value!r}")


def _check_values(config: dict) -> None:
    seeds = config["experiment"]["seeds"]
    if not seeds or not all(isinstance(v, int) and not isinstance(v, bool) for v in seeds):
        raise ConfigError(f"experiment.seeds: expected a non-empty list of integers, got {seeds!r}")
    for dotted in sorted(_POSITIVE):
        if dotted.split(".")[0] in config and get_dotted(config, dotted) <= 0:
            raise ConfigError(f"{dotted}: must be > 0, got {get_dotted(config, dotted)!r}")
    warmup = config["train"]["warmup_epochs"]
    if warmup < 0 or (warmup and warmup >= config["train"]["epochs"]):
        raise ConfigError(f"train.warmup_epochs: must be in [0, train.epochs), got {warmup}")
    data, model = config["data"], config["model"]
    if data["max_missing"] < 0:
        raise ConfigError(f"data.max_missing: must be >= 0, got {data['max_missing']}")
    if data["face_crop"] is not False:
        if FaceParams.from_section(data["face_crop"]).select != "largest":
            raise ConfigError("data.face_crop.select: a dataset sample uses one face; set it to largest")
    if data["in_chans"] != model["in_chans"]:
        raise ConfigError(
            f"model.in_chans: {model['in_chans']} disagrees with data.in_chans {data['in_chans']}"
        )
    if data["image_size"] != model["img_size"]:
        raise ConfigError(
            f"model.img_size: {model['img_size']} disagrees with data.image_size {data['image_size']}"
        )
    if data["layout"] != "auto":
        resolve_options(data["layout"], data["layout_options"])
    if data["dataset"] == "folder" and data["root"] is None:
        raise ConfigError("data.root: required when data.dataset is folder")
    try:
        GBRParams.from_section(config["graphs"])
    except (ValueError, KeyError) as err:
        raise ConfigError(f"graphs: {err}") from err
    try:
        resolve_model_config(model)
    except (KeyError, ValueError) as err:
        raise ConfigError(f"model: {err.args[0]}") from err
    try:
        build_transforms(data)
    except KeyError as err:
        raise ConfigError(str(err.args[0])) from err
    except ValueError as err:
        raise ConfigError(str(err)) from err
    if config["train"]["distributed"] is not None:
        _check_distributed(config)
    if "search" in config:
        _check_search(config)


def _check_distributed(config: dict) -> None:
    """Fill and check `train.distributed`; each key is typed by DISTRIBUTED_DEFAULTS."""
    where = "train.distributed"
    _check_keys(config["train"]["distributed"], DISTRIBUTED_DEFAULTS, where + ".")
    section = config["train"]["distributed"] = {**DISTRIBUTED_DEFAULTS, **config["train"]["distributed"]}
    _check_types(section, DISTRIBUTED_DEFAULTS, where + ".")
    train = config["train"]
    if section["workers"] < 1:
        raise ConfigError(f"{where}.workers: must be >= 1, got {section['workers']}")
    if train["batch_size"] < 2 * section["workers"]:
        # a worker's share of a batch must hold 2 samples, or BatchNorm cannot train on it
        raise ConfigError(
            f"{where}.workers: {section['workers']} workers need train.batch_size >= "
            f"{2 * section['workers']} (2 samples per worker), got {train['batch_size']}"
        )
    if section["use_gpu"] and train["device"] == "cpu":
        raise ConfigError(f"{where}.use_gpu: true contradicts train.device cpu")
    if not section["use_gpu"] and train["device"] == "cuda":
        raise ConfigError(f"{where}.use_gpu: false contradicts train.device cuda (set use_gpu: true)")
    if "search" in config:
        raise ConfigError(f"{where}: not supported in a search (each trial trains in one process); "
                          "set it to null")


def _check_search(config: dict) -> None:
    search = config["search"]
    if not search["space"]:
        raise ConfigError("search.space: needs at least one dotted key to search over")
    for key, spec in search["space"].items():
        where = f"search.space.{key}"
        try:
            get_dotted(config, key)
        except (KeyError, TypeError):
            raise ConfigError(f"{where}: {key} is not a config key") from None
        if not isinstance(spec, dict) or spec.get("type") not in SPACE_TYPES:
            raise ConfigError(f"{where}: needs type: one of {', '.join(SPACE_TYPES)}")
        needed = {"choice": {"type", "values"}}.get(spec["type"], {"type", "low", "high"})
        if set(spec) != needed:
            raise ConfigError(f"{where}: a {spec['type']} space takes exactly {sorted(needed)}")
    sched = search["scheduler"]
    max_t = sched["max_t"] or config["train"]["epochs"]
    if sched["type"] == "asha" and not 1 <= sched["grace_period"] <= max_t:
        raise ConfigError(
            f"search.scheduler.grace_period: must be in [1, {max_t}] (max_t, or train.epochs when unset), "
            f"got {sched['grace_period']}"
        )
    if search["metric"] not in SELECT_METRICS:
        raise ConfigError(
            f"search.metric: must be a validation metric ({', '.join(SELECT_METRICS)}), got {search['metric']!r}"
        )
    if search["metric"] != config["train"]["select_metric"]:
        raise ConfigError(
            f"search.metric: {search['metric']} differs from train.select_metric "
            f"{config['train']['select_metric']}, the metric each trial's checkpoint is selected on; "
            "set train.select_metric (search.metric follows it)"
        )
    if search["mode"] != "max":
        raise ConfigError(f"search.mode: {search['metric']} is maximised, got {search['mode']!r}")


def _absolutise(config: dict) -> None:
    exp, data, graphs = config["experiment"], config["data"], config["graphs"]
    exp["output_dir"] = str(Path(exp["output_dir"]).expanduser().resolve())
    if data["root"] is None:
        # The synthetic set is generated once and shared by all experiments in output_dir.
        size = data["synthetic"]
        name = f"synthetic_{size['samples_per_class']}x{size['size']}_s{size['seed']}"
        data["root"] = str(Path(exp["output_dir"]) / "data" / name)
    data["root"] = str(Path(data["root"]).expanduser().resolve())
    if graphs["store"] is None:
        # Face-cropped graphs are another dataset's: never the same file as the uncropped ones.
        suffix = "_faces" if data["face_crop"] is not False else ""
        graphs["store"] = str(Path(exp["output_dir"]) / "graphs" / f"{Path(data['root']).name}{suffix}.h5")
    graphs["store"] = str(Path(graphs["store"]).expanduser().resolve())
    ckpt = config["model"]["checkpoint_path"]
    if ckpt is not None:
        config["model"]["checkpoint_path"] = str(Path(ckpt).expanduser().resolve())


def _check_paths(config: dict) -> None:
    if config["data"]["dataset"] == "folder" and not Path(config["data"]["root"]).exists():
        raise ConfigError(f"data.root: path {config['data']['root']} does not exist")
    ckpt = config["model"]["checkpoint_path"]
    if ckpt is not None and not Path(ckpt).is_file():
        raise ConfigError(f"model.checkpoint_path: file {ckpt} does not exist")


def _tn(value: Any) -> str:
    return "null" if value is None else type(value).__name__
