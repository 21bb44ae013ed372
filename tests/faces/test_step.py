"""The face step on scenes with real FER-2013 faces pasted at known places, sizes and turns."""

from __future__ import annotations

import numpy as np
import pytest

from fer_graph.faces import FaceParams, FaceStep
from fer_graph.faces.align import crop_matrix, eye_centres, image_to_crop, roll_degrees
from fer_graph.faces.framing import crop_landmarks
from fer_graph.faces.scenes import paste_face, textured_background

from faces_helpers import DLIB_MISSES, HOG_MISSES, fer_face
from fer_graph.data.readers import load_image

pytestmark = pytest.mark.datasets

PARAMS = FaceParams(size=96)


@pytest.fixture(scope="module")
def step() -> FaceStep:
    return FaceStep(PARAMS)


def _scene(faces: list[tuple[np.ndarray, tuple[float, float], float, float]], seed: int = 0,
           shape: tuple[int, int] = (380, 560)):
    scene = textured_background(*shape, np.random.default_rng(seed))
    return scene, [paste_face(scene, crop, center, side, angle) for crop, center, side, angle in faces]


@pytest.mark.parametrize("angle", [-18.0, 0.0, 12.0])
def test_one_face_is_found_where_it_was_pasted_with_its_landmarks_and_turn(step, fer2013_dir, angle):
    crop = fer_face(fer2013_dir)
    scene, (placed,) = _scene([(crop, (230.0, 190.0), 180.0, angle)])
    (face,) = step.run(scene)
    record = face.record
    assert record.found and record.count == 1 and record.index == 0 and record.detector == "hog"

    left, top, right, bottom = record.box
    centre = np.array([(left + right) / 2, (top + bottom) / 2])
    assert np.hypot(*(centre - placed.center)) < 0.15 * placed.side
    assert 0.5 * placed.side < right - left < 1.1 * placed.side

    # The landmarks dlib finds on the crop itself, carried into the scene by the paste's map.
    expected = placed.to_scene(crop_landmarks(step, crop))
    found = np.array(record.landmarks)
    assert found.shape == (5, 2)
    assert np.abs(found - expected).max() < 0.06 * placed.side
    assert record.angle == pytest.approx(roll_degrees(crop_landmarks(step, crop)) + angle, abs=3.0)


def test_aligned_crop_puts_the_eyes_where_the_framing_says_and_matches_the_crop_aligned_directly(
        step, fer2013_dir):
    crop = fer_face(fer2013_dir)
    scene, _ = _scene([(crop, (260.0, 200.0), 200.0, 15.0)], seed=1)
    (face,) = step.run(scene)
    assert face.image.shape == (96, 96, 3)
    p = PARAMS
    matrix = crop_matrix(np.array(face.record.landmarks), p.size, p.eye_distance, p.eye_height, p.eye_center)
    left, right = (image_to_crop(matrix, e[None])[0] + 0.5 for e in eye_centres(face.record.landmarks))
    np.testing.assert_allclose(left, [(p.eye_center - p.eye_distance / 2) * 96, p.eye_height * 96], atol=1e-6)
    np.testing.assert_allclose(right, [(p.eye_center + p.eye_distance / 2) * 96, p.eye_height * 96], atol=1e-6)
    # The same framing applied to the original crop (on its own landmarks) shows the same face.
    direct = step.align(crop, crop_landmarks(step, crop))
    ours = face.image.mean(axis=2)
    inner = (slice(24, 84), slice(16, 80))  # eyes to mouth: inside the pasted crop in both
    corr = np.corrcoef(ours[inner].ravel(), direct[inner].astype(float).ravel())[0, 1]
    assert corr > 0.9


