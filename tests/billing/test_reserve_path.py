"""What a Reserve costs the database, and Reserve under contention on PostgreSQL, against the Ledger itself."""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from sqlalchemy import Engine, event, select, text

from common.db import Database, make_engine, migrate
from common.errors import ServiceError
from common.ids import new_id
from services.billing.ledger import Ledger
from services.billing.models import Reservation, ReservationState
from services.billing.server import MIGRATIONS_DIR, VERSION_TABLE

PRICE = 120


def ledger_on(url: str, clock: Any = None) -> tuple[Ledger, Engine]:
    engine = make_engine(url)
    migrate(engine, MIGRATIONS_DIR, VERSION_TABLE)
    return (Ledger(Database(engine), 7200) if clock is None else Ledger(Database(engine), 7200, clock)), engine


@pytest.fixture
def db_ledger(db_url: str) -> Iterator[tuple[Ledger, Engine]]:
    ledger, engine = ledger_on(db_url)
    yield ledger, engine
    engine.dispose()


class Statements:
    """The SQL an engine sends while recording, transaction control left out."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sent: list[str] = []

    def _record(self, conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")):
            self.sent.append(" ".join(statement.split()))

    def __enter__(self) -> Statements:
        event.listen(self.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *_: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._record)


def test_a_fresh_reserve_is_one_conditional_update_and_one_insert(db_ledger: tuple[Ledger, Engine]) -> None:
    ledger, engine = db_ledger
    org = new_id("org")
    ledger.grant(org, 3 * PRICE)
    ledger.reserve(new_id("res"), org, PRICE)  # warm: connections open, statements compiled

    with Statements(engine) as sql:
        reservation, wallet = ledger.reserve("res_fresh", org, PRICE, ttl_seconds=60)

    # The wallet first: inserting first would take a share lock on the wallet row (the reservation's foreign
    # key) ahead of the row lock, and deadlock beside a Capture or Release queued for SELECT ... FOR UPDATE.
    if engine.dialect.name == "postgresql":
        # One statement: the row lock is held for the rest of it and the commit only.
        assert len(sql.sent) == 1, sql.sent
        (statement,) = sql.sent
        assert statement.startswith("WITH held AS ( UPDATE wallets SET reserved_credits = reserved_credits +")
        assert "balance - reserved_credits >= %(total)s RETURNING" in statement
        assert statement.index("UPDATE wallets") < statement.index("INSERT INTO reservations")
        assert "ON CONFLICT (reservation_id) DO NOTHING" in statement
    else:
        assert len(sql.sent) == 2, sql.sent
        hold, insert = sql.sent
        assert hold.startswith("UPDATE wallets SET reserved_credits=(wallets.reserved_credits +")
        assert "WHERE wallets.organization_id =" in hold and "wallets.balance - wallets.reserved_credits >=" in hold
        assert " RETURNING " in hold
        assert insert.startswith("INSERT INTO reservations") and "ON CONFLICT (reservation_id) DO NOTHING" in insert
        assert " RETURNING " in insert
    assert not any("FOR UPDATE" in s for s in sql.sent)

    # The answer is what was stored.
    assert (wallet.balance, wallet.reserved_credits, wallet.available) == (3 * PRICE, 2 * PRICE, PRICE)
    assert reservation == ledger.get_reservation("res_fresh")
    assert (reservation.state, reservation.amount, reservation.organization_id) == (ReservationState.HELD, PRICE, org)
    assert reservation.expires_at == reservation.created_at + timedelta(seconds=60)
    assert ledger.get_wallet(org) == wallet
    assert [e.kind for e in ledger.list_ledger(org)] == ["grant"]  # a hold writes no ledger entry


def test_repeats_and_shortfalls_fall_back_to_the_wallet_lock(db_ledger: tuple[Ledger, Engine]) -> None:
    ledger, engine = db_ledger
    org = new_id("org")
    ledger.grant(org, 2 * PRICE)
    first, _ = ledger.reserve("res_first", org, PRICE)

    with Statements(engine) as sql:
        # A repeat: its hold is rolled back with the insert that found the id taken, and the first is returned.
        assert ledger.reserve("res_first", org, PRICE) == (first, ledger.get_wallet(org))
        assert ledger.get_wallet(org).reserved_credits == PRICE
        with pytest.raises(ServiceError) as info:
            ledger.reserve("res_second", org, 2 * PRICE)
    assert (info.value.reason, info.value.metadata) == ("BILLING_EXHAUSTED", {"required": "240", "available": "120"})
    # Each tried the fresh path once (rolled back), then took the wallet lock.
    assert sum(s.startswith(("UPDATE wallets", "WITH held AS ( UPDATE wallets")) for s in sql.sent) == 2
    if engine.dialect.name != "postgresql":  # (on PostgreSQL the INSERT is part of the one statement)
        assert sum(s.startswith("INSERT INTO reservations") for s in sql.sent) == 1  # the shortfall inserts nothing
    if engine.dialect.name == "postgresql":  # SQLite has no FOR UPDATE: its write lock serializes instead
        assert sum("FROM wallets" in s and s.endswith("FOR UPDATE") for s in sql.sent) == 2
    with pytest.raises(ServiceError) as missing:
        ledger.get_reservation("res_second")
    assert missing.value.reason == "NOT_FOUND"


def test_an_organization_without_a_wallet_is_exhausted(db_ledger: tuple[Ledger, Engine]) -> None:
    ledger, _ = db_ledger
    org = new_id("org")
    with pytest.raises(ServiceError) as info:
        ledger.reserve("res_nowallet", org, PRICE)
    assert (info.value.code, info.value.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "BILLING_EXHAUSTED")
    assert info.value.metadata == {"required": str(PRICE), "available": "0"}
    with pytest.raises(ServiceError) as missing:
        ledger.get_reservation("res_nowallet")
    assert missing.value.reason == "NOT_FOUND"


# PostgreSQL under contention: threads straight on the Ledger, more of them than the gRPC server would run.


def _watch(engine: Engine, org: str, done: threading.Event, seen: list[tuple[int, int]]) -> None:
    with engine.connect() as conn:
        while not done.is_set():
            row = conn.execute(
                text("SELECT balance, reserved_credits FROM wallets WHERE organization_id = :org"), {"org": org}
            ).one()
            seen.append((row.balance, row.reserved_credits))
            conn.rollback()


def _race(ledger: Ledger, engine: Engine, org: str, reservation_ids: list[str]) -> tuple[list[str], list[tuple]]:
    barrier = threading.Barrier(len(reservation_ids))
    done = threading.Event()
    seen: list[tuple[int, int]] = []

    def attempt(reservation_id: str) -> str:
        barrier.wait(timeout=10)
        try:
            ledger.reserve(reservation_id, org, PRICE)
        except ServiceError as exc:
            assert exc.metadata["required"] == str(PRICE) and int(exc.metadata["available"]) < PRICE
            return exc.reason
        return "OK"

    watcher = threading.Thread(target=_watch, args=(engine, org, done, seen))
    watcher.start()
    try:
        with ThreadPoolExecutor(max_workers=len(reservation_ids)) as pool:
            outcomes = list(pool.map(attempt, reservation_ids))
    finally:
        done.set()
        watcher.join(timeout=10)
    return outcomes, seen


def test_twenty_concurrent_reserves_for_five_holds_on_postgres(pg_url: str) -> None:
    ledger, engine = ledger_on(pg_url)
    try:
        org = new_id("org")
        ledger.grant(org, 5 * PRICE)
        outcomes, seen = _race(ledger, engine, org, [new_id("res") for _ in range(20)])

        assert outcomes.count("OK") == 5 and outcomes.count("BILLING_EXHAUSTED") == 15
        assert seen and all(0 <= reserved <= balance for balance, reserved in seen)
        wallet = ledger.get_wallet(org)
        assert (wallet.balance, wallet.reserved_credits) == (5 * PRICE, 5 * PRICE)
        with engine.connect() as conn:
            held = conn.scalars(
                select(Reservation.amount).where(Reservation.organization_id == org, Reservation.state == "HELD")
            ).all()
        assert held == [PRICE] * 5
    finally:
        engine.dispose()


def test_concurrent_reserves_reclaim_overdue_holds_once_on_postgres(pg_url: str) -> None:
    ledger, engine = ledger_on(pg_url)
    past, past_engine = ledger_on(pg_url, clock=lambda: datetime.now(UTC) - timedelta(hours=1))
    try:
        org = new_id("org")
        ledger.grant(org, 5 * PRICE)
        # Three holds that fell due long ago and were never swept: the wallet covers two fresh ones as it stands.
        overdue = [past.reserve(new_id("res"), org, PRICE, ttl_seconds=60)[0].reservation_id for _ in range(3)]
        outcomes, seen = _race(ledger, engine, org, [new_id("res") for _ in range(20)])

        assert outcomes.count("OK") == 5 and outcomes.count("BILLING_EXHAUSTED") == 15
        assert seen and all(0 <= reserved <= balance for balance, reserved in seen)
        assert {ledger.get_reservation(r).state for r in overdue} == {ReservationState.EXPIRED}
        wallet = ledger.get_wallet(org)
        assert (wallet.balance, wallet.reserved_credits) == (5 * PRICE, 5 * PRICE)
    finally:
        engine.dispose()
        past_engine.dispose()


def test_reserves_beside_captures_releases_grants_and_expiries_never_deadlock_on_postgres(pg_url: str) -> None:
    """A few seconds of every writer at once on one wallet (all take the wallet lock first), then the books."""
    ledger, engine = ledger_on(pg_url)
    try:
        org = new_id("org")
        ledger.grant(org, 10**9)
        open_holds: list[str] = []
        guard = threading.Lock()
        stop_at = time.monotonic() + 4

        def work(seed: int) -> dict[str, int]:
            rnd, done = random.Random(seed), {"reserve": 0, "settle": 0, "grant": 0, "expire": 0}
            while time.monotonic() < stop_at:
                action = rnd.choice(["reserve", "reserve", "reserve", "settle", "grant", "expire"])
                if action == "reserve":
                    reservation_id = new_id("res")
                    ledger.reserve(reservation_id, org, 7, ttl_seconds=rnd.choice([1, 3600]))
                    with guard:
                        open_holds.append(reservation_id)
                elif action == "settle":
                    with guard:
                        reservation_id = open_holds.pop(rnd.randrange(len(open_holds))) if open_holds else ""
                    if reservation_id:
                        with contextlib.suppress(ServiceError):  # expired meanwhile: a release is then a no-op
                            (ledger.capture if rnd.random() < 0.5 else ledger.release)(reservation_id)
                elif action == "grant":
                    ledger.grant(org, 1)
                else:
                    ledger.expire_due(datetime.now(UTC))
                done[action] += 1
            return done

        with ThreadPoolExecutor(max_workers=24) as pool:
            totals = list(pool.map(work, range(24)))  # a deadlock would raise here
        assert all(t["reserve"] and t["settle"] for t in totals)

        with engine.connect() as conn:
            balance, reserved = conn.execute(
                text("SELECT balance, reserved_credits FROM wallets WHERE organization_id = :org"), {"org": org}
            ).one()
            ledger_sum = conn.scalar(
                text("SELECT SUM(delta) FROM ledger_entries WHERE organization_id = :org"), {"org": org}
            )
            held_sum = conn.scalar(
                text(
                    "SELECT COALESCE(SUM(amount), 0) FROM reservations WHERE organization_id = :org AND state = 'HELD'"
                ),
                {"org": org},
            )
        assert (balance, reserved) == (ledger_sum, held_sum)
    finally:
        engine.dispose()


def test_concurrent_reserves_of_one_wallet_share_statements(pg_url: str) -> None:
    """Reserves that arrive while one is in flight go to PostgreSQL together, and each gets its own answer."""
    ledger, engine = ledger_on(pg_url)
    try:
        org = new_id("org")
        ledger.grant(org, 100 * PRICE)
        ledger.reserve(new_id("res"), org, PRICE)  # warm
        repeat_id = new_id("res")
        first, _ = ledger.reserve(repeat_id, org, PRICE)
        ids = [new_id("res") for _ in range(40)]
        barrier = threading.Barrier(41)

        def reserve(reservation_id: str) -> Any:
            barrier.wait()
            return ledger.reserve(reservation_id, org, PRICE)[0]

        with Statements(engine) as sql, ThreadPoolExecutor(41) as pool:
            answers = list(pool.map(reserve, [*ids, repeat_id]))
        assert [a.reservation_id for a in answers] == [*ids, repeat_id]
        assert answers[-1] == first  # the repeat inside a batch is answered as a repeat, holding nothing more
        batches = [s for s in sql.sent if s.startswith("WITH held AS")]
        assert len(batches) < len(ids), f"{len(batches)} statements for {len(ids)} reserves"
        assert ledger.get_wallet(org).reserved_credits == (len(ids) + 2) * PRICE
        with engine.connect() as conn:
            held = conn.execute(text("SELECT count(*) FROM reservations WHERE state = 'HELD'")).scalar()
        assert held == len(ids) + 2
    finally:
        engine.dispose()
