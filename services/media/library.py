"""The media service's domain logic: blobs, the media library, the reaction pool and the music catalog.

Create* calls probe a written blob before filing it. A refused file takes its blob (file and row) with
it, so nothing half-stored remains; probing runs outside any transaction so SQLite is never held busy.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TypeVar

import grpc
from sqlalchemy import ColumnElement, Engine, Select, bindparam, exists, func, or_, select
from sqlalchemy.orm import Session

from common import paging
from common.db import Database
from common.errors import ServiceError, invalid, not_found, precondition
from common.ids import new_id
from common.timeutil import utcnow
from services.media.blob_store import LocalBlobStore, cancelled, too_large
from services.media.faces import Fractions, detect_face_box
from services.media.models import BlobRow, MediaItemRow, MusicTrackRow, ReactionTemplateRow
from services.media.probing import Measured, check_audio, check_image, check_video

DEMO_VIDEO = "demo-video"
IMAGE_KINDS = ("logo", "screenshot", "end-card")
KINDS = (DEMO_VIDEO, *IMAGE_KINDS)
CatalogRow = TypeVar("CatalogRow", ReactionTemplateRow, MusicTrackRow)
APP_DEMO_ROLE = "app-demo"
DEFAULT_MIME_TYPE = "application/octet-stream"

log = logging.getLogger("layers.media")


@dataclass(frozen=True)
class MediaPage:
    items: list[MediaItemRow]
    next_page_token: str


class AppDemoProblem(StrEnum):
    """Why a render request has no usable app demo."""

    NONE = ""
    NOT_APP_DEMO = "NOT_APP_DEMO"
    MISSING = "MISSING"


@dataclass(frozen=True)
class RenderInputs:
    """What a render takes from media; the ids are empty when app_demo_problem is set."""

    app_demo_media_id: str
    app_demo_problem: AppDemoProblem
    reaction_template_id: str
    music_track_id: str
    # Draws after the first, as (reaction_template_id, music_track_id), and how long they may be used.
    further_draws: tuple[tuple[str, str], ...] = ()
    further_draws_valid_seconds: float = 0.0


# The most template and track pairs one pick_render_inputs call draws.
MAX_DRAWS = 256


class CachedIds:
    """The ids a query returns, re-read when older than ttl_seconds on `clock` (seconds, monotonic).

    An empty answer is never kept, so the first row added to an empty table is seen at once. `invalidate()`
    drops the cached answer (and any load already under way), for rows this process adds itself.
    """

    def __init__(self, db: Database, query: Select[str], ttl_seconds: float, clock: Callable[[], float]) -> None:
        self._db = db
        self._query = query
        self._ttl = ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._ids: list[str] = []
        self._loaded_at = 0.0
        self._generation = 0

    def get(self) -> list[str]:
        return self.read()[0]

    def read(self) -> tuple[list[str], float]:
        """The ids, and until when (on the clock) they may be used: the moment they are due to be read again."""
        with self._lock:
            if self._ids and self._clock() - self._loaded_at < self._ttl:
                return self._ids, self._loaded_at + self._ttl
            generation = self._generation
        # Read outside the lock: a slow database holds up only the callers that need a fresh answer anyway.
        loaded_at = self._clock()
        with self._db.query() as conn:
            ids = list(conn.scalars(self._query))
        with self._lock:
            if generation != self._generation:
                return ids, loaded_at  # rows were added meanwhile: good for this one answer, no longer
            self._ids, self._loaded_at = ids, loaded_at
        return ids, loaded_at + self._ttl

    def invalidate(self) -> None:
        with self._lock:
            self._ids, self._generation = [], self._generation + 1


class MediaLibrary:
    """`catalog_ttl_seconds` is how long `pick_render_inputs` may use a read of the reaction pool and the
    music catalog (on `clock`, monotonic seconds) before it reads them again."""

    def __init__(
        self,
        engine: Engine,
        store: LocalBlobStore,
        max_upload_bytes: int,
        catalog_ttl_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        db = Database(engine)
        self._db = db
        self._write, self._read = db.write, db.read
        self._store = store
        self._max_upload_bytes = max_upload_bytes
        self._clock = clock
        self._reaction_ids = CachedIds(db, select(ReactionTemplateRow.reaction_template_id), catalog_ttl_seconds, clock)
        self._music_ids = CachedIds(db, select(MusicTrackRow.music_track_id), catalog_ttl_seconds, clock)

    # Blobs

    def upload_limit(self, max_size_bytes: int) -> int:
        """The most bytes one blob may take: the writer's own cap, never above the service's."""
        return min(max_size_bytes or self._max_upload_bytes, self._max_upload_bytes)

    def write_blob(
        self,
        mime_type: str,
        max_size_bytes: int,
        chunks: Iterable[bytes],
        still_wanted: Callable[[], bool] = lambda: True,
    ) -> BlobRow:
        """Store a stream of bytes; the row appears only once the whole file is in place.

        `still_wanted` tells whether the writer is still there (false once its stream was cancelled).
        """
        if max_size_bytes < 0:
            raise invalid("max_size_bytes must not be negative.", field="max_size_bytes")
        if len(mime_type) > 255:
            raise invalid("mime_type is too long.", field="mime_type")
        limit = self.upload_limit(max_size_bytes)
        blob_id = new_id("blb")
        written = self._store.write(blob_id, chunks, limit, still_wanted)
        row = BlobRow(
            blob_id=blob_id,
            size_bytes=written.size_bytes,
            checksum_sha256=written.checksum_sha256,
            mime_type=mime_type or DEFAULT_MIME_TYPE,
            created_at=utcnow(),
        )
        try:
            with self._write() as session:
                session.add(row)
        except BaseException:
            self._store.delete(blob_id)
            raise
        # Asked again: a cancellation can be reported a moment after the stream ended.
        if not still_wanted():
            self._discard_blob(blob_id)
            raise cancelled()
        return row

    def stat_blob(self, blob_id: str) -> BlobRow:
        with self._read() as session:
            row = session.get(BlobRow, blob_id)
        if row is None:
            raise not_found("blob", "blobId was not found.")
        return row

    def read_blob(self, blob_id: str, offset: int, length: int) -> Iterator[bytes]:
        """Check the range now (so errors come before any byte), then stream it; length 0 = to the end."""
        if offset < 0 or length < 0:
            raise invalid("offset and length must not be negative.", field="offset")
        blob = self.stat_blob(blob_id)
        # Like HTTP 416: a range must start inside the file (an empty file can only be read whole).
        if offset > 0 and offset >= blob.size_bytes:
            raise ServiceError(
                grpc.StatusCode.OUT_OF_RANGE,
                "RANGE_NOT_SATISFIABLE",
                f"offset {offset} is past the end of a {blob.size_bytes}-byte blob.",
                {"sizeBytes": str(blob.size_bytes)},
            )
        return self._store.open_range(blob_id, offset, length or None)

    def delete_blob(self, blob_id: str) -> None:
        """Remove a blob; a missing one is a no-op, one still filed in a catalog is refused."""
        if not self._discard_blob(blob_id):
            raise precondition("BLOB_IN_USE", "The blob is still used by a media row, template or track.")

    def _discard_blob(self, blob_id: str) -> bool:
        """Delete the row, then the file; False (and nothing deleted) when a catalog row uses it."""
        with self._write() as session:
            if session.scalar(select(_blob_in_use(blob_id))):
                return False
            row = session.get(BlobRow, blob_id)
            if row is not None:
                session.delete(row)
        with contextlib.suppress(ValueError):  # not a blob id at all: there is no file either
            self._store.delete(blob_id)
        return True

    @contextlib.contextmanager
    def _discard_on_refusal(self, blob_id: str) -> Iterator[None]:
        try:
            yield
        except ServiceError:
            try:
                self._discard_blob(blob_id)
            except Exception:  # the refusal is what the caller needs to hear about
                log.exception("could not discard refused blob %s", blob_id)
            raise

    def _check_blob(self, blob_id: str, check: Callable[[Path, int], Measured]) -> Measured:
        blob = self.stat_blob(blob_id)
        if blob.size_bytes > self._max_upload_bytes:
            raise too_large(self._max_upload_bytes)
        return check(self._store.path(blob_id), blob.size_bytes)

    # The media library

    def create_media(self, organization_id: str, project_id: str, kind: str, blob_id: str) -> MediaItemRow:
        with self._discard_on_refusal(blob_id):
            _require(organization_id, "organization_id")
            _require(project_id, "project_id")
            if kind not in KINDS:
                raise invalid(
                    f"kind must be one of {', '.join(KINDS)}.",
                    field="kind",
                )
            measured = self._check_blob(blob_id, check_video if kind == DEMO_VIDEO else check_image)
            return self.record_media(organization_id, project_id, kind, blob_id, measured)

    def record_media(
        self, organization_id: str, project_id: str, kind: str, blob_id: str, measured: Measured
    ) -> MediaItemRow:
        """File an already checked blob in a project's library."""
        with self._write() as session:
            blob = _blob_for_insert(session, blob_id)
            row = MediaItemRow(
                media_id=new_id("med"),
                organization_id=organization_id,
                project_id=project_id,
                kind=kind,
                media_role=APP_DEMO_ROLE if kind == DEMO_VIDEO else kind,
                blob=blob,
                created_at=utcnow(),
                **_probe_values(measured),
            )
            session.add(row)
        return row

    def get_media(self, organization_id: str, project_id: str, media_id: str) -> MediaItemRow:
        with self._read() as session:
            row = session.scalar(
                select(MediaItemRow).where(
                    MediaItemRow.media_id == media_id,
                    MediaItemRow.organization_id == organization_id,
                    MediaItemRow.project_id == project_id,
                )
            )
        # Another org's or project's row answers exactly like a missing one: no existence leaks.
        if row is None:
            raise _media_not_on_project()
        return row

    def list_media(
        self, organization_id: str, project_id: str, media_role: str, page_size: int, page_token: str
    ) -> MediaPage:
        """Oldest first; the token is the last seq seen, so rows added meanwhile never shift a page."""
        size, after = paging.page_size(page_size), paging.decode_token(page_token)
        query = (
            select(MediaItemRow)
            .where(
                MediaItemRow.organization_id == organization_id,
                MediaItemRow.project_id == project_id,
                MediaItemRow.seq > after,
            )
            .order_by(MediaItemRow.seq)
            .limit(size + 1)
        )
        if media_role:
            query = query.where(MediaItemRow.media_role == media_role)
        with self._read() as session:
            rows = list(session.scalars(query))
        if len(rows) <= size:
            return MediaPage(rows, "")
        page = rows[:size]
        return MediaPage(page, paging.encode_token(page[-1].seq))

    # Render inputs

    def pick_render_inputs(self, organization_id: str, project_id: str, media_id: str, draws: int = 1) -> RenderInputs:
        """The app demo (pinned, else the project's oldest app-demo), a random template and a random track,
        and `draws - 1` further template and track pairs drawn the same way (capped at MAX_DRAWS) for as long
        as the catalog read they came from may still be used (none when that is no time at all).

        A pinned media_id not on the project raises NOT_FOUND exactly like `get_media`. An unusable app demo
        is returned as `app_demo_problem` (nothing is picked then); otherwise an empty pool or catalog raises
        FAILED_PRECONDITION like the Pick* methods. The app demo is read fresh on every call (one indexed
        query); the pool and catalog ids come from a cache of `catalog_ttl_seconds`.
        """
        with self._db.query() as conn:
            if media_id:
                role = conn.scalar(
                    _PINNED_ROLE, {"media_id": media_id, "organization_id": organization_id, "project_id": project_id}
                )
                if role is None:
                    raise _media_not_on_project()
                demo_id = media_id if role == APP_DEMO_ROLE else None
                problem = AppDemoProblem.NOT_APP_DEMO
            else:
                demo_id = conn.scalar(_FIRST_APP_DEMO, {"organization_id": organization_id, "project_id": project_id})
                problem = AppDemoProblem.MISSING
        if demo_id is None:
            return RenderInputs("", problem, "", "")
        (reactions, reactions_until), (tracks, tracks_until) = self._reaction_ids.read(), self._music_ids.read()
        if not reactions:
            raise _reaction_pool_empty()
        if not tracks:
            raise _music_catalog_empty()
        valid_seconds = min(reactions_until, tracks_until) - self._clock()
        further = min(draws, MAX_DRAWS) - 1 if valid_seconds > 0 else 0
        # Uniform, like the ORDER BY random() of the Pick* methods.
        return RenderInputs(
            demo_id,
            AppDemoProblem.NONE,
            random.choice(reactions),
            random.choice(tracks),
            tuple(zip(random.choices(reactions, k=further), random.choices(tracks, k=further), strict=True)),
            valid_seconds if further > 0 else 0.0,
        )

    # The reaction-template pool

    def create_reaction_template(
        self, name: str, blob_id: str, face_box: Fractions | None = None
    ) -> ReactionTemplateRow:
        """`face_box` as the caller knows it; None: looked for in the clip (and None if no face is seen)."""
        with self._discard_on_refusal(blob_id):
            _require(name, "name")
            if face_box is not None:
                _check_face_box(face_box)
            measured = self._check_blob(blob_id, check_video)
            if face_box is None:
                path = self._store.path(blob_id)
                face_box = detect_face_box(path, measured.duration_ms, measured.width, measured.height)
            face_x, face_y, face_width, face_height = face_box or (None, None, None, None)
            with self._write() as session:
                row = ReactionTemplateRow(
                    reaction_template_id=new_id("rtp"),
                    name=name,
                    blob=_blob_for_insert(session, blob_id),
                    created_at=utcnow(),
                    face_x=face_x,
                    face_y=face_y,
                    face_width=face_width,
                    face_height=face_height,
                    **_probe_values(measured),
                )
                session.add(row)
        self._reaction_ids.invalidate()
        return row

    def get_reaction_template(self, reaction_template_id: str) -> ReactionTemplateRow:
        return self._get(ReactionTemplateRow, reaction_template_id, "reaction template", "reactionTemplateId")

    def pick_reaction_template(self) -> ReactionTemplateRow:
        return self._pick(ReactionTemplateRow, _reaction_pool_empty)

    # The music catalog

    def create_music_track(self, title: str, blob_id: str) -> MusicTrackRow:
        with self._discard_on_refusal(blob_id):
            _require(title, "title")
            measured = self._check_blob(blob_id, check_audio)
            with self._write() as session:
                row = MusicTrackRow(
                    music_track_id=new_id("trk"),
                    title=title,
                    blob=_blob_for_insert(session, blob_id),
                    created_at=utcnow(),
                    **_probe_values(measured),
                )
                session.add(row)
        self._music_ids.invalidate()
        return row

    def get_music_track(self, music_track_id: str) -> MusicTrackRow:
        return self._get(MusicTrackRow, music_track_id, "music track", "musicTrackId")

    def pick_music_track(self) -> MusicTrackRow:
        return self._pick(MusicTrackRow, _music_catalog_empty)

    def _get(self, row_type: type[CatalogRow], row_id: str, what: str, field: str) -> CatalogRow:
        with self._read() as session:
            row = session.get(row_type, row_id)
        if row is None:
            raise not_found(what, f"{field} was not found.")
        return row

    def _pick(self, row_type: type[CatalogRow], empty: Callable[[], ServiceError]) -> CatalogRow:
        """A random row of the catalog; `empty()` is raised when it has none."""
        with self._read() as session:
            row = session.scalar(select(row_type).order_by(func.random()).limit(1))
        if row is None:
            raise empty()
        return row


