"""What a graph build needs on a Ray cluster: the driver's package on every worker, a check
that the workers run it, and the images' bytes shipped with each task where a node cannot
read the driver's paths.

On a local runtime none of this applies: the workers are this machine's processes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import fer_graph
from fer_graph import granular
from fer_graph.data.readers import DatasetIndex, ImageReadError, load_image

SHIP_IMAGES = ("auto", "always", "never")
_PROBES = 8  # sample paths each node must read for "auto" to trust a shared filesystem


class ClusterSetupError(RuntimeError):
    """The cluster cannot build this dataset as configured; the message is one line."""


@dataclass(frozen=True)
class Shipped:
    """An image file's bytes read by the driver, and the face box to cut from it (if any)."""

    data: bytes
    box: tuple[int, int, int, int] | None = None


def package_runtime_env() -> dict:
    """A Ray job ``runtime_env`` (for ``ray.init``) that gives workers this driver's fer_graph."""
    return {"py_modules": [str(Path(fer_graph.__file__).resolve().parent)]}


def worker_identity() -> dict:
    """What must match between the driver and a worker for their graphs to be the same."""
    return {"version": fer_graph.__version__, "builder": granular.builder_fingerprint()}


@dataclass(frozen=True)
class NodeReport:
    """What one node answered: its address, its ``worker_identity``, a probed path it cannot read."""

    node: str
    identity: dict
    unreadable: str | None


def _report(paths: list[str]) -> tuple[dict, str | None]:
    for path in paths:
        try:
            with open(path, "rb") as handle:
                handle.read(1)
        except OSError:
            return worker_identity(), path
    return worker_identity(), None


def survey_nodes(paths: list[str]) -> list[NodeReport]:
    """Ask every alive node with a CPU what fer_graph it runs and whether it reads ``paths``."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    survey = ray.remote(num_cpus=0)(_report)
    nodes = [n for n in ray.nodes() if n["Alive"] and n["Resources"].get("CPU", 0) > 0]
    refs = [survey.options(scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False))
            .remote(paths) for n in nodes]
    return [NodeReport(f"{n['NodeManagerAddress']} ({n['NodeID'][:8]})", identity, unreadable)
            for n, (identity, unreadable) in zip(nodes, ray.get(refs))]


def check_identities(reports: list[NodeReport]) -> None:
    """Raise ClusterSetupError naming the first node whose fer_graph differs from the driver's."""
    ours = worker_identity()
    for report in reports:
        theirs = report.identity
        if theirs != ours:
            raise ClusterSetupError(
                f"node {report.node} runs fer_graph {theirs['version']} (builder {theirs['builder']}), "
                f"the driver {ours['version']} (builder {ours['builder']}): their graphs would differ; "
                "connect with the graphs' address (which sends the driver's package) or pass "
                "runtime_env=fer_graph.data.build_cluster.package_runtime_env() to ray.init"
            )


def probe_paths(index: DatasetIndex) -> list[str]:
    """A few file paths spread over the dataset, the first and last included."""
    files = [index.location(s) for s in sorted(index.samples, key=lambda s: s.id)
             if s.id not in index.memory and s.id not in index.errors]
    if len(files) <= _PROBES:
        return files
    step = (len(files) - 1) / (_PROBES - 1)
    return [files[round(i * step)] for i in range(_PROBES)]


def decide_shipping(mode: str, reports: list[NodeReport], log: Callable[[str], None]) -> bool:
    """Whether the driver sends each image's bytes with its task (``mode`` from SHIP_IMAGES).

    ``auto`` ships when a node could not read a probed path, ``never`` stops there with
    ClusterSetupError naming the path and the node, ``always`` ships.
    """
    if mode == "always":
        return True
    blind = [r for r in reports if r.unreadable is not None]
    if not blind:
        return False
    if mode == "never":
        raise ClusterSetupError(
            f"node {blind[0].node} cannot read {blind[0].unreadable} ({len(blind)} node(s) without the "
            "dataset's files): mount the dataset at the same path on every node, or let the driver "
            "ship the images (ship_images auto or always)"
        )
    log(f"node {blind[0].node} cannot read {blind[0].unreadable}: the driver ships each image's bytes "
        "with its task")
    return True


def ship(items: list[tuple[str, str, object]]) -> list[tuple[str, str, object]]:
    """The items of a chunk with every file read here: bytes, or the reason it cannot be read."""
    shipped = []
    for sample_id, location, payload in items:
        if payload is None or isinstance(payload, tuple):
            try:
                payload = Shipped(Path(location).read_bytes(), payload)
            except OSError:
                try:  # the reason a local build would record (missing, broken link, a folder...)
                    load_image(location)
                    payload = "cannot be read by the driver"
                except ImageReadError as exc:
                    payload = exc.reason
        shipped.append((sample_id, location, payload))
    return shipped
