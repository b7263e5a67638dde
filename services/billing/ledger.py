"""Billing rules: wallets, grants, reservations (reserve → capture | release | expire) and the ledger.

A reservation starts HELD and ends CAPTURED (debited), RELEASED (returned) or EXPIRED (returned because
nobody settled it in time). An EXPIRED reservation can still be captured late (see `Ledger.capture`), so
work finished after its hold ran out is paid for when the wallet can cover it.

Concurrency: every change to an organization's wallet or its reservations happens while holding that
wallet's row lock (on PostgreSQL; the process write lock plus BEGIN IMMEDIATE on SQLite). Locks are always
taken wallet first, so two writers never wait on each other in a cycle: by SELECT ... FOR UPDATE, or, for
a fresh Reserve, by its one conditional UPDATE of the wallet row, before it inserts the reservation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

import grpc
from sqlalchemy import Connection, Engine, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from common import metrics
from common.db import Database, is_sqlite, write_lock
from common.errors import ServiceError, invalid, not_found, precondition
from common.ids import new_id
from common.timeutil import Clock, utcnow
from services.billing.batching import Batcher, Pending
from services.billing.models import ID_LENGTH, Base, LedgerEntry, LedgerKind, Reservation, ReservationState, Wallet

_WALLETS = Base.metadata.tables[Wallet.__tablename__]
_RESERVATIONS = Base.metadata.tables[Reservation.__tablename__]


@dataclass(frozen=True)
class WalletView:
    organization_id: str
    balance: int
    reserved_credits: int

    @property
    def available(self) -> int:
        return max(0, self.balance - self.reserved_credits)


@dataclass(frozen=True)
class ReservationView:
    reservation_id: str
    organization_id: str
    amount: int
    state: ReservationState
    expires_at: datetime
    created_at: datetime
    settled_at: datetime | None


@dataclass(frozen=True)
class LedgerEntryView:
    entry_id: str
    organization_id: str
    delta: int
    kind: LedgerKind
    reservation_id: str | None
    created_at: datetime


def _wallet_view(wallet: Wallet) -> WalletView:
    return WalletView(wallet.organization_id, wallet.balance, wallet.reserved_credits)


def _reservation_view(row: Reservation) -> ReservationView:
    return ReservationView(
        reservation_id=row.reservation_id,
        organization_id=row.organization_id,
        amount=row.amount,
        state=ReservationState(row.state),
        expires_at=row.expires_at,
        created_at=row.created_at,
        settled_at=row.settled_at,
    )


def _entry_view(row: LedgerEntry) -> LedgerEntryView:
    return LedgerEntryView(
        entry_id=row.entry_id,
        organization_id=row.organization_id,
        delta=row.delta,
        kind=LedgerKind(row.kind),
        reservation_id=row.reservation_id,
        created_at=row.created_at,
    )


def _require_id(field: str, value: str) -> None:
    if not value:
        raise invalid(f"{field} is required.", field=field)
    if len(value) > ID_LENGTH:
        raise invalid(f"{field} is longer than {ID_LENGTH} characters.", field=field)


def _not_held(reservation: Reservation, action: str) -> ServiceError:
    return precondition(
        "RESERVATION_NOT_HELD",
        f"The reservation is {reservation.state.lower()} and cannot be {action}.",
        state=reservation.state,
    )


Reserved = tuple[ReservationView, WalletView]


class Ledger:
    """The billing domain: the database handle and, on PostgreSQL, the batcher of concurrent reservations
    (see batching.py); safe to share between threads."""

    def __init__(
        self,
        db: Database,
        default_ttl_seconds: int,
        clock: Clock = utcnow,
        balance_changed: Callable[[str], None] = lambda organization_id: None,
    ) -> None:
        self._db = db
        # Told an organization's id after a grant or capture commits (the broadcast gateways follow).
        self._balance_changed = balance_changed
        self._default_ttl = default_ttl_seconds
        self._clock = clock
        self._insert = postgresql.insert if db.engine.dialect.name == "postgresql" else sqlite.insert
        # SQLite has one writer at a time anyway: its reservations take the two-statement path one by one.
        self._batcher: Batcher[Reserved] | None = None if is_sqlite(db.engine) else Batcher(self._reserve_batch)

    # -- wallets --------------------------------------------------------------------------------

    def create_wallet(self, organization_id: str) -> WalletView:
        _require_id("organization_id", organization_id)
        with self._db.write() as session:
            return _wallet_view(self._ensure_wallet(session, organization_id))

    def get_wallet(self, organization_id: str) -> WalletView:
        _require_id("organization_id", organization_id)
        # Every /v1/credits and /v1/whoami asks: one plain row, no ORM object.
        with self._db.query() as conn:
            row = conn.execute(
                select(_WALLETS.c.balance, _WALLETS.c.reserved_credits).where(
                    _WALLETS.c.organization_id == organization_id
                )
            ).first()
        # An organization that never had credits simply has none.
        return (
            WalletView(organization_id, row.balance, row.reserved_credits) if row else WalletView(organization_id, 0, 0)
        )

    def grant(self, organization_id: str, credits: int) -> WalletView:
        _require_id("organization_id", organization_id)
        if credits <= 0:
            raise invalid("credits must be positive.", field="credits")
        now = self._clock()
        with self._db.write() as session:
            wallet = self._ensure_wallet(session, organization_id)
            wallet.balance += credits
            wallet.updated_at = now
            session.add(
                LedgerEntry(
                    entry_id=new_id("led"),
                    organization_id=organization_id,
                    delta=credits,
                    kind=LedgerKind.GRANT.value,
                    reservation_id=None,
                    created_at=now,
                )
            )
            granted = _wallet_view(wallet)
        self._balance_changed(organization_id)
        return granted

    # -- reservations ---------------------------------------------------------------------------

    def reserve(
        self, reservation_id: str, organization_id: str, amount: int, ttl_seconds: int = 0
    ) -> tuple[ReservationView, WalletView]:
        """Hold credits under reservation_id.

        A repeat of the same request (same id, organization and amount; the ttl may differ) returns the
        first hold and holds nothing more, but only while that hold is HELD: once it is captured, released
        or expired (a hold past its expiry counts as expired) the repeat fails FAILED_PRECONDITION /
        RESERVATION_NOT_HELD with metadata {"state": ...}. The same id with another organization or amount
        fails ALREADY_EXISTS / RESERVATION_CONFLICT. When available credits cannot cover a new hold it fails
        FAILED_PRECONDITION / BILLING_EXHAUSTED with metadata {"required", "available"}.
        """
        _require_id("reservation_id", reservation_id)
        _require_id("organization_id", organization_id)
        if amount <= 0:
            raise invalid("amount must be positive.", field="amount")
        if ttl_seconds < 0:
            raise invalid("ttl_seconds must not be negative.", field="ttl_seconds")
        ttl = ttl_seconds or self._default_ttl
        if self._batcher is not None:
            return self._batcher.submit(organization_id, Pending(reservation_id, amount, ttl))
        held = self._reserve_fresh(reservation_id, organization_id, amount, ttl)
        if held is not None:
            return held
        return self._reserve_under_lock(reservation_id, organization_id, amount, ttl)

    def _reserve_batch(self, organization_id: str, batch: list[Pending[Reserved]]) -> None:
        """PostgreSQL: hold and file a batch of fresh reservations in one statement (see batching.py); when
        that is refused, each one takes the locked path on its own."""
        now = self._clock()
        items = [(p.reservation_id, p.amount, now + timedelta(seconds=p.ttl_seconds)) for p in batch]
        wallet = _hold_and_file(self._db.engine, organization_id, items, now)
        if wallet is not None:
            _CREDITS[ReservationState.HELD].inc(sum(amount for _, amount, _ in items))
            # Each answer shows the wallet as it would be had the batch's holds been made one by one, in order.
            after = wallet.reserved_credits - sum(amount for _, amount, _ in items)
            for pending, (reservation_id, amount, expires_at) in zip(batch, items, strict=True):
                after += amount
                view = WalletView(organization_id, wallet.balance, after)
                pending.result = (_held_view(reservation_id, organization_id, amount, now, expires_at), view)
            return
        for pending in batch:
            try:
                pending.result = self._reserve_under_lock(
                    pending.reservation_id, organization_id, pending.amount, pending.ttl_seconds
                )
            except ServiceError as exc:
                pending.error = exc

    def _reserve_under_lock(
        self, reservation_id: str, organization_id: str, amount: int, ttl: int
    ) -> tuple[ReservationView, WalletView]:
        try:
            return self._reserve_locked(reservation_id, organization_id, amount, ttl)
        except IntegrityError:
            # Only another organization's Reserve with the same id can race us to the insert (same-org
            # requests queue on the wallet lock), so answer the way a repeat would.
            with self._db.read() as session:
                existing = session.get(Reservation, reservation_id)
                if existing is None:
                    raise
                failure = _repeat_failure(existing, organization_id, amount)
                if failure is not None:
                    raise failure from None
                view = _reservation_view(existing)
            return view, self.get_wallet(organization_id)

    def _reserve_fresh(
        self, reservation_id: str, organization_id: str, amount: int, ttl: int
    ) -> tuple[ReservationView, WalletView] | None:
        """SQLite's fresh reservation (PostgreSQL batches them, see _reserve_batch), one transaction of two
        statements: hold the credits with one UPDATE that matches only while the wallet covers them, then
        insert the reservation unless its id is taken.

        None, with nothing written, when the wallet (or no wallet) does not cover the amount as it stands or
        the id is taken; the locked path then expires the wallet's overdue holds and tries again, or applies
        the repeat rules. The UPDATE comes first so the wallet's row lock is the first lock taken, as
        everywhere else: inserting first would take a share lock on the wallet row (the reservation's
        foreign key) before it, and deadlock with a Capture or Release waiting for the wallet.
        """
        now = self._clock()
        expires_at = now + timedelta(seconds=ttl)
        engine = self._db.engine
        with write_lock(engine), engine.connect() as conn:
            wallet = _hold(conn, organization_id, amount, now)
            if wallet is None:
                return None  # closing the connection rolls back
            inserted = conn.execute(
                self._insert(_RESERVATIONS)
                .values(
                    reservation_id=reservation_id,
                    organization_id=organization_id,
                    amount=amount,
                    state=ReservationState.HELD.value,
                    expires_at=expires_at,
                    created_at=now,
                    settled_at=None,
                )
                .on_conflict_do_nothing(index_elements=[_RESERVATIONS.c.reservation_id])
                .returning(_RESERVATIONS.c.reservation_id)
            ).first()
            if inserted is None:
                return None  # the rollback gives the hold back
            conn.commit()
        _CREDITS[ReservationState.HELD].inc(amount)
        return _held_view(reservation_id, organization_id, amount, now, expires_at), wallet

    def _reserve_locked(
        self, reservation_id: str, organization_id: str, amount: int, ttl: int
    ) -> tuple[ReservationView, WalletView]:
        """Reserve under the wallet's row lock, after expiring its overdue holds: repeats and the retry of a
        fresh reservation the wallet did not cover at first."""
        now = self._clock()
        with self._db.write() as session:
            wallet = self._lock_wallet(session, organization_id)
            if wallet is not None:
                # Holds past their expiry no longer count against what is available.
                self._expire_locked(session, wallet, now)
            existing = session.get(Reservation, reservation_id)
            if existing is not None:
                # The expiry above has run, so the repeat of an overdue hold is refused as EXPIRED.
                failure = _repeat_failure(existing, organization_id, amount)
                if failure is None:
                    wallet_view = _wallet_view(wallet) if wallet else WalletView(organization_id, 0, 0)
                    return _reservation_view(existing), wallet_view
            elif wallet is not None and wallet.available >= amount:
                reservation = Reservation(
                    reservation_id=reservation_id,
                    organization_id=organization_id,
                    amount=amount,
                    state=ReservationState.HELD.value,
                    expires_at=now + timedelta(seconds=ttl),
                    created_at=now,
                    settled_at=None,
                )
                session.add(reservation)
                wallet.reserved_credits += amount
                _CREDITS[ReservationState.HELD].inc(amount)
                wallet.updated_at = now
                session.flush()
                return _reservation_view(reservation), _wallet_view(wallet)
            else:
                failure = _exhausted(amount, wallet.available if wallet else 0, "this reservation")
        # Raised after the commit so the expiries found on the way are kept.
        raise failure

    def capture(self, reservation_id: str) -> ReservationView:
        """Debit a reservation: balance −= amount, with one 'capture' ledger entry.

        A HELD reservation is captured and its hold is returned (reserved_credits −= amount). An EXPIRED
        one (including a hold past its expiry, which is expired first) has already had its hold returned,
        so it is captured late: balance −= amount, reserved_credits unchanged, provided the wallet's
        available credits still cover the amount; otherwise it fails FAILED_PRECONDITION /
        BILLING_EXHAUSTED with metadata {"required", "available"} and stays EXPIRED (the work is done but
        cannot be paid for; the caller logs it). A RELEASED reservation fails FAILED_PRECONDITION /
        RESERVATION_NOT_HELD with metadata {"state"}. Capturing a captured one is a no-op.
        """
        failure: ServiceError | None = None
        with self._settling(reservation_id) as (session, wallet, reservation, now):
            if reservation.state == ReservationState.CAPTURED:
                return _reservation_view(reservation)
            if reservation.state == ReservationState.RELEASED:
                failure = _not_held(reservation, "captured")
            elif reservation.state == ReservationState.EXPIRED and wallet.available < reservation.amount:
                failure = _exhausted(reservation.amount, wallet.available, "this late capture")
            else:
                _settle(wallet, reservation, ReservationState.CAPTURED, now)
                wallet.balance -= reservation.amount
                session.add(
                    LedgerEntry(
                        entry_id=new_id("led"),
                        organization_id=wallet.organization_id,
                        delta=-reservation.amount,
                        kind=LedgerKind.CAPTURE.value,
                        reservation_id=reservation_id,
                        created_at=now,
                    )
                )
                captured = _reservation_view(reservation)
        if failure is not None:
            # Raised after the commit: an expiry found just now must stick even though the capture fails.
            raise failure
        self._balance_changed(captured.organization_id)
        return captured

    def release(self, reservation_id: str) -> ReservationView:
        """Return a held reservation's credits; releasing a released or expired one is a no-op.

        Releasing a captured one fails FAILED_PRECONDITION / RESERVATION_NOT_HELD with metadata {"state"}.
        """
        with self._settling(reservation_id) as (_, wallet, reservation, now):
            if reservation.state == ReservationState.CAPTURED:
                raise _not_held(reservation, "released")
            if reservation.state == ReservationState.HELD:
                _settle(wallet, reservation, ReservationState.RELEASED, now)
            return _reservation_view(reservation)

    def get_reservation(self, reservation_id: str) -> ReservationView:
        _require_id("reservation_id", reservation_id)
        with self._db.read() as session:
            reservation = session.get(Reservation, reservation_id)
            if reservation is None:
                raise not_found("reservation", "The reservation was not found.")
            return _reservation_view(reservation)

    def list_ledger(self, organization_id: str) -> list[LedgerEntryView]:
        _require_id("organization_id", organization_id)
        with self._db.read() as session:
            rows = session.scalars(
                select(LedgerEntry)
                .where(LedgerEntry.organization_id == organization_id)
                .order_by(LedgerEntry.created_at, LedgerEntry.entry_id)
            )
            return [_entry_view(row) for row in rows]

    # -- expiry ---------------------------------------------------------------------------------

    def count_expiring(self, now: datetime, within: timedelta) -> int:
        """Held reservations whose hold ends before now + within: work about to lose its credits."""
        with self._db.read() as session:
            return int(
                session.scalar(
                    select(func.count())
                    .select_from(Reservation)
                    .where(Reservation.state == ReservationState.HELD.value, Reservation.expires_at <= now + within)
                )
                or 0
            )

    def expire_due(self, now: datetime) -> int:
        """Mark held reservations whose expiry is at or before now EXPIRED and return their credits."""
        with self._db.read() as session:
            organizations = list(
                session.scalars(
                    select(Reservation.organization_id)
                    .where(Reservation.state == ReservationState.HELD.value, Reservation.expires_at <= now)
                    .distinct()
                )
            )
        expired = 0
        # One short transaction per organization keeps wallet locks brief.
        for organization_id in organizations:
            with self._db.write() as session:
                wallet = self._lock_wallet(session, organization_id)
                if wallet is not None:
                    expired += self._expire_locked(session, wallet, now)
        return expired

    # -- helpers --------------------------------------------------------------------------------

    def _lock_wallet(self, session: Session, organization_id: str) -> Wallet | None:
        return session.scalars(
            select(Wallet).where(Wallet.organization_id == organization_id).with_for_update()
        ).one_or_none()

    def _ensure_wallet(self, session: Session, organization_id: str) -> Wallet:
        # Insert-if-absent in one statement so two first grants for a new org cannot collide.
        insert = postgresql.insert if self._db.engine.dialect.name == "postgresql" else sqlite.insert
        session.execute(
            insert(Wallet)
            .values(organization_id=organization_id, balance=0, reserved_credits=0, updated_at=self._clock())
            .on_conflict_do_nothing(index_elements=[Wallet.organization_id])
        )
        wallet = self._lock_wallet(session, organization_id)
        assert wallet is not None  # inserted above or already there, and wallets are never deleted
        return wallet

    @contextmanager
    def _settling(self, reservation_id: str) -> Iterator[tuple[Session, Wallet, Reservation, datetime]]:
        """The common start of Capture and Release: one write transaction holding the reservation's wallet
        lock, with that wallet's due holds already expired (so an overdue reservation reads EXPIRED)."""
        _require_id("reservation_id", reservation_id)
        now = self._clock()
        with self._db.write() as session:
            wallet, reservation = self._lock_reservation(session, reservation_id)
            self._expire_locked(session, wallet, now)
            yield session, wallet, reservation, now

    def _lock_reservation(self, session: Session, reservation_id: str) -> tuple[Wallet, Reservation]:
        # Find the owner without locking, lock its wallet, then read the reservation fresh under it.
        organization_id = session.scalar(
            select(Reservation.organization_id).where(Reservation.reservation_id == reservation_id)
        )
        if organization_id is None:
            raise not_found("reservation", "The reservation was not found.")
        wallet = self._lock_wallet(session, organization_id)
        reservation = session.get(Reservation, reservation_id, with_for_update=True)
        assert wallet is not None and reservation is not None  # neither is ever deleted
        return wallet, reservation

    def _expire_locked(self, session: Session, wallet: Wallet, now: datetime) -> int:
        """Expire the due holds of a wallet whose row lock this transaction holds."""
        due = session.scalars(
            select(Reservation)
            .where(
                Reservation.organization_id == wallet.organization_id,
                Reservation.state == ReservationState.HELD.value,
                Reservation.expires_at <= now,
            )
            .execution_options(populate_existing=True)
        ).all()
        for reservation in due:
            _settle(wallet, reservation, ReservationState.EXPIRED, now)
        if due:
            session.flush()
        return len(due)


