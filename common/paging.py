"""Cursor pagination over an ever-growing sequence column: opaque tokens, stable under inserts."""

from __future__ import annotations

import base64
import json

from common.errors import invalid

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


def page_size(requested: int) -> int:
    if requested == 0:
        return DEFAULT_PAGE_SIZE
    if not 1 <= requested <= MAX_PAGE_SIZE:
        raise invalid(f"limit must be between 1 and {MAX_PAGE_SIZE}.", field="limit")
    return requested


def encode_token(after_seq: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": after_seq}).encode()).decode().rstrip("=")


def decode_token(token: str) -> int:
    """The sequence number a page starts after; 0 for the first page."""
    if not token:
        return 0
    try:
        padded = token + "=" * (-len(token) % 4)
        after = json.loads(base64.urlsafe_b64decode(padded))["after"]
        if not isinstance(after, int) or after < 0:
            raise ValueError(after)
        return after
    except (ValueError, KeyError, TypeError) as exc:
        raise invalid("Not a cursor this API issued.", field="cursor") from exc
