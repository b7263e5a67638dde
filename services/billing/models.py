"""Billing tables. Only this service reads or writes them; everyone else asks over gRPC."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    MetaData,
    String,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from common.timeutil import as_utc

# Explicit constraint names so the hand-written migration and SQLite batch operations agree with the models.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ID_LENGTH = 128


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every database (SQLite hands back naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime; billing stores UTC only")
        # SQLite drops the offset, so everything must be in one zone before it is stored.
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)


class ReservationState(enum.StrEnum):
    HELD = "HELD"
    CAPTURED = "CAPTURED"
    RELEASED = "RELEASED"
    EXPIRED = "EXPIRED"


class LedgerKind(enum.StrEnum):
    GRANT = "grant"
    CAPTURE = "capture"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UtcDateTime()}  # noqa: RUF012 (SQLAlchemy reads it as a class attribute)


class Wallet(Base):
    __tablename__ = "wallets"
    __table_args__ = (
        CheckConstraint("reserved_credits >= 0", name="reserved_non_negative"),
        CheckConstraint("reserved_credits <= balance", name="reserved_within_balance"),
    )

    organization_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    balance: Mapped[int] = mapped_column(BigInteger, default=0)
    reserved_credits: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime]

    @property
    def available(self) -> int:
        return max(0, self.balance - self.reserved_credits)


class Reservation(Base):
    __tablename__ = "reservations"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("state IN ('HELD', 'CAPTURED', 'RELEASED', 'EXPIRED')", name="state_known"),
        # The sweeper's query: held reservations past their expiry.
        Index(None, "state", "expires_at"),
    )

    reservation_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    organization_id: Mapped[str] = mapped_column(String(ID_LENGTH), ForeignKey("wallets.organization_id"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(16))
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime]
    settled_at: Mapped[datetime | None]


class LedgerEntry(Base):
    __tablename__ = "ledger_entries"
    __table_args__ = (
        CheckConstraint("kind IN ('grant', 'capture')", name="kind_known"),
        # A reservation is charged at most once; grants carry no reservation (NULLs never collide).
        UniqueConstraint("reservation_id", "kind"),
    )

    entry_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    organization_id: Mapped[str] = mapped_column(String(ID_LENGTH), ForeignKey("wallets.organization_id"), index=True)
    delta: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))
    reservation_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), ForeignKey("reservations.reservation_id"))
    created_at: Mapped[datetime]
