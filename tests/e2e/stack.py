"""The whole system for end-to-end tests: billing, media, webhooks and content gRPC servers and the REST
gateway on free loopback ports, on SQLite or PostgreSQL, with the in-process queue or a real RabbitMQ."""

from __future__ import annotations

import atexit
import contextlib
import functools
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from cli.admin import create_demo_tenant
from common.clients import Clients
from common.grpc_server import RunningService
from common.render_queue import InProcessQueue, Publisher
from common.settings import Settings
from gateway.app import create_app
from gateway.main import uvicorn_config
from services.billing import server as billing_server
from services.content import server as content_server
from services.media import seed_clips
from services.media import server as media_server
from services.renderer import worker as render_worker
from services.webhooks import server as webhooks_server


@dataclass
class Stack:
    settings: Settings
    base_url: str
    stubs: Clients
    queue: InProcessQueue | None
    services: dict[str, RunningService] = field(default_factory=dict)

    def http(self, api_key: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=30)

    def tenant(self, credits: int = 120 * 10) -> dict[str, Any]:
        """A fresh org with a project, a key with every scope, a wired influencer and an app-demo clip."""
        return create_demo_tenant(self.stubs, credits=credits)


@functools.cache
def _clip_cache() -> Path:
    """One folder of generated catalogue clips for every stack this test process starts: seed_catalog
    reuses the clips it finds there (they are only ever renamed into place whole)."""
    folder = Path(tempfile.mkdtemp(prefix="layers-seed-clips-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextlib.contextmanager
def running_stack(
    data_dir: Path,
    db_urls: dict[str, str] | None = None,
    publisher: Publisher | None = None,
    renderer: bool = False,
    catalog: tuple[int, int] = (3, 2),
    webhooks_embedded: bool = False,
    **overrides: Any,
) -> Iterator[Stack]:
    """Start everything. Without a publisher, render messages go to an in-process queue the test can read
    (or that the in-process renderer consumes, with renderer=True; with a publisher, renderer=True consumes
    from RabbitMQ at settings.amqp_url). catalog = (reaction templates, music tracks) to seed. Events reach
    webhooks directly without a publisher, through RabbitMQ with one; `webhooks_embedded` accepts loopback
    http endpoints as `layers dev` does."""
    urls = db_urls or {}
    settings = Settings(
        data_dir=data_dir,
        content_db_url=urls.get("content"),
        media_db_url=urls.get("media"),
        billing_db_url=urls.get("billing"),
        webhooks_db_url=urls.get("webhooks"),
        signing_secret="test-signing-secret",
        webhook_secret_key="test-webhook-secret-key",
        **overrides,
    )
    queue = InProcessQueue() if publisher is None else None
    stack_parts: list[Any] = []
    try:
        billing = billing_server.start(settings, "127.0.0.1:0")
        stack_parts.append(billing)
        media = media_server.start(settings, "127.0.0.1:0")
        stack_parts.append(media)
        # With RabbitMQ, events go through it (when the test names a broker for them); else straight in.
        consume = publisher is not None and bool(settings.amqp_url)
        webhooks = webhooks_server.start(settings, "127.0.0.1:0", embedded=webhooks_embedded, consume=consume)
        stack_parts.append(webhooks)
        settings = settings.model_copy(
            update={"billing_addr": billing.address, "media_addr": media.address, "webhooks_addr": webhooks.address}
        )
        content = content_server.start(
            settings, "127.0.0.1:0", publisher=publisher or queue, events=None if publisher else webhooks.sink
        )
        stack_parts.append(content)
        settings = settings.model_copy(update={"content_addr": content.address})
        stubs = Clients.connect(settings)
        stack_parts.append(stubs)
        seed_clips.seed_catalog(stubs.media, _clip_cache(), reaction_count=catalog[0], track_count=catalog[1])
        if renderer:
            stack_parts.append(render_worker.start(settings, queue))

        app = create_app(settings)
        sock = _free_socket()
        port = sock.getsockname()[1]
        server = uvicorn.Server(uvicorn_config(app, settings, log_level="warning", lifespan="on"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("gateway did not start")
            time.sleep(0.02)
        stack = Stack(
            settings,
            f"http://127.0.0.1:{port}",
            stubs,
            queue,
            {"billing": billing, "media": media, "content": content, "webhooks": webhooks},
        )
        try:
            yield stack
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            sock.close()
    finally:
        for part in reversed(stack_parts):
            if isinstance(part, RunningService):
                part.stop(grace_seconds=1)
            else:
                part.close()
