"""Composition root of the content service: database, clients of media and billing, relay, gRPC server."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import grpc

from common import logs
from common.broadcasts import JOB_CHANGED, Broadcaster, Follower
from common.clients import Clients
from common.db import Database, make_engine, migrate, ping
from common.events import DiscardEvents, EventPublisher, RabbitEventPublisher
from common.grpc_server import RunningService, create_service_server, serve
from common.render_queue import InProcessQueue, Publisher, RabbitPublisher
from common.settings import Settings, load_settings
from layers.content.v1 import content_pb2, content_pb2_grpc
from services.content.housekeeping import Housekeeping
from services.content.idempotency import IdempotencyStore
from services.content.jobs import Jobs
from services.content.ports import GrpcBilling, GrpcMedia
from services.content.relay import OutboxRelay
from services.content.servicer import EdgeServicer, PartnerServicer, RenderCallbackServicer, TenancyAdminServicer
from services.content.tenancy import Tenancy
from services.content.ugc_remix import UgcRemixHandler

# One server, one service per caller: each can be routed, secured and scaled on its own.
SERVICE_NAMES = [service.full_name for service in content_pb2.DESCRIPTOR.services_by_name.values()]
MIGRATIONS = Path(__file__).parent / "migrations"


def start(
    settings: Settings,
    address: str | None = None,
    publisher: Publisher | None = None,
    reuse_port: bool = False,
    events: EventPublisher | None = None,
) -> RunningService:
    """Start the content service. Without a publisher it publishes render messages to RabbitMQ at
    settings.amqp_url; without an event publisher, events go to RabbitMQ too when it is configured, and are
    dropped otherwise (a content service given only an in-process render queue, in tests of other parts)."""
    if publisher is None:
        if not settings.amqp_url:
            raise SystemExit("LAYERS_AMQP_URL is required to run the content service on its own")
        publisher = RabbitPublisher(settings.amqp_url, settings.render_queue)
    if events is None:
        events = (
            RabbitEventPublisher(settings.amqp_url, settings.events_exchange, settings.webhooks_queue)
            if settings.amqp_url
            else DiscardEvents()
        )
    db = Database(make_engine(settings.content_database))
    closers: list[Callable[[], object]] = [db.dispose]
    try:
        migrate(db.engine, MIGRATIONS, "alembic_version_content")
        clients = Clients.connect(settings)
        broadcasts = Broadcaster(settings.redis_url)
        closers += [clients.close, broadcasts.close]
        billing = GrpcBilling(clients.billing)
        media = GrpcMedia(clients.media)
        jobs = Jobs(
            db,
            billing,
            job_changed=lambda job_id: broadcasts.publish(JOB_CHANGED, job_id),
            # Several workers that cannot hear one another (no Redis) would each keep an old copy.
            recent_seconds=settings.job_cache_seconds if settings.redis_url or settings.grpc_workers == 1 else 0.0,
        )
        if settings.redis_url:  # other workers and replicas change jobs too: hear them (the TTL bounds a miss)
            follower = Follower(settings.redis_url, {JOB_CHANGED: jobs.forget}, jobs.forget_all)
            closers.append(follower.close)
        idempotency = IdempotencyStore(db, lease=timedelta(seconds=settings.idempotency_lease_seconds))
        tenancy = Tenancy(db)
        ugc_remix = UgcRemixHandler(
            db,
            idempotency,
            media,
            billing,
            credits=settings.ugc_remix_credits,
            reservation_ttl_seconds=settings.reservation_ttl_seconds,
            max_running_jobs_per_key=settings.max_concurrent_jobs_per_key,
        )
        relay = OutboxRelay(db, publisher, events=events)
        housekeeping = Housekeeping(db, jobs, release_abandoned=ugc_remix.release_abandoned)
        ugc_remix.on_committed = relay.wake
        jobs.on_committed = relay.wake

        def register(server: grpc.Server) -> None:
            content_pb2_grpc.add_PartnerServiceServicer_to_server(PartnerServicer(tenancy, ugc_remix, jobs), server)
            content_pb2_grpc.add_RenderCallbackServiceServicer_to_server(RenderCallbackServicer(jobs), server)
            content_pb2_grpc.add_TenancyAdminServiceServicer_to_server(
                TenancyAdminServicer(tenancy, broadcasts), server
            )
            content_pb2_grpc.add_EdgeServiceServicer_to_server(EdgeServicer(tenancy, idempotency), server)

        server, port = create_service_server(
            register, SERVICE_NAMES, address or settings.content_addr, settings, reuse_port=reuse_port
        )
    except BaseException:
        for close in reversed(closers):
            close()
        raise
    if isinstance(publisher, InProcessQueue):
        # The in-process queue did not survive the last stop: send running jobs' render messages again.
        relay.resend_running_jobs()
    relay.start()
    housekeeping.start()
    # Closers run last-first: the background work stops before the channels and the database it uses go away.
    closers += [relay.stop, housekeeping.stop]
    return RunningService("content", server, port, closers=closers, checks=[lambda: ping(db.engine)])


def main() -> None:
    logs.configure()
    settings = load_settings()
    serve("content", __name__, settings.content_addr, settings, settings.content_database)
