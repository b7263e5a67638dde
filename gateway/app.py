"""The composition root of the HTTP side: create_app wires settings, clients and routes together.

What needs the event loop (grpc.aio channels, the rate-limit store, the broadcast listener) is built in
the app's lifespan, in each worker process, on the loop that serves it.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator

from fastapi import FastAPI

from common import broadcasts
from common.clients import Clients
from common.settings import Settings
from gateway import docs, openapi
from gateway.auth import key_cache_for
from gateway.balances import Balances
from gateway.cursors import CursorSealer
from gateway.errors import install_error_handlers
from gateway.middleware import BodySizeLimitMiddleware, RequestIdMiddleware
from gateway.origin import Origins
from gateway.polled_jobs import PolledJobs
from gateway.project_access import VisibleProjects
from gateway.rate_limit import RateLimits
from gateway.routes import account, app_media, content, health, jobs, projects, webhooks
from gateway.signing import UrlSigner

API_PREFIX = "/v1"
APP_MEDIA_PATH = re.compile(r"^/v1/projects/[^/]+/app-media$")


def create_app(settings: Settings) -> FastAPI:
    """Build the gateway app; it connects to the services when it starts serving and closes on shutdown."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        keys, balances, jobs = app.state.key_cache, app.state.balances, app.state.polled_jobs
        app.state.rate_limits = RateLimits(settings)
        app.state.clients = Clients.connect_aio(settings)
        # What the services change: heard from this process (the embedded default) and, through Redis,
        # from anywhere. A (re)started subscription may have missed messages, so both caches start over.
        listeners = {
            broadcasts.KEY_REVOKED: keys.revoke,
            broadcasts.BALANCE_CHANGED: balances.forget_key,
            broadcasts.JOB_CHANGED: jobs.forget_key,
        }
        unsubscribes = [broadcasts.LOCAL.subscribe(channel, listener) for channel, listener in listeners.items()]

        def start_over() -> None:
            keys.clear()
            balances.clear()
            jobs.clear()

        listener = None
        try:
            if settings.redis_url:
                listener = asyncio.create_task(broadcasts.listen(settings.redis_url, listeners, start_over))
            yield
        finally:
            for unsubscribe in unsubscribes:
                unsubscribe()
            if listener is not None:
                listener.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await listener
            await app.state.clients.aclose()

    app = FastAPI(
        title="Layers partner content API",
        version="1.0.0",
        description="Generate UGC-style influencer reaction videos.",
        docs_url=None,  # served by gateway.docs from packaged assets, not a CDN
        redoc_url=None,
        lifespan=lifespan,
        # No OpenTelemetry provider is set up; without this FastAPI looks for one on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
        # A slash redirect would build its Location from the client's Host header (and carry a signed
        # link's query to it); a path with a trailing slash is simply not one of ours.
        redirect_slashes=False,
    )
    app.state.settings = settings
    app.state.signer = UrlSigner.from_settings(settings)
    app.state.origins = Origins(settings.public_base_url, settings.trusted_proxy_networks)
    app.state.cursors = CursorSealer.from_settings(settings)
    app.state.key_cache = key_cache_for(settings)
    app.state.balances = Balances(settings.balance_cache_seconds)
    app.state.polled_jobs = PolledJobs(settings.job_cache_seconds)
    app.state.visible_projects = VisibleProjects()

    install_error_handlers(app)
    # Added last runs first: request ids wrap everything, so even a 413 or a 500 carries one.
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_bytes=settings.max_json_body_bytes,
        path_limits=[(APP_MEDIA_PATH, settings.max_upload_bytes + app_media.MULTIPART_OVERHEAD_BYTES)],
    )
    api_routers = (content.router, jobs.router, account.router, projects.router, app_media.router, webhooks.router)
    # Each route's full template, for the request metrics' route label (a route knows only its own part).
    templates = {id(route): API_PREFIX + route.path for router in api_routers for route in router.routes}  # type: ignore[attr-defined]
    templates.update({id(route): route.path for route in health.router.routes})  # type: ignore[attr-defined]
    app.add_middleware(RequestIdMiddleware, route_templates=templates)

    for router in api_routers:
        app.include_router(router, prefix=API_PREFIX)
    app.include_router(health.router)
    openapi.install(app)
    docs.install(app)
    return app
