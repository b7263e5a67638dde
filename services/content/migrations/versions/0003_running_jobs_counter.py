"""per-key running-job counter for the concurrent-job cap; rate-limit counters leave the database

Rate limits are counted by the gateway now (Redis, or memory in the embedded default).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("running_jobs", sa.Integer(), server_default="0", nullable=False))
    op.execute(
        "UPDATE api_keys SET running_jobs = (SELECT count(*) FROM jobs"
        " WHERE jobs.api_key_id = api_keys.key_id AND jobs.status = 'running')"
    )
    op.drop_table("rate_limit_counters")


def downgrade() -> None:
    op.create_table(
        "rate_limit_counters",
        sa.Column("key_id", sa.String(length=40), nullable=False),
        sa.Column("endpoint_class", sa.String(length=20), nullable=False),
        sa.Column("window_start", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key_id", "endpoint_class", "window_start"),
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_column("running_jobs")
