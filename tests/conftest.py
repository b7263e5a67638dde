"""Shared fixtures: real databases (SQLite and PostgreSQL), a real RabbitMQ and a real Redis.

PostgreSQL, RabbitMQ and Redis tests need the servers on 127.0.0.1 (LAYERS_TEST_PG_URL, LAYERS_TEST_AMQP_URL,
LAYERS_TEST_REDIS_URL override). When one is missing they fail under CI=true and skip, saying why, elsewhere.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.pool import NullPool

PG_ADMIN_URL = os.environ.get("LAYERS_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
AMQP_URL = os.environ.get("LAYERS_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
REDIS_URL = os.environ.get("LAYERS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def require_server(name: str, host: str, port: int) -> None:
    if _reachable(host, port):
        return
    message = f"{name} is not reachable on {host}:{port}"
    if IN_CI:
        pytest.fail(f"{message} (CI needs it; .ci/run starts it)")
    pytest.skip(f"{message}; start it to run this test")


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL schema for one test, dropped afterwards. A schema, not a database: CREATE
    DATABASE copies a template and syncs it to disk (100-400 ms a test), CREATE SCHEMA is a catalog row.
    The URL puts the schema first on the search path and names the test's connections, so teardown can end
    any a test left open, as DROP DATABASE ... WITH (FORCE) would. The admin connection is a new one each
    time: a pooled one would not survive a server restart a test made."""
    require_server("PostgreSQL", "127.0.0.1", 5432)
    name = f"layers_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{name}"'))
    url = make_url(PG_ADMIN_URL).update_query_dict({"application_name": name, "options": f"-csearch_path={name}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = :name"),
                {"name": name},
            )
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'test.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each test using it runs twice: on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
    else:
        yield request.getfixturevalue("pg_url")


@pytest.fixture
def redis_url() -> str:
    require_server("Redis", "127.0.0.1", 6379)
    return REDIS_URL


@pytest.fixture
def amqp_url() -> str:
    require_server("RabbitMQ", "127.0.0.1", 5672)
    return AMQP_URL


class _SpanRecorder(InMemorySpanExporter):
    """Keeps finished spans only while a test that asked for them runs."""

    recording = False

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return super().export(spans) if self.recording else SpanExportResult.SUCCESS


@pytest.fixture(scope="session")
def _span_recorder() -> _SpanRecorder:
    """Installed once in the process-wide tracer provider (OpenTelemetry allows one provider)."""
    recorder = _SpanRecorder()
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    provider.add_span_processor(SimpleSpanProcessor(recorder))
    return recorder


@pytest.fixture
def spans(_span_recorder: _SpanRecorder) -> Iterator[InMemorySpanExporter]:
    """The spans finished while the test runs."""
    _span_recorder.recording = True
    try:
        yield _span_recorder
    finally:
        _span_recorder.recording = False
        _span_recorder.clear()


# The everyday loop is `bin/layers test -m "not e2e and not render"`; the full suite stays the CI gate.
# Folders whose tests all start the system, modules elsewhere that start real processes (`python -m
# services.…`, `layers serve`, `layers dev`, node), and the benchmark tooling's tests that start servers.
TESTS_DIR = Path(__file__).resolve().parent
E2E_FOLDERS = {"e2e", "sdk"}
E2E_MODULES = {
    "test_startup_checks.py",
    "billing/test_server.py",
    "content/test_server.py",
    "media/test_server.py",
    "gateway/test_main.py",
    "observability/test_metrics.py",
    "observability/test_readiness.py",
    "webhooks/test_crash.py",
    "webhooks/test_readme.py",
}
RENDER_FOLDERS = {"renderer"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        where = item.path.resolve().relative_to(TESTS_DIR)
        module, folder = where.as_posix(), where.parts[0]
        if folder in E2E_FOLDERS or module in E2E_MODULES or item.get_closest_marker("bench"):
            item.add_marker(pytest.mark.e2e)
        if folder in RENDER_FOLDERS:
            item.add_marker(pytest.mark.render)