# Credits by what happened to them: held (reserved), then captured, released or expired.
_CREDITS = {
    state: metrics.CREDITS.labels(name)
    for state, name in (
        (ReservationState.HELD, "reserved"),
        (ReservationState.CAPTURED, "captured"),
        (ReservationState.RELEASED, "released"),
        (ReservationState.EXPIRED, "expired"),
    )
}

# PostgreSQL: a batch of holds and their reservations in one statement, so the wallet's row lock (taken by
# the UPDATE, first as everywhere) is held for the rest of it and one commit, however many it carries.
# `filed` counts the reservations inserted: fewer than the batch means an id was taken, and the caller
# rolls back.
_HOLD_AND_FILE = text(
    f"""
WITH held AS (
    UPDATE {_WALLETS.name}
    SET reserved_credits = reserved_credits + :total, updated_at = :now
    WHERE organization_id = :organization_id AND balance - reserved_credits >= :total
    RETURNING balance, reserved_credits
), filed AS (
    INSERT INTO {_RESERVATIONS.name}
        (reservation_id, organization_id, amount, state, expires_at, created_at, settled_at)
    SELECT item.reservation_id, :organization_id, item.amount, :state, item.expires_at, :now, NULL
    FROM held, unnest(CAST(:ids AS text[]), CAST(:amounts AS bigint[]), CAST(:expiries AS timestamptz[]))
        AS item(reservation_id, amount, expires_at)
    ON CONFLICT (reservation_id) DO NOTHING
    RETURNING reservation_id
)
SELECT held.balance, held.reserved_credits, (SELECT count(*) FROM filed) AS filed FROM held
"""
)


