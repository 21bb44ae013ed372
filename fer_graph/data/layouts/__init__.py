"""Dataset layouts as their owners ship them: ``discover(root, layout, options)`` -> ``DatasetIndex``.

One module per dataset family; this package detects the layout of a folder and hands it to
its reader. A folder that fits none is an error naming what was expected, never a guess.

Layouts: ``imagefolder`` (``root/<split>/<class>/*``, FER-2013's split from the file names),
``flat`` (``root/<class>/*``, CK+48), ``fer_csv``, ``rafdb``, ``ferplus``, ``affectnet``, ``sfew``,
``oulu_casia``, ``ckplus`` (CK+ as shipped) and ``samm``; see each module. Sample ids are stable
strings (the image path relative to ``root``); samples are sorted by id. Folder class names are
sorted; coded layouts keep their code order.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterable

import yaml

from fer_graph.data import ferplus
from fer_graph.data.layouts import affectnet, ckplus, oulu_casia, samm, sfew
from fer_graph.data.layouts.base import (
    SPLIT_SYNONYMS, DatasetIndex, DatasetLayoutError, Sample, images_in, subdirs,
)
from fer_graph.data.layouts.fer_csv import read_fer_csv
from fer_graph.data.layouts.folders import read_flat, read_imagefolder
from fer_graph.data.layouts.rafdb import rafdb_list, read_rafdb
from fer_graph.errors import ConfigError

READERS: dict[str, Callable[[Path, dict], DatasetIndex]] = {
    "imagefolder": read_imagefolder,
    "flat": read_flat,
    "fer_csv": read_fer_csv,
    "rafdb": read_rafdb,
    "ferplus": lambda root, options: ferplus.read_ferplus(root),
    "affectnet": affectnet.read_affectnet,
    "sfew": sfew.read_sfew,
    "oulu_casia": oulu_casia.read_oulu_casia,
    "ckplus": ckplus.read_ckplus,
    "samm": samm.read_samm,
}
LAYOUTS = tuple(READERS)
# data.layout_options: the keys each layout takes, with their defaults
LAYOUT_OPTIONS: dict[str, dict] = {
    "affectnet": affectnet.OPTIONS, "oulu_casia": oulu_casia.OPTIONS, "ckplus": ckplus.OPTIONS,
    "samm": samm.OPTIONS,
}


def discover(root: str | os.PathLike, layout: str = "auto", options: dict | None = None) -> DatasetIndex:
    """Index a dataset.

    Args:
        root: the dataset folder (or the CSV file for ``fer_csv``).
        layout: one of LAYOUTS, or ``auto`` to detect it.
        options: the layout's options (``data.layout_options``; defaults in ``LAYOUT_OPTIONS``).

    Raises:
        DatasetLayoutError: missing root, unknown layout, or nothing matching the layout.
        ConfigError: an option the layout does not take, or a bad option value.
    """
    root = Path(root)
    if not root.exists():
        raise DatasetLayoutError(f"dataset not found: {root}")
    if layout == "auto":
        layout = detect_layout(root)
    if layout not in READERS:
        raise DatasetLayoutError(
            f"unknown layout {layout!r} for {root} (choose auto or one of {', '.join(LAYOUTS)})"
        )
    index = READERS[layout](root, resolve_options(layout, options))
    if not index.samples:
        raise DatasetLayoutError(f"no images found in {root} (layout {layout})")
    index.samples.sort(key=lambda s: s.id)
    return index


def resolve_options(layout: str, options: dict | None) -> dict:
    """The layout's option defaults updated by ``options``; ConfigError for a key it does not take."""
    defaults = LAYOUT_OPTIONS.get(layout, {})
    for key in options or {}:
        if key not in defaults:
            known = ", ".join(sorted(defaults)) or "none"
            raise ConfigError(f"data.layout_options.{key}: not an option of layout {layout} (its options: {known})")
    return {**defaults, **(options or {})}


def parse_layout_options(items: Iterable[str]) -> dict:
    """``key=value`` command-line items as a ``data.layout_options`` mapping (values read as YAML)."""
    options = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"layout option {item!r} must look like key=value")
        options[key.strip()] = yaml.safe_load(value)
    return options


def detect_layout(root: Path) -> str:
    """The layout of ``root`` from its files and folders; DatasetLayoutError if none fits."""
    if root.is_file():
        if root.suffix.lower() == ".csv":
            return "fer_csv"
        raise DatasetLayoutError(f"not a dataset folder or CSV file: {root}")
    if rafdb_list(root) is not None:
        return "rafdb"
    if ferplus.looks_like_ferplus(root):
        missing = ferplus.missing_parts(root)
        if missing:
            raise DatasetLayoutError(f"{root} looks like FERPlus but lacks {', '.join(missing)} "
                                     "(layout ferplus: FER2013Train/, FER2013Valid/, FER2013Test/, each with label.csv)")
        return "ferplus"
    specific = (("affectnet", affectnet.looks_like_affectnet), ("ckplus", ckplus.looks_like_ckplus),
                ("oulu_casia", oulu_casia.looks_like_oulu_casia), ("samm", lambda r: samm.sheet_path(r) is not None),
                ("sfew", lambda r: sfew.split_folders(r) is not None))
    for layout, fits in specific:
        if fits(root):
            return layout
    folders = subdirs(root)
    if folders and all(subdirs(d) and not images_in(d) for d in folders):
        return "imagefolder"
    if folders and any(images_in(d) for d in folders):
        named_like_splits = [d.name for d in folders
                             if d.name.lower() in SPLIT_SYNONYMS or d.name in ferplus.SPLIT_FOLDERS]
        if named_like_splits:
            raise DatasetLayoutError(
                f"{root}: folders {', '.join(named_like_splits)} hold images directly, so they would be read as "
                "classes (layout flat) although they are named like splits; lay them out as <split>/<class>/ "
                "or set data.layout explicitly"
            )
        return "flat"
    csvs = sorted(p for p in root.glob("*.csv") if p.is_file())
    if len(csvs) == 1:
        return "fer_csv"
    raise DatasetLayoutError(
        f"cannot detect the dataset layout of {root} "
        "(expected <split>/<class>/*, <class>/*, a FER CSV, RAF-DB EmoLabel/ + aligned/, FERPlus "
        f"FER2013Train/ FER2013Valid/ FER2013Test/ with label.csv, {affectnet.EXPECTED}, "
        f"SFEW {sfew.EXPECTED}, Oulu-CASIA {oulu_casia.EXPECTED}, CK+ {ckplus.EXPECTED}, or SAMM {samm.EXPECTED})"
    )


__all__ = ["LAYOUTS", "LAYOUT_OPTIONS", "READERS", "DatasetIndex", "DatasetLayoutError", "Sample",
           "detect_layout", "discover", "parse_layout_options", "resolve_options"]
