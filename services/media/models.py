"""The media service's tables. Nobody else reads them: other parts ask over gRPC."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, Float, ForeignKey, Index, Integer, MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Deterministic constraint names, so the hand-written migration and the models agree on both databases.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class BlobRow(Base):
    """A file in the blob store; the row is written only once the file is in place."""

    __tablename__ = "blobs"

    blob_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    checksum_sha256: Mapped[str] = mapped_column(String(64))
    mime_type: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ProbeColumns:
    """What ffprobe measured, shared by every catalog table."""

    duration_ms: Mapped[int] = mapped_column(BigInteger)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    has_audio: Mapped[bool] = mapped_column(Boolean)
    has_video: Mapped[bool] = mapped_column(Boolean)
    format_name: Mapped[str] = mapped_column(String(255))


class MediaItemRow(ProbeColumns, Base):
    """A project's media-library row."""

    __tablename__ = "media_items"
    __table_args__ = (
        Index("ix_media_items_project", "organization_id", "project_id", "seq"),
        Index("ix_media_items_project_role", "organization_id", "project_id", "media_role", "seq"),
    )

    # An integer primary key autoincrements on SQLite and PostgreSQL alike; it orders and pages the list.
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    media_id: Mapped[str] = mapped_column(String(40), unique=True)
    organization_id: Mapped[str] = mapped_column(String(64))
    project_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    media_role: Mapped[str] = mapped_column(String(32))
    blob_id: Mapped[str] = mapped_column(ForeignKey("blobs.blob_id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    blob: Mapped[BlobRow] = relationship(lazy="joined")


class ReactionTemplateRow(ProbeColumns, Base):
    """A clip of an influencer reacting, in the public pool."""

    __tablename__ = "reaction_templates"

    reaction_template_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    blob_id: Mapped[str] = mapped_column(ForeignKey("blobs.blob_id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The on-camera face, as fractions of the frame; all None when none was given or found.
    face_x: Mapped[float | None] = mapped_column(Float, nullable=True)
    face_y: Mapped[float | None] = mapped_column(Float, nullable=True)
    face_width: Mapped[float | None] = mapped_column(Float, nullable=True)
    face_height: Mapped[float | None] = mapped_column(Float, nullable=True)

    blob: Mapped[BlobRow] = relationship(lazy="joined")

    @property
    def face_box(self) -> tuple[float, float, float, float] | None:
        box = (self.face_x, self.face_y, self.face_width, self.face_height)
        return None if any(v is None for v in box) else box  # type: ignore[return-value]


class MusicTrackRow(ProbeColumns, Base):
    """A trending track in the music catalog."""

    __tablename__ = "music_tracks"

    music_track_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    title: Mapped[str] = mapped_column(String(255))
    blob_id: Mapped[str] = mapped_column(ForeignKey("blobs.blob_id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    blob: Mapped[BlobRow] = relationship(lazy="joined")
