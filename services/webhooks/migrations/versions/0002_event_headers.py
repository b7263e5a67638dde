"""events keep the request id and trace context they arrived with, for the lines and spans of their delivery

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("events", sa.Column("headers", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("events", "headers")
