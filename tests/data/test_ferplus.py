"""FERPlus read as Microsoft's tools lay it out: majority labels, left-out faces, splits, errors,
and the soft and pld training targets drawn from the votes."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from rich.console import Console

from fer_graph.data.dataset import FERGraphDataset
from fer_graph.data.ferplus import CLASSES, VOTE_COLUMNS, read_split
from fer_graph.data.protocols import make_folds
from fer_graph.data.readers import DatasetLayoutError, detect_layout, discover
from fer_graph.errors import ConfigError
from fer_graph.training.config import resolve_experiment_config
from fer_graph.training.loaders import make_loader
from fer_graph.training.prepare import prepare_dataset

# votes in VOTE_COLUMNS order: neutral, happiness, surprise, sadness, anger, disgust, fear, contempt, unknown, NF
ROWS = {
    "FER2013Train": [("fer0000000.png", [4, 0, 0, 1, 3, 2, 0, 0, 0, 0]),
                     ("fer0000001.png", [0, 6, 0, 0, 0, 0, 0, 4, 0, 0]),
                     ("fer0000002.png", [1, 1, 0, 0, 0, 0, 0, 0, 8, 0]),   # top vote unknown: left out
                     ("fer0000003.png", [0, 0, 5, 0, 0, 0, 5, 0, 0, 0])],  # tie surprise / fear
    "FER2013Valid": [("fer0000004.png", [0, 0, 0, 0, 0, 0, 0, 0, 0, 10]),  # not a face: left out
                     ("fer0000005.png", [2, 0, 0, 7, 1, 0, 0, 0, 0, 0])],
    "FER2013Test": [("fer0000006.png", [0, 0, 0, 0, 0, 9, 1, 0, 0, 0]),
                    ("fer0000007.png", [3, 3, 0, 0, 0, 0, 0, 0, 3, 1])],   # three-way tie, neutral first
}


def _write(root: Path, rows=ROWS) -> Path:
    for folder, entries in rows.items():
        (root / folder).mkdir(parents=True)
        lines = []
        for k, (name, votes) in enumerate(entries):
            Image.fromarray(np.full((48, 48), 10 * k, np.uint8)).save(root / folder / name)
            lines.append(f'{name},"(0, 0, 48, 48)",' + ",".join(map(str, votes)))
        (root / folder / "label.csv").write_text("\n".join(lines) + "\n")
    return root


def _config(root: Path, *overrides: tuple[str, str, object]) -> dict:
    """A resolved config reading ``root`` at 48 px grey with 8 classes."""
    user = {"experiment": {"output_dir": str(root.parent / "runs")},
            "data": {"root": str(root), "image_size": 48, "in_chans": 1},
            "model": {"img_size": 48, "in_chans": 1, "num_classes": 8}}
    for section, key, value in overrides:
        user.setdefault(section, {})[key] = value
    return resolve_experiment_config(user)


def test_majority_labels_left_out_faces_and_vote_distributions(tmp_path) -> None:
    index = discover(_write(tmp_path / "ferplus"))

    assert index.layout == "ferplus" and index.class_names == list(CLASSES)
    assert VOTE_COLUMNS == ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear",
                            "contempt", "unknown", "NF")  # the order of Microsoft's label.csv
    expected, distributions = {}, {}
    for folder, entries in ROWS.items():
        for name, votes in entries:
            top = VOTE_COLUMNS[max(range(10), key=lambda c: (votes[c], -c))]
            if top in CLASSES:
                expected[f"{folder}/{name}"] = CLASSES.index(top)
                distributions[f"{folder}/{name}"] = [v / sum(votes[:8]) for v in votes[:8]]
    assert {s.id: s.label for s in index.samples} == expected
    assert expected["FER2013Train/fer0000003.png"] == CLASSES.index("surprise")
    assert expected["FER2013Test/fer0000007.png"] == CLASSES.index("neutral")
    assert index.left_out == {"unknown": 1, "NF": 1}
    assert set(index.votes) == set(expected)
    for sample_id, distribution in distributions.items():
        np.testing.assert_allclose(index.votes[sample_id], distribution)
    np.testing.assert_allclose(index.votes["FER2013Train/fer0000001.png"], [0, 0.6, 0, 0, 0, 0, 0, 0.4])
    # the unknown / NF votes are not emotions: the distribution is over the eight classes
    np.testing.assert_allclose(index.votes["FER2013Test/fer0000007.png"], [0.5, 0.5, 0, 0, 0, 0, 0, 0])


def test_prepare_prints_the_left_out_faces(tmp_path) -> None:
    console = Console(record=True, width=300)
    index = prepare_dataset(_config(_write(tmp_path / "ferplus")), console)
    assert len(index) == 6
    assert "left out 1 images whose top vote is NF, 1 images whose top vote is unknown" in console.export_text()


def test_training_batches_carry_the_target_and_evaluation_the_majority_only(tmp_path) -> None:
    root = _write(tmp_path / "ferplus")
    index = discover(root)
    ids = [s.id for s in index.samples if s.split == "train"]
    labels = [s.label for s in index.samples if s.split == "train"]
    config = _config(root, ("loss", "target", "soft"), ("train", "batch_size", 8))
    images, _, batch_labels, distributions = next(iter(make_loader(config, index, None, ids, train=True, seed=0)))
    assert images.shape == (3, 1, 48, 48)
    # shuffled: compare as multisets of (label, distribution) rows
    got = sorted((int(y), tuple(np.round(p.numpy(), 6))) for y, p in zip(batch_labels, distributions))
    want = sorted((y, tuple(np.round(index.votes[i].astype(np.float32), 6))) for i, y in zip(ids, labels))
    assert got == want
    assert len(next(iter(make_loader(config, index, None, ids, train=False, seed=0)))) == 3


def test_pld_draws_are_seeded_and_follow_the_vote_distribution() -> None:
    votes = np.array([[0, 0, 1.0], [0.6, 0.4, 0], [0.2, 0.3, 0.5]])
    images = {f"s{k}": np.zeros((4, 4), np.uint8) for k in range(3)}

    def draws(seed: int, epochs: range) -> np.ndarray:
        data = FERGraphDataset(images, None, list(images), [2, 0, 2], seed=seed, votes=votes, target="pld")
        drawn = []
        for epoch in epochs:
            data.set_epoch(epoch)
            items = [data[k] for k in range(3)]
            assert [item[2] for item in items] == [2, 0, 2]  # the label stays the majority
            for item in items:
                assert item[3].sum() == 1.0 and set(item[3]) <= {0.0, 1.0}  # one-hot
            drawn.append([int(item[3].argmax()) for item in items])
        return np.array(drawn)

    first = draws(seed=3, epochs=range(2000))
    np.testing.assert_array_equal(first, draws(seed=3, epochs=range(2000)))
    assert (first != draws(seed=4, epochs=range(2000))).any()
    assert (first[:, 0] == 2).all()  # votes for one class only: always drawn
    for position in (1, 2):
        frequency = np.bincount(first[:, position], minlength=3) / len(first)
        np.testing.assert_allclose(frequency, votes[position], atol=0.04)


def test_soft_items_are_the_vote_distribution() -> None:
    votes = np.array([[0.25, 0.75, 0], [0, 0, 1.0]])
    images = {"a": np.zeros((4, 4), np.uint8), "b": np.zeros((4, 4), np.uint8)}
    data = FERGraphDataset(images, None, ["a", "b"], [1, 2], votes=votes, target="soft")
    for k in range(2):
        np.testing.assert_allclose(data[k][3], votes[k])


def test_a_vote_target_on_a_dataset_without_votes_is_a_config_error(tmp_path) -> None:
    root = tmp_path / "flat"
    for k, name in enumerate(CLASSES):
        (root / name).mkdir(parents=True)
        Image.fromarray(np.full((48, 48), k, np.uint8)).save(root / name / "a.png")
    config = _config(root, ("loss", "target", "soft"))
    with pytest.raises(ConfigError, match=r"^loss\.target: soft trains on annotator votes, which the flat "
                                          rf"dataset at {re.escape(str(root))} does not have; use loss\.target=hard$") as info:
        prepare_dataset(config, Console(quiet=True))
    assert "\n" not in str(info.value)


def test_official_protocol_uses_the_three_split_folders(tmp_path) -> None:
    index = discover(_write(tmp_path / "ferplus"))
    (fold,) = make_folds(index, {"name": "official"})
    assert set(fold.train_ids) == {"FER2013Train/fer0000000.png", "FER2013Train/fer0000001.png",
                                   "FER2013Train/fer0000003.png"}
    assert set(fold.val_ids) == {"FER2013Valid/fer0000005.png"}
    assert set(fold.test_ids) == {"FER2013Test/fer0000006.png", "FER2013Test/fer0000007.png"}


def test_a_partial_layout_or_a_missing_image_is_an_error_not_a_guess(tmp_path) -> None:
    root = _write(tmp_path / "partial")
    (root / "FER2013Valid" / "label.csv").unlink()
    with pytest.raises(DatasetLayoutError, match=r"looks like FERPlus but lacks FER2013Valid/label\.csv"):
        detect_layout(root)
    for path in root.glob("*/label.csv"):
        path.unlink()
    with pytest.raises(DatasetLayoutError, match=r"FER2013Test, FER2013Train, FER2013Valid hold images directly"):
        detect_layout(root)

    broken = _write(tmp_path / "broken")
    (broken / "FER2013Test" / "fer0000006.png").unlink()
    with pytest.raises(DatasetLayoutError, match=r"FER2013Test/label\.csv:1: names fer0000006\.png, which is not in"):
        discover(broken)

    unvoted = _write(tmp_path / "unvoted", {**ROWS, "FER2013Valid": [("fer0000004.png", [0] * 10)]})
    with pytest.raises(DatasetLayoutError, match=r"FER2013Valid/label\.csv:1: vote counts must be >= 0 with at least one"):
        discover(unvoted)


def test_split_named_folders_of_images_are_not_read_as_classes(tmp_path) -> None:
    for split in ("train", "test"):
        (tmp_path / split).mkdir()
        Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / split / "a.png")
    with pytest.raises(DatasetLayoutError, match="named like splits"):
        detect_layout(tmp_path)


@pytest.mark.datasets
def test_real_ferplus_test_split_has_the_documented_majority_counts(ferplus_dir) -> None:
    index = discover(ferplus_dir, "auto")
    assert index.layout == "ferplus"
    counts = Counter(CLASSES[s.label] for s in index.samples if s.split == "test")
    assert counts == {"neutral": 1258, "happiness": 928, "surprise": 447, "sadness": 446, "anger": 321,
                      "fear": 97, "disgust": 20, "contempt": 28}
    _, left_out = read_split(ferplus_dir / "FER2013Test")
    assert left_out == {"unknown": 28}  # and NF 0
    assert index.left_out == {"unknown": 171 + 23 + 28, "NF": 2 + 1 + 0}
    assert Counter(s.split for s in index.samples) == {"train": 28558 - 171 - 2, "val": 3579 - 23 - 1,
                                                        "test": 3573 - 28}
