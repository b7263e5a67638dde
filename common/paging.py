"""Cursor pagination over an ever-growing sequence column: page tokens stable under inserts.

A token names the last sequence number a page held. Partners never see one: the gateway seals it into an
opaque cursor bound to its listing (gateway.cursors); a token is still checked here, whoever sends it."""

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
        # A bool is an int to Python but not a sequence number; a column holds no more than an int64.
        if type(after) is not int or not 0 <= after < 2**63:
            raise ValueError(after)
        return after
    except (ValueError, KeyError, TypeError) as exc:
        raise invalid("Not a cursor this API issued.", field="cursor") from exc
