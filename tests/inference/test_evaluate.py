"""Cross-dataset evaluation: a FER-2013-class model on a CK+ tree as shipped, on the shared classes."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from inference_helpers import face_like, save_image

from fer_graph.data.readers import discover, load_image
from fer_graph.inference.evaluate import evaluate_dataset
from fer_graph.inference.predict import Predictor
from fer_graph.training.metrics import classification_metrics

ROOT = Path(__file__).resolve().parents[2]
# subject/sequence -> CK+ emotion code (1 anger, 2 contempt, 5 happy, 7 surprise)
CODES = {("S005", "001"): 1, ("S005", "002"): 2, ("S010", "001"): 5, ("S010", "003"): 7, ("S011", "002"): 1}
BROKEN = "cohn-kanade-images/S010/003/S010_003_00000004.png"


@pytest.fixture()
def ckplus_tree(tmp_path) -> Path:
    root = tmp_path / "ck"
    for n, ((subject, sequence), code) in enumerate(CODES.items()):
        for f in range(1, 5):
            save_image(face_like((40, 40), 10 * n + f), root / "cohn-kanade-images" / subject / sequence
                       / f"{subject}_{sequence}_{f:08d}.png")
        label = root / "Emotion" / subject / sequence / f"{subject}_{sequence}_00000004_emotion.txt"
        label.parent.mkdir(parents=True, exist_ok=True)
        label.write_text(f"   {code:.7e}\n")
    (root / BROKEN).write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    return root


def _expected(loaded, index):
    """Independently: each shared-class face predicted alone, probabilities cut to the shared classes."""
    model = ["anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral"]  # FER-2013 canonical
    shared = ["anger", "disgust", "fear", "happiness", "sadness", "surprise"]
    ids, labels, predicted = [], [], []
    for s in index.samples:
        name = index.class_names[s.label]
        if name not in shared or s.id == BROKEN:
            continue
        probs = Predictor(loaded).predict_paths([s.source])[0].probabilities
        cut = probs[[model.index(c) for c in shared]]
        ids.append(s.id)
        labels.append(shared.index(name))
        predicted.append(int(np.argmax(cut)))
    return shared, ids, labels, predicted


def test_shared_classes_left_out_faces_and_failures(loaded, ckplus_tree):
    index = discover(ckplus_tree)
    result = evaluate_dataset(loaded, index, split="all", batch_size=4)
    shared, ids, labels, predicted = _expected(loaded, index)
    assert result.shared == shared and result.model_only == ["neutral"]
    assert result.dataset_only == {"contempt": 3}  # one contempt sequence, its last three frames
    assert result.ids == ids and result.labels.tolist() == labels
    assert result.probabilities.argmax(axis=1).tolist() == predicted
    np.testing.assert_allclose(result.probabilities.sum(axis=1), 1.0, atol=1e-9)
    assert [(row.path.endswith(BROKEN), "truncated or corrupt" in row.error) for row in result.failures] == [(True, True)]


def test_a_split_the_dataset_lacks_is_named(loaded, ckplus_tree):
    with pytest.raises(ValueError, match=r"no test split in .* \(splits: all; --split all evaluates every sample\)"):
        evaluate_dataset(loaded, discover(ckplus_tree), split="test")


def test_tool_writes_run_py_outputs_and_reports_broken_files(tiny_checkpoint, loaded, ckplus_tree, tmp_path,
                                                             monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "tools"))
    sys.modules.pop("evaluate", None)
    import evaluate as tool

    out = tmp_path / "eval"
    code = tool.main([str(tiny_checkpoint), str(ckplus_tree), "--split", "all", "--out", str(out), "--no-progress",
                      "--batch-size", "3"])
    assert code == tool.EXIT_FAILURES
    shared, ids, labels, predicted = _expected(loaded, discover(ckplus_tree))
    expected = classification_metrics(labels, predicted, shared)
    metrics = json.loads((out / "metrics_all.json").read_text())
    for key in ("accuracy", "uf1", "uar"):
        assert metrics[key] == pytest.approx(expected[key])
    assert metrics["per_class"] == expected["per_class"]
    with open(out / "predictions_all.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["id"] for r in rows] == ids and [int(r["predicted"]) for r in rows] == predicted
    assert (out / "confusion_all.png").stat().st_size > 0
    with open(out / "failures_all.csv", newline="") as fh:
        failures = list(csv.DictReader(fh))
    assert len(failures) == 1 and failures[0]["file"].endswith(BROKEN) and failures[0]["error"]
    summary = json.loads((out / "evaluation.json").read_text())
    assert summary["dataset_only_faces"] == {"contempt": 3} and summary["model_only_classes"] == ["neutral"]
    assert summary["evaluated"] == len(ids) and summary["failed"] == 1


def test_tool_names_a_bad_layout_option(tiny_checkpoint, ckplus_tree, tmp_path, monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(ROOT / "tools"))
    sys.modules.pop("evaluate", None)
    import evaluate as tool

    code = tool.main([str(tiny_checkpoint), str(ckplus_tree), "--layout-option", "channel=VL",
                      "--out", str(tmp_path / "e"), "--no-progress"])
    assert code == 1
    assert "data.layout_options.channel: not an option of layout ckplus" in capsys.readouterr().err


@pytest.fixture()
def scene_tree(fer2013_dir, tmp_path) -> Path:
    """An uncropped test/<class>/ dataset: two FER-2013 faces pasted into scenes, and a faceless scene."""
    from fer_graph.faces.scenes import paste_face, textured_background

    rng = np.random.default_rng(3)
    root = tmp_path / "scenes"
    for i, name in enumerate(("happy/PrivateTest_10077120.jpg", "neutral/PrivateTest_10086748.jpg")):
        scene = textured_background(300, 320, rng)
        paste_face(scene, load_image(fer2013_dir / "test" / name), (150.0 + 10 * i, 140.0), 170.0, 8.0 * (i - 0.5))
        save_image(scene, root / "test" / name.split("/")[0] / f"scene{i}.png")
    save_image(textured_background(300, 320, rng), root / "test" / "sad" / "empty.png")
    return root


def test_detect_faces_scores_the_aligned_face_and_reports_faceless_images(loaded, scene_tree, tiny_checkpoint,
                                                                          tmp_path, monkeypatch):
    from fer_graph.inference.faces import face_step_for

    step = face_step_for(loaded.config)
    index = discover(scene_tree)
    result = evaluate_dataset(loaded, index, split="test", faces=step)
    # each scored row is what predict.py --detect-faces gives on that photo alone
    model = ["anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral"]
    by_id = {s.id: s for s in index.samples}
    for sample_id, probs in zip(result.ids, result.probabilities):
        alone = Predictor(loaded, step).predict_paths([by_id[sample_id].source])[0]
        assert alone.face.found
        np.testing.assert_allclose(probs, alone.probabilities[[model.index(c) for c in result.shared]]
                                   / alone.probabilities[[model.index(c) for c in result.shared]].sum(), atol=1e-6)
    assert sorted(Path(i).name for i in result.ids) == ["scene0.png", "scene1.png"]
    assert [(Path(r.path).name, r.error) for r in result.failures] == [("empty.png", "no face found")]

    monkeypatch.syspath_prepend(str(ROOT / "tools"))
    sys.modules.pop("evaluate", None)
    import evaluate as tool

    out = tmp_path / "eval"
    assert tool.main([str(tiny_checkpoint), str(scene_tree), "--out", str(out), "--no-progress",
                      "--detect-faces"]) == tool.EXIT_FAILURES
    summary = json.loads((out / "evaluation.json").read_text())
    assert summary["evaluated"] == 2 and summary["failed"] == 1
    assert summary["face_step"]["detector"] == "hog"
    assert summary["face_step"]["size"] == loaded.config["data"]["image_size"]
    with pytest.raises(SystemExit):
        tool.parse_args([str(tiny_checkpoint), str(scene_tree), "--face-upsample", "0"])
