"""The composition root of the HTTP side: create_app wires settings, clients and routes together."""

from __future__ import annotations

import re

from fastapi import FastAPI

from common.settings import Settings
from gateway import docs, openapi
from gateway.clients import ServiceClients
from gateway.errors import install_error_handlers
from gateway.middleware import BodySizeLimitMiddleware, RequestIdMiddleware
from gateway.rate_limit import RateLimitHeadersMiddleware
from gateway.routes import account, app_media, content, health, jobs, projects
from gateway.signing import UrlSigner

API_PREFIX = "/v1"
APP_MEDIA_PATH = re.compile(r"^/v1/projects/[^/]+/app-media$")


def create_app(settings: Settings, clients: ServiceClients) -> FastAPI:
    """Build the gateway app around clients someone else owns (and closes)."""
    app = FastAPI(
        title="Layers partner content API",
        version="1.0.0",
        description="Generate UGC-style influencer reaction videos.",
        docs_url=None,  # served by gateway.docs from packaged assets, not a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.clients = clients
    app.state.signer = UrlSigner.from_settings(settings)

    install_error_handlers(app)
    # Added last runs first: request ids wrap everything, so even a 413 or a 500 carries one.
    app.add_middleware(RateLimitHeadersMiddleware)
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_bytes=settings.max_json_body_bytes,
        path_limits=[(APP_MEDIA_PATH, settings.max_upload_bytes + app_media.MULTIPART_OVERHEAD_BYTES)],
    )
    app.add_middleware(RequestIdMiddleware)

    for router in (content.router, jobs.router, account.router, projects.router, app_media.router):
        app.include_router(router, prefix=API_PREFIX)
    app.include_router(health.router)
    openapi.install(app)
    docs.install(app)
    return app
