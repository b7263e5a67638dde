"""The hand-written Alembic migrations build exactly the tables models.py describes."""

from __future__ import annotations

from services.content.models import Base
from services.content.server import MIGRATIONS
from tests.support.migrations import assert_migrations_build_the_models, assert_migrations_downgrade_to_nothing

VERSION_TABLE = "alembic_version_content"


def test_migration_matches_models(db_url: str) -> None:
    assert_migrations_build_the_models(db_url, Base.metadata, MIGRATIONS, VERSION_TABLE, "0005")


def test_migration_downgrades_to_nothing(db_url: str) -> None:
    assert_migrations_downgrade_to_nothing(db_url, MIGRATIONS, VERSION_TABLE)
