"""Composition root of the webhooks service: database, secret box, guard, store, delivery worker, the
events consumer (RabbitMQ) and the gRPC server.

`embedded=True` is the embedded default (`layers dev`): events arrive from content's relay in the same
process (`RunningWebhooks.sink`), the secret key may live in the data dir, and http://localhost and
http://127.0.0.1 endpoints are accepted. Nothing else turns those on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc

from common import logs
from common.db import Database, make_engine, migrate, ping
from common.grpc_server import RunningService, create_service_server, serve
from common.settings import Settings, load_settings
from common.ssrf import OutboundGuard, Resolver, split_hosts
from layers.webhooks.v1 import webhooks_pb2, webhooks_pb2_grpc
from services.webhooks.consumer import LocalEventSink, RabbitEventConsumer
from services.webhooks.delivery import DeliveryWorker
from services.webhooks.secrets import SecretBox
from services.webhooks.servicer import WebhookServicer
from services.webhooks.store import LOCAL_HOSTS, Webhooks

SERVICE_NAME = webhooks_pb2.DESCRIPTOR.services_by_name["WebhookService"].full_name
MIGRATIONS_DIR = Path(__file__).parent / "migrations"
VERSION_TABLE = "alembic_version_webhooks"


# A taken attempt not reported within this is due again (a crashed worker's): well past its timeout.
def lease_seconds(timeout: float) -> float:
    return 3 * timeout + 5


log = logging.getLogger("layers.webhooks")


class RunningWebhooks(RunningService):
    sink: LocalEventSink
    webhooks: Webhooks


def start(
    settings: Settings,
    address: str | None = None,
    reuse_port: bool = False,
    embedded: bool = False,
    consume: bool | None = None,
    resolver: Resolver | None = None,
) -> RunningWebhooks:
    """Migrate, start the delivery worker, the consumer (when RabbitMQ is configured and `consume` is not
    False) and the gRPC server. `resolver` replaces DNS for the guard (tests of DNS that changes)."""
    # httpx logs every request with its URL at INFO; a partner's URL may carry a token of theirs.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    db = Database(make_engine(settings.webhooks_database))
    closers: list[Callable[[], Any]] = [db.dispose]
    try:
        migrate(db.engine, MIGRATIONS_DIR, VERSION_TABLE)
        guard_options: dict[str, Any] = {"resolver": resolver} if resolver else {}
        guard = OutboundGuard(
            split_hosts(settings.fetch_allowed_hosts), LOCAL_HOSTS if embedded else (), **guard_options
        )
        webhooks = Webhooks(
            db,
            SecretBox.from_settings(settings, embedded),
            guard,
            settings.webhook_retry_ladder,
            embedded=embedded,
            overlap_seconds=settings.webhook_secret_overlap_seconds,
            lease_seconds=lease_seconds(settings.webhook_timeout_seconds),
        )
        worker = DeliveryWorker(
            webhooks, settings.webhook_timeout_seconds, settings.webhook_concurrency, settings.fetch_ca_file
        )
        webhooks.on_due = worker.wake
        worker.start()
        closers.append(worker.stop)
        if consume is None:
            consume = bool(settings.amqp_url) and not embedded
        if consume:
            if not settings.amqp_url:
                raise SystemExit("LAYERS_AMQP_URL is required to run the webhooks service on its own")
            consumer = RabbitEventConsumer(
                settings.amqp_url, settings.events_exchange, settings.webhooks_queue, webhooks
            )
            consumer.start()
            closers.append(consumer.stop)

        def register(server: grpc.Server) -> None:
            webhooks_pb2_grpc.add_WebhookServiceServicer_to_server(WebhookServicer(webhooks), server)

        server, port = create_service_server(
            register, [SERVICE_NAME], address or settings.webhooks_addr, settings, reuse_port=reuse_port
        )
    except BaseException:
        for close in reversed(closers):
            close()
        raise
    running = RunningWebhooks("webhooks", server, port, closers=closers, checks=[lambda: ping(db.engine)])
    running.sink = LocalEventSink(webhooks)
    running.webhooks = webhooks
    return running


def main() -> None:
    logs.configure()
    settings = load_settings()
    if not settings.amqp_url:
        raise SystemExit("LAYERS_AMQP_URL is required to run the webhooks service on its own")
    serve("webhooks", __name__, settings.webhooks_addr, settings, settings.webhooks_database)
