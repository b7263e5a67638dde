"""`X-Layers-Signature: t=<unix>,v1=<hex>[,v1=<hex>…]`, v1 = HMAC-SHA256(secret, "<t>.<raw body>").

One v1 per live secret, so a receiver that knows either secret during a rotation's overlap verifies.
`verify` is what a receiver does (and what the README shows), kept here so tests check it for real.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterable

TOLERANCE_SECONDS = 300


def v1(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def header(secrets: Iterable[str], timestamp: int, body: bytes) -> str:
    return ",".join([f"t={timestamp}", *(f"v1={v1(s, timestamp, body)}" for s in secrets)])


def verify(secret: str, signature_header: str, body: bytes, now: float | None = None) -> bool:
    """True when one v1 of the header is this secret's signature and t is within 5 minutes of now."""
    timestamp, candidates = None, []
    for part in signature_header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == "v1":
            candidates.append(value)
    if timestamp is None:
        return False
    if abs((time.time() if now is None else now) - timestamp) > TOLERANCE_SECONDS:
        return False
    expected = v1(secret, timestamp, body)
    return any(hmac.compare_digest(expected, c) for c in candidates)
