"""Helpers for layouts of frame sequences (Oulu-CASIA, CK+, SAMM): frame order and the last k frames."""

from __future__ import annotations

import re
from pathlib import Path

from fer_graph.errors import ConfigError

_LAST_NUMBER = re.compile(r"(\d+)(?!.*\d)")


def frame_number(path: Path) -> int:
    """The last number in a frame's file name (``S005_001_00000011.png`` -> 11), -1 if none."""
    match = _LAST_NUMBER.search(path.stem)
    return int(match.group(1)) if match else -1


def in_frame_order(frames: list[Path]) -> list[Path]:
    """Frames sorted by their number, then name (``9.jpeg`` before ``10.jpeg``)."""
    return sorted(frames, key=lambda p: (frame_number(p), p.name))


def last_frames(frames: list[Path], k: int) -> list[Path]:
    """The last ``k`` frames of a sequence in frame order (all of them when it is shorter)."""
    return in_frame_order(frames)[-k:]


def check_frame_count(value, key: str = "data.layout_options.frames") -> int:
    """A positive frame count, else ConfigError naming ``key``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{key}: the number of last frames per sequence must be an integer >= 1, got {value!r}")
    return value
