"""SFEW 2.0 as shipped (Train_Aligned_Faces/Val_Aligned_Faces, or Train/Val): Val is the test split."""

from __future__ import annotations

from pathlib import Path

import pytest
from layout_helpers import write_image

from fer_graph.data.layouts import detect_layout, discover
from fer_graph.data.layouts.base import DatasetLayoutError
from fer_graph.data.protocols import make_folds


def _sfew(root: Path, train: str = "Train_Aligned_Faces", val: str = "Val_Aligned_Faces") -> Path:
    for split, per_class in ((train, 3), (val, 1)):
        for c, emotion in enumerate(("Angry", "Happy", "Sad")):
            for i in range(per_class):
                write_image(root / split / emotion / f"{emotion}_{i:03d}.png", 10 * c + i, colour=True)
    return root


@pytest.mark.parametrize("folders", [("Train_Aligned_Faces", "Val_Aligned_Faces"), ("Train", "Val")])
def test_val_is_test_and_validation_is_carved_from_train(tmp_path, folders):
    root = _sfew(tmp_path / "sfew", *folders)
    assert detect_layout(root) == "sfew"
    index = discover(root)
    assert index.class_names == ["anger", "disgust", "fear", "happiness", "neutral", "sadness", "surprise"]
    test = [s for s in index.samples if s.split == "test"]
    assert sorted(s.id for s in test) == [f"{folders[1]}/{e}/{e}_000.png" for e in ("Angry", "Happy", "Sad")]
    assert {index.class_names[s.label] for s in test} == {"anger", "happiness", "sadness"}
    (fold,) = make_folds(index, {})
    assert set(fold.test_ids) == {s.id for s in test}
    assert fold.val_ids and set(fold.val_ids) <= {s.id for s in index.samples if s.split == "train"}


def test_an_unknown_emotion_folder_is_named(tmp_path):
    root = _sfew(tmp_path / "sfew")
    write_image(root / "Val_Aligned_Faces" / "Bored" / "x.png", 0)
    with pytest.raises(DatasetLayoutError, match=r"Bored: not an SFEW emotion folder"):
        discover(root)


def test_plain_train_val_of_other_classes_is_not_taken_for_sfew(tmp_path):
    root = tmp_path / "other"
    for split in ("Train", "Val"):
        write_image(root / split / "cats" / "a.png", 1)
    assert detect_layout(root) == "imagefolder"


def test_fer2013_style_train_val_class_folders_stay_imagefolder(tmp_path):
    root = tmp_path / "fer"
    for split in ("train", "val"):
        write_image(root / split / "angry" / f"{split}.png", 2)
        write_image(root / split / "happy" / f"{split}.png", 3)
    assert detect_layout(root) == "imagefolder"
