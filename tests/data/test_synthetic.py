"""The built-in synthetic face dataset: deterministic, readable as an image folder, learnable."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from fer_graph.data.readers import discover, load_image
from fer_graph.data.synthetic import CLASS_NAMES, render_face, split_counts, write_synthetic_dataset

SMALL = {"train": 3, "val": 1, "test": 2}


def test_same_seed_same_bytes_and_one_sample_regenerates_alone(tmp_path):
    a = write_synthetic_dataset(tmp_path / "a", SMALL, seed=4)
    b = write_synthetic_dataset(tmp_path / "b", SMALL, seed=4)
    files = sorted(p.relative_to(a) for p in a.rglob("*.png"))
    assert len(files) == 7 * sum(SMALL.values())
    assert files == sorted(p.relative_to(b) for p in b.rglob("*.png"))
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in files)
    label = CLASS_NAMES.index("sad")
    alone = render_face(4, "test", label, 1)
    assert alone.shape == (48, 48) and alone.dtype == np.uint8
    np.testing.assert_array_equal(load_image(a / "test" / "sad" / "sad_00001.png"), alone)
    other = write_synthetic_dataset(tmp_path / "c", SMALL, seed=5)
    assert (other / files[0]).read_bytes() != (a / files[0]).read_bytes()


def test_readers_discover_the_image_folder(tmp_path):
    root = write_synthetic_dataset(tmp_path / "syn", SMALL, seed=0, size=32)
    index = discover(root)
    assert index.layout == "imagefolder"
    assert index.class_names == list(CLASS_NAMES)
    assert Counter(s.split for s in index.samples) == {k: 7 * n for k, n in SMALL.items()}
    for s in index.samples:
        assert s.id.split("/")[1] == CLASS_NAMES[s.label]
    assert index.load(index.samples[0]).shape == (32, 32)


def test_writing_is_idempotent_and_refuses_to_overwrite(tmp_path):
    root = write_synthetic_dataset(tmp_path / "syn", SMALL)
    png = root / "train" / "happy" / "happy_00000.png"
    stamp = png.stat().st_mtime_ns
    assert write_synthetic_dataset(root, SMALL) == root
    assert png.stat().st_mtime_ns == stamp
    assert json.loads((root / "manifest.json").read_text())["samples_per_class"] == SMALL
    with pytest.raises(FileExistsError, match="not empty"):
        write_synthetic_dataset(root, SMALL, seed=1)
    assert not list(tmp_path.glob(".*partial*"))


def test_int_samples_per_class_is_a_total_shared_70_15_15():
    assert split_counts(400) == {"train": 280, "val": 60, "test": 60}
    assert split_counts({"train": 5}) == {"train": 5, "val": 0, "test": 0}
    with pytest.raises(KeyError, match="valid"):
        split_counts({"valid": 3})


def test_classes_are_learnable_from_pixels_but_not_trivially():
    """A ridge-regression classifier on standardised pixels: well above chance, below 100%."""
    def data(split, n):
        x = np.stack([render_face(0, split, label, k).ravel() for label in range(7) for k in range(n)])
        x = x.astype(np.float64)
        x = (x - x.mean(1, keepdims=True)) / (x.std(1, keepdims=True) + 1e-6)
        return x, np.repeat(np.arange(7), n)

    x_train, y_train = data("train", 100)
    x_test, y_test = data("test", 40)
    targets = np.eye(7)[y_train] - 1 / 7
    weights = np.linalg.solve(x_train.T @ x_train + 100 * np.eye(x_train.shape[1]), x_train.T @ targets)
    accuracy = float(((x_test @ weights).argmax(1) == y_test).mean())
    assert 0.30 < accuracy < 0.95  # chance is 1/7 = 0.14