def _hold_and_file(
    engine: Engine, organization_id: str, items: list[tuple[str, int, datetime]], now: datetime
) -> WalletView | None:
    """Fresh reservations (id, amount, expiry) on PostgreSQL, all or none; None, with nothing written, when
    the wallet cannot cover them all (or does not exist) or an id is taken."""
    with engine.connect() as conn:
        row = conn.execute(
            _HOLD_AND_FILE,
            {
                "total": sum(amount for _, amount, _ in items),
                "now": now,
                "organization_id": organization_id,
                "state": ReservationState.HELD.value,
                "ids": [reservation_id for reservation_id, _, _ in items],
                "amounts": [amount for _, amount, _ in items],
                "expiries": [expires_at for _, _, expires_at in items],
            },
        ).first()
        if row is None or row.filed != len(items):
            return None  # closing the connection rolls back
        conn.commit()
    return WalletView(organization_id, row.balance, row.reserved_credits)


def _held_view(
    reservation_id: str, organization_id: str, amount: int, now: datetime, expires_at: datetime
) -> ReservationView:
    return ReservationView(
        reservation_id=reservation_id,
        organization_id=organization_id,
        amount=amount,
        state=ReservationState.HELD,
        expires_at=expires_at,
        created_at=now,
        settled_at=None,
    )


