"""Rate limits per API key and endpoint class, counted where the request enters: here, in the gateway.

Every authenticated request takes one unit from its key's budget for the current clock minute:
`generations` for ugc-remix starts, `reads` for GETs, `writes` for the other POSTs. Counters live in a
storage of the `limits` library: Redis when `LAYERS_REDIS_URL` is set (an atomic INCR per request, so every
gateway replica and worker shares one budget), process memory otherwise (the embedded default).
The decision's X-RateLimit-* headers go on whatever the request answers (success or error), stamped by
RequestIdMiddleware with the request id; over the budget it answers 429 RATE_LIMITED with Retry-After.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable

from fastapi import Request
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.errors import StorageError
from starlette.types import Scope

from common import metrics
from common.settings import Settings
from gateway.errors import UNAVAILABLE_MESSAGE, ApiError

log = logging.getLogger("layers.gateway.rate_limit")

WINDOW_SECONDS = 60
STORE_TIMEOUT_SECONDS = 2.0
GENERATION_ROUTES = frozenset({"create_ugc_remix"})
_STATE_KEY = "rate_limit_headers"


def endpoint_class(request: Request) -> str:
    route = request.scope.get("route")
    if getattr(route, "name", None) in GENERATION_ROUTES:
        return "generations"
    return "reads" if request.method in ("GET", "HEAD") else "writes"


class RateLimits:
    """The budgets of every key, per endpoint class: one counter per key, class and clock-aligned minute,
    taken with the storage's atomic increment (one round trip to Redis), so the window's reset time needs
    no second look-up."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.time) -> None:
        self.storage: Storage = (
            RedisStorage(
                "async+" + settings.redis_url,
                implementation="redispy",
                key_prefix="layers-rate",
                wrap_exceptions=True,
                # No socket_timeout: redis-py would wrap every send in asyncio.wait_for (a task per command);
                # consume() bounds the whole call instead.
                socket_connect_timeout=STORE_TIMEOUT_SECONDS,
            )
            if settings.redis_url
            else MemoryStorage()
        )
        self.clock = clock
        self.limits = {
            "reads": settings.rate_limit_reads_per_minute,
            "writes": settings.rate_limit_writes_per_minute,
            "generations": settings.rate_limit_generations_per_minute,
        }
        self.refusals = {name: metrics.RATE_LIMITED.labels(name) for name in self.limits}

    async def consume(self, request: Request, key_id: str) -> None:
        """Take one request from the key's budget; raise 429 once it is spent."""
        endpoint = endpoint_class(request)
        limit = self.limits[endpoint]
        now = self.clock()
        window = int(now) // WINDOW_SECONDS
        reset_at = (window + 1) * WINDOW_SECONDS
        try:
            # The counter outlives its window a little, so a slow clock elsewhere never restarts it early.
            async with asyncio.timeout(STORE_TIMEOUT_SECONDS):
                count = await self.storage.incr(f"{key_id}/{endpoint}/{window}", WINDOW_SECONDS * 2)
        except (StorageError, TimeoutError) as exc:
            cause = exc.storage_error if isinstance(exc, StorageError) else "no answer in time"
            log.warning("rate-limit store unavailable: %s", cause)
            raise ApiError(503, "UNAVAILABLE", UNAVAILABLE_MESSAGE) from None
        request.scope.setdefault("state", {})[_STATE_KEY] = [
            (b"x-ratelimit-limit", str(limit).encode()),
            (b"x-ratelimit-remaining", str(max(0, limit - count)).encode()),
            (b"x-ratelimit-reset", str(reset_at).encode()),
        ]
        if count > limit:
            self.refusals[endpoint].inc()
            wait = max(1, math.ceil(reset_at - now))
            raise ApiError(
                429,
                "RATE_LIMITED",
                f"This API key made more than {limit} {endpoint} requests this minute; retry in {wait} s.",
                {"retryAfterSeconds": wait},
                headers={"Retry-After": str(wait)},
            )


async def consume(request: Request, key_id: str) -> None:
    limits: RateLimits = request.app.state.rate_limits
    await limits.consume(request, key_id)


def response_headers(scope: Scope) -> list[tuple[bytes, bytes]]:
    """The X-RateLimit-* headers the request's decision left in its scope (none before it was counted)."""
    return list(scope.get("state", {}).get(_STATE_KEY, ()))
