"""Composition root of the content service: database, clients of media and billing, relay, gRPC server."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from common.db import Database, make_engine, migrate
from common.grpc_server import RunningService, channel, create_server
from common.render_queue import InProcessQueue, Publisher, RabbitPublisher
from common.settings import Settings
from layers.billing.v1 import billing_pb2_grpc
from layers.content.v1 import content_pb2_grpc
from layers.media.v1 import media_pb2_grpc
from services.content.idempotency import IdempotencyStore
from services.content.jobs import Jobs
from services.content.ports import GrpcBilling, GrpcMedia
from services.content.rate_limits import RateLimiter
from services.content.relay import OutboxRelay
from services.content.servicer import ContentServicer
from services.content.tenancy import Tenancy
from services.content.ugc_remix import UgcRemixHandler

SERVICE_NAME = "layers.content.v1.ContentService"
MIGRATIONS = Path(__file__).parent / "migrations"


def start(settings: Settings, address: str | None = None, publisher: Publisher | None = None) -> RunningService:
    """Start the content service. Without a publisher it publishes to RabbitMQ at settings.amqp_url."""
    if publisher is None:
        if not settings.amqp_url:
            raise SystemExit("LAYERS_AMQP_URL is required to run the content service on its own")
        publisher = RabbitPublisher(settings.amqp_url, settings.render_queue)
    db = Database(make_engine(settings.content_database))
    closers: list[Callable[[], object]] = [db.dispose]
    try:
        migrate(db.engine, MIGRATIONS, "alembic_version_content")
        media_channel = channel(settings.media_addr)
        billing_channel = channel(settings.billing_addr)
        closers += [billing_channel.close, media_channel.close]
        billing = GrpcBilling(billing_pb2_grpc.BillingServiceStub(billing_channel), settings.rpc_timeout_seconds)
        media = GrpcMedia(media_pb2_grpc.MediaServiceStub(media_channel), settings.rpc_timeout_seconds)
        jobs = Jobs(db, billing)
        relay = OutboxRelay(db, publisher, jobs)
        idempotency = IdempotencyStore(db)
        ugc_remix = UgcRemixHandler(
            db,
            idempotency,
            media,
            billing,
            credits=settings.ugc_remix_credits,
            reservation_ttl_seconds=settings.reservation_ttl_seconds,
            max_running_jobs_per_key=settings.max_concurrent_jobs_per_key,
            on_committed=relay.wake,
        )
        servicer = ContentServicer(Tenancy(db), ugc_remix, jobs, idempotency, RateLimiter(db))
        server, port = create_server(
            lambda s: content_pb2_grpc.add_ContentServiceServicer_to_server(servicer, s),
            [SERVICE_NAME],
            address or settings.content_addr,
        )
    except BaseException:
        for close in reversed(closers):
            close()
        raise
    if isinstance(publisher, InProcessQueue):
        # The in-process queue did not survive the last stop: send running jobs' render messages again.
        relay.resend_running_jobs()
    relay.start()
    # Closers run last-first: the relay stops before the channels and the database it uses go away.
    return RunningService("content", server, port, closers=[*closers, relay.stop])


def main() -> None:
    from common.grpc_server import wait_for_stop_signal

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    running = start(Settings())
    logging.getLogger("layers.content").info("content service listening on port %d", running.port)
    wait_for_stop_signal(running.stop)
