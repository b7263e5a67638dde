"""Rate limits per API key and endpoint class, counted by the content service so all replicas share them.

Every authenticated request takes one unit from its key's budget for the current minute: `generations`
for ugc-remix starts, `reads` for GETs, `writes` for the other POSTs. The decision's X-RateLimit-* headers
go on whatever the request answers (success or error), stamped by RateLimitHeadersMiddleware; over the
budget it answers 429 RATE_LIMITED with Retry-After.
"""

from __future__ import annotations

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from common.settings import Settings
from gateway.clients import ServiceClients
from gateway.errors import ApiError
from layers.content.v1 import content_pb2

WINDOW_SECONDS = 60
GENERATION_ROUTES = frozenset({"create_ugc_remix"})
_STATE_KEY = "rate_limit_headers"


def endpoint_class(request: Request) -> str:
    route = request.scope.get("route")
    if getattr(route, "name", None) in GENERATION_ROUTES:
        return "generations"
    return "reads" if request.method in ("GET", "HEAD") else "writes"


def _limit(settings: Settings, endpoint: str) -> int:
    limits = {
        "reads": settings.rate_limit_reads_per_minute,
        "writes": settings.rate_limit_writes_per_minute,
        "generations": settings.rate_limit_generations_per_minute,
    }
    return limits[endpoint]


def consume(request: Request, key_id: str, clients: ServiceClients, settings: Settings) -> None:
    """Take one request from the key's budget; raise 429 once it is spent."""
    endpoint = endpoint_class(request)
    decision = clients.content.ConsumeRateLimit(
        content_pb2.ConsumeRateLimitRequest(
            key_id=key_id, endpoint_class=endpoint, limit=_limit(settings, endpoint), window_seconds=WINDOW_SECONDS
        ),
        timeout=settings.rpc_timeout_seconds,
    )
    request.scope.setdefault("state", {})[_STATE_KEY] = [
        (b"x-ratelimit-limit", str(decision.limit).encode()),
        (b"x-ratelimit-remaining", str(decision.remaining).encode()),
        (b"x-ratelimit-reset", str(decision.reset_at).encode()),
    ]
    if not decision.allowed:
        wait = decision.retry_after_seconds
        raise ApiError(
            429,
            "RATE_LIMITED",
            f"This API key made more than {decision.limit} {endpoint} requests this minute; retry in {wait} s.",
            {"retryAfterSeconds": wait},
            headers={"Retry-After": str(wait)},
        )


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
