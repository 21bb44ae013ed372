"""Before training: make or find the dataset, check it against the config, build or reuse graphs, split.

Every mismatch between the config and what is on disk is a one-line `ConfigError`.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from rich.console import Console

from fer_graph.data.build import build_graph_store
from fer_graph.data.protocols import Fold, make_folds
from fer_graph.data.readers import DatasetIndex, DatasetLayoutError, discover
from fer_graph.data.store import GraphStore
from fer_graph.data.synthetic import write_synthetic_dataset
from fer_graph.errors import ConfigError
from fer_graph.granular import builder_fingerprint
from fer_graph.granular.graph import GBRParams
from fer_graph.models.factory import uses_graphs


def prepare_dataset(config: dict, console: Console) -> DatasetIndex:
    """Index the dataset (generating the synthetic one first if needed) and check class counts."""
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
        index = discover(root, data["layout"])
    except (DatasetLayoutError, FileNotFoundError, ValueError) as err:
        raise ConfigError(f"data.root: {err}") from err
    if index.left_out:
        console.print(f"{root} ({index.layout}): left out "
                      + ", ".join(f"{n} images whose top vote is {reason}" for reason, n in sorted(index.left_out.items())))
    want, have = config["model"]["num_classes"], len(index.class_names)
    if want != have:
        raise ConfigError(
            f"model.num_classes: {want} but the data at {root} has {have} classes "
            f"({', '.join(index.class_names)})"
        )
    return index


def prepare_graphs(config: dict, index: DatasetIndex, console: Console) -> GraphStore | None:
    """Reuse the graph store when its parameters match the config, else build it with Ray.

    A store written by other graph-builder code, or lacking samples of the dataset, is rebuilt.

    Raises:
        ConfigError: the store exists but was built with other parameters.
    """
    if not uses_graphs(config["model"]):
        return None
    graphs = config["graphs"]
    path = Path(graphs["store"])
    params = GBRParams.from_section(graphs)
    if path.is_file():
        store = GraphStore(path)
        if store.params != params:
            diff = [
                f"{k} {getattr(store.params, k)!r} != {getattr(params, k)!r}"
                for k in params.to_dict()
                if getattr(store.params, k) != getattr(params, k)
            ]
            raise ConfigError(
                f"graphs.store: {path} was built with other parameters ({'; '.join(diff)}); "
                "delete it or set graphs.store to a new path"
            )
        known = set(store.ids) | {f[0] for f in store.failures}
        if store.builder_fingerprint != builder_fingerprint():
            console.print(f"graph store {path} was built by other graph-builder code; rebuilding it")
        elif all(s.id in known for s in index.samples):
            console.print(f"reusing graph store {path} ({len(store)} graphs)")
            return store
        else:
            console.print(f"graph store {path} lacks samples of {index.root}; rebuilding it")
        store.close()
    console.print(f"building graphs for {len(index)} images into {path}")
    build_graph_store(
        index, path, params, num_workers=graphs["num_workers"], address=graphs["address"],
        progress=config["train"]["progress"],
    )
    return GraphStore(path)


def drop_failed(index: DatasetIndex, store: GraphStore | None, console: Console) -> DatasetIndex:
    """Remove samples whose image could not become a graph (listed in the store) from the index."""
    if store is None or not store.failures:
        return index
    failed = {f[0] for f in store.failures}
    console.print(f"[yellow]{len(failed)} image(s) have no graph and are left out (see {store.path} failures)")
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