def test_zoom_views_are_the_crop_scaled_about_the_eyes(fer2013_dir):
    from dataclasses import replace

    from PIL import Image

    zoom = 0.2
    step = FaceStep(replace(PARAMS, zoom_views=zoom))
    crop = fer_face(fer2013_dir)
    scene, _ = _scene([(crop, (260.0, 200.0), 200.0, 8.0)], seed=2)
    (face,) = step.run(scene)
    assert len(face.views) == 2 and all(v.shape == face.image.shape for v in face.views)
    assert FaceStep(PARAMS).run(scene)[0].views == ()
    # The crop at eye distance d equals the zoomed-out one (d * (1 - z)) enlarged by 1 / (1 - z)
    # about the eyes' midpoint m: crop point q shows what the zoomed-out view shows at m + (1 - z)(q - m).
    mx, my = PARAMS.eye_center * 96, PARAMS.eye_height * 96
    inner = (slice(30, 66), slice(30, 66))  # around the eyes and nose: inside every crop

    def corr(a, b):
        return np.corrcoef(a[inner].astype(float).ravel(), b[inner].astype(float).ravel())[0, 1]

    for view, factor in zip(face.views, (1 - zoom, 1 + zoom)):
        remap = (factor, 0.0, mx * (1 - factor), 0.0, factor, my * (1 - factor))
        seen = np.asarray(Image.fromarray(view).transform((96, 96), Image.AFFINE, remap, resample=Image.BICUBIC))
        assert corr(seen, face.image) > 0.95
        assert corr(view, face.image) < corr(seen, face.image)  # unscaled, it does not line up as well


def test_a_scene_without_a_face_is_a_record_and_no_crop_unless_whole_is_asked(fer2013_dir):
    scene = textured_background(400, 500, np.random.default_rng(7))
    (skipped,) = FaceStep(PARAMS).run(scene)
    assert skipped.image is None
    assert not skipped.record.found and skipped.record.count == 0 and skipped.record.box is None
    assert skipped.record.note == "no face found"
    (whole,) = FaceStep(FaceParams(size=96, on_missing="whole")).run(scene)
    assert whole.image is scene or np.array_equal(whole.image, scene)
    assert not whole.record.found


def test_two_faces_largest_first_and_all_on_request(fer2013_dir):
    big, small = fer_face(fer2013_dir, 0), fer_face(fer2013_dir, 1)
    scene, placed = _scene([(small, (140.0, 180.0), 150.0, -10.0), (big, (410.0, 200.0), 210.0, 8.0)], seed=2)
    (largest,) = FaceStep(PARAMS).run(scene)
    assert largest.record.count == 2
    box = largest.record.box
    assert box[0] < placed[1].center[0] < box[2] and box[1] < placed[1].center[1] < box[3]

    both = FaceStep(FaceParams(size=96, select="all")).run(scene)
    assert [f.record.index for f in both] == [0, 1] and all(f.record.count == 2 for f in both)
    for face, where in zip(both, (placed[1], placed[0])):
        left, top, right, bottom = face.record.box
        assert left < where.center[0] < right and top < where.center[1] < bottom
        assert face.image.shape == (96, 96, 3)
    areas = [(b[2] - b[0]) * (b[3] - b[1]) for b in (f.record.box for f in both)]
    assert areas[0] >= areas[1]


def test_a_large_photo_is_searched_shrunk_and_boxes_come_back_in_full_size(fer2013_dir):
    crop = fer_face(fer2013_dir)
    scene, (placed,) = _scene([(crop, (700.0, 520.0), 420.0, 5.0)], seed=3, shape=(1000, 1300))
    (face,) = FaceStep(FaceParams(size=96, max_side=640)).run(scene)
    left, top, right, bottom = face.record.box
    assert left < placed.center[0] < right and top < placed.center[1] < bottom
    assert 0.5 * placed.side < right - left < 1.1 * placed.side


def test_records_serialise_and_bad_inputs_are_refused(step, fer2013_dir):
    scene, _ = _scene([(fer_face(fer2013_dir), (230.0, 190.0), 180.0, 0.0)])
    record = step.run(scene)[0].record.to_dict()
    assert set(record) == {"found", "count", "detector", "index", "box", "score", "landmarks", "angle",
                           "search_angle"}
    assert record["search_angle"] == 0.0
    assert len(record["box"]) == 4 and len(record["landmarks"]) == 5
    with pytest.raises(ValueError, match="uint8"):
        step.run(scene.astype(np.float32))
    with pytest.raises(ValueError, match="with_size"):
        FaceStep(FaceParams())


