"""What the face step did to a photo: detected boxes, the 5 landmarks and each aligned crop."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")  # files only: never needs a display

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from fer_graph.faces import AlignedFace  # noqa: E402

# Landmark colours: image-right eye corners, image-left eye corners, nose base.
_POINT_COLOURS = ("tab:red", "tab:red", "tab:blue", "tab:blue", "yellow")


def save_faces(path: str | os.PathLike, images: Sequence[np.ndarray], results: Sequence[Sequence[AlignedFace]],
               titles: Sequence[str], dpi: int = 120) -> Path:
    """One row per image: the image with every chosen face's box, landmarks and eye line, then
    each aligned crop (what the model is given), or "no face found".

    Args:
        images: the decoded images.
        results: ``FaceStep.run`` of each image.
        titles: one caption per image (e.g. its file name).
    """
    columns = 1 + max(1, max(len(r) for r in results))
    fig, axes = plt.subplots(len(images), columns, figsize=(3.4 * columns, 3.6 * len(images)), squeeze=False,
                             gridspec_kw={"width_ratios": [2] + [1] * (columns - 1)})
    for row, (image, faces, title) in enumerate(zip(images, results, titles)):
        ax = axes[row, 0]
        ax.imshow(image, cmap="gray", vmin=0, vmax=255)
        ax.set_title(title, fontsize=9)
        for face in faces:
            record = face.record
            if not record.found:
                continue
            left, top, right, bottom = record.box
            ax.add_patch(Rectangle((left - 0.5, top - 0.5), right - left, bottom - top, fill=False,
                                   edgecolor="lime", linewidth=1.5))
            ax.text(left, top - 4, f"{record.index + 1}", color="lime", fontsize=9, va="bottom")
            if record.landmarks:
                points = np.array(record.landmarks)
                ax.scatter(points[:, 0], points[:, 1], s=14, c=_POINT_COLOURS[:len(points)], edgecolors="black",
                           linewidths=0.5, zorder=3)
                eyes = np.array([points[2:4].mean(axis=0), points[0:2].mean(axis=0)])
                ax.plot(eyes[:, 0], eyes[:, 1], color="white", linewidth=0.8)
        for col in range(1, columns):
            crop_ax = axes[row, col]
            crop_ax.set_xticks([])
            crop_ax.set_yticks([])
            face = faces[col - 1] if col - 1 < len(faces) else None
            if face is None:
                crop_ax.axis("off")
            elif face.image is None:
                crop_ax.text(0.5, 0.5, "no face found", ha="center", va="center", transform=crop_ax.transAxes)
            else:
                crop_ax.imshow(face.image, cmap="gray", vmin=0, vmax=255)
                record = face.record
                caption = (f"face {record.index + 1}: roll {record.angle:+.1f} deg" if record.found
                           else "no face: whole image")
                crop_ax.set_title(f"{caption}\n{face.image.shape[1]}x{face.image.shape[0]} crop", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path
