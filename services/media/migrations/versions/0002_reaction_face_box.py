"""reaction templates keep the box of their on-camera face (fractions of the frame), for hook placement

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

COLUMNS = ("face_x", "face_y", "face_width", "face_height")


def upgrade() -> None:
    # Nullable: templates added before this, and clips without a face, have none.
    with op.batch_alter_table("reaction_templates") as batch:
        for name in COLUMNS:
            batch.add_column(sa.Column(name, sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("reaction_templates") as batch:
        for name in COLUMNS:
            batch.drop_column(name)
