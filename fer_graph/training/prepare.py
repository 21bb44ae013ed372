"""Before training: make or find the dataset, check it against the config, build or reuse graphs, split.

Every mismatch between the config and what is on disk is a one-line `ConfigError`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from pathlib import Path

from rich.console import Console

from fer_graph.data.build import build_graph_store
from fer_graph.data.face_crops import RECORDS, crop_cache, crop_faces
from fer_graph.data.freshness import check_store, sample_fingerprints
from fer_graph.data.protocols import Fold, make_folds
from fer_graph.data.readers import DatasetIndex, DatasetLayoutError, discover
from fer_graph.data.store import GraphStore
from fer_graph.data.store_lock import store_lock
from fer_graph.data.synthetic import write_synthetic_dataset
from fer_graph.errors import ConfigError
from fer_graph.faces import FaceModelError, FaceParams
from fer_graph.granular.graph import GBRParams
from fer_graph.models.factory import uses_graphs


def prepare_data(config: dict, console: Console) -> tuple[DatasetIndex, GraphStore | None, list[Fold]]:
    """Everything before training: the dataset, its graph store and its folds.

    Every config/data mismatch surfaces here as a ConfigError.
    """
    index = prepare_dataset(config, console)
    store = prepare_graphs(config, index, console)
    index = drop_failed(index, store, console, config["data"]["max_missing"])
    return index, store, prepare_folds(config, index)


def prepare_dataset(config: dict, console: Console) -> DatasetIndex:
    """Index the dataset (generating the synthetic one first if needed) and check it against the config.

    Prints the faces the layout leaves out (FERPlus: top vote unknown or NF) and checks the class
    count and that a soft or pld ``loss.target`` has votes to train on.
    """
    data = config["data"]
    root = Path(data["root"])
    if data["dataset"] == "synthetic":
        syn = data["synthetic"]
        if not (root / "manifest.json").is_file():
            console.print(f"writing the synthetic dataset ({syn['samples_per_class']} images per class) to {root}")
        try:
            # A no-op when root already holds this exact dataset; written atomically otherwise.
            write_synthetic_dataset(root, samples_per_class=syn["samples_per_class"], seed=syn["seed"],
                                    size=syn["size"])
        except FileExistsError as err:
            raise ConfigError(f"data.root: {err}") from err
    try:
        index = discover(root, data["layout"], data["layout_options"])
    except (DatasetLayoutError, FileNotFoundError, ValueError) as err:
        raise ConfigError(f"data.root: {err}") from err
    if data["face_crop"] is not False:
        index = _crop_faces(config, index, console)
    if index.left_out:
        console.print(f"{root} ({index.layout}): left out {index.left_out_summary()}")
    target = config["loss"]["target"]
    if target != "hard" and not index.votes:
        raise ConfigError(f"loss.target: {target} trains on annotator votes, which the {index.layout} dataset "
                          f"at {root} does not have; use loss.target=hard")
    want, have = config["model"]["num_classes"], len(index.class_names)
    if want != have:
        raise ConfigError(
            f"model.num_classes: {want} but the data at {root} has {have} classes "
            f"({', '.join(index.class_names)})"
        )
    return index


def _crop_faces(config: dict, index: DatasetIndex, console: Console) -> DatasetIndex:
    """``data.face_crop``: the index of the samples' aligned face crops (see data/face_crops.py)."""
    params = FaceParams.from_section(config["data"]["face_crop"]).with_size(config["data"]["image_size"])
    cache = crop_cache(config["graphs"]["store"])
    try:
        cropped, summary = crop_faces(index, params, cache, progress=config["train"]["progress"], log=console.print)
    except FaceModelError as err:
        raise ConfigError(f"data.face_crop: {err}") from err
    note = f", no face found in {len(summary.no_face)} (records in {cache / RECORDS})" if summary.no_face else ""
    console.print(f"face crops in {cache}: {summary.cropped} images ({summary.reused} reused){note}")
    return cropped


def prepare_graphs(config: dict, index: DatasetIndex, console: Console) -> GraphStore | None:
    """Reuse the graph store when it belongs to this dataset, else build what it lacks with Ray.

    Reused only when root, builder code and every sample's fingerprint match (``freshness``);
    otherwise the changed or new samples are built, with a message saying why. Failed samples
    are retried when there are more in a split than ``data.max_missing`` allows. The check and
    the build hold the store's lock, so concurrent runs build it once.

    Raises:
        ConfigError: the store exists but was built with other parameters.
    """
    if not uses_graphs(config["model"]):
        return None
    graphs = config["graphs"]
    path = Path(graphs["store"])
    params = GBRParams.from_section(graphs)
    with store_lock(path, console.print):
        if path.is_file():
            with GraphStore(path) as store:
                stored = store.params
            if stored != params:
                diff = [f"{k} {getattr(stored, k)!r} != {getattr(params, k)!r}"
                        for k in params.to_dict() if getattr(stored, k) != getattr(params, k)]
                raise ConfigError(
                    f"graphs.store: {path} was built with other parameters ({'; '.join(diff)}); "
                    "delete it or set graphs.store to a new path"
                )
        check = check_store(path, index, sample_fingerprints(index), params)
        over = any(n > config["data"]["max_missing"] for n in check.failed_per_split(index).values())
        if not check.stale and not over:
            store = GraphStore(path)
            console.print(f"reusing graph store {path} ({len(store)} graphs)")
            return store
        console.print(f"building graphs for {len(index)} images into {path}")
        build_graph_store(
            index, path, params, num_workers=graphs["num_workers"], address=graphs["address"],
            progress=config["train"]["progress"], log=console.print, ship_images=graphs["ship_images"],
        )
    return GraphStore(path)


def drop_failed(index: DatasetIndex, store: GraphStore | None, console: Console,
                max_missing: int = 0) -> DatasetIndex:
    """Remove samples whose image could not become a graph (listed in the store) from the index.

    Their number per split is kept in ``store.missing_graphs`` (for results.json).

    Raises:
        ConfigError: a split misses more graphs than ``max_missing`` (``data.max_missing``).
    """
    if store is None or not store.failures:
        return index
    failed = {f[0]: f[1] for f in store.failures}
    dropped = [s for s in index.samples if s.id in failed]
    store.missing_graphs = dict(sorted(Counter(s.split for s in dropped).items()))
    for split, count in store.missing_graphs.items():
        if count > max_missing:
            files = [failed[s.id] for s in dropped if s.split == split][:3]
            raise ConfigError(
                f"data.max_missing: graph store {store.path} has no graph for {count} {split} "
                f"image(s) (first: {', '.join(files)}), {max_missing} allowed; fix or remove them "
                "and rerun (failed images are retried), or raise data.max_missing"
            )
    if dropped:
        console.print(f"[yellow]{len(dropped)} image(s) have no graph and are left out "
                      f"({store.missing_graphs}, see {store.path} failures)")
    return replace(index, samples=[s for s in index.samples if s.id not in failed])


def prepare_folds(config: dict, index: DatasetIndex) -> list[Fold]:
    """Split by `data.protocol`; protocol problems become ConfigErrors."""
    try:
        folds = make_folds(index, config["data"]["protocol"])
    except KeyError as err:
        raise ConfigError(str(err.args[0])) from err
    except ValueError as err:
        raise ConfigError(str(err)) from err
    for fold in folds:
        if not fold.val_ids:
            raise ConfigError(
                f"data.protocol: fold {fold.name} has no validation samples; set data.protocol.val_fraction > 0"
            )
    return folds
