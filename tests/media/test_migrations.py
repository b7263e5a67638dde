"""The hand-written migration builds exactly what the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from services.media.models import Base
from services.media.server import MIGRATIONS_DIR, VERSION_TABLE
from tests.support.migrations import assert_migrations_build_the_models


def test_migration_matches_models(db_url: str) -> None:
    tables = assert_migrations_build_the_models(db_url, Base.metadata, MIGRATIONS_DIR, VERSION_TABLE, "0002")
    assert tables == {"blobs", "media_items", "reaction_templates", "music_tracks", VERSION_TABLE}
