"""`layers dev`: the whole system in one process on loopback, on its embedded defaults.

SQLite files and the blob folder live under the data dir; an in-process queue stands in for RabbitMQ
unless LAYERS_AMQP_URL is set. The first start seeds a reaction pool, a music catalog and a demo tenant.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from cli.admin import create_demo_tenant
from common import logs, metrics, preflight
from common.clients import Clients
from common.grpc_server import RunningService
from common.render_queue import InProcessQueue
from common.settings import Settings
from gateway.app import create_app
from gateway.main import run_server, uvicorn_config
from services.billing import server as billing_server
from services.content import server as content_server
from services.media import seed_clips
from services.media import server as media_server
from services.webhooks import server as webhooks_server

log = logging.getLogger("layers.dev")


def run(data_dir: Path | None, http_port: int | None) -> None:
    overrides: dict[str, Any] = {}
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    if http_port is not None:
        overrides["http_port"] = http_port
    # Everything talks over loopback inside this one process: plain gRPC, whatever LAYERS_GRPC_TLS_* say, and
    # no health ports (four servers in one process would all take the one LAYERS_GRPC_HEALTH_PORT).
    overrides.update(grpc_tls_cert=None, grpc_tls_key=None, grpc_tls_ca=None, grpc_health_port=None)
    settings = Settings(**overrides)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    logs.configure("text")
    preflight.check("dev", settings)

    in_process = None if settings.amqp_url else InProcessQueue()
    started: list[Any] = [metrics.Stopper(metrics.serve(settings.metrics_port))]
    try:
        started.append(billing_server.start(settings))
        started.append(media_server.start(settings))
        # Webhooks take content's events straight from its relay: one process, nothing in between to lose.
        webhooks = webhooks_server.start(settings, embedded=True, consume=False)
        started.append(webhooks)
        started.append(content_server.start(settings, publisher=in_process, events=webhooks.sink))
        started.extend(start_renderer(settings, in_process))
        clients = Clients.connect(settings)
        started.append(clients)
        demo = seed(settings, clients)
        print_banner(settings, demo)
        # One gateway process: it shares this process's revocation bus with content.
        run_server(uvicorn_config(create_app(settings), settings, log_level="warning"))  # returns on Ctrl-C
    finally:
        for part in reversed(started):
            if isinstance(part, RunningService):
                part.stop(grace_seconds=2)
            else:
                part.close()
        print("layers dev stopped", file=sys.stderr)


def start_renderer(settings: Settings, in_process: InProcessQueue | None) -> list[Any]:
    """The renderer joins the process when it exists; until then jobs wait at stage 'queued'."""
    try:
        from services.renderer import worker
    except ImportError:
        log.warning("renderer not available: jobs stay queued")
        return []
    return [worker.start(settings, in_process)]


def seed(settings: Settings, clients: Clients) -> dict[str, Any]:
    """Seed the catalog (if empty) and the demo tenant (once; remembered in the data dir)."""
    with tempfile.TemporaryDirectory() as tmp:
        seed_clips.seed_catalog(clients.media, Path(tmp))
    demo_file = settings.data_dir / "demo.json"
    if demo_file.exists():
        return dict(json.loads(demo_file.read_text()))
    demo = create_demo_tenant(clients, credits=120 * 50)
    # The key is a local development secret: keep it readable by the owner only.
    fd = os.open(demo_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(demo, out, indent=2)
    return demo


def print_banner(settings: Settings, demo: dict[str, Any]) -> None:
    base = f"http://{settings.http_host}:{settings.http_port}"
    print(
        f"""
Layers partner API is running (data in {settings.data_dir.resolve()})
  REST gateway   {base}   (OpenAPI: {base}/docs)
  gRPC           content {settings.content_addr}  media {settings.media_addr}  billing {settings.billing_addr}
                 webhooks {settings.webhooks_addr}
  queue          {"RabbitMQ " + str(settings.amqp_url) if settings.amqp_url else "in-process"}

Demo tenant: project {demo["projectId"]}, influencer {demo["influencerId"]}, {demo["credits"]} credits
  export LAYERS_API_KEY={demo["apiKey"]}

Try it:
  curl -X POST {base}/v1/projects/{demo["projectId"]}/content/ugc-remix \\
    -H "Authorization: Bearer $LAYERS_API_KEY" -H "Content-Type: application/json" \\
    -H "Idempotency-Key: $(uuidgen 2>/dev/null || date +%s%N)" \\
    -d '{{"influencerId": "{demo["influencerId"]}", "hook": "Wait for it…"}}'

Press Ctrl-C to stop.
""",
        flush=True,
    )
