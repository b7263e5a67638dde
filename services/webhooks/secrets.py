"""Signing secrets: made here, shown to the partner once, kept only AES-GCM encrypted.

The key comes from LAYERS_WEBHOOK_SECRET_KEY (any long random string; its SHA-256 is the AES-256 key).
The embedded default generates one under the data dir. Each ciphertext is bound to its endpoint id
(associated data), so a row copied onto another endpoint does not decrypt.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from common.settings import MIN_SECRET_LENGTH, Settings
from gateway.signing import load_or_create_secret

KEY_FILE = "webhook-secrets.key"
PREFIX = "whsec_"
_NONCE_BYTES = 12


def new_secret() -> str:
    return PREFIX + secrets.token_urlsafe(32)


class SecretBox:
    def __init__(self, key_material: bytes) -> None:
        if len(key_material) < MIN_SECRET_LENGTH:
            raise ValueError(f"the webhook secret key is too short (at least {MIN_SECRET_LENGTH} characters)")
        self._aead = AESGCM(hashlib.sha256(key_material).digest())

    @classmethod
    def from_settings(cls, settings: Settings, embedded: bool) -> SecretBox:
        if settings.webhook_secret_key:
            return cls(settings.webhook_secret_key.encode("utf-8"))
        if not embedded:
            raise SystemExit("LAYERS_WEBHOOK_SECRET_KEY is required to run the webhooks service on its own")
        return cls(load_or_create_secret(Path(settings.data_dir) / KEY_FILE))

    def seal(self, endpoint_id: str, secret: str) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, secret.encode("utf-8"), endpoint_id.encode("utf-8"))

    def open(self, endpoint_id: str, sealed: bytes) -> str:
        nonce, ciphertext = sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:]
        return self._aead.decrypt(nonce, ciphertext, endpoint_id.encode("utf-8")).decode("utf-8")
