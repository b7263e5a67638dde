"""The hand-written migration builds exactly what the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from services.webhooks.models import Base
from services.webhooks.server import MIGRATIONS_DIR, VERSION_TABLE
from tests.support.migrations import assert_migrations_build_the_models


def test_migration_matches_models(db_url: str) -> None:
    tables = assert_migrations_build_the_models(db_url, Base.metadata, MIGRATIONS_DIR, VERSION_TABLE, "0002")
    expected = {"endpoints", "endpoint_secrets", "events", "deliveries", "attempts", "idempotency_keys"}
    assert tables == expected | {VERSION_TABLE}
