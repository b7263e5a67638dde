"""The content service's tables. Nobody else reads them: other parts ask over gRPC."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from common.db import SeqType


class Base(DeclarativeBase):
    pass


class Organization(Base):
    __tablename__ = "organizations"
    organization_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Project(Base):
    __tablename__ = "projects"
    project_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.organization_id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ApiKey(Base):
    __tablename__ = "api_keys"
    key_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.organization_id"), index=True)
    # SHA-256 of the secret part; the secret itself is never stored.
    secret_sha256: Mapped[str] = mapped_column(String(64))
    test_mode: Mapped[bool] = mapped_column(Boolean, default=False)
    scopes: Mapped[str] = mapped_column(Text)  # space-separated
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # Jobs this key started that are still running: raised in the transaction that adds a job, lowered in
    # the one that ends it, so the concurrent-job cap is one conditional UPDATE however many are running.
    running_jobs: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Influencer(Base):
    __tablename__ = "influencers"
    seq: Mapped[int] = mapped_column(SeqType, Identity(), primary_key=True)
    influencer_id: Mapped[str] = mapped_column(String(40), unique=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.project_id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    voice: Mapped[str] = mapped_column(String(100))
    language: Mapped[str] = mapped_column(String(35))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Layer(Base):
    __tablename__ = "layers"
    seq: Mapped[int] = mapped_column(SeqType, Identity(), primary_key=True)
    layer_id: Mapped[str] = mapped_column(String(40), unique=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.project_id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    influencer_id: Mapped[str | None] = mapped_column(ForeignKey("influencers.influencer_id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SocialAccount(Base):
    __tablename__ = "social_accounts"
    seq: Mapped[int] = mapped_column(SeqType, Identity(), primary_key=True)
    social_account_id: Mapped[str] = mapped_column(String(40), unique=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.project_id"), index=True)
    platform: Mapped[str] = mapped_column(String(20))
    handle: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Wiring(Base):
    """A social account wired to a layer of the same project."""

    __tablename__ = "wirings"
    seq: Mapped[int] = mapped_column(SeqType, Identity(), primary_key=True)
    social_account_id: Mapped[str] = mapped_column(ForeignKey("social_accounts.social_account_id"))
    layer_id: Mapped[str] = mapped_column(ForeignKey("layers.layer_id"))
    __table_args__ = (UniqueConstraint("social_account_id", "layer_id"),)


class Job(Base):
    __tablename__ = "jobs"
    job_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    organization_id: Mapped[str] = mapped_column(String(40), index=True)
    project_id: Mapped[str] = mapped_column(String(36))
    kind: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20))  # running | completed | failed | canceled
    stage: Mapped[str] = mapped_column(String(20))  # queued | fetching_inputs | compositing | uploading
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    stage_progress: Mapped[float] = mapped_column(Float, default=0.0)
    eta_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reservation_id: Mapped[str] = mapped_column(String(60))
    # The API key that started the job, for its concurrent-job cap; None for callers without a key.
    api_key_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    # True once billing has captured (completed) or released (failed, canceled) the reservation.
    billing_settled: Mapped[bool] = mapped_column(Boolean, default=False)
    render_attempts: Mapped[int] = mapped_column(Integer, default=0)
    error_code: Mapped[str | None] = mapped_column(String(60), nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    __table_args__ = (Index("ix_jobs_api_key_id_status", "api_key_id", "status"),)


class Container(Base):
    __tablename__ = "containers"
    container_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.job_id"), index=True)
    organization_id: Mapped[str] = mapped_column(String(40), index=True)
    project_id: Mapped[str] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(20))  # queued | processing | completed | failed | canceled
    format: Mapped[str] = mapped_column(String(40))
    hook: Mapped[str | None] = mapped_column(Text, nullable=True)
    influencer_id: Mapped[str] = mapped_column(String(40))
    social_account_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    layer_id: Mapped[str] = mapped_column(String(40))
    media_id: Mapped[str] = mapped_column(String(40))
    reaction_template_id: Mapped[str] = mapped_column(String(40))
    music_track_id: Mapped[str] = mapped_column(String(40))
    language: Mapped[str] = mapped_column(String(35))
    voice: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    failed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_error_code: Mapped[str | None] = mapped_column(String(60), nullable=True)
    last_error_message: Mapped[str | None] = mapped_column(Text, nullable=True)


class Asset(Base):
    __tablename__ = "assets"
    asset_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    container_id: Mapped[str] = mapped_column(ForeignKey("containers.container_id"))
    kind: Mapped[str] = mapped_column(String(20))
    blob_id: Mapped[str] = mapped_column(String(40))
    thumbnail_blob_id: Mapped[str] = mapped_column(String(40))
    duration_ms: Mapped[int] = mapped_column(BigInteger)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    mime_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    checksum_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # One output of each kind per container, however often a render is redelivered.
    __table_args__ = (UniqueConstraint("container_id", "kind"),)


class IdempotencyRecord(Base):
    """The first answer to an Idempotency-Key, scoped to organization + method + path."""

    __tablename__ = "idempotency_records"
    id: Mapped[int] = mapped_column(SeqType, Identity(), primary_key=True)
    organization_id: Mapped[str] = mapped_column(String(40))
    scope: Mapped[str] = mapped_column(String(300))  # "POST <path>"
    idempotency_key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(20))  # in_progress | completed
    # Assigned at claim time so a retry after a crash reuses the same job and reservation ids.
    job_id: Mapped[str] = mapped_column(String(40))
    response: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    # The HTTP status of a generic POST's stored answer; None for ugc-remix, whose answer is a proto.
    response_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # An in_progress claim older than this was abandoned (its process died) and may be taken over.
    locked_until: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Keys held the longest by requests still running or dead: what content looks for every few seconds.
    __table_args__ = (
        UniqueConstraint("organization_id", "scope", "idempotency_key"),
        Index(
            "ix_idempotency_records_in_progress",
            "locked_until",
            postgresql_where=text("state = 'in_progress'"),
            sqlite_where=text("state = 'in_progress'"),
        ),
    )


class OutboxMessage(Base):
    """A message committed with the job that causes it; the relay publishes it, then marks it sent."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(SeqType, Identity(), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(60), unique=True)
    message_type: Mapped[str] = mapped_column(String(100))
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # JSON of the AMQP headers the message goes out with: the request id of the context that wrote it.
    headers: Mapped[str | None] = mapped_column(Text, nullable=True)


def table_of(model: type[Base]) -> Table:
    """A model's Core table, for statements that skip the ORM's unit of work on the hot path."""
    return cast(Table, model.__table__)
