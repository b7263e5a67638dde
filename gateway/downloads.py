"""Serving a rendered asset's bytes behind a signed URL: signature check, conditional requests, one
byte range (RFC 9110), streamed from MediaService.ReadBlob without ever holding the whole file.

The signature is the authority (no API key): it covers the path and the owning org, so the route can
look the container up as that org; an asset of another org is simply not found.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Header, Query, Response
from fastapi.responses import StreamingResponse

from common.clients import Clients
from gateway.deps import SignerDep
from gateway.errors import UNKNOWN_ASSET, forbidden_signature, not_found, range_not_satisfiable
from gateway.rendering import etag_matches
from gateway.schemas import AssetId, ContainerId
from layers.content.v1 import content_pb2
from layers.media.v1 import media_pb2, media_pb2_grpc
from services.media.client import CHUNK_BYTES

Variant = Literal["file", "thumbnail"]
THUMBNAIL_TYPE = "image/jpeg"
# Bytes per ReadBlob call. Each call is read whole before its bytes go out, so it ends well inside the
# RPC deadline however slowly the client reads; memory per download stays at one window.
WINDOW_BYTES = CHUNK_BYTES
DOWNLOAD_WINDOW_TIMEOUT_SECONDS = 30.0
_RANGE_SPEC = re.compile(r"(\d*)-(\d*)")
# Any position of more digits than this is past the end of every file we hold; it is read as this
# rather than parsed (int() refuses thousands of digits, and the header may hold that many).
_MAX_DIGITS = 18
_PAST_ANY_FILE = 10**_MAX_DIGITS


def _position(digits: str) -> int:
    return int(digits) if len(digits) <= _MAX_DIGITS else _PAST_ANY_FILE


@dataclass(frozen=True)
class SignedLink:
    organization_id: str
    expires: int


def signed_link(variant: Variant) -> Callable[..., Awaitable[SignedLink]]:
    """A dependency that answers 403 FORBIDDEN_SIGNATURE unless the URL's signature holds for this
    path (rebuilt from the path parameters, as it was signed) and has not expired."""

    async def dependency(
        container_id: ContainerId,
        asset_id: AssetId,
        signer: SignerDep,
        org: Annotated[str | None, Query(description="Owning organization (signed).")] = None,
        expires: Annotated[str | None, Query(description="Unix time the link expires.")] = None,
        signature: Annotated[str | None, Query(description="HMAC-SHA256 of path, org and expiry.")] = None,
    ) -> SignedLink:
        build = signer.asset_file_path if variant == "file" else signer.asset_thumbnail_path
        path = build(container_id, asset_id)
        if org is None or expires is None or signature is None or not signer.verify(path, org, expires, signature):
            raise forbidden_signature()
        return SignedLink(org, int(expires))

    return dependency


@dataclass(frozen=True)
class Conditions:
    """The request headers that shape a download."""

    range: str | None = None
    if_none_match: str | None = None
    if_range: str | None = None


async def conditions(
    range_: Annotated[str | None, Header(alias="Range")] = None,
    if_none_match: Annotated[str | None, Header()] = None,
    if_range: Annotated[str | None, Header()] = None,
) -> Conditions:
    return Conditions(range_, if_none_match, if_range)


@dataclass(frozen=True)
class ByteRange:
    start: int
    end: int  # inclusive, as in Content-Range

    @property
    def length(self) -> int:
        return self.end - self.start + 1


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The single range to send, or None for the whole file: no header, another unit, an invalid
    spec (ignored, as RFC 9110 allows) or several ranges (the whole file is a valid answer to those).
    Raises 416 when the one range asked for holds no byte of the file."""
    if not header:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes":
        return None
    specs = [s.strip() for s in spec.split(",") if s.strip()]
    if len(specs) != 1:
        return None
    match = _RANGE_SPEC.fullmatch(specs[0])
    if match is None or match.group(1) + match.group(2) == "":
        return None
    first, last = match.groups()
    if not first:  # bytes=-n: the last n bytes
        suffix = _position(last)
        if suffix == 0 or size == 0:
            raise range_not_satisfiable(size)
        return ByteRange(max(0, size - suffix), size - 1)
    start = _position(first)
    end = _position(last) if last else size - 1
    if last and end < start:
        return None
    if start >= size:
        raise range_not_satisfiable(size)
    # RFC 9110: a last position at or past the end means the rest of the file.
    return ByteRange(start, min(end, size - 1))


