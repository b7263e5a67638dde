"""Small response helpers shared by routes."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from fastapi import Response

from gateway.serializers import json_bytes


def json_response(body: Any, status_code: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    # Rendered here, not by FastAPI, so the bytes are the ones an ETag or a replay is taken over.
    return Response(json_bytes(body), status_code=status_code, headers=headers, media_type="application/json")


def etag_of(body: bytes) -> str:
    return f'"{hashlib.sha256(body).hexdigest()}"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 weak comparison against an If-None-Match list (or "*")."""
    if not if_none_match:
        return False
    candidates = [c.strip() for c in if_none_match.split(",")]
    return any(c == "*" or c.removeprefix("W/") == etag for c in candidates)


def conditional_json(body: Any, if_none_match: str | None, headers: Mapping[str, str] | None = None) -> Response:
    """200 with an ETag, or 304 with no body when the caller already has these bytes."""
    raw = json_bytes(body)
    etag = etag_of(raw)
    # no-cache: shared caches may keep it but must revalidate, so a poll never sees a stale job.
    all_headers = {"ETag": etag, "Cache-Control": "private, no-cache", **(headers or {})}
    if etag_matches(if_none_match, etag):
        return Response(status_code=304, headers=all_headers)
    return Response(raw, headers=all_headers, media_type="application/json")
