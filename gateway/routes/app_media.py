"""POST /v1/projects/:projectId/app-media: a partner's app demo (or logo, screenshot, end card).

Two bodies. multipart/form-data with a `file` part and a `kind` field: the file's bytes go to the media
service's blob store as they arrive, parsed straight off the request stream (so neither this process nor a
form parser ever holds or spools the whole file) and counted as received. Or JSON `{kind, url}`: the media
service fetches the URL itself, SSRF-guarded. Either way media probes the file and files it, or refuses it
and keeps nothing.

Idempotency-Key: a multipart request's fingerprint covers the file's SHA-256, known once it is uploaded,
so a retry still sends the file but a replay throws the new copy away.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import TYPE_CHECKING, Annotated, Any

import grpc
from fastapi import APIRouter, Depends, Request, Response
from python_multipart.exceptions import ParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from common.clients import Clients
from common.settings import Settings
from gateway.auth import ApiKey, require_scope
from gateway.deps import ClientsDep, SettingsDep
from gateway.errors import FieldProblem, payload_too_large, validation_error
from gateway.idempotency import IdempotencyKey, IdempotentPost, request_fingerprint
from gateway.openapi import app_media_request_body
from gateway.project_access import ProjectId, visible_project
from gateway.rendering import json_response
from gateway.responses import MediaItem
from gateway.schemas import MEDIA_KINDS, AppMediaUrlBody, idempotency_key_problems, parse_body
from layers.media.v1 import media_pb2

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

log = logging.getLogger("layers.gateway")

router = APIRouter(tags=["projects"])

MULTIPART = "multipart/form-data"
# This route's body limit is the file limit plus room for the multipart framing: more than one socket read,
# so the route's own count of file bytes answers first and the body limit only stops abuse of the framing.
MULTIPART_OVERHEAD_BYTES = 1024 * 1024
MAX_FIELD_BYTES = 1024
DEFAULT_MIME_TYPE = "application/octet-stream"


class _FormError(Exception):
    def __init__(self, field: str, problem: str) -> None:
        super().__init__(problem)
        self.problem = FieldProblem(field, problem)


class _UploadForm:
    """Callbacks for python-multipart's streaming parser: keeps the small `kind` field and hands the
    `file` part's bytes out as each chunk of the request is parsed."""

    def __init__(self) -> None:
        self.kind: str | None = None
        self.file_mime: str | None = None  # set once the file part's headers are in
        self._pending: list[bytes] = []
        self._part = ""
        self._headers: dict[str, str] = {}
        self._header_name = bytearray()
        self._header_value = bytearray()
        self._value = bytearray()

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value_part,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
        }

    def take_file_bytes(self) -> list[bytes]:
        pending, self._pending = self._pending, []
        return pending

    def missing(self) -> list[FieldProblem]:
        problems = []
        if self.file_mime is None:
            problems.append(FieldProblem("file", "A file part is required."))
        if self.kind is None:
            problems.append(FieldProblem("kind", f"Required: one of {', '.join(MEDIA_KINDS)}."))
        return problems

    def _part_begin(self) -> None:
        self._part, self._headers, self._value = "", {}, bytearray()

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name.extend(data[start:end])

    def _header_value_part(self, data: bytes, start: int, end: int) -> None:
        self._header_value.extend(data[start:end])

    def _header_end(self) -> None:
        name = bytes(self._header_name).decode("latin-1").strip().lower()
        self._headers[name] = bytes(self._header_value).decode("latin-1").strip()
        self._header_name, self._header_value = bytearray(), bytearray()

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get("content-disposition", ""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        if name == "file":
            if self.file_mime is not None:
                raise _FormError("file", "Send one file per request.")
            mime = self._headers.get("content-type", "").split(";", 1)[0].strip()
            self.file_mime = mime[:255] or DEFAULT_MIME_TYPE
        elif name == "kind":
            if self.kind is not None:
                raise _FormError("kind", "Send kind once.")
        else:
            raise _FormError(name or "body", "Unknown form field: send only `file` and `kind`.")
        self._part = name

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._part == "file":
            self._pending.append(bytes(data[start:end]))
            return
        self._value.extend(data[start:end])
        if len(self._value) > MAX_FIELD_BYTES:
            raise _FormError(self._part, "Too long.")

    def _part_end(self) -> None:
        if self._part == "kind":
            kind = self._value.decode("utf-8", "replace")
            if kind not in MEDIA_KINDS:
                raise _FormError("kind", f"Must be one of {', '.join(MEDIA_KINDS)}.")
            self.kind = kind


async def _send(call: Any, message: media_pb2.WriteBlobRequest) -> None:
    try:
        await call.write(message)
    except asyncio.InvalidStateError:
        # Media ended the call early (it refused the stream or is gone): raise the status it ended with.
        await call
        raise


async def _stream_to_blob(request: Request, clients: Clients, settings: Settings) -> tuple[media_pb2.Blob, str]:
    """Parse the multipart stream, writing the file part to a new blob; 413/422 leave nothing behind."""
    _, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if not boundary:
        raise validation_error([FieldProblem("Content-Type", "multipart/form-data needs a boundary.")])
    form = _UploadForm()
    parser = MultipartParser(boundary, form.callbacks())
    limit = settings.max_upload_bytes
    received = 0
    # gRPC's asyncio API streams with backpressure from this event loop.
    call: Any = None
    try:
        async for chunk in request.stream():
            parser.write(chunk)
            if call is None and form.file_mime is not None:
                call = clients.media.WriteBlob()
                metadata = media_pb2.WriteBlobMetadata(mime_type=form.file_mime, max_size_bytes=limit)
                await _send(call, media_pb2.WriteBlobRequest(metadata=metadata))
            for piece in form.take_file_bytes():
                received += len(piece)
                if received > limit:
                    raise payload_too_large(f"The file is larger than the limit of {limit} bytes.", limit)
                await _send(call, media_pb2.WriteBlobRequest(chunk=piece))
        parser.finalize()
        problems = form.missing()
        if problems:
            raise validation_error(problems)
        await call.done_writing()
        response: media_pb2.WriteBlobResponse = await call
    except _FormError as exc:
        raise validation_error([exc.problem]) from None
    except ParseError:
        raise validation_error([FieldProblem("body", "Malformed multipart body.")]) from None
    finally:
        # Whatever stopped us before the blob was complete: cancelling makes media drop the partial file.
        if call is not None and not call.done():
            call.cancel()
    assert form.kind is not None
    return response.blob, form.kind


async def _discard(clients: Clients, blob_id: str) -> None:
    """Delete an uploaded blob that was not filed; media already deleted it when it refused the file."""
    try:
        await clients.media.DeleteBlob(media_pb2.DeleteBlobRequest(blob_id=blob_id))
    except grpc.RpcError:
        log.warning("could not delete unfiled upload %s", blob_id, exc_info=True)


@router.post(
    "/projects/{projectId}/app-media",
    name="create_app_media",
    status_code=201,
    response_model=MediaItem,
    openapi_extra={"requestBody": app_media_request_body()},
)
async def create_app_media(
    request: Request,
    project_id: ProjectId,
    key: Annotated[ApiKey, Depends(require_scope("projects:write"))],
    clients: ClientsDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    project = await visible_project(request, key, project_id)
    problems = idempotency_key_problems(idempotency_key)
    if problems:
        raise validation_error(problems)
    path = str(request.app.url_path_for("create_app_media", projectId=project))
    post = IdempotentPost(clients, key.organization_id, path, idempotency_key)
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    if media_type == MULTIPART:
        blob, kind = await _stream_to_blob(request, clients, settings)
        filed = False

        async def file_blob() -> Response:
            nonlocal filed
            created = await clients.media.CreateMedia(
                media_pb2.CreateMediaRequest(
                    organization_id=key.organization_id, project_id=project, kind=kind, blob_id=blob.blob_id
                )
            )
            filed = True
            return json_response(MediaItem.of(created.media), status_code=201)

        fingerprint = hashlib.sha256(f"POST\n{path}\nkind={kind}\nsha256={blob.checksum_sha256}".encode()).hexdigest()
        try:
            return await post.run(fingerprint, file_blob)
        finally:
            if not filed:  # a replay, a conflict or a failure: this copy of the file is not wanted
                await _discard(clients, blob.blob_id)

    if media_type == "application/json":
        parsed, problems = parse_body(AppMediaUrlBody, await request.body())
        if parsed is None or problems:
            raise validation_error(problems)

        async def import_url() -> Response:
            imported = await clients.media.ImportMedia(
                media_pb2.ImportMediaRequest(
                    organization_id=key.organization_id, project_id=project, kind=parsed.kind, url=parsed.url
                ),
                # The media service fetches, then probes, the file within this call.
                timeout=settings.fetch_timeout_seconds + settings.rpc_timeout_seconds,
            )
            return json_response(MediaItem.of(imported.media), status_code=201)

        return await post.run(request_fingerprint("POST", path, parsed.canonical()), import_url)

    raise validation_error([FieldProblem("Content-Type", "Send multipart/form-data or application/json.")])
