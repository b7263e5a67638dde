"""The hand-written Alembic migration builds exactly the tables models.py describes."""

from __future__ import annotations

from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from common.db import make_engine, migrate
from services.content.models import Base
from services.content.server import MIGRATIONS as MIGRATIONS_DIR

VERSION_TABLE = "alembic_version_content"


def _not_version_table(name: str | None, type_: str, _parent: Any) -> bool:
    return not (type_ == "table" and name == VERSION_TABLE)


def test_migration_matches_models(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        migrate(engine, MIGRATIONS_DIR, VERSION_TABLE)
        migrate(engine, MIGRATIONS_DIR, VERSION_TABLE)  # a second run is a no-op

        assert set(inspect(engine).get_table_names()) == {*Base.metadata.tables, VERSION_TABLE}
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True, "include_name": _not_version_table})
            assert compare_metadata(context, Base.metadata) == []
            assert conn.scalar(text(f"SELECT version_num FROM {VERSION_TABLE}")) == "0004"
    finally:
        engine.dispose()


def test_migration_downgrades_to_nothing(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        migrate(engine, MIGRATIONS_DIR, VERSION_TABLE)
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        config.attributes["version_table"] = VERSION_TABLE
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "base")
        assert set(inspect(engine).get_table_names()) == {VERSION_TABLE}
    finally:
        engine.dispose()
