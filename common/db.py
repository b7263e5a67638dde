"""SQLAlchemy engines and Alembic migrations, the same way for every service.

SQLite (the embedded default) gets WAL, a busy timeout and foreign keys, and a process-wide write lock
(`write_lock(engine)`) because SQLite allows one writer at a time; PostgreSQL needs no lock since its
callers use row locks (SELECT ... FOR UPDATE).
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import BigInteger, Connection, Engine, Integer, create_engine, event, text
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

# A pooled connection idle longer than this is pinged before use; busier ones are trusted (a ping per
# checkout would be a round trip per transaction). A connection that dies in use fails its request with
# UNAVAILABLE, and SQLAlchemy then throws the whole pool's connections away.
IDLE_PING_SECONDS = 10.0
# Connections older than this are replaced, so no server-side idle timeout ever meets a pooled one.
RECYCLE_SECONDS = 1800
# The execution option that marks a read-only connection on SQLite.
READ_ONLY = "layers_read_only"
POOL_SIZE = 20
# The column type of a table's sequence number (with Identity(), as its primary key): SQLite only
# auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
SeqType = BigInteger().with_variant(Integer(), "sqlite")

_WRITE_LOCKS: dict[int, threading.RLock] = {}
_LOCKS_GUARD = threading.Lock()


def make_sqlite_folder(url: str) -> None:
    """The folder of a SQLite file URL, made if missing (a fresh data dir is a normal first start)."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        make_sqlite_folder(url)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            # Let SQLAlchemy issue BEGIN itself so transactions are real (pysqlite defers it otherwise).
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):  # type: ignore[no-untyped-def]
            # A read takes a snapshot beside the writer (WAL), no lock; a write takes the write lock up front.
            conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE")

        return engine
    # As many kept connections as a server has request threads (16) plus its background threads: a smaller
    # pool opens and closes a connection (a PostgreSQL backend process) for every request past it.
    engine = create_engine(url, pool_size=POOL_SIZE, max_overflow=10, pool_recycle=RECYCLE_SECONDS)

    @event.listens_for(engine, "checkin")
    def _remember_idle(_dbapi_connection, record):  # type: ignore[no-untyped-def]
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection, record, _proxy):  # type: ignore[no-untyped-def]
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < IDLE_PING_SECONDS:
            return
        try:
            cursor = dbapi_connection.cursor()
            cursor.execute("SELECT 1")
            cursor.close()
            dbapi_connection.rollback()
        except Exception as exc:
            # The pool discards this connection and checks out (or opens) another.
            raise DisconnectionError() from exc

    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


@contextlib.contextmanager
def write_lock(engine: Engine) -> Iterator[None]:
    """Serialize writers on SQLite inside this process; a no-op on PostgreSQL."""
    if not is_sqlite(engine):
        yield
        return
    with _LOCKS_GUARD:
        lock = _WRITE_LOCKS.setdefault(id(engine), threading.RLock())
    with lock:
        yield


def migrate(engine: Engine, migrations_dir: Path, version_table: str) -> None:
    """Apply a service's Alembic migrations up to head on this engine."""
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.attributes["version_table"] = version_table
    with engine.begin() as connection:
        if not is_sqlite(engine):
            # Replicas and worker processes start together: one migrates, the others wait, then find head.
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": zlib.crc32(version_table.encode())})
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


class Database:
    """An engine and its sessions: `write()` for a transaction (serialized on SQLite), `read()` for queries
    (on PostgreSQL in autocommit: each statement sees what was committed when it ran). `transaction()` and
    `query()` are the same two as Core connections."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessions = session_factory(engine)
        # Reads on PostgreSQL run without BEGIN/ROLLBACK (two round trips each): every write commits its rows
        # together, so a read that sees a job also sees the container and assets committed with it. On
        # SQLite a read is a deferred transaction: one snapshot, without the write lock.
        self._reads = (
            engine.execution_options(**{READ_ONLY: True})
            if is_sqlite(engine)
            else engine.execution_options(isolation_level="AUTOCOMMIT")
        )
        self.read_sessions = session_factory(self._reads)

    @contextlib.contextmanager
    def write(self) -> Iterator[Session]:
        with write_lock(self.engine), self.sessions.begin() as session:
            yield session

    @contextlib.contextmanager
    def read(self) -> Iterator[Session]:
        with self.read_sessions() as session:
            yield session

    # The same two for SQLAlchemy Core statements on hot paths: a Connection, without the ORM session's
    # bookkeeping around every statement.

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Connection]:
        with write_lock(self.engine), self.engine.begin() as connection:
            yield connection

    @contextlib.contextmanager
    def one_statement(self) -> Iterator[Connection]:
        """A connection for a single write statement, atomic by itself: on PostgreSQL in autocommit, saving
        BEGIN and COMMIT (two round trips); on SQLite a write transaction like `transaction()`."""
        if is_sqlite(self.engine):
            with self.transaction() as connection:
                yield connection
            return
        with self._reads.connect() as connection:
            yield connection

    @contextlib.contextmanager
    def query(self) -> Iterator[Connection]:
        with self._reads.connect() as connection:
            yield connection

    def dispose(self) -> None:
        self.engine.dispose()


def ping(engine: Engine) -> None:
    """Raise unless the database answers: a readiness check (one round trip on a pooled connection)."""
    with engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1")


def rows_affected(result: object) -> int:
    """How many rows an UPDATE or DELETE result touched (0 where the driver does not say)."""
    return int(getattr(result, "rowcount", 0) or 0)


@contextlib.contextmanager
def scratch_databases(admin_url: str, prefix: str, services: Sequence[str]) -> Iterator[dict[str, str]]:
    """Fresh PostgreSQL databases for the tests and benchmarks, one a service (`<prefix>_<tag>_<service>`),
    created through `admin_url` and dropped afterwards even while connections to them are still open."""
    # A connection of its own each time: a pooled one would not survive a server restart meanwhile.
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    base, _, _ = admin_url.rpartition("/")
    tag = uuid.uuid4().hex[:8]
    names = {service: f"{prefix}_{tag}_{service}" for service in services}
    with admin.connect() as conn:
        for name in names.values():
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield {service: f"{base}/{name}" for service, name in names.items()}
    finally:
        with admin.connect() as conn:
            for name in names.values():
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
