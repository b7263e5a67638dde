"""Wallets, reservations and the ledger.

Revision ID: 0001
Revises:
Create Date: 2025-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "wallets",
        sa.Column("organization_id", sa.String(128), nullable=False),
        sa.Column("balance", sa.BigInteger(), nullable=False),
        sa.Column("reserved_credits", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("organization_id", name="pk_wallets"),
        sa.CheckConstraint("reserved_credits >= 0", name="ck_wallets_reserved_non_negative"),
        sa.CheckConstraint("reserved_credits <= balance", name="ck_wallets_reserved_within_balance"),
    )
    op.create_table(
        "reservations",
        sa.Column("reservation_id", sa.String(128), nullable=False),
        sa.Column("organization_id", sa.String(128), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("reservation_id", name="pk_reservations"),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["wallets.organization_id"],
            name="fk_reservations_organization_id_wallets",
        ),
        sa.CheckConstraint("amount > 0", name="ck_reservations_amount_positive"),
        sa.CheckConstraint("state IN ('HELD', 'CAPTURED', 'RELEASED', 'EXPIRED')", name="ck_reservations_state_known"),
    )
    op.create_index("ix_reservations_organization_id", "reservations", ["organization_id"])
    op.create_index("ix_reservations_state_expires_at", "reservations", ["state", "expires_at"])
    op.create_table(
        "ledger_entries",
        sa.Column("entry_id", sa.String(40), nullable=False),
        sa.Column("organization_id", sa.String(128), nullable=False),
        sa.Column("delta", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("reservation_id", sa.String(128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("entry_id", name="pk_ledger_entries"),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["wallets.organization_id"],
            name="fk_ledger_entries_organization_id_wallets",
        ),
        sa.ForeignKeyConstraint(
            ["reservation_id"],
            ["reservations.reservation_id"],
            name="fk_ledger_entries_reservation_id_reservations",
        ),
        sa.UniqueConstraint("reservation_id", "kind", name="uq_ledger_entries_reservation_id_kind"),
        sa.CheckConstraint("kind IN ('grant', 'capture')", name="ck_ledger_entries_kind_known"),
    )
    op.create_index("ix_ledger_entries_organization_id", "ledger_entries", ["organization_id"])


def downgrade() -> None:
    op.drop_index("ix_ledger_entries_organization_id", table_name="ledger_entries")
    op.drop_table("ledger_entries")
    op.drop_index("ix_reservations_state_expires_at", table_name="reservations")
    op.drop_index("ix_reservations_organization_id", table_name="reservations")
    op.drop_table("reservations")
    op.drop_table("wallets")