def _hold(conn: Connection, organization_id: str, amount: int, now: datetime) -> WalletView | None:
    """reserved_credits += amount in one conditional UPDATE, which matches only while the wallet's available
    credits cover the amount (and takes the row lock, so concurrent holds are counted one after another).
    The wallet as it now is, or None when it cannot cover the amount or does not exist."""
    row = conn.execute(
        update(_WALLETS)
        .where(
            _WALLETS.c.organization_id == organization_id,
            _WALLETS.c.balance - _WALLETS.c.reserved_credits >= amount,
        )
        .values(reserved_credits=_WALLETS.c.reserved_credits + amount, updated_at=now)
        .returning(_WALLETS.c.balance, _WALLETS.c.reserved_credits)
    ).first()
    return None if row is None else WalletView(organization_id, row.balance, row.reserved_credits)


def _settle(wallet: Wallet, reservation: Reservation, state: ReservationState, now: datetime) -> None:
    """Move a reservation to a final state under its wallet's lock; a hold still HELD is given back."""
    if reservation.state == ReservationState.HELD:
        wallet.reserved_credits -= reservation.amount
    reservation.state = state.value
    reservation.settled_at = now
    wallet.updated_at = now
    _CREDITS[state].inc(reservation.amount)


def _exhausted(required: int, available: int, what: str) -> ServiceError:
    return precondition(
        "BILLING_EXHAUSTED",
        f"The organization's available credits cannot cover {what}.",
        required=str(required),
        available=str(available),
    )


def _repeat_failure(existing: Reservation, organization_id: str, amount: int) -> ServiceError | None:
    """Why a Reserve that names an existing reservation cannot answer with it, or None when it can."""
    if existing.organization_id != organization_id or existing.amount != amount:
        return ServiceError(
            grpc.StatusCode.ALREADY_EXISTS,
            "RESERVATION_CONFLICT",
            "This reservation id is already used by a different reservation.",
            {"reservation_id": existing.reservation_id},
        )
    if existing.state != ReservationState.HELD:
        # Only a retry of a hold that is still open is a repeat; a settled id cannot hold credits again.
        return _not_held(existing, "reserved again")
    return None
