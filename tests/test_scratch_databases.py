"""Scratch databases for tests and benchmarks: one a service while in use, all gone afterwards, even
with a connection to one of them still open."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from common.db import scratch_databases
from tests.conftest import PG_ADMIN_URL, require_server

pytestmark = pytest.mark.postgres


def _existing(names: list[str]) -> list[str]:
    admin = create_engine(PG_ADMIN_URL, poolclass=NullPool)
    try:
        with admin.connect() as conn:
            found = conn.execute(text("SELECT datname FROM pg_database WHERE datname = ANY(:names)"), {"names": names})
            return sorted(found.scalars())
    finally:
        admin.dispose()


def test_scratch_databases_serve_while_in_use_and_are_dropped_after() -> None:
    require_server("PostgreSQL", "127.0.0.1", 5432)
    with scratch_databases(PG_ADMIN_URL, "layers_t_scratch", ["content", "webhooks"]) as urls:
        assert sorted(urls) == ["content", "webhooks"]
        names = sorted(url.rpartition("/")[2] for url in urls.values())
        assert names[0].startswith("layers_t_scratch_") and names[0].endswith("_content")
        assert _existing(names) == names
        left_open = create_engine(urls["content"], poolclass=NullPool).connect()
        assert left_open.execute(text("SELECT current_database()")).scalar() == names[0]
    assert _existing(names) == []
    with pytest.raises(OperationalError):  # the drop ended it
        left_open.execute(text("SELECT 1"))
    left_open.close()
