"""The hand-written migration builds exactly what the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from common.db import make_engine, migrate
from services.webhooks.models import Base
from services.webhooks.server import MIGRATIONS_DIR, VERSION_TABLE


def test_migration_matches_models(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        migrate(engine, MIGRATIONS_DIR, VERSION_TABLE)
        migrate(engine, MIGRATIONS_DIR, VERSION_TABLE)  # already at head: a no-op
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
            assert compare_metadata(context, Base.metadata) == []
            assert context.get_current_revision() == "0001"
        tables = set(inspect(engine).get_table_names())
        expected = {"endpoints", "endpoint_secrets", "events", "deliveries", "attempts", "idempotency_keys"}
        assert tables == expected | {VERSION_TABLE}
    finally:
        engine.dispose()
