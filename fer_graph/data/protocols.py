"""Evaluation protocols as data: which sample ids train, select (val) and report (test).

A protocol is the YAML ``data.protocol`` mapping. ``name`` picks one of:

- ``official``: the dataset's own splits (FER-2013 Training/PublicTest/PrivateTest and FERPlus
  FER2013Train/FER2013Valid/FER2013Test -> train/val/test, RAF-DB train/test). Where there is no validation split, one is carved from
  train (``val_fraction``, ``seed``, stratified by class).
- ``holdout``: validation carved from train (``val_fraction``), and test carved too
  (``test_fraction``) when the dataset has no test split; stratified by class, fixed ``seed``.
  Samples of an official validation split join the training pool (the carved split replaces it).
- ``subject_kfold``: subject-independent k-fold (``folds``, default 10) for lab datasets such
  as CK+, where frames of one subject are near-duplicates. Subjects are dealt to folds so that
  each fold's class mix is close to the whole; validation subjects are carved from each fold's
  training subjects (``val_fraction`` of its samples). No subject is in two of train/val/test.
  The subject comes from ``subject_regex`` (group 1, searched in the sample id) or, by default,
  the sample's own subject (layouts that record one: ``ckplus``, ``oulu_casia``, ``samm``) or
  the CK+ file name ``S<subject>_<sequence>_<frame>``.
- ``leave_one_subject_out``: one fold per subject, that subject's samples the test split,
  validation subjects carved from the others as in ``subject_kfold`` (SAMM and other
  micro-expression sets, reported with UF1 and UAR).
- ``train_fraction`` (every protocol, default 1): train on this share of each fold's training
  split only, stratified by class and drawn with the protocol ``seed`` (the same subset for every
  training seed); validation and test are untouched. For learning curves: does a design pay
  where data is scarce?
- ``auto`` (also the empty mapping): ``official`` when the samples carry a test split,
  ``subject_kfold`` when every sample has a subject (its own or a CK+ file name), ``holdout``
  otherwise.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from fer_graph.data.readers import DatasetIndex, Sample, ckplus_subject

PROTOCOLS = ("auto", "official", "holdout", "subject_kfold", "leave_one_subject_out")
_KEYS = {
    "official": {"name", "val_fraction", "seed", "train_fraction"},
    "holdout": {"name", "val_fraction", "test_fraction", "seed", "train_fraction"},
    "subject_kfold": {"name", "folds", "val_fraction", "seed", "subject_regex", "train_fraction"},
    "leave_one_subject_out": {"name", "val_fraction", "seed", "subject_regex", "train_fraction"},
}
DEFAULTS = {"val_fraction": 0.1, "test_fraction": 0.1, "seed": 0, "folds": 10, "subject_regex": None,
            "train_fraction": 1.0}


@dataclass(frozen=True)
class Fold:
    """One train/val/test partition (ids sorted; the three sets are disjoint)."""

    name: str
    train_ids: tuple[str, ...]
    val_ids: tuple[str, ...]
    test_ids: tuple[str, ...]


def planned_fold_count(protocol: dict | None) -> int | None:
    """How many folds ``make_folds`` gives under ``protocol``, where the config alone tells.

    None for ``auto`` and ``leave_one_subject_out``, whose folds depend on the data.
    """
    opts = {**DEFAULTS, **(protocol or {})}
    name = opts.get("name", "auto")
    if name in ("official", "holdout"):
        return 1
    return int(opts["folds"]) if name == "subject_kfold" else None


def make_folds(index: DatasetIndex, protocol: dict | None = None) -> list[Fold]:
    """Split a dataset index into folds according to a protocol mapping.

    Args:
        index: the dataset (only sample ids, labels and splits are read).
        protocol: the ``data.protocol`` mapping; see the module docstring for keys.

    Returns:
        One Fold for ``official``/``holdout``, ``folds`` Folds for ``subject_kfold``, one per
        subject for ``leave_one_subject_out``.

    Raises:
        KeyError: an unknown protocol name or key (named in the message).
        ValueError: the dataset cannot be split that way (message says why).
    """
    protocol = dict(protocol or {})
    name = resolve_name(index, protocol.get("name", "auto"))
    unknown = sorted(set(protocol) - _KEYS[name])
    if unknown:
        raise KeyError(f"data.protocol.{unknown[0]}: not a key of protocol {name!r} "
                       f"(known: {', '.join(sorted(_KEYS[name]))})")
    opts = {**DEFAULTS, **protocol}
    _check_fraction("val_fraction", opts["val_fraction"])
    _check_fraction("test_fraction", opts["test_fraction"])
    if not 0.0 < float(opts["train_fraction"]) <= 1.0:
        raise ValueError(f"data.protocol.train_fraction must be in (0, 1], got {opts['train_fraction']!r}")
    samples = index.samples
    if name == "official":
        folds = [_official(samples, opts)]
    elif name == "holdout":
        folds = [_holdout(samples, opts)]
    elif name == "leave_one_subject_out":
        folds = _leave_one_subject_out(samples, opts)
    else:
        folds = _subject_kfold(samples, opts)
    if opts["train_fraction"] < 1.0:
        by_id = {s.id: s for s in samples}
        folds = [_shrink_train(fold, by_id, opts) for fold in folds]
    return folds


def resolve_name(index: DatasetIndex, name: str) -> str:
    """The concrete protocol ``auto`` stands for on this index (other names pass through)."""
    if name not in PROTOCOLS:
        raise KeyError(f"data.protocol.name: unknown protocol {name!r} (choose {', '.join(PROTOCOLS)})")
    if name != "auto":
        return name
    if any(s.split == "test" for s in index.samples):
        return "official"
    subject_of = subject_getter(None)
    try:
        for s in index.samples:
            subject_of(s)
    except ValueError:
        return "holdout"
    return "subject_kfold"


def _check_fraction(key: str, value: float) -> None:
    if not 0.0 <= float(value) < 1.0:
        raise ValueError(f"data.protocol.{key} must be in [0, 1), got {value!r}")


def _by_split(samples: Sequence[Sample]) -> dict[str, list[Sample]]:
    groups: dict[str, list[Sample]] = defaultdict(list)
    for s in samples:
        groups[s.split].append(s)
    return groups


def _fold(name: str, train, val, test) -> Fold:
    return Fold(name, *(tuple(sorted(s.id for s in part)) for part in (train, val, test)))


def _shrink_train(fold: Fold, by_id: dict[str, Sample], opts: dict) -> Fold:
    # a stream of its own (seed + 2), so the subset never mirrors the val or test cuts' choices
    kept, _ = stratified_split([by_id[i] for i in fold.train_ids], 1.0 - opts["train_fraction"], opts["seed"] + 2)
    return Fold(fold.name, tuple(sorted(s.id for s in kept)), fold.val_ids, fold.test_ids)


def _official(samples: Sequence[Sample], opts: dict) -> Fold:
    groups = _by_split(samples)
    if not groups.get("train") or not groups.get("test"):
        found = ", ".join(f"{k} ({len(v)})" for k, v in sorted(groups.items()))
        raise ValueError(f"protocol official needs train and test splits in the data, found: {found}; "
                         "use protocol holdout or subject_kfold")
    train, val = groups["train"], groups.get("val", [])
    if not val:
        train, val = stratified_split(train, opts["val_fraction"], opts["seed"])
    return _fold("official", train, val, groups["test"])


def _holdout(samples: Sequence[Sample], opts: dict) -> Fold:
    test = [s for s in samples if s.split == "test"]
    pool = [s for s in samples if s.split != "test"]
    if not test:
        pool, test = stratified_split(pool, opts["test_fraction"], opts["seed"])
    # a different stream for the validation cut, so val never mirrors the test cut's choices
    train, val = stratified_split(pool, opts["val_fraction"], opts["seed"] + 1)
    if not train or not test:
        raise ValueError(f"protocol holdout left an empty split ({len(train)} train, {len(test)} test)")
    return _fold("holdout", train, val, test)


def stratified_split(samples: Sequence[Sample], fraction: float, seed: int
                     ) -> tuple[list[Sample], list[Sample]]:
    """Move ``round(fraction * n_c)`` samples of each class c (chosen with ``seed``) out.

    Returns:
        (kept, carved); each class with at least two samples keeps one and, when fraction > 0,
        gives at least one.
    """
    rng = np.random.default_rng(seed)
    by_label: dict[int, list[Sample]] = defaultdict(list)
    for s in sorted(samples, key=lambda s: s.id):
        by_label[s.label].append(s)
    kept, carved = [], []
    for label in sorted(by_label):
        group = by_label[label]
        n_out = int(round(fraction * len(group)))
        if fraction > 0 and len(group) >= 2:
            n_out = min(max(n_out, 1), len(group) - 1)
        order = rng.permutation(len(group))
        carved += [group[i] for i in order[:n_out]]
        kept += [group[i] for i in order[n_out:]]
    return kept, carved


def subject_getter(regex: str | None) -> Callable[[Sample], str]:
    """A function sample -> subject: ``regex`` group 1 (searched in the id), else the sample's
    own subject, else the CK+ file name (ValueError when none applies)."""
    if regex is None:
        return lambda s: s.subject if s.subject is not None else ckplus_subject(s.id)
    pattern = re.compile(regex)

    def subject(sample: Sample) -> str:
        match = pattern.search(sample.id)
        if match is None:
            raise ValueError(f"data.protocol.subject_regex {regex!r} does not match sample id {sample.id!r}")
        return match.group(1) if pattern.groups else match.group(0)

    return subject


def _members(samples: Sequence[Sample], regex: str | None) -> dict[str, list[Sample]]:
    subject_of = subject_getter(regex)
    members: dict[str, list[Sample]] = defaultdict(list)
    for s in samples:
        members[subject_of(s)].append(s)
    return members


def _leave_one_subject_out(samples: Sequence[Sample], opts: dict) -> list[Fold]:
    members = _members(samples, opts["subject_regex"])
    if len(members) < 2:
        raise ValueError(f"protocol leave_one_subject_out needs at least 2 subjects, found {len(members)}")
    folds = []
    for i, test_subject in enumerate(sorted(members)):
        rest = [subj for subj in sorted(members) if subj != test_subject]
        val_subjects = _carve_subjects(rest, members, opts["val_fraction"], opts["seed"] + i)
        folds.append(_fold(
            f"subject_{test_subject}",
            [s for subj in rest if subj not in val_subjects for s in members[subj]],
            [s for subj in sorted(val_subjects) for s in members[subj]],
            members[test_subject],
        ))
    return folds


def _subject_kfold(samples: Sequence[Sample], opts: dict) -> list[Fold]:
    k = int(opts["folds"])
    members = _members(samples, opts["subject_regex"])
    if k < 2 or k > len(members):
        raise ValueError(f"data.protocol.folds must be in [2, {len(members)}] "
                         f"(the number of subjects), got {k}")
    assignment = assign_subjects(members, k, opts["seed"])
    folds = []
    for i in range(k):
        test_subjects = [subj for subj, f in assignment.items() if f == i]
        train_subjects = [subj for subj, f in assignment.items() if f != i]
        val_subjects = _carve_subjects(train_subjects, members, opts["val_fraction"], opts["seed"] + i)
        train_subjects = [subj for subj in train_subjects if subj not in val_subjects]
        folds.append(_fold(
            f"fold{i + 1:02d}",
            [s for subj in train_subjects for s in members[subj]],
            [s for subj in val_subjects for s in members[subj]],
            [s for subj in test_subjects for s in members[subj]],
        ))
    return folds


def assign_subjects(members: dict[str, list[Sample]], k: int, seed: int) -> dict[str, int]:
    """Deal subjects to k folds, balancing each fold's per-class counts (greedy, seeded).

    Larger subjects go first; each goes to the fold whose squared distance (per class, relative
    to the target ``class total / k``) to the target shrinks most, ties to the smaller fold.
    """
    labels = sorted({s.label for group in members.values() for s in group})
    col = {label: j for j, label in enumerate(labels)}
    counts = {subj: np.bincount([col[s.label] for s in group], minlength=len(labels))
              for subj, group in members.items()}
    target = np.maximum(sum(counts.values()) / k, 1e-9)
    rng = np.random.default_rng(seed)
    subjects = sorted(members)
    shuffled = [subjects[i] for i in rng.permutation(len(subjects))]
    # stable sort after a seeded shuffle: size order, random among equal sizes
    order = sorted(shuffled, key=lambda subj: -int(counts[subj].sum()))
    fold_counts = np.zeros((k, len(labels)))
    assignment = {}
    for subj in order:
        after = fold_counts + counts[subj]
        change = (((after - target) ** 2 - (fold_counts - target) ** 2) / target).sum(axis=1)
        best = int(np.lexsort((fold_counts.sum(axis=1), change))[0])
        fold_counts[best] += counts[subj]
        assignment[subj] = best
    return assignment


def _carve_subjects(subjects: list[str], members: dict[str, list[Sample]], fraction: float,
                    seed: int) -> set[str]:
    """Seeded subjects whose samples make up about ``fraction`` of the given subjects' samples."""
    if fraction <= 0 or len(subjects) < 2:
        return set()
    rng = np.random.default_rng(seed)
    ordered = sorted(subjects)
    total = sum(len(members[subj]) for subj in ordered)
    chosen, size = set(), 0
    for i in rng.permutation(len(ordered)):
        if size >= fraction * total or len(chosen) == len(ordered) - 1:
            break
        chosen.add(ordered[i])
        size += len(members[ordered[i]])
    return chosen
