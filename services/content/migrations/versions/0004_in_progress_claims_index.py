"""an index over the Idempotency-Key claims still in progress, by when their lease ends

Content looks every few seconds for claims whose request died before committing its job.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

IN_PROGRESS = sa.text("state = 'in_progress'")


def upgrade() -> None:
    op.create_index(
        "ix_idempotency_records_in_progress",
        "idempotency_records",
        ["locked_until"],
        postgresql_where=IN_PROGRESS,
        sqlite_where=IN_PROGRESS,
    )


def downgrade() -> None:
    op.drop_index("ix_idempotency_records_in_progress", table_name="idempotency_records")