def test_hog_cnn_asks_the_cnn_only_where_hog_finds_nothing_and_records_which_found_it(step, fer2013_dir):
    both = FaceStep(FaceParams(size=96, detector="hog_cnn", upsample=0, retry_angle=0.0))
    missed = load_image(fer2013_dir / "test" / HOG_MISSES)
    scene, (placed,) = _scene([(missed, (260.0, 190.0), 180.0, 0.0)])
    upright_hog = FaceStep(FaceParams(size=96, retry_angle=0.0))
    assert upright_hog.run(scene)[0].record.found is False  # HOG alone misses this face upright
    (face,) = both.run(scene)
    left, top, right, bottom = face.record.box
    assert face.record.found and face.record.detector == "cnn"
    # This face sits off the crop's centre (head turned), so only ask that the box is on the pasted crop.
    half = placed.side / 2
    assert abs((left + right) / 2 - placed.center[0]) < half and abs((top + bottom) / 2 - placed.center[1]) < half
    assert 0.4 * placed.side < right - left < 1.1 * placed.side

    found, _ = _scene([(fer_face(fer2013_dir), (230.0, 190.0), 180.0, 0.0)])
    assert both.run(found)[0].record.detector == "hog"  # HOG's own answer stands
    empty = textured_background(300, 400, np.random.default_rng(3))
    (none,) = both.run(empty)
    assert not none.record.found and none.record.detector == "hog_cnn" and none.image is None


def test_hog_blazeface_asks_blazeface_only_where_hog_finds_nothing_and_aligns_its_face(step, fer2013_dir):
    missed = load_image(fer2013_dir / "test" / DLIB_MISSES)
    scene, (placed,) = _scene([(missed, (260.0, 190.0), 180.0, 0.0)])
    assert FaceStep(FaceParams(size=96, upsample=0)).run(scene)[0].record.found is False
    both = FaceStep(FaceParams(size=96, detector="hog_blazeface", upsample=0))
    (face,) = both.run(scene)
    record = face.record
    assert record.found and record.count == 1 and record.detector == "blazeface" and record.search_angle == 0.0
    left, top, right, bottom = record.box
    assert np.hypot((left + right) / 2 - placed.center[0], (top + bottom) / 2 - placed.center[1]) < 0.2 * placed.side
    # dlib's landmarks, read in BlazeFace's box (on this face cut above the eyes they are rough)
    points = np.array(record.landmarks)
    assert points.shape == (5, 2)
    assert np.all((points >= [left, top]) & (points <= [right, bottom]))
    assert face.image.shape == (96, 96, 3)

    found, _ = _scene([(fer_face(fer2013_dir), (230.0, 190.0), 180.0, 0.0)])
    assert both.run(found)[0].record.detector == "hog"  # HOG's own answer stands


def test_retry_upsample_finds_a_small_face_one_pass_misses_and_leaves_found_faces_alone(fer2013_dir):
    crop = fer_face(fer2013_dir)
    small, (placed,) = _scene([(crop, (200.0, 150.0), 64.0, 0.0)], seed=4, shape=(300, 400))
    once = FaceStep(FaceParams(size=96, upsample=0, retry_angle=0.0))
    assert once.run(small)[0].record.found is False  # HOG's 80 px window is larger than this face
    retried = FaceStep(FaceParams(size=96, upsample=0, retry_upsample=1, retry_angle=0.0, min_score=0.05))
    (face,) = retried.run(small)
    left, top, right, bottom = face.record.box
    assert face.record.found and face.record.count == 1 and face.record.detector == "hog"
    assert left < placed.center[0] < right and top < placed.center[1] < bottom

    large, _ = _scene([(crop, (230.0, 190.0), 180.0, 0.0)])
    assert retried.run(large)[0].record.box == once.run(large)[0].record.box


def test_min_score_drops_hog_boxes_below_it(fer2013_dir):
    scene, _ = _scene([(fer_face(fer2013_dir), (230.0, 190.0), 180.0, 0.0)])
    ((box, score),) = FaceStep(FaceParams(size=96, retry_angle=0.0)).detect(scene)
    assert score > 0.0
    assert FaceStep(FaceParams(size=96, retry_angle=0.0, min_score=score - 0.01)).detect(scene)[0][0] == box
    assert FaceStep(FaceParams(size=96, retry_angle=0.0, min_score=score + 0.01)).detect(scene) == []


