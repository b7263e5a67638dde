"""Billing rules: wallets, grants, reservations (reserve → capture | release | expire) and the ledger.

Concurrency: every change to an organization's wallet or its reservations happens while holding that
wallet's row lock (SELECT ... FOR UPDATE on PostgreSQL; the process write lock plus BEGIN IMMEDIATE on
SQLite). Locks are always taken wallet first, so two writers never wait on each other in a cycle.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import grpc
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from common.db import Database
from common.errors import ServiceError, invalid, not_found, precondition
from common.ids import new_id
from services.billing.models import ID_LENGTH, LedgerEntry, LedgerKind, Reservation, ReservationState, Wallet

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


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


class Ledger:
    """The billing domain. Holds nothing but the database handle; safe to share between threads."""

    def __init__(self, db: Database, default_ttl_seconds: int, clock: Clock = utcnow) -> None:
        self._db = db
        self._default_ttl = default_ttl_seconds
        self._clock = clock

    # -- wallets --------------------------------------------------------------------------------

    def create_wallet(self, organization_id: str) -> WalletView:
        _require_id("organization_id", organization_id)
        with self._db.write() as session:
            return _wallet_view(self._ensure_wallet(session, organization_id))

    def get_wallet(self, organization_id: str) -> WalletView:
        _require_id("organization_id", organization_id)
        with self._db.read() as session:
            wallet = session.get(Wallet, organization_id)
            # An organization that never had credits simply has none.
            return _wallet_view(wallet) if wallet else WalletView(organization_id, 0, 0)

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
            return _wallet_view(wallet)

    # -- reservations ---------------------------------------------------------------------------

    def reserve(
        self, reservation_id: str, organization_id: str, amount: int, ttl_seconds: int = 0
    ) -> tuple[ReservationView, WalletView]:
        """Hold credits under reservation_id; a repeat of the same request returns the first hold."""
        _require_id("reservation_id", reservation_id)
        _require_id("organization_id", organization_id)
        if amount <= 0:
            raise invalid("amount must be positive.", field="amount")
        if ttl_seconds < 0:
            raise invalid("ttl_seconds must not be negative.", field="ttl_seconds")
        ttl = ttl_seconds or self._default_ttl
        try:
            return self._reserve(reservation_id, organization_id, amount, ttl)
        except IntegrityError:
            # Only another organization's Reserve with the same id can race us to the insert (same-org
            # requests queue on the wallet lock), so answer the way a repeat would.
            with self._db.read() as session:
                existing = session.get(Reservation, reservation_id)
                if existing is None:
                    raise
                _check_repeat(existing, organization_id, amount)
                view = _reservation_view(existing)
            return view, self.get_wallet(organization_id)

    def _reserve(
        self, reservation_id: str, organization_id: str, amount: int, ttl: int
    ) -> tuple[ReservationView, WalletView]:
        now = self._clock()
        with self._db.write() as session:
            wallet = self._lock_wallet(session, organization_id)
            if wallet is not None:
                # Holds past their expiry no longer count against what is available.
                self._expire_locked(session, wallet, now)
            existing = session.get(Reservation, reservation_id)
            if existing is not None:
                _check_repeat(existing, organization_id, amount)
                wallet_view = _wallet_view(wallet) if wallet else WalletView(organization_id, 0, 0)
                return _reservation_view(existing), wallet_view
            available = wallet.available if wallet else 0
            if wallet is not None and available >= amount:
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
                wallet.updated_at = now
                session.flush()
                return _reservation_view(reservation), _wallet_view(wallet)
            exhausted = precondition(
                "BILLING_EXHAUSTED",
                "The organization's available credits cannot cover this reservation.",
                required=str(amount),
                available=str(available),
            )
        # Raised after the commit so the expiries found on the way are kept.
        raise exhausted

    def capture(self, reservation_id: str) -> ReservationView:
        """Debit a held reservation; capturing a captured one is a no-op."""
        _require_id("reservation_id", reservation_id)
        now = self._clock()
        with self._db.write() as session:
            wallet, reservation = self._lock_reservation(session, reservation_id)
            self._expire_locked(session, wallet, now)
            if reservation.state == ReservationState.CAPTURED:
                return _reservation_view(reservation)
            if reservation.state == ReservationState.HELD:
                reservation.state = ReservationState.CAPTURED.value
                reservation.settled_at = now
                wallet.balance -= reservation.amount
                wallet.reserved_credits -= reservation.amount
                wallet.updated_at = now
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
                return _reservation_view(reservation)
            not_held = _not_held(reservation, "captured")
        # Raised after the commit: an expiry found just now must stick even though the capture fails.
        raise not_held

    def release(self, reservation_id: str) -> ReservationView:
        """Return a held reservation's credits; releasing a released or expired one is a no-op."""
        _require_id("reservation_id", reservation_id)
        now = self._clock()
        with self._db.write() as session:
            wallet, reservation = self._lock_reservation(session, reservation_id)
            self._expire_locked(session, wallet, now)
            if reservation.state == ReservationState.CAPTURED:
                raise _not_held(reservation, "released")
            if reservation.state == ReservationState.HELD:
                reservation.state = ReservationState.RELEASED.value
                reservation.settled_at = now
                wallet.reserved_credits -= reservation.amount
                wallet.updated_at = now
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
            reservation.state = ReservationState.EXPIRED.value
            reservation.settled_at = now
            wallet.reserved_credits -= reservation.amount
        if due:
            wallet.updated_at = now
            session.flush()
        return len(due)


def _check_repeat(existing: Reservation, organization_id: str, amount: int) -> None:
    if existing.organization_id != organization_id or existing.amount != amount:
        raise ServiceError(
            grpc.StatusCode.ALREADY_EXISTS,
            "RESERVATION_CONFLICT",
            "This reservation id is already used by a different reservation.",
            {"reservation_id": existing.reservation_id},
        )
