"""A MediaService that serves StatBlob and ReadBlob from in-memory bytes, with the real service's rules
for ranges (offset past the end: OUT_OF_RANGE / RANGE_NOT_SATISFIABLE with sizeBytes; length 0: to the
end) and small chunks, so a window arrives in several messages."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import grpc

from common.errors import ServiceError
from layers.media.v1 import media_pb2, media_pb2_grpc
from tests.gateway.fakes import _Recorder

CHUNK = 64 * 1024


class FakeBlobs(media_pb2_grpc.MediaServiceServicer, _Recorder):
    def reset(self) -> None:
        super().reset()
        self.blobs: dict[str, tuple[bytes, str]] = {}

    def put(self, blob_id: str, data: bytes, mime_type: str) -> str:
        self.blobs[blob_id] = (data, mime_type)
        return f'"{hashlib.sha256(data).hexdigest()}"'

    def _blob(self, blob_id: str) -> tuple[bytes, str]:
        if blob_id not in self.blobs:
            raise ServiceError(grpc.StatusCode.NOT_FOUND, "NOT_FOUND", "blobId was not found.")
        return self.blobs[blob_id]

    def StatBlob(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._enter("StatBlob", request)
        data, mime_type = self._blob(request.blob_id)
        blob = media_pb2.Blob(
            blob_id=request.blob_id,
            size_bytes=len(data),
            checksum_sha256=hashlib.sha256(data).hexdigest(),
            mime_type=mime_type,
        )
        return media_pb2.StatBlobResponse(blob=blob)

    def ReadBlob(self, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        self._enter("ReadBlob", request)
        data, _ = self._blob(request.blob_id)
        if request.offset > 0 and request.offset >= len(data):
            raise ServiceError(
                grpc.StatusCode.OUT_OF_RANGE,
                "RANGE_NOT_SATISFIABLE",
                "offset is past the end.",
                {"sizeBytes": str(len(data))},
            )
        end = len(data) if request.length == 0 else min(len(data), request.offset + request.length)
        for start in range(request.offset, end, CHUNK):
            yield media_pb2.ReadBlobResponse(chunk=data[start : min(end, start + CHUNK)])