def test_a_face_rolled_past_hog_is_found_in_the_turned_picture_with_landmarks_mapped_back(fer2013_dir):
    crop = fer_face(fer2013_dir)
    scene, (placed,) = _scene([(crop, (270.0, 190.0), 180.0, 55.0)], seed=4)
    upright_only = FaceStep(FaceParams(size=96, retry_angle=0.0))
    assert upright_only.run(scene)[0].record.found is False  # upright, HOG misses this face rolled 55 degrees

    (face,) = FaceStep(FaceParams(size=96, retry_angle=25.0)).run(scene)
    record = face.record
    assert record.found and record.detector == "hog"
    assert record.search_angle == -25.0  # turned back against the roll, leaving 30 degrees
    left, top, right, bottom = record.box
    assert left < placed.center[0] < right and top < placed.center[1] < bottom
    # landmarks read in the turned picture land on the face in the scene's own pixels
    expected = placed.to_scene(crop_landmarks(upright_only, crop))
    assert np.abs(np.array(record.landmarks) - expected).max() < 0.06 * placed.side
    assert record.angle == pytest.approx(roll_degrees(crop_landmarks(upright_only, crop)) + 55.0, abs=3.0)
    # and the crop is levelled as for an upright face: eyes level in the aligned picture
    direct = upright_only.align(crop, crop_landmarks(upright_only, crop))
    inner = (slice(24, 84), slice(16, 80))
    corr = np.corrcoef(face.image.mean(axis=2)[inner].ravel(), direct[inner].astype(float).ravel())[0, 1]
    assert corr > 0.9


def test_crop_detector_finds_the_face_of_a_crop_as_in_a_scene_and_pads_with_its_edges(fer2013_dir):
    """``detector: crop`` takes a FER-2013 crop as one face: the landmarks agree with those the
    scene step finds for the same face pasted into a scene, and the framing reaching past the
    crop shows its edge pixels, never black."""
    crop = fer_face(fer2013_dir)
    step = FaceStep(FaceParams(size=96, detector="crop"))
    (face,) = step.run(crop)
    record = face.record
    assert record.found and record.count == 1 and record.detector == "crop" and record.search_angle == 0.0
    left, top, right, bottom = record.box
    assert 0 <= left < right <= crop.shape[1] and 0 <= top < bottom <= crop.shape[0]
    # the same face in a scene, found by HOG there: its landmarks mapped back into the crop
    scene, (placed,) = _scene([(crop, (260.0, 200.0), 192.0, 0.0)], seed=4)
    (in_scene,) = FaceStep(PARAMS).run(scene)
    to_crop = np.linalg.inv(np.vstack([placed.matrix, [0, 0, 1]]))[:2]
    back = (np.array(in_scene.record.landmarks) + 0.5) @ to_crop[:, :2].T + to_crop[:, 2] - 0.5
    eye_distance = np.hypot(*np.subtract(*eye_centres(record.landmarks)))
    assert np.abs(np.array(record.landmarks) - back).max() < 0.1 * eye_distance
    # a framing reaching far past the crop: edge pixels, within the crop's own range
    wide = FaceStep(FaceParams(size=96, detector="crop", eye_distance=0.15)).run(crop)[0].image
    assert wide.min() >= crop.min() and (wide == 0).sum() < (crop == 0).sum() * 4 + 1
    assert FaceStep(FaceParams(size=96, eye_distance=0.15)).align(crop, np.array(record.landmarks)).min() == 0


def test_crop_detector_falls_back_to_the_fixed_place_where_hog_finds_no_face():
    from fer_graph.faces.step import CROP_FACE_BOX

    flat = np.full((48, 48), 120, np.uint8)
    (face,) = FaceStep(FaceParams(size=48, detector="crop")).run(flat)
    assert face.record.found and face.record.detector == "crop_box" and face.image.shape == (48, 48)
    expected = tuple(round(f * 48) for f in CROP_FACE_BOX)
    assert np.abs(np.subtract(face.record.box, expected)).max() <= 1
    assert (face.image == 120).all()  # a flat crop, padded with its edges, stays flat
