"""The webhooks service's tables. Nobody else reads them: other parts ask over gRPC or publish events."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Identity, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from common.db import SeqType


class Base(DeclarativeBase):
    pass


class Endpoint(Base):
    __tablename__ = "endpoints"
    seq: Mapped[int] = mapped_column(SeqType, Identity(), primary_key=True)
    endpoint_id: Mapped[str] = mapped_column(String(40), unique=True)
    organization_id: Mapped[str] = mapped_column(String(40), index=True)
    project_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    url: Mapped[str] = mapped_column(Text)
    events: Mapped[str] = mapped_column(Text)  # space-separated event types
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20))  # active | paused | auto_paused
    # Deliveries that ended failed or abandoned since the last success; 20 in a row auto-pause.
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class EndpointSecret(Base):
    """A signing secret, AES-GCM encrypted with the service's key. Live while expires_at is null or ahead."""

    __tablename__ = "endpoint_secrets"
    id: Mapped[int] = mapped_column(SeqType, Identity(), primary_key=True)
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("endpoints.endpoint_id"), index=True)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Event(Base):
    """An event as received (its id is the dedup key of redelivered messages) with its exact public body."""

    __tablename__ = "events"
    event_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    type: Mapped[str] = mapped_column(String(60))
    organization_id: Mapped[str] = mapped_column(String(40))
    project_id: Mapped[str] = mapped_column(String(36))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # JSON: the request id and trace context it arrived with (common.logs.carried_json), for its delivery.
    headers: Mapped[str | None] = mapped_column(Text, nullable=True)


class Delivery(Base):
    """One event for one endpoint. A pending delivery's next attempt is due at next_attempt_at; a worker
    that takes it pushes next_attempt_at past its lease, so a crashed worker's attempt comes due again."""

    __tablename__ = "deliveries"
    seq: Mapped[int] = mapped_column(SeqType, Identity(), primary_key=True)
    delivery_id: Mapped[str] = mapped_column(String(40), unique=True)
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("endpoints.endpoint_id"))
    event_id: Mapped[str] = mapped_column(ForeignKey("events.event_id"))
    organization_id: Mapped[str] = mapped_column(String(40))
    event_type: Mapped[str] = mapped_column(String(60))
    status: Mapped[str] = mapped_column(String(20))  # pending | succeeded | failed | abandoned
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    replay_of: Mapped[str | None] = mapped_column(String(40), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        # Fan-out of a redelivered event adds nothing.
        UniqueConstraint("endpoint_id", "event_id"),
        Index("ix_deliveries_due", "status", "next_attempt_at"),
        Index("ix_deliveries_endpoint_seq", "endpoint_id", "seq"),
    )


class Attempt(Base):
    __tablename__ = "attempts"
    id: Mapped[int] = mapped_column(SeqType, Identity(), primary_key=True)
    delivery_id: Mapped[str] = mapped_column(ForeignKey("deliveries.delivery_id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    duration_ms: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class IdempotencyKey(Base):
    """The first answer to an Idempotency-Key of a call that returns a secret: the answer without the
    secret, and which (encrypted) secret row fills it in on a replay."""

    __tablename__ = "idempotency_keys"
    id: Mapped[int] = mapped_column(SeqType, Identity(), primary_key=True)
    organization_id: Mapped[str] = mapped_column(String(40))
    scope: Mapped[str] = mapped_column(String(300))
    idempotency_key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))
    response: Mapped[bytes] = mapped_column(LargeBinary)
    secret_id: Mapped[int] = mapped_column(ForeignKey("endpoint_secrets.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    __table_args__ = (UniqueConstraint("organization_id", "scope", "idempotency_key"),)
