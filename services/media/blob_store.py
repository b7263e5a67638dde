"""Blob bytes on the local file system: written atomically, read in ranges.

A write streams into a temp file next to its final place, counting size and SHA-256 as it goes, then
fsyncs and renames it in. Whatever goes wrong before the rename (limit passed, client gone, disk full),
the temp file is removed, so a reader only ever sees whole files. A full or read-only disk is UNAVAILABLE
(the gateway's 503: retry later), never an internal error.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import grpc

from common.errors import ServiceError

READ_CHUNK_BYTES = 1024 * 1024

# Blob ids become file names: accept only our own shape so no id can walk out of the root.
_BLOB_ID = re.compile(r"^blb_[0-9A-HJKMNP-TV-Z]{26}$")


@dataclass(frozen=True)
class WrittenFile:
    size_bytes: int
    checksum_sha256: str


# A disk that is full or mounted read-only refuses writes until an operator acts; callers may retry later.
_STORAGE_REFUSALS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS})


STORAGE_UNAVAILABLE = "STORAGE_UNAVAILABLE"


def storage_unavailable(exc: OSError) -> ServiceError:
    return ServiceError(
        grpc.StatusCode.UNAVAILABLE,
        STORAGE_UNAVAILABLE,
        f"The blob store cannot take writes: {os.strerror(exc.errno or 0)}.",
    )


def cancelled() -> ServiceError:
    return ServiceError(grpc.StatusCode.CANCELLED, "CANCELLED", "The upload was cancelled.")


def too_large(limit: int) -> ServiceError:
    return ServiceError(
        grpc.StatusCode.OUT_OF_RANGE,
        "PAYLOAD_TOO_LARGE",
        f"The file is larger than the limit of {limit} bytes.",
        {"limitBytes": str(limit)},
    )


class LocalBlobStore:
    """Files under `root/<2 chars>/<blob_id>`; the two chars come from the ULID's random tail."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, blob_id: str) -> Path:
        if not _BLOB_ID.match(blob_id):
            raise ValueError(f"not a blob id: {blob_id!r}")
        return self.root / blob_id[-2:].lower() / blob_id

    def exists(self, blob_id: str) -> bool:
        return self.path(blob_id).is_file()

    def write(
        self,
        blob_id: str,
        chunks: Iterable[bytes],
        limit: int,
        still_wanted: Callable[[], bool] = lambda: True,
    ) -> WrittenFile:
        """Stream chunks into place; refuse as soon as more than `limit` bytes arrived.

        `still_wanted` is asked once the chunks end: a cancelled gRPC stream can end like a finished one,
        and its bytes must not become a blob.
        """
        try:
            return self._write(blob_id, chunks, limit, still_wanted)
        except OSError as exc:
            if exc.errno in _STORAGE_REFUSALS:
                raise storage_unavailable(exc) from None
            raise

    def _write(
        self, blob_id: str, chunks: Iterable[bytes], limit: int, still_wanted: Callable[[], bool]
    ) -> WrittenFile:
        final = self.path(blob_id)
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(prefix=f".{blob_id}.", suffix=".part", dir=final.parent)
        temp = Path(temp_name)
        try:
            digest = hashlib.sha256()
            size = 0
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    size += len(chunk)
                    if size > limit:
                        raise too_large(limit)
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            if not still_wanted():
                raise cancelled()
            os.replace(temp, final)
        except BaseException:
            # Also on GeneratorExit / a cancelled client stream: never leave a partial file behind.
            temp.unlink(missing_ok=True)
            raise
        _fsync_dir(final.parent)
        return WrittenFile(size_bytes=size, checksum_sha256=digest.hexdigest())

    def open_range(self, blob_id: str, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        """Open now (so a missing file fails here, not mid-stream) and yield 1 MiB chunks of the range."""
        handle = self.path(blob_id).open("rb")
        return _read_range(handle, offset, length)

    def delete(self, blob_id: str) -> None:
        self.path(blob_id).unlink(missing_ok=True)


def _read_range(handle: BinaryIO, offset: int, length: int | None) -> Iterator[bytes]:
    with handle as f:
        f.seek(offset)
        remaining = length
        while remaining is None or remaining > 0:
            want = READ_CHUNK_BYTES if remaining is None else min(READ_CHUNK_BYTES, remaining)
            chunk = f.read(want)
            if not chunk:
                return
            if remaining is not None:
                remaining -= len(chunk)
            yield chunk


def _fsync_dir(folder: Path) -> None:
    # Makes the rename itself durable; not every platform lets a directory be opened.
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
