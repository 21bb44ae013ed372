"""data.face_crop: scenes become aligned crops with records; no face is a counted, recorded omission."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fer_graph.data.face_crops import NO_FACE, crop_faces, read_records
from fer_graph.data.readers import discover, load_image
from fer_graph.faces import FaceParams, FaceStep
from fer_graph.faces.scenes import paste_face, textured_background

pytestmark = pytest.mark.datasets

FACE = "happy/PrivateTest_10077120.jpg"
PARAMS = FaceParams(size=48)


def _scenes(fer2013_dir: Path, root: Path) -> Path:
    """test/happy/face.png (one pasted face), test/sad/empty.png (no face), test/sad/broken.png."""
    rng = np.random.default_rng(0)
    scene = textured_background(300, 360, rng)
    paste_face(scene, load_image(fer2013_dir / "test" / FACE), (180.0, 150.0), 170.0, 10.0)
    for name, image in (("happy/face.png", scene), ("sad/empty.png", textured_background(300, 360, rng))):
        path = root / "test" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(path)
    (root / "test" / "sad" / "broken.png").write_bytes(b"not a png")
    return root


def test_crops_are_the_face_step_output_and_each_file_has_a_record(fer2013_dir, tmp_path):
    index = discover(_scenes(fer2013_dir, tmp_path / "data"), "imagefolder")
    cropped, summary = crop_faces(index, PARAMS, tmp_path / "crops", progress=False)

    assert [s.id for s in cropped.samples] == ["test/happy/face.png", "test/sad/broken.png"]
    assert cropped.left_out == {NO_FACE: 1} and summary.no_face == ["test/sad/empty.png"]
    assert summary.unreadable == ["test/sad/broken.png"] and summary.cropped == 1
    face = cropped.samples[0]
    expected = FaceStep(PARAMS).run(load_image(tmp_path / "data" / "test" / "happy" / "face.png"))[0]
    np.testing.assert_array_equal(load_image(face.source), expected.image)  # PNG: lossless
    records = read_records(tmp_path / "crops")
    assert set(records) == {s.id for s in index.samples}
    assert records["test/happy/face.png"]["found"] and records["test/happy/face.png"]["count"] == 1
    assert records["test/happy/face.png"]["box"] == list(expected.record.box)
    assert len(records["test/happy/face.png"]["landmarks"]) == 5
    assert records["test/sad/empty.png"] == {"id": "test/sad/empty.png", "source": records["test/sad/empty.png"]["source"],
                                             "crop": None, **expected.record.__class__(False, 0, "hog").to_dict()}
    assert records["test/sad/broken.png"]["error"]


def test_unchanged_sources_reuse_crops_and_a_changed_one_is_cropped_again(fer2013_dir, tmp_path):
    index = discover(_scenes(fer2013_dir, tmp_path / "data"), "imagefolder")
    crop_faces(index, PARAMS, tmp_path / "crops", progress=False)
    crop = tmp_path / "crops" / "test" / "happy" / "face.png.png"  # <id>.png: ids stay unique
    written = crop.stat().st_mtime_ns
    _, again = crop_faces(index, PARAMS, tmp_path / "crops", progress=False)
    assert again.reused == 1 and crop.stat().st_mtime_ns == written  # graph store fingerprints stay put

    source = tmp_path / "data" / "test" / "happy" / "face.png"
    os.utime(source, ns=(source.stat().st_atime_ns, source.stat().st_mtime_ns + 10**9))
    _, changed = crop_faces(index, PARAMS, tmp_path / "crops", progress=False)
    assert changed.reused == 0 and changed.cropped == 1


def test_whole_keeps_faceless_images_and_new_settings_redo_everything(fer2013_dir, tmp_path):
    index = discover(_scenes(fer2013_dir, tmp_path / "data"), "imagefolder")
    crop_faces(index, PARAMS, tmp_path / "crops", progress=False)
    messages = []
    whole = FaceParams(size=48, on_missing="whole")
    cropped, summary = crop_faces(index, whole, tmp_path / "crops", progress=False, log=messages.append)
    assert any("face settings changed" in m for m in messages)
    assert summary.reused == 0 and NO_FACE not in cropped.left_out
    empty = next(s for s in cropped.samples if s.id == "test/sad/empty.png")
    np.testing.assert_array_equal(load_image(empty.source), load_image(tmp_path / "data" / "test" / "sad" / "empty.png"))
    with pytest.raises(ValueError, match="select"):
        crop_faces(index, FaceParams(size=48, select="all"), tmp_path / "crops", progress=False)
