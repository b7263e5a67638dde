"""The hand-written Alembic migration builds exactly the tables models.py describes."""

from __future__ import annotations

from services.billing.models import Base
from services.billing.server import MIGRATIONS_DIR, VERSION_TABLE
from tests.support.migrations import assert_migrations_build_the_models, assert_migrations_downgrade_to_nothing


def test_migration_matches_models(db_url: str) -> None:
    assert_migrations_build_the_models(db_url, Base.metadata, MIGRATIONS_DIR, VERSION_TABLE, "0001")


def test_migration_downgrades_to_nothing(db_url: str) -> None:
    assert_migrations_downgrade_to_nothing(db_url, MIGRATIONS_DIR, VERSION_TABLE)
