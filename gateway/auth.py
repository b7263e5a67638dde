"""API-key authentication and scope checks.

The gateway only checks that a key is shaped like one (so garbage never reaches content); content
decides whether it is a real, unrevoked key and which organization and scopes it carries.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from gateway import rate_limit
from gateway.deps import ClientsDep, SettingsDep
from gateway.errors import ApiError
from layers.content.v1 import content_pb2

# lp_live_<keyId>_<secret> or lp_test_...; the secret may itself hold "_" and "-".
_KEY_SHAPE = re.compile(r"lp_(?:live|test)_[A-Za-z0-9][A-Za-z0-9_-]*_[A-Za-z0-9_-]+")
_MAX_KEY_LENGTH = 512

# Declares the scheme for OpenAPI; auto_error=False so a missing key gets our envelope, not FastAPI's.
_bearer = HTTPBearer(auto_error=False, bearerFormat="lp_live_<keyId>_<secret>")


@dataclass(frozen=True)
class ApiKey:
    """Who is calling: the key's organization, its id and its scopes."""

    organization_id: str
    key_id: str
    scopes: tuple[str, ...]

    def allows(self, scope: str) -> bool:
        return "*" in self.scopes or scope in self.scopes


def _unauthenticated(message: str) -> ApiError:
    return ApiError(401, "UNAUTHENTICATED", message, headers={"WWW-Authenticate": "Bearer"})


def authenticate(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    clients: ClientsDep,
    settings: SettingsDep,
) -> ApiKey:
    if credentials is None:
        raise _unauthenticated("Missing API key: send Authorization: Bearer lp_live_<keyId>_<secret>.")
    key = credentials.credentials
    if len(key) > _MAX_KEY_LENGTH or not _KEY_SHAPE.fullmatch(key):
        raise _unauthenticated("Malformed API key.")
    # UNAUTHENTICATED from content (unknown or revoked key) maps to 401 through the error table.
    response = clients.content.AuthenticateApiKey(
        content_pb2.AuthenticateApiKeyRequest(api_key=key), timeout=settings.rpc_timeout_seconds
    )
    # Every authenticated request counts against its key's rate limit, whatever it then answers.
    rate_limit.consume(request, response.key_id, clients, settings)
    return ApiKey(response.organization_id, response.key_id, tuple(response.scopes))


CurrentKey = Annotated[ApiKey, Depends(authenticate)]


@dataclass(frozen=True)
class RequireScope:
    """A dependency that answers 403 FORBIDDEN_SCOPE unless the caller's key grants `scope`. A class
    rather than a closure so the OpenAPI document can read each operation's scope off its dependencies."""

    scope: str

    def __call__(self, key: CurrentKey) -> ApiKey:
        if not key.allows(self.scope):
            raise ApiError(
                403, "FORBIDDEN_SCOPE", f"This API key lacks the {self.scope} scope.", {"requiredScope": self.scope}
            )
        return key


def require_scope(scope: str) -> RequireScope:
    return RequireScope(scope)
