"""API-key authentication and scope checks.

The gateway only checks that a key is shaped like one (so garbage never reaches content); content
decides whether it is a real, unrevoked key and which organization and scopes it carries. Its answers are
cached here briefly (verified keys for `auth_cache_seconds`, refusals for `auth_refusal_cache_seconds`),
so a busy key costs content one call every few seconds rather than one per request. A revocation is
broadcast (common.broadcasts) and drops the key from every gateway's cache at once.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import grpc
from fastapi import Depends, Request

from common.clients import Clients
from common.recent import RecentAnswers
from common.settings import Settings
from gateway import rate_limit
from gateway.errors import ApiError, from_rpc_error
from layers.content.v1 import content_pb2

# lp_live_<keyId>_<secret> or lp_test_...; the secret may itself hold "_" and "-".
_KEY_SHAPE = re.compile(r"lp_(?:live|test)_[A-Za-z0-9][A-Za-z0-9_-]*_[A-Za-z0-9_-]+")
_MAX_KEY_LENGTH = 512

BEARER_FORMAT = "lp_live_<keyId>_<secret>"


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


@dataclass(frozen=True)
class Refusal:
    """Content's 401 for a key, kept as data: a fresh ApiError is raised each time (a raised exception
    collects every request's traceback frames)."""

    status: int
    code: str
    message: str
    details: dict[str, Any]
    headers: dict[str, str]

    def error(self) -> ApiError:
        return ApiError(self.status, self.code, self.message, self.details, self.headers)


class KeyCache:
    """Content's recent answers about presented keys, by the key's digest (the secret itself is not kept):
    verified keys for `ttl` seconds, refusals for `refusal_ttl`."""

    def __init__(
        self,
        ttl_seconds: float,
        refusal_ttl_seconds: float,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl_seconds
        self.refusal_ttl = refusal_ttl_seconds
        self._answers: RecentAnswers[bytes, ApiKey | Refusal] = RecentAnswers(max_entries, clock)
        self.clock = clock

    @staticmethod
    def digest(key: str) -> bytes:
        return hashlib.sha256(key.encode()).digest()

    def get(self, digest: bytes) -> ApiKey | Refusal | None:
        return self._answers.get(digest)

    def put(self, digest: bytes, answer: ApiKey | Refusal, started: float) -> None:
        """Remember content's answer to a verification that began at `started` (this cache's clock)."""
        self._answers.put(digest, answer, self.ttl if isinstance(answer, ApiKey) else self.refusal_ttl, started)

    def revoke(self, key_id: str) -> None:
        """Forget every cached verification of key_id, and refuse to cache any still in flight."""
        self._answers.forget(lambda _, answer: isinstance(answer, ApiKey) and answer.key_id == key_id)

    def clear(self) -> None:
        self._answers.clear()


async def verify(key: str, clients: Clients, cache: KeyCache) -> ApiKey:
    """The key's identity, from the cache or from content; raises the 401 content's refusal maps to."""
    digest = cache.digest(key)
    answer = cache.get(digest)
    if answer is None:
        started = cache.clock()
        try:
            response = await clients.edge.AuthenticateApiKey(content_pb2.AuthenticateApiKeyRequest(api_key=key))
            answer = ApiKey(response.organization_id, response.key_id, tuple(response.scopes))
        except grpc.RpcError as exc:
            # UNAUTHENTICATED from content (unknown or revoked key) maps to 401 through the error table;
            # only that refusal is remembered, never an outage.
            if exc.code() != grpc.StatusCode.UNAUTHENTICATED:  # type: ignore[attr-defined]
                raise
            error = from_rpc_error(exc)
            answer = Refusal(error.status, error.code, error.message, error.details, error.headers)
        cache.put(digest, answer, started)
    if isinstance(answer, Refusal):
        raise answer.error()
    return answer


def key_cache_for(settings: Settings) -> KeyCache:
    return KeyCache(settings.auth_cache_seconds, settings.auth_refusal_cache_seconds)


def bearer_token(authorization: str | None) -> str | None:
    """The credentials of an `Authorization: Bearer …` header (as FastAPI's HTTPBearer reads them)."""
    scheme, _, credentials = (authorization or "").partition(" ")
    credentials = credentials.strip()
    return credentials if scheme.lower() == "bearer" and credentials else None


_KEY_STATE = "api_key"


async def authenticate(request: Request) -> ApiKey:
    """The caller's key, verified and counted against its rate limit, once per request.

    It takes nothing but the request, reading the header and app state itself: FastAPI solves every
    dependency anew on each request, and this one runs on every authenticated call."""
    state = request.scope.setdefault("state", {})
    known: ApiKey | None = state.get(_KEY_STATE)
    if known is not None:
        return known
    key = bearer_token(request.headers.get("authorization"))
    if key is None:
        raise _unauthenticated("Missing API key: send Authorization: Bearer lp_live_<keyId>_<secret>.")
    if len(key) > _MAX_KEY_LENGTH or not _KEY_SHAPE.fullmatch(key):
        raise _unauthenticated("Malformed API key.")
    app_state = request.app.state
    api_key = await verify(key, app_state.clients, app_state.key_cache)
    # Every authenticated request counts against its key's rate limit, whatever it then answers.
    await rate_limit.consume(request, api_key.key_id)
    state[_KEY_STATE] = api_key
    return api_key


CurrentKey = Annotated[ApiKey, Depends(authenticate)]


@dataclass(frozen=True)
class RequireScope:
    """A dependency that answers 403 FORBIDDEN_SCOPE unless the caller's key grants `scope`. A class
    rather than a closure so the OpenAPI document can read each operation's scope off its dependencies."""

    scope: str

    async def __call__(self, request: Request) -> ApiKey:
        key = await authenticate(request)
        if not key.allows(self.scope):
            raise ApiError(
                403, "FORBIDDEN_SCOPE", f"This API key lacks the {self.scope} scope.", {"requiredScope": self.scope}
            )
        return key


def require_scope(scope: str) -> RequireScope:
    return RequireScope(scope)
