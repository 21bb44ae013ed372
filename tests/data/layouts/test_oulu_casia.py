"""Oulu-CASIA as shipped: <VL|NI>/<Strong|Weak|Dark>/P###/<Emotion>/<frame>.jpeg."""

from __future__ import annotations

from pathlib import Path

import pytest
from layout_helpers import write_image

from fer_graph.data.layouts import detect_layout, discover
from fer_graph.data.layouts.base import DatasetLayoutError
from fer_graph.data.protocols import make_folds
from fer_graph.errors import ConfigError

SUBJECTS = [f"P{n:03d}" for n in range(1, 6)]
EMOTIONS = ("Anger", "Happiness", "Surprise")


def _oulu(root: Path, frames: int = 6) -> Path:
    seed = 0
    for channel in ("VL", "NI"):
        for light in ("Strong", "Dark"):
            for subject in SUBJECTS:
                for emotion in EMOTIONS:
                    for f in range(frames):  # 000.jpeg ... and one 10.jpeg, to check numeric order
                        name = "010.jpeg" if f == frames - 1 else f"{f:03d}.jpeg"
                        write_image(root / channel / light / subject / emotion / name, seed)
                        seed += 1
    return root


def test_default_is_visible_strong_last_three_frames_with_subjects(tmp_path):
    root = _oulu(tmp_path / "oulu")
    assert detect_layout(root) == "oulu_casia"
    index = discover(root)
    assert index.class_names == ["anger", "disgust", "fear", "happiness", "sadness", "surprise"]
    assert len(index) == len(SUBJECTS) * len(EMOTIONS) * 3
    assert all(s.id.startswith("VL/Strong/") for s in index.samples)
    p1_anger = sorted(s.id.rsplit("/", 1)[1] for s in index.samples if "/P001/Anger/" in s.id)
    assert p1_anger == ["003.jpeg", "004.jpeg", "010.jpeg"]  # the last three in frame order
    assert {s.subject for s in index.samples} == set(SUBJECTS)
    folds = make_folds(index, {"name": "subject_kfold", "folds": 5, "val_fraction": 0.2})
    subject_of = {s.id: s.subject for s in index.samples}
    for fold in folds:
        parts = [{subject_of[i] for i in ids} for ids in (fold.train_ids, fold.val_ids, fold.test_ids)]
        assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
    assert sorted(i for f in folds for i in f.test_ids) == sorted(subject_of)


def test_channel_illumination_and_frames_options(tmp_path):
    index = discover(_oulu(tmp_path / "oulu"), options={"channel": "NI", "illumination": "Dark", "frames": 1})
    assert all(s.id.startswith("NI/Dark/") and s.id.endswith("/010.jpeg") for s in index.samples)
    with pytest.raises(DatasetLayoutError, match=r"has no VL/Weak/ folder .*<VL\|NI>/<Strong\|Weak\|Dark>/P###"):
        discover(tmp_path / "oulu", options={"illumination": "Weak"})
    with pytest.raises(ConfigError, match="data.layout_options.channel: must be one of VL, NI"):
        discover(tmp_path / "oulu", options={"channel": "IR"})
    with pytest.raises(ConfigError, match="data.layout_options.frames: .* integer >= 1, got 0"):
        discover(tmp_path / "oulu", options={"frames": 0})


def test_a_folder_that_is_not_a_subject_is_named(tmp_path):
    root = _oulu(tmp_path / "oulu", frames=2)
    write_image(root / "VL" / "Strong" / "extras" / "Anger" / "000.jpeg", 1)
    with pytest.raises(DatasetLayoutError, match=r"extras: not a subject folder P###"):
        discover(root)
