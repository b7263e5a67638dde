"""Process entry point: build the gateway from settings and serve it with uvicorn, in
LAYERS_HTTP_WORKERS processes (default: one per core) sharing the port."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
from types import FrameType

import uvicorn
from fastapi import FastAPI
from uvicorn.supervisors import Multiprocess

from common import logs, metrics
from common.settings import Settings, load_settings
from gateway.app import create_app
from gateway.http_protocol import GatewayConfig

log = logging.getLogger("layers.gateway")

# How long in-flight requests get to finish after SIGTERM/SIGINT.
GRACEFUL_SHUTDOWN_SECONDS = 10


def app_from_environment() -> FastAPI:
    """The app each worker process builds for itself (uvicorn's factory)."""
    logs.configure()
    return create_app(Settings())


def uvicorn_config(app: FastAPI | str, settings: Settings, workers: int = 1, **extra: object) -> uvicorn.Config:
    # httptools (uvicorn's fastest parser) with bounded heads and slow-client timeouts: gateway.http_protocol.
    return GatewayConfig(
        app,
        header_timeout_seconds=settings.http_header_timeout_seconds,
        body_timeout_seconds=settings.http_body_timeout_seconds,
        host=settings.http_host,
        port=settings.http_port,
        workers=workers,
        factory=isinstance(app, str),
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        # Every request already carries an X-Request-Id and errors are logged with it; a line per request
        # would cost more CPU than the request itself.
        access_log=False,
        # uvicorn's own lines go through the process's logging setup (common.logs), not a format of its own.
        log_config=None,
        # X-Forwarded-* are read by gateway.origin, from LAYERS_TRUSTED_PROXIES only; uvicorn would believe
        # them from 127.0.0.1 and rewrite the request's scheme and client.
        proxy_headers=False,
        **extra,  # type: ignore[arg-type]
    )


def workers_for(settings: Settings) -> int:
    """LAYERS_HTTP_WORKERS, or by default one per core the process may run on. Without Redis each process
    counts rate limits on its own, so the default is then one process (and more is said out loud)."""
    if settings.http_workers:
        if settings.http_workers > 1 and not settings.redis_url:
            log.warning(
                "LAYERS_HTTP_WORKERS=%d without LAYERS_REDIS_URL: each process keeps its own rate-limit budget",
                settings.http_workers,
            )
        return settings.http_workers
    return len(os.sched_getaffinity(0)) if settings.redis_url else 1


def main() -> None:
    logs.configure()
    settings = load_settings()
    workers = workers_for(settings)
    stop_metrics = metrics.serve(settings.metrics_port, workers)
    try:
        _serve(settings, workers)
    finally:
        stop_metrics()


def _serve(settings: Settings, workers: int) -> None:
    if workers == 1:
        run_server(uvicorn_config(create_app(settings), settings))
        return
    # Several processes: uvicorn's supervisor binds the port once and each worker builds its own app.
    config = uvicorn_config("gateway.main:app_from_environment", settings, workers=workers)
    sock = config.bind_socket()
    try:
        Multiprocess(config, sockets=[sock]).run()
    finally:
        sock.close()


def run_server(config: uvicorn.Config) -> None:
    """Serve until SIGTERM/SIGINT, then return normally so the caller's cleanup runs.

    uvicorn handles the signal itself (stop accepting, let running requests finish), then re-raises it
    once it has shut down: by then nothing is left to stop, so the handler here lets it pass. Raising there
    instead would abort the event loop with the app's lifespan still waiting, which logs a traceback. A
    signal before uvicorn serves (its own handlers not yet installed) stops the start.
    """
    server = uvicorn.Server(config)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if not server.started:
            raise SystemExit(0)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    with contextlib.suppress(SystemExit):
        server.run()


if __name__ == "__main__":
    main()
