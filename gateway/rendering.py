"""A response model as the bytes sent, and the JSON responses routes answer with: rendered here, not by
FastAPI, so the bytes are the ones an ETag or an idempotent replay is taken over."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

from fastapi import Response

from gateway.responses import ResponseModel


def json_bytes(body: ResponseModel) -> bytes:
    """Compact UTF-8 in field order, so equal bodies give equal bytes. json.dumps rather than pydantic's
    own writer, which spells floats differently (0.00001 for 1e-05): an ETag a client holds must stay valid
    across a deploy."""
    fields = body.model_dump(by_alias=True, warnings=False)
    return json.dumps(fields, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")


def json_response(body: ResponseModel, status_code: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(json_bytes(body), status_code=status_code, headers=headers, media_type="application/json")


def etag_of(body: bytes) -> str:
    return f'"{hashlib.sha256(body).hexdigest()}"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 weak comparison against an If-None-Match list (or "*")."""
    if not if_none_match:
        return False
    candidates = [c.strip() for c in if_none_match.split(",")]
    return any(c == "*" or c.removeprefix("W/") == etag for c in candidates)


def conditional_json(
    body: ResponseModel, if_none_match: str | None, headers: Mapping[str, str] | None = None
) -> Response:
    """200 with an ETag, or 304 with no body when the caller already has these bytes."""
    raw = json_bytes(body)
    etag = etag_of(raw)
    # no-cache: shared caches may keep it but must revalidate, so a poll never sees a stale job.
    all_headers = {"ETag": etag, "Cache-Control": "private, no-cache", **(headers or {})}
    if etag_matches(if_none_match, etag):
        return Response(status_code=304, headers=all_headers)
    return Response(raw, headers=all_headers, media_type="application/json")
