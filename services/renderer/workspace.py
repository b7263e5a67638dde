"""Where renders keep a tenant's inputs and partial outputs while they run, and how none of it outlives them.

The work root (LAYERS_RENDER_WORK_DIR, by default `render-work` under the data dir) holds one folder per
renderer process, which the process keeps an exclusive flock on for as long as it lives; each job renders in
a folder inside it, removed when the job ends however it ends, and a renderer that stops removes its own.
A renderer that dies without stopping (SIGKILL, out of memory, power) leaves its folder behind, with the
demo clip, the music and a partial MP4 in it, but the kernel drops its lock: every renderer sweeps, when it
starts, the folders whose lock nobody holds. Sweeping and taking a folder happen under a lock on the root,
so renderers sharing a root never remove each other's.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger("layers.renderer")

ROOT_LOCK = ".lock"
PROCESS_PREFIX = "renderer-"


class WorkArea:
    """One renderer process's folder under the work root, locked until close()."""

    def __init__(self, folder: Path, lock_fd: int) -> None:
        self.folder = folder
        self._lock_fd = lock_fd

    @classmethod
    def open(cls, root: Path) -> WorkArea:
        """Sweep what dead renderers left under root, then take a folder of this process's own there."""
        root.mkdir(parents=True, exist_ok=True)
        with _locked(root / ROOT_LOCK):
            swept = sweep(root)
            folder = Path(tempfile.mkdtemp(prefix=PROCESS_PREFIX, dir=root))
            fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if swept:
            log.info("removed %d render work folders left by renderers that died", swept)
        return cls(folder, fd)

    @contextlib.contextmanager
    def job(self, job_id: str) -> Iterator[Path]:
        """A fresh folder for one render, removed when the block ends, whether it returns or raises."""
        path = Path(tempfile.mkdtemp(prefix=f"{job_id}-", dir=self.folder))
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)

    def close(self) -> None:
        """Remove this process's folder (a render still running in it fails) and release its lock."""
        if self._lock_fd < 0:
            return
        shutil.rmtree(self.folder, ignore_errors=True)
        os.close(self._lock_fd)
        self._lock_fd = -1


def sweep(root: Path) -> int:
    """Remove every entry of root whose lock no process holds; the caller holds the root's lock."""
    removed = 0
    for entry in root.iterdir():
        if entry.name == ROOT_LOCK:
            continue
        if entry.is_dir() and not entry.is_symlink():
            try:
                fd = os.open(entry, os.O_RDONLY | os.O_DIRECTORY)
            except FileNotFoundError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a live renderer's
            else:
                shutil.rmtree(entry, ignore_errors=True)
            finally:
                os.close(fd)
        else:
            entry.unlink(missing_ok=True)
        removed += 1
    return removed


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
