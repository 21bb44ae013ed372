"""Dataset readers on tiny real fixture trees and a few real files from ../shared/datasets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fer_graph.data.readers import (
    FER2013_CLASSES, RAFDB_CLASSES, DatasetLayoutError, ImageReadError, ckplus_subject, detect_layout,
    discover, load_image, parse_ckplus_name,
)


def _face(seed: int, size: int = 48) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (size, size), dtype=np.uint8)


def _save(path: Path, pixels: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return path


def test_png_round_trip_grey_and_rgb(tmp_path):
    grey = _face(0)
    assert np.array_equal(load_image(_save(tmp_path / "g.png", grey)), grey)
    rgb = np.random.default_rng(1).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    loaded = load_image(_save(tmp_path / "c.png", rgb))
    assert loaded.dtype == np.uint8 and np.array_equal(loaded, rgb)
    rgba = np.dstack([rgb, np.full((20, 30), 7, np.uint8)])
    assert np.array_equal(load_image(_save(tmp_path / "a.png", rgba)), rgb)


def test_sixteen_bit_grey_is_scaled_not_clipped(tmp_path):
    wide = np.array([[0, 65535], [257 * 100, 257 * 200]], dtype=np.uint16)
    Image.fromarray(wide).save(tmp_path / "w.png")
    assert load_image(tmp_path / "w.png").tolist() == [[0, 255], [100, 200]]


@pytest.mark.parametrize("make, reason", [
    (lambda p: p.write_bytes(b""), "empty file"),
    (lambda p: p.write_text("hello, not a picture"), "not an image"),
    (lambda p: None, "file not found"),
])
def test_bad_files_raise_with_path_and_reason(tmp_path, make, reason):
    path = tmp_path / "bad.png"
    make(path)
    with pytest.raises(ImageReadError) as info:
        load_image(path)
    assert info.value.path == str(path) and reason in info.value.reason


def test_truncated_jpeg_is_detected(tmp_path):
    full = tmp_path / "full.jpg"
    Image.fromarray(_face(3, 64)).save(full, quality=95)
    data = full.read_bytes()
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match="truncated"):
        load_image(cut)


def _imagefolder(root: Path) -> None:
    _save(root / "train/happy/Training_1.jpg", _face(1))
    _save(root / "train/angry/Training_2.jpg", _face(2))
    _save(root / "test/happy/PublicTest_3.jpg", _face(3))
    _save(root / "test/sad/PrivateTest_4.jpg", _face(4))
    _save(root / "val/sad/img5.png", _face(5))
    (root / "train/happy/notes.txt").write_text("ignored: not an image extension")
    (root / "train/happy/.hidden.png").write_bytes(b"")


def test_imagefolder_layout(tmp_path):
    _imagefolder(tmp_path)
    index = discover(tmp_path)
    assert index.layout == "imagefolder" and index.class_names == ["angry", "happy", "sad"]
    got = {s.id: (s.label, s.split) for s in index.samples}
    assert got == {
        "test/happy/PublicTest_3.jpg": (1, "val"),
        "test/sad/PrivateTest_4.jpg": (2, "test"),
        "train/angry/Training_2.jpg": (0, "train"),
        "train/happy/Training_1.jpg": (1, "train"),
        "val/sad/img5.png": (2, "val"),
    }
    assert [s.id for s in index.samples] == sorted(got)
    sample = index.samples[-1]
    assert np.array_equal(index.load(sample), _face(5))
    # a compact record per sample: the path as a string, no per-instance __dict__
    assert sample.source == str(tmp_path / "val" / "sad" / "img5.png") and type(sample.source) is str
    assert not hasattr(sample, "__dict__")


def test_flat_layout_and_ckplus_subjects(tmp_path):
    _save(tmp_path / "surprise/S010_004_00000017.png", _face(1))
    _save(tmp_path / "anger/S005_001_00000011.png", _face(2))
    _save(tmp_path / "anger/S010_002_00000014.png", _face(3))
    index = discover(tmp_path)
    assert index.layout == "flat" and index.class_names == ["anger", "surprise"]
    assert [(s.id, s.label, s.split) for s in index.samples] == [
        ("anger/S005_001_00000011.png", 0, "all"),
        ("anger/S010_002_00000014.png", 0, "all"),
        ("surprise/S010_004_00000017.png", 1, "all"),
    ]
    assert [ckplus_subject(s.id) for s in index.samples] == ["S005", "S010", "S010"]
    assert parse_ckplus_name("surprise/S010_004_00000017.png") == ("S010", 4, 17)
    with pytest.raises(ValueError):
        parse_ckplus_name("happy/face.png")


def test_fer_csv_layout(tmp_path):
    faces = [_face(i) for i in range(4)]
    rows = ["emotion,pixels,Usage"]
    for label, usage, face in zip([3, 0, 6, 2], ["Training", "PublicTest", "PrivateTest", "Training"], faces):
        rows.append(f"{label},{' '.join(map(str, face.ravel()))},{usage}")
    rows.append("1,1 2 3,Training")  # not a square image: recorded at build time
    csv_path = tmp_path / "fer2013.csv"
    csv_path.write_text("\n".join(rows) + "\n")
    for root in (csv_path, tmp_path):
        index = discover(root)
        assert index.layout == "fer_csv" and index.class_names == list(FER2013_CLASSES)
        by_id = {s.id: s for s in index.samples}
        assert [(by_id[f"csv:{i}"].label, by_id[f"csv:{i}"].split) for i in range(5)] == [
            (3, "train"), (0, "val"), (6, "test"), (2, "train"), (1, "train")]
        for i, face in enumerate(faces):
            assert np.array_equal(index.load(by_id[f"csv:{i}"]), face)
        with pytest.raises(ImageReadError, match="square"):
            index.load(by_id["csv:4"])


def test_rafdb_layout(tmp_path):
    base = tmp_path / "basic"
    (base / "EmoLabel").mkdir(parents=True)
    (base / "EmoLabel/list_patition_label.txt").write_text(
        "train_00001.jpg 5\ntrain_00002.jpg 1\ntest_0001.jpg 7\n")
    for i, name in enumerate(["train_00001", "train_00002", "test_0001"]):
        _save(base / f"Image/aligned/{name}_aligned.jpg", _face(i))
    index = discover(tmp_path)
    assert index.layout == "rafdb" and index.class_names == list(RAFDB_CLASSES)
    assert [(s.id, s.label, s.split) for s in index.samples] == [
        ("basic/Image/aligned/test_0001_aligned.jpg", 6, "test"),
        ("basic/Image/aligned/train_00001_aligned.jpg", 4, "train"),
        ("basic/Image/aligned/train_00002_aligned.jpg", 0, "train"),
    ]
    assert index.class_names[4] == "sadness"


def test_missing_root_and_unknown_layout_are_one_line_errors(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(DatasetLayoutError) as info:
        discover(missing)
    assert str(missing) in str(info.value) and "\n" not in str(info.value)
    _imagefolder(tmp_path / "ds")
    with pytest.raises(DatasetLayoutError, match="unknown layout 'voc'"):
        discover(tmp_path / "ds", layout="voc")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetLayoutError, match="cannot detect"):
        detect_layout(tmp_path / "empty")


@pytest.mark.datasets
def test_real_fer2013_and_ckplus(fer2013_dir, ckplus_dir):
    index = discover(fer2013_dir)
    assert index.layout == "imagefolder" and len(index) == 35887
    assert index.class_names == sorted(FER2013_CLASSES)
    counts = {split: sum(s.split == split for s in index.samples) for split in ("train", "val", "test")}
    assert counts == {"train": 28709, "val": 3589, "test": 3589}
    image = index.load(index.samples[0])
    assert image.shape == (48, 48) and image.dtype == np.uint8
    ck = discover(ckplus_dir)
    assert ck.layout == "flat" and len(ck) == 981 and len({ckplus_subject(s.id) for s in ck.samples}) == 118


def test_dangling_symlink_is_listed_and_fails_with_its_reason(tmp_path):
    _save(tmp_path / "happy" / "a.png", _face(0))
    (tmp_path / "happy" / "gone.jpg").symlink_to(tmp_path / "nowhere.jpg")
    (tmp_path / "happy" / "folder.jpg").symlink_to(tmp_path / "happy", target_is_directory=True)
    index = discover(tmp_path, "flat")
    assert [s.id for s in index.samples] == ["happy/a.png", "happy/gone.jpg"]  # not the folder link
    with pytest.raises(ImageReadError) as info:
        load_image(tmp_path / "happy" / "gone.jpg")
    assert info.value.reason == f"broken symbolic link (target {tmp_path / 'nowhere.jpg'} does not exist)"


@pytest.mark.parametrize("scale, offset, expected", [
    (1 / 255, 0.0, lambda u: u),                           # [0, 1]: x255
    (1.0, 0.0, lambda u: u),                               # [0, 255]: as is
    (4.0, -300.0, lambda u: np.rint((u - u.min()) * 255.0 / (u.max() - u.min()))),  # min-max
])
def test_float_tiff_pixels_follow_the_range_rule(tmp_path, scale, offset, expected):
    grey = _face(5)
    Image.fromarray((grey * scale + offset).astype(np.float32), mode="F").save(tmp_path / "f.tif")
    loaded = load_image(tmp_path / "f.tif")
    assert loaded.dtype == np.uint8
    np.testing.assert_array_equal(loaded, expected(grey.astype(np.float64)).astype(np.uint8))


def test_float_tiff_outside_unit_range_keeps_its_graph(tmp_path):
    # Clipping (the old behaviour) turned such an image into one grey level: a one-node graph.
    from fer_graph.granular import build_graph

    rows = np.linspace(0, 1, 48)[:, None] * np.ones((1, 48))
    picture = np.rint(255 * (rows > 0.5) * 0.8 + 20).astype(np.uint8)
    Image.fromarray(picture.astype(np.float32) * 10.0, mode="F").save(tmp_path / "hdr.tif")
    want = build_graph(np.rint((picture - 20.0) * 255.0 / (picture.max() - 20.0)).astype(np.uint8))
    got = build_graph(load_image(tmp_path / "hdr.tif"))
    assert got.num_nodes == want.num_nodes > 1
    np.testing.assert_array_equal(got.boxes, want.boxes)


def test_float_tiff_with_nan_is_a_read_error(tmp_path):
    values = np.zeros((8, 8), np.float32)
    values[2, 3] = np.nan
    Image.fromarray(values, mode="F").save(tmp_path / "nan.tif")
    with pytest.raises(ImageReadError, match="NaN or infinite"):
        load_image(tmp_path / "nan.tif")
