"""What every service's migration tests check: its hand-written Alembic migrations build exactly the tables
its models describe (a second run changes nothing), and downgrade to nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, inspect

from common.db import make_engine, migrate


def assert_migrations_build_the_models(
    db_url: str, metadata: MetaData, migrations: Path, version_table: str, head: str
) -> set[str]:
    """Migrate twice, compare with the models (types included), check the head revision; returns the tables."""

    def not_version_table(name: str | None, type_: str, _parent: Any) -> bool:
        return not (type_ == "table" and name == version_table)

    engine = make_engine(db_url)
    try:
        migrate(engine, migrations, version_table)
        migrate(engine, migrations, version_table)  # already at head: a no-op
        with engine.connect() as conn:
            opts = {"compare_type": True, "include_name": not_version_table, "version_table": version_table}
            context = MigrationContext.configure(conn, opts=opts)
            assert compare_metadata(context, metadata) == []
            assert context.get_current_revision() == head
        tables = set(inspect(engine).get_table_names())
        assert tables == {*metadata.tables, version_table}
        return tables
    finally:
        engine.dispose()


def assert_migrations_downgrade_to_nothing(db_url: str, migrations: Path, version_table: str) -> None:
    engine = make_engine(db_url)
    try:
        migrate(engine, migrations, version_table)
        config = Config()
        config.set_main_option("script_location", str(migrations))
        config.attributes["version_table"] = version_table
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "base")
        assert set(inspect(engine).get_table_names()) == {version_table}
    finally:
        engine.dispose()
