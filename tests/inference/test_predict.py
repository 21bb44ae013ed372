"""Prediction from a checkpoint: rows per input, broken files, and equality with evaluation."""

from __future__ import annotations

import copy
import csv
import dataclasses
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from fer_graph.data.graph_batch import collate_graphs
from fer_graph.data.graph_codec import GraphArrays
from fer_graph.data.readers import discover, load_image
from fer_graph.data.store import GraphStore, GraphStoreWriter
from fer_graph.data.transforms import mirror_pair
from fer_graph.granular.build import build_graph
from fer_graph.inference.loading import as_stored, load_model
from fer_graph.inference.predict import Predictor, expand_inputs
from fer_graph.models import CSGBSBFLoss
from fer_graph.training.loaders import make_loader
from fer_graph.training.report import read_predictions, write_split_outputs
from fer_graph.training.trainer import evaluate

from inference_helpers import face_like, save_image

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict:
    """Generated images of several modes, sizes and formats, plus broken files, in folders."""
    root = tmp_path_factory.mktemp("inputs")
    good = [
        save_image(face_like((48, 48), 1), root / "grey48.png"),
        save_image(face_like((120, 90), 2, colour=True), root / "colour.jpg"),
        save_image(face_like((37, 61), 3), root / "nested" / "deep" / "odd.bmp"),
        save_image(face_like((64, 64), 4, colour=True), root / "nested" / "rgb.tiff"),
    ]
    rgba = np.dstack([face_like((50, 50), 5, colour=True), np.full((50, 50), 200, np.uint8)])
    good.append(save_image(rgba, root / "alpha.webp"))
    empty = root / "nested" / "empty.jpg"
    empty.write_bytes(b"")
    text = root / "notes.jpg"
    text.write_text("this is not an image\n")
    return {"root": root, "good": good, "empty": empty, "text": text}


def test_rows_follow_inputs_probabilities_sum_to_one_and_broken_files_are_reported(loaded, inputs):
    root = inputs["root"]
    requests = [str(inputs["text"]), str(root / "nested"), str(root / "*.png"),
                str(root / "missing.jpg"), str(root / "*.gif")]
    rows = Predictor(loaded).predict_inputs(requests, batch_size=2)

    nested = sorted(p for p in (root / "nested").rglob("*") if p.is_file())
    expected = [inputs["text"], *nested, root / "grey48.png", root / "missing.jpg", root / "*.gif"]
    assert [Path(r.path) for r in rows] == expected
    errors = {Path(r.path).name: r.error for r in rows if r.error}
    assert set(errors) == {"notes.jpg", "empty.jpg", "missing.jpg", "*.gif"}
    assert "not an image" in errors["notes.jpg"] and "empty" in errors["empty.jpg"]
    ok = [r for r in rows if r.error is None]
    assert len(ok) == 3
    for row in ok:
        assert row.probabilities.shape == (7,)
        assert np.all(row.probabilities >= 0)
        assert row.probabilities.sum() == pytest.approx(1.0, abs=1e-5)


def test_batch_size_does_not_change_results(loaded, inputs):
    paths = inputs["good"]
    one = Predictor(loaded).predict_paths(paths, batch_size=1)
    many = Predictor(loaded).predict_paths(paths, batch_size=8)
    for a, b in zip(one, many):
        np.testing.assert_allclose(a.probabilities, b.probabilities, atol=1e-5)


def test_grey_image_and_its_rgb_copy_predict_the_same(loaded):
    grey = face_like((70, 70), 7)
    rgb = np.repeat(grey[..., None], 3, axis=2)
    probs = Predictor(loaded).predict_images([grey, rgb, face_like((70, 70), 8)])
    np.testing.assert_allclose(probs[0], probs[1], atol=1e-6)
    # a different face gives a different answer: the model is not constant
    assert np.abs(probs[0] - probs[2]).max() > 1e-6


def test_graph_is_the_stored_graph(loaded, fer2013_dir, tmp_path):
    """The graph used for a file is what the HDF5 store returns for it."""
    path = next(iter(sorted((fer2013_dir / "test" / "happy").glob("*.jpg"))))
    graph = build_graph(load_image(path), loaded.graph_params)
    with GraphStoreWriter(tmp_path / "g.h5", loaded.graph_params, ["happy"]) as writer:
        writer.append(["x"], [0], ["test"], GraphArrays.from_graphs([graph]))
    stored = GraphStore(tmp_path / "g.h5").get("x")
    ours = loaded.graph_for(load_image(path))
    np.testing.assert_array_equal(ours.boxes, stored.boxes)
    np.testing.assert_array_equal(ours.edges, stored.edges)
    np.testing.assert_array_equal(ours.features, stored.features)
    assert not np.array_equal(as_stored(graph, "float32").features, ours.features)


