"""Transforms keep image and granular-ball graph consistent (flip, crop, rotation)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fer_graph.data.transforms import (
    Affine, Augment, PairTransform, build_transforms, mirror_pair, transform_graph, warp_image,
)
from fer_graph.granular.graph import FEATURE_NAMES, BallGraph

COL = {name: i for i, name in enumerate(FEATURE_NAMES)}


def tiled_graph(image: np.ndarray, seed: int = 0) -> BallGraph:
    """A graph of rectangles tiling the image on a random grid, 4-neighbour edges."""
    h, w = image.shape
    rng = np.random.default_rng(seed)
    rcuts = np.unique(np.concatenate([[0, h], rng.choice(np.arange(1, h), 7, replace=False)]))
    ccuts = np.unique(np.concatenate([[0, w], rng.choice(np.arange(1, w), 9, replace=False)]))
    boxes, feats, cell = [], [], {}
    for i, (r0, r1) in enumerate(zip(rcuts[:-1], rcuts[1:])):
        for j, (c0, c1) in enumerate(zip(ccuts[:-1], ccuts[1:])):
            patch = image[r0:r1, c0:c1].astype(np.float64)
            row, col = (r0 + r1 - 1) / 2, (c0 + c1 - 1) / 2
            cell[i, j] = len(boxes)
            boxes.append([r0, c0, r1 - 1, c1 - 1])
            feats.append([row, col, (c1 - c0 - 1) / 2, (r1 - r0 - 1) / 2, patch.var(), patch.mean(), 0.0,
                          patch.max(), patch.min(), 1.0, row / (h - 1), col / (w - 1)])
    edges = sorted({tuple(sorted((cell[i, j], cell[i + di, j + dj])))
                    for (i, j) in cell for di, dj in ((0, 1), (1, 0)) if (i + di, j + dj) in cell})
    return BallGraph(np.array(boxes, np.int32), np.array(feats, np.float32),
                     np.array(edges, np.int32).reshape(-1, 2), (h, w))


@pytest.fixture
def pair():
    image = np.random.default_rng(1).integers(0, 256, (48, 48), dtype=np.uint8)
    return image, tiled_graph(image)


def grey(image_size=48, **augment) -> PairTransform:
    return PairTransform(image_size, in_chans=1, mean=0.0, std=1.0,
                         augment=Augment(**augment) if augment else None)


def test_hflip_mirrors_graph_and_image(pair):
    image, graph = pair
    x, flipped = grey(crop="none", hflip=1.0)(image, graph, np.random.default_rng(0))
    w = image.shape[1]
    out = (x[0].numpy() * 255).round().astype(np.uint8)
    np.testing.assert_array_equal(out, image[:, ::-1])
    b = graph.boxes
    np.testing.assert_array_equal(flipped.boxes, np.stack([b[:, 0], w - 1 - b[:, 3], b[:, 2], w - 1 - b[:, 1]], 1))
    f, g = graph.features, flipped.features
    np.testing.assert_allclose(g[:, COL["col"]], w - 1 - f[:, COL["col"]], atol=1e-5)
    np.testing.assert_allclose(g[:, COL["col_norm"]], 1 - f[:, COL["col_norm"]], atol=1e-6)
    unchanged = [i for n, i in COL.items() if n not in ("col", "col_norm")]
    np.testing.assert_allclose(g[:, unchanged], f[:, unchanged], atol=1e-5)
    np.testing.assert_array_equal(flipped.edges, graph.edges)
    for (r0, c0, r1, c1), (s0, d0, s1, d1) in zip(graph.boxes, flipped.boxes):
        np.testing.assert_array_equal(out[s0:s1 + 1, d0:d1 + 1], image[r0:r1 + 1, c0:c1 + 1][:, ::-1])
    # the pixel under each integer node centre is the original pixel at the mirrored centre
    centres = g[:, [COL["row"], COL["col"]]]
    whole = (centres == np.round(centres)).all(axis=1)
    assert whole.sum() > 5
    for r, c in centres[whole].astype(int):
        assert out[r, c] == image[r, w - 1 - c]


def test_hflip_twice_is_identity(pair):
    _, graph = pair
    twice = transform_graph(transform_graph(graph, Affine.hflip()), Affine.hflip())
    np.testing.assert_array_equal(twice.boxes, graph.boxes)
    np.testing.assert_allclose(twice.features, graph.features, atol=1e-5)


def test_mirror_pair_equals_an_always_flip_augmentation(pair):
    image, graph = pair
    x, _ = grey()(image, graph)
    mirrored_x, mirrored = mirror_pair(x, graph)
    want_x, want = grey(crop="none", hflip=1.0)(image, graph, np.random.default_rng(0))
    torch.testing.assert_close(mirrored_x, want_x)
    np.testing.assert_array_equal(mirrored.boxes, want.boxes)
    np.testing.assert_allclose(mirrored.features, want.features, atol=1e-6)
    assert mirror_pair(x, None)[1] is None


@pytest.mark.parametrize("image_size", [48, 96])
def test_pad_crop_moves_centres_with_the_image(pair, image_size):
    image, graph = pair
    pad = 8
    seed = 5
    x, moved = grey(image_size, crop="pad", padding=pad, hflip=0.0)(image, graph, np.random.default_rng(seed))
    dy, dx = np.random.default_rng(seed).integers(-pad, pad + 1, size=2)  # the draw the transform makes
    assert (dy, dx) != (0, 0)
    k = image_size // 48
    big = torch.nn.functional.interpolate(torch.from_numpy(image).float()[None, None], size=image_size,
                                          mode="bilinear", align_corners=False, antialias=True)[0, 0]
    padded = np.pad(big.numpy(), pad)
    expected = padded[pad + dy:pad + dy + image_size, pad + dx:pad + dx + image_size]
    np.testing.assert_allclose(x[0].numpy() * 255, expected, atol=1e-3)
    out = (x[0].numpy() * 255).round().astype(np.uint8)
    # in the 48-px graph frame the shift is (dy, dx) / k pixels
    shift = np.array([dy, dx]) / k
    f, g = graph.features, moved.features
    want = np.clip(f[:, [COL["row"], COL["col"]]] - shift, 0, 47)
    np.testing.assert_allclose(g[:, [COL["row"], COL["col"]]], want, atol=1e-4)
    np.testing.assert_allclose(g[:, [COL["row_norm"], COL["col_norm"]]], want / 47, atol=1e-5)
    if k == 1:
        inside = ((graph.boxes[:, :2] - [dy, dx] >= 0) & (graph.boxes[:, 2:] - [dy, dx] <= 47)).all(1)
        np.testing.assert_array_equal(moved.boxes[inside], graph.boxes[inside] - [dy, dx, dy, dx])
        for (r0, c0, r1, c1), (s0, d0, s1, d1) in zip(graph.boxes[inside], moved.boxes[inside]):
            np.testing.assert_array_equal(out[s0:s1 + 1, d0:d1 + 1], image[r0:r1 + 1, c0:c1 + 1])
    assert (moved.boxes >= 0).all() and (moved.boxes[:, 2:] <= 47).all()
    assert (moved.boxes[:, :2] <= moved.boxes[:, 2:]).all()


def test_resized_crop_scales_graph(pair):
    image, graph = pair
    crop = Affine.crop(0.25, 0.25, 0.5, 0.5)  # the central half, blown up 2x
    moved = transform_graph(graph, crop)
    f = graph.features
    central = (graph.boxes[:, :2] >= 12).all(1) & (graph.boxes[:, 2:] <= 35).all(1)
    want = (f[:, [COL["row"], COL["col"]]] + 0.5 - 12) * 2 - 0.5
    np.testing.assert_allclose(moved.features[central][:, [COL["row"], COL["col"]]], want[central], atol=1e-4)
    # half_width is (cols - 1) / 2: twice the columns give 2 * half_width + 0.5
    np.testing.assert_allclose(moved.features[:, COL["half_width"]], f[:, COL["half_width"]] * 2 + 0.5, rtol=1e-6)
    np.testing.assert_array_equal(moved.boxes[central], (graph.boxes[central] - 12) * 2 + [0, 0, 1, 1])


def test_rotation_by_quarter_turn_matches_rot90(pair):
    image, graph = pair
    x = torch.from_numpy(image).float()[None]
    turn = Affine.rotation(90)
    rotated = warp_image(x, turn)[0].numpy()
    np.testing.assert_allclose(rotated, np.rot90(image).astype(np.float32), atol=1e-3)
    moved = transform_graph(graph, turn)
    for (r0, c0, r1, c1), (s0, d0, s1, d1) in zip(graph.boxes, moved.boxes):
        np.testing.assert_allclose(rotated[s0:s1 + 1, d0:d1 + 1],
                                   np.rot90(image[r0:r1 + 1, c0:c1 + 1].astype(np.float32)), atol=1e-3)


def test_small_rotation_keeps_node_over_its_content():
    image = np.zeros((48, 48), np.uint8)
    image[8:14, 30:36] = 255  # one bright block, away from the centre
    graph = tiled_graph(image)
    node = int(np.argmax(graph.features[:, COL["mean"]]))
    x, moved = grey(crop="none", hflip=0.0, rotation=15)(image, graph, np.random.default_rng(3))
    r, c = moved.features[node, [COL["row"], COL["col"]]]
    r0, c0, r1, c1 = graph.boxes[node]
    inner = image[r0:r1 + 1, c0:c1 + 1].mean() / 255
    assert x[0, int(round(r)), int(round(c))] > 0.5 * inner
    assert x[0].sum() > 0.8 * image.sum() / 255  # the content is still in the frame


def test_eval_transform_resizes_and_normalises_only(pair):
    image, graph = pair
    _, evaluate = build_transforms({"image_size": 96, "in_chans": 3, "mean": [0.5, 0.4, 0.3], "std": 0.25})
    x, same = evaluate(image, graph)
    assert x.shape == (3, 96, 96)
    big = torch.nn.functional.interpolate(torch.from_numpy(image).float()[None, None] / 255, size=(96, 96),
                                          mode="bilinear", align_corners=False, antialias=True)[0, 0]
    for ch, (m, s) in enumerate(zip([0.5, 0.4, 0.3], [0.25] * 3)):
        torch.testing.assert_close(x[ch], (big - m) / s)
    assert same is graph


def test_rgb_to_grey_matches_pil():
    from PIL import Image

    rgb = np.random.default_rng(2).integers(0, 256, (48, 48, 3), dtype=np.uint8)
    x, _ = grey()(rgb)
    want = np.asarray(Image.fromarray(rgb).convert("L"), np.float32) / 255
    np.testing.assert_allclose(x[0].numpy(), want, atol=1.01 / 255)


def test_augmentation_is_deterministic_given_the_generator(pair):
    image, graph = pair
    train, _ = build_transforms({"image_size": 48, "in_chans": 1, "augmentation": {
        "crop": "resized", "rotation": 10, "brightness": 0.2, "contrast": 0.2}})
    a = train(image, graph, np.random.default_rng(7))
    b = train(image, graph, np.random.default_rng(7))
    c = train(image, graph, np.random.default_rng(8))
    torch.testing.assert_close(a[0], b[0])
    np.testing.assert_array_equal(a[1].features, b[1].features)
    assert not torch.equal(a[0], c[0])


def test_config_errors_name_the_key():
    with pytest.raises(KeyError, match="data.augmentation.flip"):
        build_transforms({"augmentation": {"flip": 0.5}})
    with pytest.raises(ValueError, match="data.augmentation.crop"):
        build_transforms({"augmentation": {"crop": "centre"}})
    train, _ = build_transforms({"augmentation": {"enabled": False}})
    assert train.augment is None


def test_flip_of_a_built_graph_matches_the_flipped_face():
    """On a real granular-ball graph of a synthetic face: boxes mirror, content follows."""
    from fer_graph.data.synthetic import render_face
    from fer_graph.granular.build import build_graph

    image = render_face(0, "train", 3, 0)
    graph = build_graph(image)
    assert graph.num_nodes > 20
    x, flipped = grey(crop="none", hflip=1.0)(image, graph, np.random.default_rng(0))
    out = (x[0].numpy() * 255).round().astype(np.uint8)
    w = image.shape[1]
    b = graph.boxes
    np.testing.assert_array_equal(flipped.boxes, np.stack([b[:, 0], w - 1 - b[:, 3], b[:, 2], w - 1 - b[:, 1]], 1))
    np.testing.assert_array_equal(flipped.edges, graph.edges)
    np.testing.assert_allclose(flipped.features[:, COL["col"]], w - 1 - graph.features[:, COL["col"]], atol=1e-4)
    # node grey means (measured on the blurred original) follow the content: they agree with
    # the flipped image under the flipped boxes, and not under the unflipped ones
    def agreement(boxes):
        region_means = [out[r0:r1 + 1, c0:c1 + 1].mean() for r0, c0, r1, c1 in boxes]
        return np.corrcoef(region_means, graph.features[:, COL["mean"]])[0, 1]

    assert agreement(flipped.boxes) > 0.9
    assert agreement(graph.boxes) < agreement(flipped.boxes) - 0.2
    twice = transform_graph(flipped, Affine.hflip())
    np.testing.assert_array_equal(twice.boxes, graph.boxes)
    np.testing.assert_allclose(twice.features, graph.features, atol=1e-4)


def _moved_reference(graph: BallGraph, affine: Affine) -> tuple[np.ndarray, np.ndarray]:
    """transform_graph's maths written densely, node by node: (features, boxes)."""
    size = np.array(graph.image_shape, dtype=np.float64)
    pixel_map = np.abs(affine.A * size[:, None] / size[None, :])
    features = graph.features.astype(np.float64).copy()
    boxes = np.empty_like(graph.boxes)
    for i, f in enumerate(graph.features.astype(np.float64)):
        centre = affine.A @ ((f[[COL["row"], COL["col"]]] + 0.5) / size) + affine.b
        centre = np.clip(centre * size - 0.5, 0, size - 1)
        features[i, [COL["row"], COL["col"]]] = centre
        features[i, [COL["row_norm"], COL["col_norm"]]] = centre / (size - 1)
        half = pixel_map @ (f[[COL["half_height"], COL["half_width"]]] + 0.5) - 0.5
        features[i, [COL["half_height"], COL["half_width"]]] = np.maximum(half, 0)
        lo, hi = graph.boxes[i, :2].astype(np.float64), graph.boxes[i, 2:] + 1.0
        mid = (affine.A @ ((lo + hi) / 2 / size) + affine.b) * size
        extent = pixel_map @ ((hi - lo) / 2)
        first = np.clip(np.floor(mid - extent + 0.5), 0, size - 1)
        last = np.clip(np.maximum(np.floor(mid + extent + 0.5) - 1, first), 0, size - 1)
        boxes[i] = np.concatenate([first, last])
    return features.astype(np.float32), boxes


