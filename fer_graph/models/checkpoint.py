"""Checkpoint files: plain data (tensors, dicts, lists, numbers, strings), saved atomically.

Reading uses ``torch.load(weights_only=True)``, so opening a checkpoint can never run pickled
code; a file that holds other objects is refused with a ``CheckpointError``. Training
(``fer_graph.training``) writes and resumes from these files and inference reads them, so the
format lives here, below both.
"""

from __future__ import annotations

import os
import pickle
import re
from pathlib import Path

import torch


class CheckpointError(ValueError):
    """A checkpoint that cannot be read or used (message: one line naming the file and cause)."""


def save_checkpoint(payload: dict, path: str | Path) -> Path:
    """Write ``payload`` with torch.save to a temporary file, then rename it over ``path``.

    A crash mid-write leaves the previous checkpoint intact, never a half file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as fh:
        torch.save(payload, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return path


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    """Load a checkpoint written by ``save_checkpoint`` without unpickling arbitrary objects.

    Raises:
        FileNotFoundError: no such file.
        CheckpointError: the file is not a torch checkpoint, or it holds pickled objects.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        found = re.search(r"Unsupported global: GLOBAL (\S+)", str(err))
        if found:
            raise CheckpointError(
                f"{path}: holds a pickled {found.group(1)} object; checkpoints hold only tensors and "
                "plain data and are never unpickled"
            ) from err
        raise CheckpointError(f"{path}: not a readable torch checkpoint ({err})") from err
    except Exception as err:  # torch raises unrelated types (KeyError, RuntimeError, ...) for a bad file
        raise CheckpointError(f"{path}: not a readable torch checkpoint ({type(err).__name__}: {err})") from err
