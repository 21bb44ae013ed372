"""Face-box cropping of decoded images (decoding itself is tested in test_readers.py)."""

from __future__ import annotations

import numpy as np
import pytest

from fer_graph.data.images import ImageReadError, crop_box


def test_crop_box_is_x_y_width_height_clipped_to_the_image():
    image = np.arange(20 * 30).reshape(20, 30).astype(np.uint8)
    np.testing.assert_array_equal(crop_box(image, (5, 2, 10, 4), "f.jpg"), image[2:6, 5:15])
    np.testing.assert_array_equal(crop_box(image, (-3, 15, 10, 10), "f.jpg"), image[15:20, 0:7])


def test_a_box_outside_the_image_names_the_file():
    with pytest.raises(ImageReadError, match=r"f.jpg: face box x=40 y=0 w=5 h=5 lies outside the 30x20 image"):
        crop_box(np.zeros((20, 30), np.uint8), (40, 0, 5, 5), "f.jpg")
