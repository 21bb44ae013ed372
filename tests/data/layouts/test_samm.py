"""SAMM as shipped: <subject>/<clip>/<subject>_<frame>.jpg with the coding sheet CSV at the root."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from layout_helpers import write_image

from fer_graph.data.layouts import detect_layout, discover
from fer_graph.data.layouts.base import DatasetLayoutError
from fer_graph.data.protocols import make_folds

HEADER = ["Subject", "Filename", "Inducement Code", "Onset Frame", "Apex Frame", "Offset Frame", "Duration",
          "Type", "Action Units", "Estimated Emotion", "Objective Classes"]
# subject, clip, onset, apex, offset, estimated emotion, objective class
CLIPS = [("006", "006_1_2", 5562, 5588, 5605, "Anger", 1), ("006", "006_1_3", 100, 102, 104, "Happiness", 2),
         ("007", "007_3_1", 10, 12, 13, "Surprise", 6), ("007", "007_5_2", 40, 41, 43, "Other", 7),
         ("009", "009_2_1", 1, 3, 4, "Contempt", 3), ("009", "009_2_2", 7, 8, 9, "Disgust", 5)]


def _samm(root: Path) -> Path:
    seed = 0
    for subject, clip, onset, _, offset, _, _ in CLIPS:
        for frame in range(onset - 2, offset + 3):  # frames before onset and after offset too
            write_image(root / subject / clip / f"{subject}_{frame:05d}.jpg", seed)
            seed += 1
    with open(root / "SAMM_Micro_FACS_Codes_v2.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["SAMM Micro-FACS codes", "", ""])  # the sheet's title rows above the header
        writer.writerow([])
        writer.writerow(HEADER)
        for subject, clip, onset, apex, offset, emotion, objective in CLIPS:
            writer.writerow([int(subject), clip, "1", onset, apex, offset, offset - onset + 1, "Micro - 1/2",
                             "R14", emotion, objective])
    return root


def test_apex_frames_estimated_classes_and_subjects(tmp_path):
    root = _samm(tmp_path / "samm")
    assert detect_layout(root) == "samm"
    index = discover(root)
    assert index.class_names == ["happiness", "surprise", "disgust", "anger", "contempt"]
    got = {s.id: (index.class_names[s.label], s.subject) for s in index.samples}
    assert got == {"006/006_1_2/006_05588.jpg": ("anger", "006"), "006/006_1_3/006_00102.jpg": ("happiness", "006"),
                   "007/007_3_1/007_00012.jpg": ("surprise", "007"), "009/009_2_1/009_00003.jpg": ("contempt", "009"),
                   "009/009_2_2/009_00008.jpg": ("disgust", "009")}
    assert index.left_out == {"Other": 1}
    folds = make_folds(index, {"name": "leave_one_subject_out", "val_fraction": 0.0})
    assert [f.name for f in folds] == ["subject_006", "subject_007", "subject_009"]
    assert [sorted({i.split("/")[0] for i in f.test_ids}) for f in folds] == [["006"], ["007"], ["009"]]
    assert all(not set(f.train_ids) & set(f.test_ids) for f in folds)


def test_onset_to_offset_composite_and_objective_classes(tmp_path):
    root = _samm(tmp_path / "samm")
    index = discover(root, options={"frames": "onset_offset", "classes": "composite"})
    assert index.class_names == ["surprise", "negative", "positive"]
    anger_clip = sorted(s.id for s in index.samples if "/006_1_2/" in s.id)
    assert len(anger_clip) == 5605 - 5562 + 1 and anger_clip[0].endswith("05562.jpg")
    assert {index.class_names[s.label] for s in index.samples if "/009_" in s.id} == {"negative"}
    objective = discover(root, options={"classes": "objective"})
    assert objective.class_names == [f"objective_{n}" for n in (1, 2, 3, 5, 6, 7)]


def test_missing_apex_frame_and_missing_clip_are_named(tmp_path):
    root = _samm(tmp_path / "samm")
    (root / "007" / "007_3_1" / "007_00012.jpg").unlink()
    with pytest.raises(DatasetLayoutError, match=r"SAMM_Micro_FACS_Codes_v2.csv:\d+: frame 12 of clip 007/007_3_1"):
        discover(root)
    (root / "007" / "007_3_1").rename(root / "007" / "moved")
    with pytest.raises(DatasetLayoutError, match=r"clip folder 007/007_3_1/ not found"):
        discover(root)
