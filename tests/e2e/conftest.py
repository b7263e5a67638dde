from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pika
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from common.render_queue import dead_queue, retry_queue
from tests.conftest import PG_ADMIN_URL, require_server
from tests.e2e.stack import Stack, running_stack


@contextmanager
def fresh_pg_databases() -> Iterator[dict[str, str]]:
    """Fresh PostgreSQL databases, one per service (content, media, billing, webhooks), dropped afterwards."""
    require_server("PostgreSQL", "127.0.0.1", 5432)
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    base, _, _ = PG_ADMIN_URL.rpartition("/")
    tag = uuid.uuid4().hex[:8]
    names = {svc: f"layers_e2e_{tag}_{svc}" for svc in ("content", "media", "billing", "webhooks")}
    with admin.connect() as conn:
        for name in names.values():
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield {svc: f"{base}/{name}" for svc, name in names.items()}
    finally:
        with admin.connect() as conn:
            for name in names.values():
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


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


def delete_names(amqp_url: str, queues: list[str], exchange: str) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        channel = connection.channel()
        for name in queues:
            channel.queue_delete(name)
        channel.exchange_delete(exchange)
    finally:
        connection.close()


@pytest.fixture
def broker_names(amqp_url: str) -> Iterator[dict[str, str]]:
    tag = uuid.uuid4().hex[:8]
    chosen = {
        "render_queue": f"test.render.{tag}",
        "events_exchange": f"test.events.{tag}",
        "webhooks_queue": f"test.webhooks.{tag}",
    }
    yield chosen
    queue = chosen["render_queue"]
    delete_names(
        amqp_url,
        [queue, retry_queue(queue), dead_queue(queue), chosen["webhooks_queue"], dead_queue(chosen["webhooks_queue"])],
        chosen["events_exchange"],
    )
