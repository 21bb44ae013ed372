"""AffectNet in both circulating forms, on fixtures laid out exactly as shipped."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from layout_helpers import write_image

from fer_graph.data.layouts import detect_layout, discover
from fer_graph.data.layouts.affectnet import CLASSES
from fer_graph.data.layouts.base import DatasetLayoutError
from fer_graph.errors import ConfigError

# (file stem, expression code) per split folder; 8-10 are none / uncertain / no face
FOLDER_FORM = {"train_set": [("0", 1), ("1", 7), ("2", 8), ("3", 0), ("4", 10)],
               "val_set": [("10", 6), ("11", 9), ("12", 7)]}


def _folder_form(root: Path) -> Path:
    for split, rows in FOLDER_FORM.items():
        for seed, (stem, code) in enumerate(rows):
            write_image(root / split / "images" / f"{stem}.jpg", seed, colour=True)
            annotations = root / split / "annotations"
            annotations.mkdir(parents=True, exist_ok=True)
            np.save(annotations / f"{stem}_exp.npy", np.array(str(code)))
            np.save(annotations / f"{stem}_val.npy", np.array("0.25"))  # beside it, not read
    return root


def _list_form(root: Path) -> Path:
    header = ["subDirectory_filePath", "face_x", "face_y", "face_width", "face_height",
              "facial_landmarks", "expression", "valence", "arousal"]
    rows = {"training.csv": [("689/a.jpg", (4, 2, 10, 12), 3), ("689/b.png", (0, 0, 30, 30), 9),
                             ("1/c.jpg", (5, 5, 8, 8), 7)],
            "validation.csv": [("2/d.jpg", (1, 3, 16, 9), 4)]}
    lists = root / "Manually_Annotated_file_lists"
    lists.mkdir(parents=True)
    for name, entries in rows.items():
        with open(lists / name, "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(header)
            for seed, (rel, box, code) in enumerate(entries):
                write_image(root / "Manually_Annotated_Images" / rel, seed, size=(28, 32))
                writer.writerow([rel, *box, "1;2;3", code, "0.1", "-0.2"])
    return root


def test_folder_form_codes_splits_and_left_out(tmp_path):
    root = _folder_form(tmp_path / "affectnet")
    assert detect_layout(root) == "affectnet"
    index = discover(root)
    assert index.class_names == list(CLASSES) and len(CLASSES) == 8
    got = {s.id: (s.label, s.split) for s in index.samples}
    assert got == {"train_set/images/0.jpg": (1, "train"), "train_set/images/1.jpg": (7, "train"),
                   "train_set/images/3.jpg": (0, "train"), "val_set/images/10.jpg": (6, "test"),
                   "val_set/images/12.jpg": (7, "test")}
    assert index.left_out == {"8 (none)": 1, "9 (uncertain)": 1, "10 (no face)": 1}
    assert "1 images of expression 8 (none)" in index.left_out_summary()


def test_seven_classes_leave_contempt_out(tmp_path):
    index = discover(_folder_form(tmp_path / "affectnet"), options={"classes": 7})
    assert index.class_names == list(CLASSES[:7]) and "contempt" not in index.class_names
    assert all(s.label < 7 for s in index.samples) and len(index) == 3
    assert index.left_out["7 (contempt)"] == 2


def test_list_form_crops_the_face_box(tmp_path):
    root = _list_form(tmp_path / "affectnet")
    index = discover(root, "affectnet")
    by_id = {s.id: s for s in index.samples}
    assert sorted(by_id) == ["Manually_Annotated_Images/1/c.jpg", "Manually_Annotated_Images/2/d.jpg",
                             "Manually_Annotated_Images/689/a.jpg"]
    assert by_id["Manually_Annotated_Images/2/d.jpg"].split == "test"
    assert by_id["Manually_Annotated_Images/689/a.jpg"].label == 3
    assert index.left_out == {"9 (uncertain)": 1}
    from PIL import Image
    full = np.asarray(Image.open(root / "Manually_Annotated_Images/689/a.jpg"))
    crop = index.load(by_id["Manually_Annotated_Images/689/a.jpg"])
    assert crop.shape == (12, 10)  # height x width of the box
    np.testing.assert_array_equal(crop, full[2:14, 4:14])


def test_a_missing_annotation_or_list_is_named(tmp_path):
    root = _folder_form(tmp_path / "a")
    (root / "train_set" / "annotations" / "3_exp.npy").unlink()
    with pytest.raises(DatasetLayoutError, match=r"3\.jpg has no expression file .*3_exp\.npy"):
        discover(root)
    other = _list_form(tmp_path / "b")
    (other / "Manually_Annotated_file_lists" / "validation.csv").unlink()
    with pytest.raises(DatasetLayoutError, match="lacks Manually_Annotated_file_lists/validation.csv"):
        discover(other)


def test_bad_classes_option_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="data.layout_options.classes: AffectNet has 8 or 7 classes, got 6"):
        discover(_folder_form(tmp_path / "a"), options={"classes": 6})
    with pytest.raises(ConfigError, match="data.layout_options.frames: not an option of layout affectnet"):
        discover(tmp_path / "a", options={"frames": 3})
