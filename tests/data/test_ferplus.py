"""FERPlus read as Microsoft's tools lay it out: majority labels, left-out faces, splits, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fer_graph.data.ferplus import CLASSES, VOTE_COLUMNS
from fer_graph.data.protocols import make_folds
from fer_graph.data.readers import DatasetLayoutError, detect_layout, discover

REAL = Path(__file__).resolve().parents[2] / ".." / "shared" / "datasets" / "ferplus"

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


def test_majority_labels_left_out_faces_and_vote_distributions(tmp_path) -> None:
    index = discover(_write(tmp_path / "ferplus"))

    assert index.layout == "ferplus" and index.class_names == list(CLASSES)
    expected = {}
    for folder, entries in ROWS.items():
        for name, votes in entries:
            top = VOTE_COLUMNS[max(range(10), key=lambda c: (votes[c], -c))]
            if top in CLASSES:
                expected[f"{folder}/{name}"] = CLASSES.index(top)
    assert {s.id: s.label for s in index.samples} == expected
    assert expected["FER2013Train/fer0000003.png"] == CLASSES.index("surprise")
    assert expected["FER2013Test/fer0000007.png"] == CLASSES.index("neutral")
    assert index.left_out == {"unknown": 1, "NF": 1}
    votes = index.votes["FER2013Train/fer0000001.png"]
    np.testing.assert_allclose(votes, [0, 0.6, 0, 0, 0, 0, 0, 0.4])
    # the unknown / NF votes are not emotions: the distribution is over the eight classes
    np.testing.assert_allclose(index.votes["FER2013Test/fer0000007.png"], [0.5, 0.5, 0, 0, 0, 0, 0, 0])


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


def test_split_named_folders_of_images_are_not_read_as_classes(tmp_path) -> None:
    for split in ("train", "test"):
        (tmp_path / split).mkdir()
        Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / split / "a.png")
    with pytest.raises(DatasetLayoutError, match="named like splits"):
        detect_layout(tmp_path)


@pytest.mark.skipif(not REAL.is_dir(), reason="../shared/datasets/ferplus is absent")
def test_real_ferplus_test_split_has_the_documented_majority_counts() -> None:
    index = discover(REAL, "auto")
    assert index.layout == "ferplus"
    test = [s.label for s in index.samples if s.split == "test"]
    counts = {name: test.count(i) for i, name in enumerate(CLASSES)}
    assert counts == {"neutral": 1258, "happiness": 928, "surprise": 447, "sadness": 446, "anger": 321,
                      "disgust": 20, "fear": 97, "contempt": 28}
    assert len([s for s in index.samples if s.split == "train"]) == 28558 - 171 - 2
