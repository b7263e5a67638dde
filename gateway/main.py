"""Process entry point: build the gateway from settings and serve it with uvicorn."""

from __future__ import annotations

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
    # uvicorn handles SIGTERM/SIGINT itself (stop accepting, let running requests finish), then
    # re-raises the signal; this handler turns that into a normal exit, so the finally below runs.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _exit)
    try:
        uvicorn.Server(config).run()
    finally:
        clients.close()


if __name__ == "__main__":
    main()
