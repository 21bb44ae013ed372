"""One builder per graph store at a time, across processes: an OS file lock beside the store.

The lock is ``filelock.FileLock`` on ``<dir>/.<store name>.lock``, an ``flock`` on Linux and
macOS. The kernel drops it when its holder dies, even by ``kill -9``, so a killed build never
blocks the next one, and whoever holds the lock knows that no live process is writing that
store's temporary files. The lock file itself stays (removing it would let a waiter lock an
inode that a newcomer no longer sees). Filesystems without ``flock`` make filelock fall back to
a soft lock, which a killed holder does leave behind: keep stores on a local or NFSv4 disk.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from filelock import FileLock, Timeout

# Lock files this process holds, with their nesting depth: prepare_graphs holds the lock while
# it checks the store and calls build_graph_store, which takes it again. A second flock on a new
# descriptor of the same file would wait for ourselves.
_held: dict[str, tuple[FileLock, int]] = {}


def lock_path(store_path: str | os.PathLike) -> Path:
    """The lock file of a store: hidden, beside it, like the build's work folders."""
    store_path = Path(store_path)
    return store_path.parent / f".{store_path.name}.lock"


def stderr_line(message: str) -> None:
    """Print one message line on stderr (the default ``log`` of the build functions)."""
    print(message, file=sys.stderr, flush=True)


@contextmanager
def store_lock(store_path: str | os.PathLike,
               log: Callable[[str], None] = stderr_line) -> Iterator[None]:
    """Hold the store's lock for the block; wait (saying so through ``log``) while another
    process holds it. Re-entrant within one process."""
    path = lock_path(store_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    key = str(path.resolve())
    if key in _held:
        lock, depth = _held[key]
        _held[key] = (lock, depth + 1)
    else:
        lock = FileLock(path)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            log(f"waiting for {path}: another process is building {store_path}")
            lock.acquire()
        _held[key] = (lock, 1)
    try:
        yield
    finally:
        lock, depth = _held[key]
        if depth > 1:
            _held[key] = (lock, depth - 1)
        else:
            del _held[key]
            lock.release()