def _media_not_on_project() -> ServiceError:
    return not_found("media", "mediaId is not on this project.")


def _check_face_box(box: Fractions) -> None:
    x, y, width, height = box
    if not (0 <= x < 1 and 0 <= y < 1 and 0 < width <= 1 - x and 0 < height <= 1 - y):
        raise invalid(
            "face_box must lie inside the frame: fractions x, y in [0, 1), width and height above 0.",
            field="face_box",
        )


def _reaction_pool_empty() -> ServiceError:
    return precondition("REACTION_POOL_EMPTY", "The reaction-template pool is empty.")


def _music_catalog_empty() -> ServiceError:
    return precondition("MUSIC_CATALOG_EMPTY", "The music catalog is empty.")


def _require(value: str, field: str) -> None:
    if not value:
        raise invalid(f"{field} is required.", field=field)
    if len(value) > 255:
        raise invalid(f"{field} is too long.", field=field)


def _probe_values(measured: Measured) -> dict[str, object]:
    return {
        "duration_ms": measured.duration_ms,
        "width": measured.width,
        "height": measured.height,
        "has_audio": measured.has_audio,
        "has_video": measured.has_video,
        "format_name": measured.format_name[:255],
    }


def _blob_for_insert(session: Session, blob_id: str) -> BlobRow:
    blob = session.get(BlobRow, blob_id)
    if blob is None:  # deleted while it was being probed
        raise not_found("blob", "blobId was not found.")
    return blob


def _blob_in_use(blob_id: str) -> ColumnElement[bool]:
    return or_(
        exists().where(MediaItemRow.blob_id == blob_id),
        exists().where(ReactionTemplateRow.blob_id == blob_id),
        exists().where(MusicTrackRow.blob_id == blob_id),
    )


# pick_render_inputs' two reads, built once (every ugc-remix runs one of them).
_PINNED_ROLE = select(MediaItemRow.media_role).where(
    MediaItemRow.media_id == bindparam("media_id"),
    MediaItemRow.organization_id == bindparam("organization_id"),
    MediaItemRow.project_id == bindparam("project_id"),
)
_FIRST_APP_DEMO = (
    select(MediaItemRow.media_id)
    .where(
        MediaItemRow.organization_id == bindparam("organization_id"),
        MediaItemRow.project_id == bindparam("project_id"),
        MediaItemRow.media_role == APP_DEMO_ROLE,
    )
    .order_by(MediaItemRow.seq)
    .limit(1)
)
