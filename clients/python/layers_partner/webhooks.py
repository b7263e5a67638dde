"""Checking a webhook delivery: `verify(raw_body, signature_header, secrets)` returns the event or raises.

A delivery's `X-Layers-Signature` is `t=<unix>,v1=<hex>[,v1=<hex>…]`, each v1 an HMAC-SHA256 under one of
the endpoint's live secrets of `"<t>.<raw body>"` (during a rotation there is one per secret). The body
must be the bytes as received: a parsed and re-serialised body no longer matches.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from layers_partner.errors import WebhookVerificationError

DEFAULT_TOLERANCE_SECONDS = 300
MAX_HEADER_LENGTH = 4096
TERMINAL_EVENTS = frozenset({"job.completed", "job.failed", "job.canceled"})


class WebhookEvent(BaseModel):
    """`{id, type, createdAt, data}` (plus `replayOf` on a replay)."""

    model_config = ConfigDict(populate_by_name=True, extra="allow")

    id: str
    type: str
    created_at: str | None = Field(default=None, alias="createdAt")
    data: dict[str, Any] = Field(default_factory=dict)
    replay_of: str | None = Field(default=None, alias="replayOf")

    @property
    def job_id(self) -> str | None:
        value = self.data.get("jobId")
        return str(value) if value else None


def signature(secret: str, timestamp: int, raw_body: bytes) -> str:
    """The v1 value `secret` gives a body sent at `timestamp`."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + raw_body, hashlib.sha256).hexdigest()


def verify(
    raw_body: bytes,
    signature_header: str | None,
    secrets: str | Iterable[str],
    tolerance: float = DEFAULT_TOLERANCE_SECONDS,
    *,
    now: float | None = None,
) -> WebhookEvent:
    """The delivery's event when one of `secrets` signed this very body within `tolerance` seconds of
    now; WebhookVerificationError otherwise (say 400 to the sender then)."""
    if not signature_header or len(signature_header) > MAX_HEADER_LENGTH:
        raise WebhookVerificationError("missing or oversized X-Layers-Signature header")
    keys = [secrets] if isinstance(secrets, str) else list(secrets)
    if not keys or not all(keys):
        # An empty key would accept anything signed with an empty key: a missing secret, not a check.
        raise WebhookVerificationError("no signing secret to check against (an empty one is none)")
    pairs = [part.strip().split("=", 1) for part in signature_header.split(",") if "=" in part]
    timestamps = [value for name, value in pairs if name == "t"]
    candidates = [value for name, value in pairs if name == "v1"]
    if len(timestamps) != 1 or not re.fullmatch(r"[0-9]{1,12}", timestamps[0]):
        raise WebhookVerificationError("the signature header has no valid t=")
    sent = int(timestamps[0])
    if abs((time.time() if now is None else now) - sent) > tolerance:
        raise WebhookVerificationError(f"the signature's timestamp is more than {tolerance:g} s off")
    expected = [signature(key, sent, raw_body) for key in keys]
    if not any(hmac.compare_digest(e, c.lower()) for e in expected for c in candidates if c.isascii()):
        raise WebhookVerificationError("no v1 signature matches a signing secret")
    try:
        return WebhookEvent.model_validate(json.loads(raw_body))
    except ValueError as exc:
        raise WebhookVerificationError(f"the signed body is not an event: {exc}") from None
