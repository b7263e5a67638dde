"""Helpers for callers of MediaService (gateway, content, renderer) around the streaming blob RPCs.

Failures surface as grpc.RpcError; `common.errors.unpack` turns one into the service's ServiceError.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from layers.media.v1 import media_pb2, media_pb2_grpc

CHUNK_BYTES = 1024 * 1024


def upload_stream(
    stub: media_pb2_grpc.MediaServiceStub,
    chunks: Iterable[bytes],
    mime_type: str,
    max_size_bytes: int = 0,
    timeout: float | None = None,
) -> media_pb2.Blob:
    """Write a blob from any byte chunks (re-cut to 1 MiB so no message passes the size limit)."""

    def requests() -> Iterator[media_pb2.WriteBlobRequest]:
        yield media_pb2.WriteBlobRequest(
            metadata=media_pb2.WriteBlobMetadata(mime_type=mime_type, max_size_bytes=max_size_bytes)
        )
        for chunk in chunks:
            for start in range(0, len(chunk), CHUNK_BYTES):
                yield media_pb2.WriteBlobRequest(chunk=chunk[start : start + CHUNK_BYTES])

    response: media_pb2.WriteBlobResponse = stub.WriteBlob(requests(), timeout=timeout)
    return response.blob


def _file_chunks(path: Path) -> Iterator[bytes]:
    with Path(path).open("rb") as f:
        while chunk := f.read(CHUNK_BYTES):
            yield chunk


def upload_file(
    stub: media_pb2_grpc.MediaServiceStub,
    path: str | Path,
    mime_type: str,
    max_size_bytes: int = 0,
    timeout: float | None = None,
) -> media_pb2.Blob:
    """Stream a local file into the blob store."""
    return upload_stream(stub, _file_chunks(Path(path)), mime_type, max_size_bytes, timeout)


def read_range(
    stub: media_pb2_grpc.MediaServiceStub,
    blob_id: str,
    offset: int = 0,
    length: int = 0,
    timeout: float | None = None,
) -> Iterator[bytes]:
    """Yield a blob's bytes from offset; length 0 reads to the end."""
    request = media_pb2.ReadBlobRequest(blob_id=blob_id, offset=offset, length=length)
    for response in stub.ReadBlob(request, timeout=timeout):
        yield response.chunk


def download_to(
    stub: media_pb2_grpc.MediaServiceStub, blob_id: str, dest_path: str | Path, timeout: float | None = None
) -> Path:
    """Copy a whole blob to dest_path; a failed download leaves no partial file there."""
    dest = Path(dest_path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in read_range(stub, blob_id, timeout=timeout):
                out.write(chunk)
        os.replace(temp_name, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise
    return dest
