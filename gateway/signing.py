"""Signed, expiring download URLs for rendered assets.

A URL is `<origin><path>?org=<organizationId>&expires=<unix>&signature=<hex>` where the
signature is HMAC-SHA256(secret, "<path>\\n<org>\\n<expires>"). The signed org lets the download route
look the asset up as its owner without an API key. The origin is LAYERS_PUBLIC_BASE_URL, or the request's
(gateway.origin): the signature does not cover it, so one link works through every name of the gateway.
Whoever holds the URL may fetch the bytes until it expires; changing the path, the org, the expiry or the
signature breaks it.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import hmac
import math
import os
import re
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from common.settings import MIN_SECRET_LENGTH, Settings

SECRET_FILE = "signing.key"

# Ids never hold a newline, so "<path>\\n<org>\\n<expires>" reads back one way only.
_ORG = re.compile(r"[A-Za-z0-9_-]{1,64}")
_HEX_SIGNATURE = re.compile(r"[0-9a-fA-F]{64}")


class UrlSigner:
    def __init__(
        self,
        secret: bytes,
        *,
        base_url: str = "",
        ttl_seconds: int = 3600,
        granularity_seconds: int = 300,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if len(secret) < MIN_SECRET_LENGTH:
            raise ValueError(f"signing secret is too short (at least {MIN_SECRET_LENGTH} bytes)")
        self._secret = secret
        self._base_url = base_url.rstrip("/")
        self._ttl = ttl_seconds
        # Expiries are rounded up to this step so one asset keeps one URL for a while: that keeps a
        # job's ETag stable between polls and lets players cache. A URL lives between ttl and
        # ttl + granularity seconds.
        self._step = max(1, min(granularity_seconds, ttl_seconds))
        self._clock = clock

    def at(self, base_url: str) -> UrlSigner:
        """The same signer, its URLs starting with `base_url` (a request's origin) instead."""
        bound = copy.copy(self)
        bound._base_url = base_url.rstrip("/")
        return bound

    @classmethod
    def from_settings(cls, settings: Settings) -> UrlSigner:
        return cls(
            signing_secret(settings),
            base_url=settings.public_base_url,
            ttl_seconds=settings.download_url_ttl_seconds,
        )

    # -- the URLs the API hands out ----------------------------------------------------------------

    @staticmethod
    def asset_file_path(container_id: str, asset_id: str) -> str:
        return f"/v1/content/{container_id}/assets/{asset_id}/file"

    @staticmethod
    def asset_thumbnail_path(container_id: str, asset_id: str) -> str:
        return f"/v1/content/{container_id}/assets/{asset_id}/thumbnail"

    def asset_file_url(self, organization_id: str, container_id: str, asset_id: str) -> str:
        return self.sign(self.asset_file_path(container_id, asset_id), organization_id)

    def asset_thumbnail_url(self, organization_id: str, container_id: str, asset_id: str) -> str:
        return self.sign(self.asset_thumbnail_path(container_id, asset_id), organization_id)

    # -- signing and checking ---------------------------------------------------------------------------

    def sign(self, path: str, organization_id: str) -> str:
        """Sign a path (as the router will see it, i.e. decoded) for an org; return the full URL."""
        if not _ORG.fullmatch(organization_id):
            raise ValueError(f"not an organization id: {organization_id!r}")
        expires = math.ceil((self._clock() + self._ttl) / self._step) * self._step
        signature = self._signature(path, organization_id, expires)
        return f"{self._base_url}{quote(path)}?org={organization_id}&expires={expires}&signature={signature}"

    def verify(self, path: str, organization_id: str, expires: str | int, signature: str) -> bool:
        """True when the signature matches this path, org and expiry and the expiry has not passed."""
        text = str(expires)
        if not text.isdigit() or len(text) > 12 or not _ORG.fullmatch(organization_id):
            return False
        expiry = int(text)
        if self._clock() > expiry:
            return False
        # compare_digest refuses non-ASCII text, so anything but hex is refused before it.
        if not _HEX_SIGNATURE.fullmatch(signature):
            return False
        return hmac.compare_digest(self._signature(path, organization_id, expiry), signature.lower())

    def _signature(self, path: str, organization_id: str, expires: int) -> str:
        message = f"{path}\n{organization_id}\n{expires}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()


def signing_secret(settings: Settings) -> bytes:
    """LAYERS_SIGNING_SECRET, or the secret generated into the data dir the first time."""
    if settings.signing_secret:
        return settings.signing_secret.encode("utf-8")
    return load_or_create_secret(settings.data_dir / SECRET_FILE)


def load_or_create_secret(path: Path) -> bytes:
    """Read the signing secret kept at `path`, creating a random one (mode 0600) the first time.

    The new secret is written to a private temp file and hard-linked into place, so two processes
    starting at once agree on one secret and nobody ever reads a half-written file.
    """
    try:
        return _read_secret(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32) + "\n")
            f.flush()
            os.fsync(f.fileno())
        # If another process won the race, its secret is the one everybody uses.
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return _read_secret(path)


def _read_secret(path: Path) -> bytes:
    secret = path.read_text(encoding="ascii").strip()
    if len(secret) < 32:
        raise RuntimeError(f"signing secret in {path} is too short; delete it to make a new one")
    return secret.encode("ascii")
