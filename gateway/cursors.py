"""Page cursors. What a partner passes as `?cursor=` is a service's page token sealed by the gateway: opaque
(the token, a row sequence number, is encrypted), issued only by this API, and good only for the listing it
came from (the same endpoint, organization, parent resource (the project, the webhook endpoint) and filter).

Sealing is deterministic authenticated encryption in the SIV style, from HMAC-SHA256 alone: the tag
HMAC(tag key, listing, token) is also the IV of the keystream HMAC(stream key, tag, block number), and the
cursor is base64url(tag + token XOR keystream). Opening decrypts with the tag and recomputes it, so any
change to the cursor, or any other listing, fails one comparison. Both keys derive from the signing secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Query

from common.paging import MAX_PAGE_SIZE
from common.settings import Settings
from gateway.errors import ApiError, FieldProblem, validation_error
from gateway.signing import signing_secret

NOT_OURS = "Not a cursor this API issued."
# Far above any cursor issued (a page token seals to about 75 characters); longer is refused unread.
MAX_CURSOR_CHARS = 128
_TAG_BYTES = 16
_BLOCK_BYTES = hashlib.sha256().digest_size

# ?cursor= of a cursor list. Its length is checked by CursorSealer.open, so that an over-long cursor is
# refused in the same words as any other.
CursorQuery = Annotated[
    str | None,
    Query(description="nextCursor of the previous page.", json_schema_extra={"maxLength": MAX_CURSOR_CHARS}),
]


def listing(endpoint: str, organization_id: str, parent: str = "", **filters: str) -> str:
    """What a cursor is bound to. No part holds a newline (ids, enum filters), so this reads back one way."""
    return "\n".join([endpoint, organization_id, parent, *(f"{k}={v}" for k, v in sorted(filters.items()))])


def not_ours() -> ApiError:
    return validation_error([FieldProblem("cursor", NOT_OURS)], NOT_OURS)


class CursorSealer:
    def __init__(self, secret: bytes) -> None:
        self._tag_key = hmac.new(secret, b"layers page cursor tag", hashlib.sha256).digest()
        self._stream_key = hmac.new(secret, b"layers page cursor stream", hashlib.sha256).digest()

    @classmethod
    def from_settings(cls, settings: Settings) -> CursorSealer:
        return cls(signing_secret(settings))

    def seal(self, listing: str, token: str) -> str | None:
        """The cursor of a service's next-page token; None on the last page (no token)."""
        if not token:
            return None
        plain = token.encode("ascii")
        tag = self._tag(listing, plain)
        cursor = base64.urlsafe_b64encode(tag + self._apply_keystream(tag, plain)).decode("ascii").rstrip("=")
        if len(cursor) > MAX_CURSOR_CHARS:
            raise ValueError(f"a page token of {len(token)} characters seals to a cursor open() would refuse")
        return cursor

    def open(self, listing: str, cursor: str | None) -> str:
        """The service's page token inside a cursor this API issued for this listing; "" for the first page.
        Anything else is 422 VALIDATION on `cursor`."""
        if not cursor:
            return ""
        if len(cursor) > MAX_CURSOR_CHARS:
            raise not_ours()
        try:
            raw = base64.urlsafe_b64decode(cursor.encode("ascii") + b"=" * (-len(cursor) % 4))
        except ValueError as exc:  # not ASCII, or not base64
            raise not_ours() from exc
        tag, sealed = raw[:_TAG_BYTES], raw[_TAG_BYTES:]
        plain = self._apply_keystream(tag, sealed)
        if not sealed or not hmac.compare_digest(tag, self._tag(listing, plain)):
            raise not_ours()
        return plain.decode("ascii")  # what seal() encoded: the tag vouches for it

    def _tag(self, listing: str, plain: bytes) -> bytes:
        message = listing.encode() + b"\x00" + plain
        return hmac.new(self._tag_key, message, hashlib.sha256).digest()[:_TAG_BYTES]

    def _apply_keystream(self, tag: bytes, data: bytes) -> bytes:
        blocks = range((len(data) + _BLOCK_BYTES - 1) // _BLOCK_BYTES)
        stream = b"".join(hmac.new(self._stream_key, tag + bytes([i]), hashlib.sha256).digest() for i in blocks)
        return bytes(a ^ b for a, b in zip(data, stream, strict=False))


PageLimit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Rows per page.")]


@dataclass(frozen=True)
class PageRequest:
    """A cursor list's `?limit=` and `?cursor=`, with the sealer that opens the cursor and seals the next."""

    limit: int
    cursor: str | None
    sealer: CursorSealer

    async def token(self, listing: str, check_parent: Callable[[], Awaitable[object]] | None = None) -> str:
        """The service's page token inside the cursor. A refused cursor runs `check_parent` first: on a parent
        (project, webhook endpoint) the key cannot see, that 404 comes before anything else the request carries."""
        try:
            return self.sealer.open(listing, self.cursor)
        except ApiError:
            if check_parent is not None:
                await check_parent()
            raise

    def next_cursor(self, listing: str, next_page_token: str) -> str | None:
        return self.sealer.seal(listing, next_page_token)