def _evaluation_dataset(fer2013_dir: Path, root: Path) -> Path:
    """An imagefolder test split: real FER-2013 files plus generated colour/odd-size images."""
    for folder in sorted(p for p in (fer2013_dir / "test").iterdir() if p.is_dir()):
        name = folder.name
        for source in sorted(folder.glob("PrivateTest_*.jpg"))[:1]:
            target = root / "test" / name / source.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, target)
    save_image(face_like((80, 64), 11, colour=True), root / "test" / "happy" / "colour.png")
    save_image(face_like((100, 100), 12), root / "test" / "sad" / "big.png")
    return root


def test_predictions_equal_the_evaluation_path(loaded, fer2013_dir, tmp_path):
    """run.py's path: graph store -> make_loader -> evaluate -> predictions_test.csv."""
    data_root = _evaluation_dataset(fer2013_dir, tmp_path / "data")
    index = discover(data_root, "imagefolder")
    params = loaded.graph_params
    with GraphStoreWriter(tmp_path / "graphs.h5", params, index.class_names) as writer:
        graphs = [build_graph(index.load(s), params) for s in index.samples]
        writer.append([s.id for s in index.samples], [s.label for s in index.samples],
                      [s.split for s in index.samples], GraphArrays.from_graphs(graphs))
    ids = [s.id for s in index.samples]
    loader = make_loader(loaded.config, index, GraphStore(tmp_path / "graphs.h5"), ids, train=False, seed=0)
    result = evaluate(loaded.model, loader, CSGBSBFLoss(), torch.device("cpu"))
    write_split_outputs(tmp_path, "test", ids, result.labels, result.probabilities, index.class_names)
    saved = read_predictions(tmp_path / "predictions_test.csv")

    # The inputs are identical, not merely close: the image tensor and the graph of each sample.
    for position, sample_id in enumerate(ids):
        tensor, graph, _ = loader.dataset[position]
        image = load_image(data_root / sample_id)
        assert torch.equal(loaded.tensor_for(image), tensor), sample_id
        ours_graph = loaded.graph_for(image)
        np.testing.assert_array_equal(ours_graph.features, graph.features)
        np.testing.assert_array_equal(ours_graph.edges, graph.edges)

    rows = Predictor(loaded).predict_paths([data_root / i for i in saved["ids"]], batch_size=3)
    ours = np.stack([r.probabilities for r in rows])
    np.testing.assert_allclose(ours, result.probabilities, atol=2e-6)
    np.testing.assert_allclose(ours, saved["probabilities"], rtol=1e-5, atol=1e-6)  # CSV keeps 6 digits
    assert [r.top for r in rows] == saved["predicted"].tolist()


def test_real_ckplus_images_predict(loaded, ckplus_dir):
    paths = sorted(ckplus_dir.rglob("*.png"))[:5]
    rows = Predictor(loaded).predict_paths(paths)
    assert [Path(r.path) for r in rows] == paths
    assert all(r.error is None and r.probabilities.sum() == pytest.approx(1.0, abs=1e-5) for r in rows)


def test_lbp_fallback_crops_the_pasted_face_and_records_a_missing_one(loaded, fer2013_dir):
    from PIL import Image

    from fer_graph.inference.faces import LBPFaceDetector

    detector = LBPFaceDetector(on_missing="whole")
    blank = np.full((200, 260), 128, np.uint8)
    (none,) = detector.run(blank)
    assert not none.record.found and none.image is blank
    face = load_image(fer2013_dir / "test" / "happy" / "PrivateTest_10077120.jpg")
    canvas = np.full((360, 480), 90, np.uint8)
    canvas[100:260, 200:360] = np.asarray(Image.fromarray(face).resize((160, 160), Image.BILINEAR))
    (found,) = detector.run(canvas)
    left, top, right, bottom = found.record.box
    # the detected box lies on the pasted face (not elsewhere on the canvas)
    assert 100 <= (top + bottom) / 2 <= 260 and 200 <= (left + right) / 2 <= 360
    assert found.image.shape[0] < canvas.shape[0] and found.record.detector == "lbp"
    probs = Predictor(loaded, detector).predict_images([canvas, blank])
    assert probs.shape == (2, 7)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)


