"""Endpoints, their encrypted secrets, events, deliveries, attempts and secret-bearing idempotency keys.

Revision ID: 0001
Revises:
Create Date: 2026-04-20
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SeqType = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "endpoints",
        sa.Column("seq", SeqType, sa.Identity(), primary_key=True),
        sa.Column("endpoint_id", sa.String(40), nullable=False, unique=True),
        sa.Column("organization_id", sa.String(40), nullable=False, index=True),
        sa.Column("project_id", sa.String(36), nullable=True),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("events", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("created_at", Stamp, nullable=False),
        sa.Column("updated_at", Stamp, nullable=False),
        sa.Column("deleted_at", Stamp, nullable=True),
    )
    op.create_table(
        "endpoint_secrets",
        sa.Column("id", SeqType, sa.Identity(), primary_key=True),
        sa.Column("endpoint_id", sa.String(40), sa.ForeignKey("endpoints.endpoint_id"), nullable=False, index=True),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", Stamp, nullable=False),
        sa.Column("expires_at", Stamp, nullable=True),
    )
    op.create_table(
        "events",
        sa.Column("event_id", sa.String(40), primary_key=True),
        sa.Column("type", sa.String(60), nullable=False),
        sa.Column("organization_id", sa.String(40), nullable=False),
        sa.Column("project_id", sa.String(36), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", Stamp, nullable=False),
        sa.Column("received_at", Stamp, nullable=False),
    )
    op.create_table(
        "deliveries",
        sa.Column("seq", SeqType, sa.Identity(), primary_key=True),
        sa.Column("delivery_id", sa.String(40), nullable=False, unique=True),
        sa.Column("endpoint_id", sa.String(40), sa.ForeignKey("endpoints.endpoint_id"), nullable=False),
        sa.Column("event_id", sa.String(40), sa.ForeignKey("events.event_id"), nullable=False),
        sa.Column("organization_id", sa.String(40), nullable=False),
        sa.Column("event_type", sa.String(60), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", Stamp, nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("replay_of", sa.String(40), nullable=True),
        sa.Column("created_at", Stamp, nullable=False),
        sa.Column("updated_at", Stamp, nullable=False),
        sa.UniqueConstraint("endpoint_id", "event_id"),
    )
    op.create_index("ix_deliveries_due", "deliveries", ["status", "next_attempt_at"])
    op.create_index("ix_deliveries_endpoint_seq", "deliveries", ["endpoint_id", "seq"])
    op.create_table(
        "attempts",
        sa.Column("id", SeqType, sa.Identity(), primary_key=True),
        sa.Column("delivery_id", sa.String(40), sa.ForeignKey("deliveries.delivery_id"), nullable=False, index=True),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("started_at", Stamp, nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("id", SeqType, sa.Identity(), primary_key=True),
        sa.Column("organization_id", sa.String(40), nullable=False),
        sa.Column("scope", sa.String(300), nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("response", sa.LargeBinary(), nullable=False),
        sa.Column("secret_id", SeqType, sa.ForeignKey("endpoint_secrets.id"), nullable=False),
        sa.Column("created_at", Stamp, nullable=False),
        sa.UniqueConstraint("organization_id", "scope", "idempotency_key"),
    )


def downgrade() -> None:
    for table in ("idempotency_keys", "attempts", "deliveries", "events", "endpoint_secrets", "endpoints"):
        op.drop_table(table)
