from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from common.amqp import scratch_broker_names
from common.db import scratch_databases
from tests.conftest import PG_ADMIN_URL, require_server
from tests.e2e.stack import Stack, running_stack


@contextmanager
def fresh_pg_databases() -> Iterator[dict[str, str]]:
    """Fresh PostgreSQL databases, one per service (content, media, billing, webhooks), dropped afterwards."""
    require_server("PostgreSQL", "127.0.0.1", 5432)
    with scratch_databases(PG_ADMIN_URL, "layers_e2e", ("content", "media", "billing", "webhooks")) as urls:
        yield urls


@pytest.fixture(scope="session")
def pg_databases() -> Iterator[dict[str, str]]:
    """Fresh PostgreSQL databases (content, media, billing, webhooks) for the whole session."""
    with fresh_pg_databases() as urls:
        yield urls


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The whole system on its embedded defaults (SQLite, local blobs, in-process queue)."""
    with running_stack(tmp_path_factory.mktemp("stack")) as running:
        yield running


@pytest.fixture(scope="module")
def pg_stack(tmp_path_factory: pytest.TempPathFactory, pg_databases: dict[str, str]) -> Iterator[Stack]:
    """The whole system on PostgreSQL."""
    with running_stack(tmp_path_factory.mktemp("pgstack"), db_urls=pg_databases) as running:
        yield running


@pytest.fixture
def broker_names(amqp_url: str) -> Iterator[dict[str, str]]:
    with scratch_broker_names(amqp_url, "test") as names:
        yield names