def _face_checkpoint(tiny_checkpoint: Path, out: Path) -> Path:
    """The tiny checkpoint as if trained with ``data.face_crop`` (its config stores the settings)."""
    from fer_graph.models.checkpoint import load_checkpoint, save_checkpoint

    state = load_checkpoint(tiny_checkpoint)
    state["config"]["data"]["face_crop"] = {"eye_height": 0.42}
    return save_checkpoint(state, out)


def _scene_dataset(fer2013_dir: Path, root: Path) -> Path:
    """test/<class>/<file>.png: real FER-2013 faces pasted, enlarged and turned, onto textured scenes."""
    from PIL import Image

    from fer_graph.faces.scenes import random_scene

    rng = np.random.default_rng(4)
    for name in ("happy/PrivateTest_10077120.jpg", "neutral/PrivateTest_10086748.jpg"):
        scene, _ = random_scene(load_image(fer2013_dir / "test" / name), rng, max_angle=12.0)
        path = root / "test" / Path(name).with_suffix(".png")
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(scene).save(path)
    path = root / "test" / "sad" / "no_face.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    from fer_graph.faces.scenes import textured_background

    Image.fromarray(textured_background(300, 300, rng)).save(path)
    return root


def test_prediction_on_a_scene_equals_evaluation_on_its_face_crop(tiny_checkpoint, fer2013_dir, tmp_path):
    """predict.py --detect-faces on a photo == run.py's evaluation of the data.face_crop dataset."""
    from fer_graph.data.face_crops import crop_faces
    from fer_graph.inference.faces import face_params_for, face_step_for

    loaded = load_model(_face_checkpoint(tiny_checkpoint, tmp_path / "faces.pt"))
    params = face_params_for(loaded.config)
    assert params.eye_height == 0.42 and params.size == loaded.config["data"]["image_size"]
    root = _scene_dataset(fer2013_dir, tmp_path / "data")
    index, summary = crop_faces(discover(root, "imagefolder"), params, tmp_path / "crops", progress=False)
    assert summary.no_face == ["test/sad/no_face.png"] and len(index) == 2
    with GraphStoreWriter(tmp_path / "graphs.h5", loaded.graph_params, index.class_names) as writer:
        writer.append([s.id for s in index.samples], [s.label for s in index.samples],
                      [s.split for s in index.samples],
                      GraphArrays.from_graphs([build_graph(index.load(s), loaded.graph_params) for s in index.samples]))
    ids = [s.id for s in index.samples]
    loader = make_loader(loaded.config, index, GraphStore(tmp_path / "graphs.h5"), ids, train=False, seed=0)
    result = evaluate(loaded.model, loader, CSGBSBFLoss(), torch.device("cpu"))

    rows = Predictor(loaded, face_step_for(loaded.config)).predict_paths([root / i for i in ids] +
                                                                         [root / "test/sad/no_face.png"])
    np.testing.assert_allclose(np.stack([r.probabilities for r in rows[:2]]), result.probabilities, atol=2e-6)
    assert all(r.face.found and r.face.count == 1 and len(r.face.landmarks) == 5 for r in rows[:2])
    assert rows[2].probabilities is None and rows[2].error == "no face found" and not rows[2].face.found


