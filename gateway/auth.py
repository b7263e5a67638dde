"""API-key authentication and scope checks.

The gateway only checks that a key is shaped like one (so garbage never reaches content); content
decides whether it is a real, unrevoked key and which organization and scopes it carries. Its answers are
cached here briefly (verified keys for `auth_cache_seconds`, refusals for `auth_refusal_cache_seconds`),
so a busy key costs content one call every few seconds rather than one per request. A revocation is
broadcast (common.revocations) and drops the key from every gateway's cache at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import grpc
from fastapi import Depends, Request

from common.clients import Clients
from common.revocations import CHANNEL
from common.settings import Settings
from gateway import rate_limit
from gateway.errors import ApiError, from_rpc_error
from layers.content.v1 import content_pb2

log = logging.getLogger("layers.gateway.auth")

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
    """Content's recent answers about presented keys, by the key's digest (the secret itself is not kept).

    Bounded (least recently used entries go first), so a client spraying random keys cannot grow it. A
    verification that started before the latest revocation (or before the cache was cleared) is not
    cached: content may have answered before it committed the revocation. Revocations are rare, so this
    costs at most one more verification per key. Called from the event loop and, for the in-process
    revocation bus, from content's threads: every operation holds a lock."""

    def __init__(
        self,
        ttl_seconds: float,
        refusal_ttl_seconds: float,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl_seconds
        self.refusal_ttl = refusal_ttl_seconds
        self.max_entries = max_entries
        self.clock = clock
        self._entries: OrderedDict[bytes, tuple[float, ApiKey | Refusal]] = OrderedDict()
        self._invalidated_at = float("-inf")
        self._lock = threading.Lock()

    @staticmethod
    def digest(key: str) -> bytes:
        return hashlib.sha256(key.encode()).digest()

    def get(self, digest: bytes) -> ApiKey | Refusal | None:
        with self._lock:
            entry = self._entries.get(digest)
            if entry is None:
                return None
            expires, answer = entry
            if expires <= self.clock():
                del self._entries[digest]
                return None
            self._entries.move_to_end(digest)
            return answer

    def put(self, digest: bytes, answer: ApiKey | Refusal, started: float) -> None:
        """Remember content's answer to a verification that began at `started` (this cache's clock)."""
        ttl = self.ttl if isinstance(answer, ApiKey) else self.refusal_ttl
        with self._lock:
            if ttl <= 0 or started <= self._invalidated_at:
                return
            self._entries[digest] = (self.clock() + ttl, answer)
            self._entries.move_to_end(digest)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def revoke(self, key_id: str) -> None:
        """Forget every cached verification of key_id, and refuse to cache any still in flight."""
        with self._lock:
            self._invalidated_at = self.clock()
            for digest, (_, answer) in list(self._entries.items()):
                if isinstance(answer, ApiKey) and answer.key_id == key_id:
                    del self._entries[digest]

    def clear(self) -> None:
        with self._lock:
            self._invalidated_at = self.clock()
            self._entries.clear()


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


# How long the revocation channel may be silent before the gateway checks that it is still connected: a
# half-open connection would otherwise leave it deaf (the cache TTL still bounds trust meanwhile).
CHANNEL_CHECK_SECONDS = 5.0


async def listen_for_revocations(redis_url: str, cache: KeyCache) -> None:
    """Follow the Redis revocation channel until cancelled, reconnecting with backoff. Whenever the
    subscription (re)starts the whole cache is dropped, since messages may have been missed meanwhile."""
    import redis.asyncio as aioredis

    backoff = 0.5
    while True:
        client = aioredis.Redis.from_url(redis_url, socket_connect_timeout=2, socket_keepalive=True)
        try:
            async with client.pubsub() as pubsub:
                await pubsub.subscribe(CHANNEL)
                cache.clear()
                backoff = 0.5
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=CHANNEL_CHECK_SECONDS)
                    if message is None:
                        await asyncio.wait_for(pubsub.ping(), CHANNEL_CHECK_SECONDS)  # raises when the link is gone
                    elif message.get("type") == "message":
                        data = message["data"]
                        cache.revoke(data.decode() if isinstance(data, bytes) else str(data))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # connection refused or dropped: keep trying, the TTL still bounds trust
            log.warning("revocation channel unavailable (%s); retrying in %.1fs", exc.__class__.__name__, backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 10.0)
        finally:
            await client.aclose()


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
