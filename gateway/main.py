"""Process entry point: build the gateway from settings and serve it with uvicorn."""

from __future__ import annotations

import contextlib
import logging
import signal
from types import FrameType

import uvicorn
from fastapi import FastAPI

from common.settings import Settings
from gateway.app import create_app
from gateway.clients import ServiceClients

# How long in-flight requests get to finish after SIGTERM/SIGINT.
GRACEFUL_SHUTDOWN_SECONDS = 10


def build(settings: Settings) -> tuple[FastAPI, ServiceClients]:
    """Everything the gateway needs, built once; the caller closes the clients when done."""
    clients = ServiceClients.connect(settings)
    try:
        return create_app(settings, clients), clients
    except Exception:
        clients.close()
        raise


def _exit(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = Settings()
    app, clients = build(settings)
    config = uvicorn.Config(
        app,
        host=settings.http_host,
        port=settings.http_port,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
    try:
        run_server(config)
    finally:
        clients.close()


def run_server(config: uvicorn.Config) -> None:
    """Serve until SIGTERM/SIGINT, then return normally so the caller's cleanup runs.

    uvicorn handles the signal itself (stop accepting, let running requests finish), then re-raises it;
    the handler installed here turns that into a normal exit.
    """
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _exit)
    with contextlib.suppress(SystemExit):
        uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
