"""Composition root of the billing service: engine, migrations, ledger, sweeper and gRPC server."""

from __future__ import annotations

import logging
from pathlib import Path

import grpc

from common import logs
from common.broadcasts import BALANCE_CHANGED, Broadcaster
from common.db import Database, make_engine, migrate, ping
from common.grpc_server import RunningService, create_service_server, serve
from common.settings import Settings, load_settings
from common.timeutil import Clock, utcnow
from layers.billing.v1 import billing_pb2, billing_pb2_grpc
from services.billing.ledger import Ledger
from services.billing.servicer import BillingServicer
from services.billing.sweeper import ExpirySweeper

SERVICE_NAME = billing_pb2.DESCRIPTOR.services_by_name["BillingService"].full_name
MIGRATIONS_DIR = Path(__file__).parent / "migrations"
VERSION_TABLE = "alembic_version_billing"

log = logging.getLogger("layers.billing")


def start(
    settings: Settings, address: str | None = None, reuse_port: bool = False, clock: Clock = utcnow
) -> RunningService:
    """Migrate the database and start serving; the caller stops it with `running.stop()`. `clock` is what
    holds expire by (tests move it instead of waiting)."""
    db = Database(make_engine(settings.billing_database))
    broadcasts: Broadcaster | None = None
    sweeper: ExpirySweeper | None = None
    try:
        broadcasts = Broadcaster(settings.redis_url)
        publish = broadcasts.publish
        migrate(db.engine, MIGRATIONS_DIR, VERSION_TABLE)
        ledger = Ledger(db, settings.reservation_ttl_seconds, clock, lambda org: publish(BALANCE_CHANGED, org))
        sweeper = ExpirySweeper(ledger, settings.expiry_sweep_seconds, clock)
        sweeper.start()
        servicer = BillingServicer(ledger)

        def register(server: grpc.Server) -> None:
            billing_pb2_grpc.add_BillingServiceServicer_to_server(servicer, server)

        server, port = create_service_server(
            register, [SERVICE_NAME], address or settings.billing_addr, settings, reuse_port=reuse_port
        )
    except BaseException:
        if sweeper is not None:
            sweeper.stop()
        if broadcasts is not None:
            broadcasts.close()
        db.dispose()
        raise
    # Closers run in reverse: the sweeper stops before the engine it uses is disposed.
    closers = [db.dispose, broadcasts.close, sweeper.stop]
    return RunningService("billing", server, port, closers=closers, checks=[lambda: ping(db.engine)])


def main() -> None:
    logs.configure()
    settings = load_settings()
    serve("billing", __name__, settings.billing_addr, settings, settings.billing_database)
