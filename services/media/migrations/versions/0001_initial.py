"""Blobs, the media library, the reaction-template pool and the music catalog.

Revision ID: 0001
Revises:
Create Date: 2026-04-18
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _probe_columns() -> list[sa.Column]:
    return [
        sa.Column("duration_ms", sa.BigInteger(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("has_audio", sa.Boolean(), nullable=False),
        sa.Column("has_video", sa.Boolean(), nullable=False),
        sa.Column("format_name", sa.String(length=255), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "blobs",
        sa.Column("blob_id", sa.String(length=40), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("checksum_sha256", sa.String(length=64), nullable=False),
        sa.Column("mime_type", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("blob_id", name="pk_blobs"),
    )
    op.create_table(
        "media_items",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("media_id", sa.String(length=40), nullable=False),
        sa.Column("organization_id", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("media_role", sa.String(length=32), nullable=False),
        sa.Column("blob_id", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        *_probe_columns(),
        sa.PrimaryKeyConstraint("seq", name="pk_media_items"),
        sa.UniqueConstraint("media_id", name="uq_media_items_media_id"),
        sa.ForeignKeyConstraint(["blob_id"], ["blobs.blob_id"], name="fk_media_items_blob_id_blobs"),
    )
    op.create_index("ix_media_items_blob_id", "media_items", ["blob_id"])
    op.create_index("ix_media_items_project", "media_items", ["organization_id", "project_id", "seq"])
    op.create_index(
        "ix_media_items_project_role", "media_items", ["organization_id", "project_id", "media_role", "seq"]
    )
    op.create_table(
        "reaction_templates",
        sa.Column("reaction_template_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("blob_id", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        *_probe_columns(),
        sa.PrimaryKeyConstraint("reaction_template_id", name="pk_reaction_templates"),
        sa.ForeignKeyConstraint(["blob_id"], ["blobs.blob_id"], name="fk_reaction_templates_blob_id_blobs"),
    )
    op.create_index("ix_reaction_templates_blob_id", "reaction_templates", ["blob_id"])
    op.create_table(
        "music_tracks",
        sa.Column("music_track_id", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("blob_id", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        *_probe_columns(),
        sa.PrimaryKeyConstraint("music_track_id", name="pk_music_tracks"),
        sa.ForeignKeyConstraint(["blob_id"], ["blobs.blob_id"], name="fk_music_tracks_blob_id_blobs"),
    )
    op.create_index("ix_music_tracks_blob_id", "music_tracks", ["blob_id"])


def downgrade() -> None:
    op.drop_table("music_tracks")
    op.drop_table("reaction_templates")
    op.drop_table("media_items")
    op.drop_table("blobs")
