"""Rate limits per API key and endpoint class, counted where the request enters: here, in the gateway.

Every authenticated request takes one unit from its key's budget for the current minute: `generations`
for ugc-remix starts, `reads` for GETs, `writes` for the other POSTs. Counters are fixed windows of the
`limits` library: in Redis when `LAYERS_REDIS_URL` is set (an atomic INCR per request, so every gateway
replica and worker shares one budget), in process memory otherwise (the embedded default, one process).
The decision's X-RateLimit-* headers go on whatever the request answers (success or error), stamped by
RateLimitHeadersMiddleware; over the budget it answers 429 RATE_LIMITED with Retry-After.
"""

from __future__ import annotations

import logging
import math
import time

from fastapi import Request
from limits import RateLimitItem, RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import FixedWindowRateLimiter
from limits.errors import StorageError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from common.settings import Settings
from gateway.errors import UNAVAILABLE_MESSAGE, ApiError

log = logging.getLogger("layers.gateway.rate_limit")

GENERATION_ROUTES = frozenset({"create_ugc_remix"})
_STATE_KEY = "rate_limit_headers"


def endpoint_class(request: Request) -> str:
    route = request.scope.get("route")
    if getattr(route, "name", None) in GENERATION_ROUTES:
        return "generations"
    return "reads" if request.method in ("GET", "HEAD") else "writes"


class RateLimits:
    """The budgets of every key, per endpoint class."""

    def __init__(self, settings: Settings) -> None:
        self.storage: Storage = (
            RedisStorage(
                "async+" + settings.redis_url,
                implementation="redispy",
                key_prefix="layers-rate",
                wrap_exceptions=True,
                socket_timeout=2,
                socket_connect_timeout=2,
            )
            if settings.redis_url
            else MemoryStorage()
        )
        self.limiter = FixedWindowRateLimiter(self.storage)
        self.items: dict[str, RateLimitItem] = {
            "reads": RateLimitItemPerMinute(settings.rate_limit_reads_per_minute),
            "writes": RateLimitItemPerMinute(settings.rate_limit_writes_per_minute),
            "generations": RateLimitItemPerMinute(settings.rate_limit_generations_per_minute),
        }

    async def consume(self, request: Request, key_id: str) -> None:
        """Take one request from the key's budget; raise 429 once it is spent."""
        endpoint = endpoint_class(request)
        item = self.items[endpoint]
        try:
            allowed = await self.limiter.hit(item, key_id, endpoint)
            stats = await self.limiter.get_window_stats(item, key_id, endpoint)
        except StorageError as exc:
            log.warning("rate-limit store unavailable: %s", exc.storage_error)
            raise ApiError(503, "UNAVAILABLE", UNAVAILABLE_MESSAGE) from None
        now = time.time()
        resets = stats.reset_time if stats.reset_time > now else now + item.get_expiry()
        reset_at = math.ceil(resets)
        request.scope.setdefault("state", {})[_STATE_KEY] = [
            (b"x-ratelimit-limit", str(item.amount).encode()),
            (b"x-ratelimit-remaining", str(stats.remaining).encode()),
            (b"x-ratelimit-reset", str(reset_at).encode()),
        ]
        if not allowed:
            wait = min(item.get_expiry(), max(1, math.ceil(resets - now)))
            raise ApiError(
                429,
                "RATE_LIMITED",
                f"This API key made more than {item.amount} {endpoint} requests this minute; retry in {wait} s.",
                {"retryAfterSeconds": wait},
                headers={"Retry-After": str(wait)},
            )


async def consume(request: Request, key_id: str) -> None:
    limits: RateLimits = request.app.state.rate_limits
    await limits.consume(request, key_id)


class RateLimitHeadersMiddleware:
    """Adds the X-RateLimit-* headers a request's rate-limit decision left in its scope to its response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_limits(message: Message) -> None:
            headers = scope.get("state", {}).get(_STATE_KEY)
            if message["type"] == "http.response.start" and headers:
                message = {**message, "headers": [*message.get("headers", []), *headers]}
            await send(message)

        await self.app(scope, receive, send_with_limits)
