"""Split protocols: official, holdout, subject-independent k-fold."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from fer_graph.data.protocols import make_folds, planned_fold_count, stratified_split
from fer_graph.data.readers import DatasetIndex, Sample, discover


def index_of(rows: list[tuple[str, int, str]], classes: int = 3) -> DatasetIndex:
    samples = sorted((Sample(i, label, split, i) for i, label, split in rows), key=lambda s: s.id)
    return DatasetIndex(samples, [f"c{k}" for k in range(classes)], "imagefolder", Path("."))


def assert_partition(fold, ids: set[str]) -> None:
    parts = [set(fold.train_ids), set(fold.val_ids), set(fold.test_ids)]
    assert sum(len(p) for p in parts) == len(ids)
    assert set.union(*parts) == ids


def test_holdout_carves_stratified_val_and_test():
    rows = [(f"x{k:03d}", k % 3, "train") for k in range(300)]
    index = index_of(rows)
    (fold,) = make_folds(index, {"name": "holdout", "val_fraction": 0.2, "test_fraction": 0.1, "seed": 3})
    assert fold.name == "holdout"
    assert_partition(fold, {r[0] for r in rows})
    label = {r[0]: r[1] for r in rows}
    assert Counter(label[i] for i in fold.test_ids) == {0: 10, 1: 10, 2: 10}
    assert Counter(label[i] for i in fold.val_ids) == {0: 18, 1: 18, 2: 18}
    assert make_folds(index, {"name": "holdout", "seed": 3, "val_fraction": 0.2}) == [fold]
    other = make_folds(index, {"name": "holdout", "seed": 4, "val_fraction": 0.2})[0]
    assert other.val_ids != fold.val_ids


def test_holdout_keeps_an_official_test_split():
    rows = [(f"a{k}", k % 2, "train") for k in range(40)] + [(f"t{k}", k % 2, "test") for k in range(10)]
    (fold,) = make_folds(index_of(rows, 2), {"name": "holdout"})
    assert set(fold.test_ids) == {f"t{k}" for k in range(10)}
    assert len(fold.val_ids) == 4


def test_official_carves_val_when_missing_and_keeps_it_otherwise():
    rows = [(f"tr{k:02d}", k % 2, "train") for k in range(50)] + [(f"te{k}", k % 2, "test") for k in range(8)]
    (fold,) = make_folds(index_of(rows, 2), {"name": "official", "val_fraction": 0.2})
    assert len(fold.val_ids) == 10 and set(fold.val_ids) <= {r[0] for r in rows[:50]}
    assert set(fold.test_ids) == {f"te{k}" for k in range(8)}
    rows += [(f"va{k}", k % 2, "val") for k in range(6)]
    (fold,) = make_folds(index_of(rows, 2), {})  # auto -> official
    assert fold.name == "official" and set(fold.val_ids) == {f"va{k}" for k in range(6)}
    assert len(fold.train_ids) == 50


def test_protocol_errors_name_the_problem():
    index = index_of([(f"x{k}", k % 2, "all") for k in range(20)], 2)
    with pytest.raises(KeyError, match="data.protocol.fold"):
        make_folds(index, {"name": "holdout", "fold": 3})
    with pytest.raises(KeyError, match="unknown protocol"):
        make_folds(index, {"name": "kfold"})
    with pytest.raises(ValueError, match="needs train and test"):
        make_folds(index, {"name": "official"})


def test_train_fraction_keeps_a_stratified_share_of_train_only():
    rows = ([(f"t{k:03d}", k % 3, "train") for k in range(300)] + [(f"v{k:02d}", k % 3, "val") for k in range(30)]
            + [(f"s{k:02d}", k % 3, "test") for k in range(30)])
    index = index_of(rows)
    (whole,) = make_folds(index, {"name": "official"})
    (small,) = make_folds(index, {"name": "official", "train_fraction": 0.1})
    label = {r[0]: r[1] for r in rows}
    assert set(small.train_ids) < set(whole.train_ids)
    assert Counter(label[i] for i in small.train_ids) == {0: 10, 1: 10, 2: 10}
    assert (small.val_ids, small.test_ids) == (whole.val_ids, whole.test_ids)
    assert make_folds(index, {"name": "official", "train_fraction": 0.1}) == [small]
    (other,) = make_folds(index, {"name": "official", "train_fraction": 0.1, "seed": 1})
    assert other.train_ids != small.train_ids
    with pytest.raises(ValueError, match="train_fraction must be in"):
        make_folds(index, {"name": "official", "train_fraction": 0.0})


def test_train_fraction_shrinks_every_kfold_train_split_and_nothing_else():
    rows = [(f"S{k // 6:03d}_001_{k % 6:03d}", k % 3, "all") for k in range(120)]
    index = index_of(rows)
    protocol = {"name": "subject_kfold", "folds": 4}
    for whole, half in zip(make_folds(index, protocol), make_folds(index, {**protocol, "train_fraction": 0.5})):
        assert set(half.train_ids) < set(whole.train_ids)
        assert len(half.train_ids) == pytest.approx(len(whole.train_ids) / 2, abs=3)
        assert (half.val_ids, half.test_ids) == (whole.val_ids, whole.test_ids)


def test_stratified_split_keeps_one_of_each_class():
    samples = [Sample("a", 0, "train", "a"), Sample("b", 0, "train", "b"), Sample("c", 1, "train", "c")]
    kept, carved = stratified_split(samples, 0.01, 0)
    assert len(carved) == 1 and carved[0].label == 0
    assert {s.id for s in kept} == {"c"} | ({"a", "b"} - {carved[0].id})


def test_subject_kfold_with_a_subject_regex():
    rows = [(f"P{p:02d}/img{k}.png", (p + k) % 3, "all") for p in range(12) for k in range(5)]
    folds = make_folds(index_of(rows), {"name": "subject_kfold", "folds": 4, "subject_regex": r"^(P\d+)/"})
    assert len(folds) == 4
    subject = lambda i: i.split("/")[0]  # noqa: E731
    tested = Counter()
    for fold in folds:
        assert_partition(fold, {r[0] for r in rows})
        groups = [{subject(i) for i in ids} for ids in (fold.train_ids, fold.val_ids, fold.test_ids)]
        assert not (groups[0] & groups[1] or groups[0] & groups[2] or groups[1] & groups[2])
        tested.update(fold.test_ids)
    assert set(tested) == {r[0] for r in rows} and set(tested.values()) == {1}


@pytest.mark.datasets
def test_ckplus_subject_folds_never_share_a_subject(ckplus_dir):
    index = discover(ckplus_dir, "flat")
    folds = make_folds(index, {"name": "subject_kfold"})
    assert len(folds) == 10
    subject = lambda i: re.match(r"S(\d+)_", Path(i).name).group(1)  # noqa: E731
    tested = Counter()
    all_ids = {s.id for s in index.samples}
    for fold in folds:
        assert_partition(fold, all_ids)
        tr, va, te = ({subject(i) for i in ids} for ids in (fold.train_ids, fold.val_ids, fold.test_ids))
        assert not (tr & va) and not (tr & te) and not (va & te)
        assert va and te
        tested.update(fold.test_ids)
    assert set(tested) == all_ids and set(tested.values()) == {1}
    assert len({subject(i) for i in all_ids}) == 118
    # stratified-ish: each class's test share per fold stays near 1/10 of the class
    label = {s.id: s.label for s in index.samples}
    totals = Counter(label.values())
    for fold in folds:
        counts = Counter(label[i] for i in fold.test_ids)
        for cls, n in totals.items():
            assert abs(counts[cls] - n / 10) <= max(0.5 * n / 10, 6)


@pytest.mark.datasets
def test_fer2013_official_counts_match_readme(fer2013_dir):
    (fold,) = make_folds(discover(fer2013_dir, "imagefolder"), {"name": "official"})
    assert (len(fold.train_ids), len(fold.val_ids), len(fold.test_ids)) == (28709, 3589, 3589)
    assert all(Path(i).name.startswith("Training_") for i in fold.train_ids)
    assert all(Path(i).name.startswith("PublicTest_") for i in fold.val_ids)
    assert all(Path(i).name.startswith("PrivateTest_") for i in fold.test_ids)


def _subject_index(subjects: dict[str, int]) -> DatasetIndex:
    """Samples carrying their subject (as the ckplus, oulu_casia and samm readers give them)."""
    samples = [Sample(f"clip/{subj}_{k}.jpg", k % 2, "all", f"{subj}_{k}.jpg", subject=subj)
               for subj, n in subjects.items() for k in range(n)]
    return DatasetIndex(sorted(samples, key=lambda s: s.id), ["c0", "c1"], "samm", Path("."))


def test_leave_one_subject_out_holds_out_each_subject_once():
    index = _subject_index({"006": 4, "007": 2, "009": 6, "011": 3})
    folds = make_folds(index, {"name": "leave_one_subject_out", "val_fraction": 0.2, "seed": 1})
    assert [f.name for f in folds] == ["subject_006", "subject_007", "subject_009", "subject_011"]
    subject_of = {s.id: s.subject for s in index.samples}
    for fold, held_out in zip(folds, ("006", "007", "009", "011")):
        assert_partition(fold, set(subject_of))
        assert {subject_of[i] for i in fold.test_ids} == {held_out}
        train, val = {subject_of[i] for i in fold.train_ids}, {subject_of[i] for i in fold.val_ids}
        assert val and not train & val and held_out not in train | val


def test_the_samples_own_subject_drives_auto_and_kfold():
    index = _subject_index({f"P{n:03d}": 3 for n in range(1, 7)})  # ids are not CK+ file names
    folds = make_folds(index, {"folds": 3, "val_fraction": 0.0})
    assert len(folds) == 3
    assert sorted(len({i.split("/")[1].split("_")[0] for i in f.test_ids}) for f in folds) == [2, 2, 2]
    with pytest.raises(KeyError, match="data.protocol.folds: not a key of protocol 'leave_one_subject_out'"):
        make_folds(index, {"name": "leave_one_subject_out", "folds": 3})


def test_planned_fold_count_is_what_make_folds_gives_where_the_config_tells():
    subjects = _subject_index({f"P{n:03d}": 6 for n in range(1, 13)})
    split = index_of([(f"{part}/img{k}.png", k % 2, part) for part in ("train", "test") for k in range(20)], 2)
    for index, protocol in ((split, {"name": "official"}), (subjects, {"name": "holdout"}),
                            (subjects, {"name": "subject_kfold"}), (subjects, {"name": "subject_kfold", "folds": 4})):
        assert planned_fold_count(protocol) == len(make_folds(index, protocol))
    assert planned_fold_count({"name": "subject_kfold"}) == 10
    assert planned_fold_count({"name": "leave_one_subject_out"}) is None
    assert planned_fold_count(None) is None and planned_fold_count({}) is None
