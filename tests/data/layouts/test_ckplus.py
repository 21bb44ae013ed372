"""CK+ as shipped: cohn-kanade-images/ with Emotion/*_emotion.txt codes 0-7."""

from __future__ import annotations

from pathlib import Path

import pytest
from layout_helpers import write_image

from fer_graph.data.layouts import detect_layout, discover
from fer_graph.data.layouts.base import DatasetLayoutError
from fer_graph.data.protocols import make_folds

# subject -> sequence -> emotion code (None: the sequence has no emotion file)
SEQUENCES = {"S005": {"001": 3, "002": None}, "S010": {"004": 1, "006": 5}, "S011": {"001": 7},
             "S014": {"002": 6}}


def _ckplus(root: Path, frames: int = 5) -> Path:
    seed = 0
    for subject, sequences in SEQUENCES.items():
        for sequence, code in sequences.items():
            for f in range(1, frames + 1):
                write_image(root / "cohn-kanade-images" / subject / sequence / f"{subject}_{sequence}_{f:08d}.png", seed)
                seed += 1
            label_dir = root / "Emotion" / subject / sequence
            label_dir.mkdir(parents=True, exist_ok=True)  # CK+ ships empty folders for unlabelled sequences
            if code is not None:
                (label_dir / f"{subject}_{sequence}_{frames:08d}_emotion.txt").write_text(f"   {code:.7e}\n")
    return root


def test_labelled_sequences_last_three_frames_and_subjects(tmp_path):
    root = _ckplus(tmp_path / "ck")
    assert detect_layout(root) == "ckplus"
    index = discover(root)
    assert index.class_names == ["anger", "contempt", "disgust", "fear", "happiness", "sadness", "surprise"]
    seq = {}
    for s in index.samples:
        seq.setdefault(s.id.rsplit("/", 1)[0], []).append((s.id.rsplit("_", 1)[1], index.class_names[s.label]))
    assert seq == {
        "cohn-kanade-images/S005/001": [(f"{f:08d}.png", "disgust") for f in (3, 4, 5)],
        "cohn-kanade-images/S010/004": [(f"{f:08d}.png", "anger") for f in (3, 4, 5)],
        "cohn-kanade-images/S010/006": [(f"{f:08d}.png", "happiness") for f in (3, 4, 5)],
        "cohn-kanade-images/S011/001": [(f"{f:08d}.png", "surprise") for f in (3, 4, 5)],
        "cohn-kanade-images/S014/002": [(f"{f:08d}.png", "sadness") for f in (3, 4, 5)],
    }
    assert index.left_out == {"sequences without an emotion file": 1}
    assert {s.subject for s in index.samples} == {"S005", "S010", "S011", "S014"}
    folds = make_folds(index, {"folds": 4, "val_fraction": 0.0})  # auto: subject_kfold
    assert [len({i.split("/")[1] for i in f.test_ids}) for f in folds] == [1, 1, 1, 1]


def test_first_frame_as_neutral_and_k_frames(tmp_path):
    index = discover(_ckplus(tmp_path / "ck"), options={"frames": 2, "neutral_first_frame": True})
    assert index.class_names[0] == "neutral" and len(index.class_names) == 8
    s010 = sorted((s.id.rsplit("_", 1)[1], index.class_names[s.label]) for s in index.samples
                  if "/S010/004/" in s.id)
    assert s010 == [("00000001.png", "neutral"), ("00000004.png", "anger"), ("00000005.png", "anger")]


def test_missing_emotion_folder_and_bad_code_are_named(tmp_path):
    root = _ckplus(tmp_path / "ck")
    (root / "Emotion" / "S011" / "001" / "S011_001_00000005_emotion.txt").write_text("9.0\n")
    with pytest.raises(DatasetLayoutError, match=r"S011_001_00000005_emotion.txt: emotion code .* not one of 0-7"):
        discover(root)
    lone = tmp_path / "lone"
    write_image(lone / "cohn-kanade-images" / "S005" / "001" / "S005_001_00000001.png", 0)
    with pytest.raises(DatasetLayoutError, match=r"looks like CK\+ but lacks Emotion/"):
        discover(lone)