def asset_of(container: content_pb2.Container, asset_id: str) -> content_pb2.Asset:
    asset = next((a for a in container.assets if a.asset_id == asset_id), None)
    if asset is None:
        raise not_found(UNKNOWN_ASSET)
    return asset


async def serve_asset(
    clients: Clients,
    *,
    method: str,
    link: SignedLink,
    container_id: str,
    asset_id: str,
    variant: Variant,
    conditions: Conditions,
) -> Response:
    found = await clients.partner.GetContainer(
        content_pb2.GetContainerRequest(organization_id=link.organization_id, container_id=container_id)
    )
    asset = asset_of(found.container, asset_id)
    if variant == "file":
        blob_id, media_type = asset.blob_id, asset.mime_type or "application/octet-stream"
    else:
        blob_id, media_type = asset.thumbnail_blob_id, THUMBNAIL_TYPE
    if not blob_id:
        raise not_found(f"This asset has no {variant}.")
    blob: media_pb2.Blob = (await clients.media.StatBlob(media_pb2.StatBlobRequest(blob_id=blob_id))).blob

    etag = f'"{blob.checksum_sha256}"'
    # The bytes behind a link never change; a player may keep them as long as the link lives.
    max_age = max(0, link.expires - int(time.time()))
    headers = {"ETag": etag, "Accept-Ranges": "bytes", "Cache-Control": f"private, max-age={max_age}"}
    if etag_matches(conditions.if_none_match, etag):
        return Response(status_code=304, headers=headers)

    # If-Range: the range holds only while the client's copy is this one (a date never matches: no
    # Last-Modified is sent).
    wanted = None
    if conditions.if_range is None or conditions.if_range.strip() == etag:
        wanted = parse_range(conditions.range, blob.size_bytes)
    status, start, length = 200, 0, blob.size_bytes
    if wanted is not None:
        status, start, length = 206, wanted.start, wanted.length
        headers["Content-Range"] = f"bytes {wanted.start}-{wanted.end}/{blob.size_bytes}"
    headers["Content-Length"] = str(length)
    if method == "HEAD" or length == 0:
        return Response(status_code=status, headers=headers, media_type=media_type)
    chunks = await stream_blob(clients.media, blob_id, start, length, DOWNLOAD_WINDOW_TIMEOUT_SECONDS)
    return StreamingResponse(chunks, status_code=status, headers=headers, media_type=media_type)


async def stream_blob(
    stub: media_pb2_grpc.MediaServiceStub, blob_id: str, offset: int, length: int, timeout: float
) -> AsyncIterator[bytes]:
    """Bytes [offset, offset + length) of a blob. The first window is read before this returns, so a
    failure there (blob gone, range refused) still answers with the error envelope; a later failure
    can only cut the response short, which the client sees against Content-Length."""
    first = await _read_window(stub, blob_id, offset, min(length, WINDOW_BYTES), timeout)
    return _windows(stub, blob_id, first, offset, length, timeout)


async def _windows(
    stub: media_pb2_grpc.MediaServiceStub,
    blob_id: str,
    first: list[bytes],
    offset: int,
    length: int,
    timeout: float,
) -> AsyncIterator[bytes]:
    for chunk in first:
        yield chunk
    sent = min(length, WINDOW_BYTES)
    while sent < length:
        size = min(WINDOW_BYTES, length - sent)
        for chunk in await _read_window(stub, blob_id, offset + sent, size, timeout):
            yield chunk
        sent += size


async def _read_window(
    stub: media_pb2_grpc.MediaServiceStub, blob_id: str, offset: int, size: int, timeout: float
) -> list[bytes]:
    request = media_pb2.ReadBlobRequest(blob_id=blob_id, offset=offset, length=size)
    chunks = [response.chunk async for response in stub.ReadBlob(request, timeout=timeout)]
    if sum(len(c) for c in chunks) != size:
        # Never let the body disagree with the Content-Length already promised.
        raise RuntimeError(f"blob {blob_id} returned a short read at offset {offset}")
    return chunks