def test_a_checkpoint_trained_on_aligned_crops_aligns_crops_itself_and_searches_photos(
        tiny_checkpoint, loaded, fer2013_dir, tmp_path):
    """data.face_crop.detector crop: prediction on a FER-2013 crop (no --detect-faces) equals
    evaluation of the dataset cropped for training, and equals the plain model on the aligned crop."""
    from fer_graph.data.face_crops import crop_faces
    from fer_graph.inference.faces import face_params_for, face_step_for
    from fer_graph.models.checkpoint import load_checkpoint, save_checkpoint

    state = load_checkpoint(tiny_checkpoint)
    state["config"]["data"]["face_crop"] = {"detector": "crop", "framing": "inner"}
    aligned = load_model(save_checkpoint(state, tmp_path / "aligned.pt"))
    params = face_params_for(aligned.config)
    assert (params.detector, params.eye_distance) == ("crop", 0.43)
    assert face_step_for(aligned.config).params.detector == "hog"  # photos are searched
    from argparse import Namespace

    from fer_graph.inference.face_cli import face_step_from_args

    assert face_step_from_args(aligned.config, Namespace(detect_faces=False)).params.detector == "crop"
    assert face_step_from_args(loaded.config, Namespace(detect_faces=False)) is None
    root = tmp_path / "data"
    for name in ("happy/PrivateTest_10077120.jpg", "neutral/PrivateTest_10086748.jpg"):
        (root / "test" / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(fer2013_dir / "test" / name, root / "test" / name)
    index, summary = crop_faces(discover(root, "imagefolder"), params, tmp_path / "crops", progress=False)
    assert summary.cropped == 2 and not summary.no_face
    with GraphStoreWriter(tmp_path / "graphs.h5", aligned.graph_params, index.class_names) as writer:
        writer.append([s.id for s in index.samples], [s.label for s in index.samples],
                      [s.split for s in index.samples],
                      GraphArrays.from_graphs([build_graph(index.load(s), aligned.graph_params)
                                               for s in index.samples]))
    ids = [s.id for s in index.samples]
    loader = make_loader(aligned.config, index, GraphStore(tmp_path / "graphs.h5"), ids, train=False, seed=0)
    result = evaluate(aligned.model, loader, CSGBSBFLoss(), torch.device("cpu"))

    rows = Predictor(aligned).predict_paths([root / i for i in ids])
    np.testing.assert_allclose(np.stack([r.probabilities for r in rows]), result.probabilities, atol=2e-6)
    assert all(r.face.detector in ("crop", "crop_box") for r in rows)
    crops = [Predictor(aligned).faces.run(load_image(root / i))[0].image for i in ids]
    np.testing.assert_allclose(Predictor(loaded).predict_images(crops), result.probabilities, atol=2e-6)


def test_all_faces_gives_one_row_per_face_and_records_reach_csv_and_json(loaded, fer2013_dir, tmp_path):
    from PIL import Image

    from fer_graph.faces.scenes import paste_face, textured_background
    from fer_graph.inference.faces import face_step_for
    from fer_graph.inference.predict import FACE_COLUMNS, write_csv, write_json

    scene = textured_background(360, 560, np.random.default_rng(2))
    for name, centre, side in (("happy/PrivateTest_10077120.jpg", (410.0, 190.0), 200.0),
                               ("neutral/PrivateTest_10086748.jpg", (140.0, 180.0), 150.0)):
        paste_face(scene, load_image(fer2013_dir / "test" / name), centre, side, 0.0)
    Image.fromarray(scene).save(tmp_path / "two.png")
    Image.fromarray(textured_background(200, 200, np.random.default_rng(3))).save(tmp_path / "none.png")
    step = face_step_for(loaded.config, select="all")
    rows = Predictor(loaded, step).predict_paths([tmp_path / "two.png", tmp_path / "none.png"])
    assert [(Path(r.path).name, r.face.index) for r in rows] == [("two.png", 0), ("two.png", 1), ("none.png", None)]
    assert rows[0].face.box[0] > 300 and rows[1].face.box[2] < 260  # largest (right) first
    with open(write_csv(rows, loaded.class_names, tmp_path / "p.csv"), newline="") as fh:
        table = list(csv.DictReader(fh))
    assert set(FACE_COLUMNS) <= set(table[0])
    assert [r["face_count"] for r in table] == ["2", "2", "0"] and table[2]["error"] == "no face found"
    assert json.loads(table[1]["face_box"]) == list(rows[1].face.box)
    records = json.loads(write_json(rows, loaded.class_names, tmp_path / "p.json").read_text())
    assert records[0]["face"]["landmarks"] == [list(p) for p in rows[0].face.landmarks]
    assert records[2]["face"]["found"] is False and records[2]["probabilities"] is None


def test_face_step_overrides_reach_the_step_and_leave_the_framing(loaded):
    from fer_graph.inference.faces import LBPFaceDetector, face_params_for, face_step_for

    base = face_params_for(loaded.config)
    step = face_step_for(loaded.config, detector="hog_cnn", upsample=0, on_missing="whole", retry_upsample=1,
                         min_score=0.05)
    assert (step.params.detector, step.params.upsample, step.params.on_missing) == ("hog_cnn", 0, "whole")
    assert (step.params.retry_upsample, step.params.min_score) == (1, 0.05)
    assert (step.params.eye_distance, step.params.size) == (base.eye_distance, base.size)
    assert isinstance(face_step_for(loaded.config, detector="lbp", upsample=2, retry_upsample=3, min_score=0.1),
                      LBPFaceDetector)
    with pytest.raises(ValueError, match="upsample: 5 is out of range"):
        face_step_for(loaded.config, upsample=5)
    assert face_step_for(loaded.config, zoom_views=0.1).params.zoom_views == 0.1
    with pytest.raises(ValueError, match="zoom_views needs a dlib detector"):
        face_step_for(loaded.config, detector="lbp", zoom_views=0.1)


def test_zoom_views_average_the_three_crops_probabilities(loaded, fer2013_dir, tmp_path):
    """With zoom_views a face's probabilities are the mean of its own crop's and its two zoomed crops'."""
    from fer_graph.inference.faces import face_step_for

    root = _scene_dataset(fer2013_dir, tmp_path / "data")
    paths = sorted((root / "test").glob("[hn]*/*.png"))
    plain = Predictor(loaded, face_step_for(loaded.config)).predict_paths(paths)
    zoomed_step = face_step_for(loaded.config, zoom_views=0.15)
    zoomed = Predictor(loaded, zoomed_step).predict_paths(paths)
    single = Predictor(loaded)  # whole images: one crop each, computed apart
    for path, row, zoomed_row in zip(paths, plain, zoomed):
        assert zoomed_row.face == row.face  # the same face and landmarks, only more crops
        points = np.array(row.face.landmarks)
        scene = load_image(path)
        crops = [zoomed_step.align(scene, points, zoom) for zoom in (1.0, 0.85, 1.15)]
        each = single.predict_images(crops)
        np.testing.assert_allclose(each[0], row.probabilities, atol=2e-6)
        np.testing.assert_allclose(each.mean(axis=0), zoomed_row.probabilities, atol=2e-6)
        assert np.abs(crops[1].astype(int) - crops[2]).mean() > 5  # the zooms show the model different crops


def test_predict_tool_writes_csv_and_json(tiny_checkpoint, inputs, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "tools"))
    sys.modules.pop("predict", None)
    import predict as tool

    out = tmp_path / "preds.csv"
    code = tool.main([str(tiny_checkpoint), str(inputs["root"]), "--out", str(out), "--json",
                      "--batch-size", "3", "--no-progress", "--detect-faces", "--whole-image-if-no-face"])
    assert code == tool.EXIT_FAILURES  # the broken files make it report failures
    with open(out, newline="") as fh:
        table = list(csv.DictReader(fh))
    files = [path for path, _ in expand_inputs([inputs["root"]])]
    assert [Path(r["file"]) for r in table] == files
    class_names = load_model(tiny_checkpoint).class_names
    for r in table:
        if r["error"]:
            assert r["predicted"] == ""
            continue
        probs = [float(r[f"prob_{c}"]) for c in class_names]
        assert sum(probs) == pytest.approx(1.0, abs=1e-4)
        assert r["predicted"] == class_names[int(np.argmax(probs))]
        assert float(r["probability"]) == pytest.approx(max(probs))
        assert r["note"] and r["face_found"] in ("0", "1")  # the face step says what it did for every image
    records = json.loads(out.with_suffix(".json").read_text())
    assert [Path(r["file"]) for r in records] == files
    assert sum(r["error"] is not None for r in records) == 2


def test_flip_tta_averages_the_image_and_its_mirror(loaded, inputs):
    """With train.tta_hflip the checkpoint's evaluation averaged each face with its mirror."""
    config = copy.deepcopy(loaded.config)
    config["train"]["tta_hflip"] = True
    tta = dataclasses.replace(loaded, config=config)
    image = load_image(inputs["good"][0])
    tensor, graph = loaded.tensor_for(image), loaded.graph_for(image)
    mirrored_tensor, mirrored_graph = mirror_pair(tensor, graph)
    with torch.no_grad():
        plain = torch.softmax(loaded.model(tensor[None], collate_graphs([graph])).logits, dim=1)
        mirror = torch.softmax(loaded.model(mirrored_tensor[None], collate_graphs([mirrored_graph])).logits, dim=1)
    got = Predictor(tta).predict_images([image])
    np.testing.assert_allclose(got[0], ((plain + mirror) / 2)[0].numpy(), atol=1e-6)
    assert not np.allclose(got, Predictor(loaded).predict_images([image]), atol=1e-6)