@pytest.mark.parametrize("frame", [(48, 48), (30, 52)])
def test_transform_graph_matches_dense_maths(frame):
    rng = np.random.default_rng(5)
    image = rng.integers(0, 256, frame, dtype=np.uint8)
    graph = tiled_graph(image, seed=2)
    shift_flip = Affine.crop(3 / 48, -2 / 48, 1.0, 1.0).then(Affine.hflip())
    turned = Affine.crop(0.1, 0.05, 0.8, 0.85).then(Affine.rotation(13.0)).then(Affine.hflip())
    for affine, exact in ((shift_flip, True), (turned, False)):
        moved = transform_graph(graph, affine)
        features, boxes = _moved_reference(graph, affine)
        assert moved.features.dtype == np.float32 and moved.boxes.dtype == np.int32
        if exact:  # no products of two non-trivial numbers: every rounding agrees
            np.testing.assert_array_equal(moved.features, features)
        else:  # a 2x2 product may be fused (FMA) in one form and not the other
            np.testing.assert_allclose(moved.features, features, rtol=1e-6, atol=1e-5)
        np.testing.assert_array_equal(moved.boxes, boxes)
        np.testing.assert_array_equal(moved.edges, graph.edges)


def test_transform_graph_returns_the_builder_dtypes():
    graph = tiled_graph(np.zeros((48, 48), np.uint8))
    wide = BallGraph(graph.boxes.astype(np.int64), graph.features.astype(np.float64), graph.edges, graph.image_shape)
    moved, reference = transform_graph(wide, Affine.hflip()), transform_graph(graph, Affine.hflip())
    assert moved.features.dtype == np.float32 and moved.boxes.dtype == np.int32
    np.testing.assert_array_equal(moved.features, reference.features)
    np.testing.assert_array_equal(moved.boxes, reference.boxes)
    empty = BallGraph(np.zeros((0, 4), np.int32), np.zeros((0, len(FEATURE_NAMES)), np.float32),
                      np.zeros((0, 2), np.int32), (48, 48))
    assert transform_graph(empty, Affine.rotation(5.0)).features.shape == (0, len(FEATURE_NAMES))
