"""PickRenderInputs over real gRPC, on SQLite and PostgreSQL: the app demo, a template and a track in one call."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from sqlalchemy import Engine, event, select, text
from sqlalchemy.orm import Session

from common.db import Database, make_engine
from common.grpc_server import create_server
from common.ids import new_id
from common.timeutil import utcnow
from layers.media.v1 import media_pb2, media_pb2_grpc
from services.content.ports import GrpcMedia
from services.media.blob_store import LocalBlobStore
from services.media.client import upload_file
from services.media.library import CachedIds, MediaLibrary
from services.media.models import MusicTrackRow, ReactionTemplateRow
from services.media.probing import Measured
from services.media.servicer import SERVICE_NAME, MediaServicer
from services.media.url_import import UrlFetcher, UrlImporter
from tests.media.conftest import MAX_UPLOAD_BYTES, MediaFiles, MediaService, SeedClips, call_error

ORG = "org_01J0000000000000000000000A"
PROJECT = "4d7e3f4a-8a5b-4a52-9a55-0c1d2e3f4a5b"
OTHER_PROJECT = "9a1b2c3d-0000-4000-8000-00000000000b"
TTL = 5.0
IMAGE = Measured(0, 64, 48, False, True, "png_pipe")
NO_PROBLEM = media_pb2.APP_DEMO_PROBLEM_UNSPECIFIED


def pick(stub: media_pb2_grpc.MediaServiceStub, media_id: str = "", project: str = PROJECT, org: str = ORG) -> Any:
    request = media_pb2.PickRenderInputsRequest(organization_id=org, project_id=project, media_id=media_id)
    return stub.PickRenderInputs(request, timeout=10)


def add_media(media: MediaService, kind: str, project: str = PROJECT, org: str = ORG) -> str:
    """A library row on a stand-in blob ("demo-video" files as an app-demo); no probing, so it is fast."""
    library = media.library()
    blob = library.write_blob("image/png", 0, [b"png"])
    return library.record_media(org, project, kind, blob.blob_id, IMAGE).media_id


def add_template(media: MediaService) -> str:
    """A reaction template written straight to the database, as another media process would."""
    blob = media.library().write_blob("video/mp4", 0, [b"mp4"])
    template_id = new_id("rtp")
    with Session(media.engine) as session, session.begin():
        session.add(
            ReactionTemplateRow(
                reaction_template_id=template_id, name="r", blob_id=blob.blob_id, created_at=utcnow(), **_probe()
            )
        )
    return template_id


def add_track(media: MediaService) -> str:
    """A music track written straight to the database, as another media process would."""
    blob = media.library().write_blob("audio/mp4", 0, [b"m4a"])
    track_id = new_id("trk")
    with Session(media.engine) as session, session.begin():
        session.add(
            MusicTrackRow(music_track_id=track_id, title="t", blob_id=blob.blob_id, created_at=utcnow(), **_probe())
        )
    return track_id


def _probe() -> dict[str, Any]:
    return {"duration_ms": 3000, "width": 720, "height": 1280, "has_audio": True, "has_video": True, "format_name": "x"}


def test_pinned_app_demo(media: MediaService) -> None:
    template, track = add_template(media), add_track(media)
    add_media(media, "demo-video")
    pinned = add_media(media, "demo-video")

    answer = pick(media.stub, pinned)
    assert answer == media_pb2.PickRenderInputsResponse(
        app_demo_media_id=pinned, reaction_template_id=template, music_track_id=track, app_demo_problem=NO_PROBLEM
    )


def test_pinned_media_that_is_not_an_app_demo(media: MediaService) -> None:
    add_template(media)
    add_track(media)
    add_media(media, "demo-video")
    logo = add_media(media, "logo")

    # Reported, not raised, and nothing is picked: the caller refuses the request in its own order.
    answer = pick(media.stub, logo)
    assert answer == media_pb2.PickRenderInputsResponse(app_demo_problem=media_pb2.APP_DEMO_PROBLEM_NOT_APP_DEMO)


def test_pinned_media_not_on_the_project_is_not_found_like_get_media(media: MediaService) -> None:
    add_template(media)
    add_track(media)
    elsewhere = add_media(media, "demo-video", project=OTHER_PROJECT)
    other_org = add_media(media, "demo-video", org="org_01J0000000000000000000000B")
    for media_id in (elsewhere, other_org, "med_01J00000000000000000000000", "not-an-id"):
        err = call_error(pick, media.stub, media_id)
        get = call_error(
            media.stub.GetMedia,
            media_pb2.GetMediaRequest(organization_id=ORG, project_id=PROJECT, media_id=media_id),
        )
        assert (err.code, err.reason, err.message, err.metadata) == (
            grpc.StatusCode.NOT_FOUND,
            "NOT_FOUND",
            "mediaId is not on this project.",
            {},
        )
        assert (err.code, err.reason, err.message, err.metadata) == (get.code, get.reason, get.message, get.metadata)


def test_nothing_pinned_takes_the_projects_first_app_demo(media: MediaService) -> None:
    template, track = add_template(media), add_track(media)
    add_media(media, "demo-video", project=OTHER_PROJECT)
    add_media(media, "logo")
    first = add_media(media, "demo-video")
    add_media(media, "screenshot")
    add_media(media, "demo-video")

    answer = pick(media.stub)
    assert (answer.app_demo_media_id, answer.app_demo_problem) == (first, NO_PROBLEM)
    assert (answer.reaction_template_id, answer.music_track_id) == (template, track)


def test_no_app_demo_at_all_is_missing(media: MediaService) -> None:
    add_template(media)
    add_track(media)
    missing = media_pb2.PickRenderInputsResponse(app_demo_problem=media_pb2.APP_DEMO_PROBLEM_MISSING)
    assert pick(media.stub) == missing
    add_media(media, "logo")
    add_media(media, "demo-video", project=OTHER_PROJECT)
    assert pick(media.stub) == missing

    # The app demo is never cached: one uploaded just now is used by the very next call.
    demo = add_media(media, "demo-video")
    assert pick(media.stub).app_demo_media_id == demo


def test_empty_pool_or_catalog_fails_like_the_picks(media: MediaService) -> None:
    demo = add_media(media, "demo-video")
    add_track(media)
    err = call_error(pick, media.stub, demo)
    assert (err.code, err.reason, err.message) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "REACTION_POOL_EMPTY",
        "The reaction-template pool is empty.",
    )
    # An app-demo problem comes first: it is reported and the pool is not looked at.
    assert pick(media.stub, project=OTHER_PROJECT).app_demo_problem == media_pb2.APP_DEMO_PROBLEM_MISSING

    # An empty answer is not cached: the first template is pickable at once.
    template = add_template(media)
    assert pick(media.stub).reaction_template_id == template


def test_empty_music_catalog(media: MediaService) -> None:
    add_media(media, "demo-video")
    add_template(media)
    err = call_error(pick, media.stub)
    assert (err.code, err.reason, err.message) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "MUSIC_CATALOG_EMPTY",
        "The music catalog is empty.",
    )


# The catalog cache, on a second media server over the same database whose clock the test moves.


@dataclass
class Clock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Replica:
    stub: media_pb2_grpc.MediaServiceStub
    clock: Clock
    engine: Engine


@pytest.fixture
def replica(media: MediaService, db_url: str) -> Iterator[Replica]:
    clock = Clock()
    engine = make_engine(db_url)
    library = MediaLibrary(
        engine, LocalBlobStore(media.blob_dir), MAX_UPLOAD_BYTES, catalog_ttl_seconds=TTL, clock=clock
    )
    servicer = MediaServicer(library, UrlImporter(library, UrlFetcher("", 5, MAX_UPLOAD_BYTES, None)))
    server, port = create_server(
        lambda s: media_pb2_grpc.add_MediaServiceServicer_to_server(servicer, s), [SERVICE_NAME], "127.0.0.1:0"
    )
    chan = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield Replica(media_pb2_grpc.MediaServiceStub(chan), clock, engine)
    finally:
        chan.close()
        server.stop(1).wait()
        engine.dispose()


def picks(replica: Replica, field: str, times: int = 40) -> set[str]:
    return {getattr(pick(replica.stub), field) for _ in range(times)}


def test_catalog_additions_elsewhere_are_seen_within_the_ttl(media: MediaService, replica: Replica) -> None:
    add_media(media, "demo-video")
    first_template, first_track = add_template(media), add_track(media)
    assert picks(replica, "reaction_template_id") == {first_template}
    assert picks(replica, "music_track_id") == {first_track}

    # Added by another process: this one keeps its cached catalog until the ttl has passed...
    second_template, second_track = add_template(media), add_track(media)
    assert picks(replica, "reaction_template_id") == {first_template}
    replica.clock.now += TTL - 0.01
    assert picks(replica, "music_track_id") == {first_track}

    # ... and then picks among all of them, at random (one missing from 40 picks: ~2 * (1/2)^40).
    replica.clock.now += 0.02
    assert picks(replica, "reaction_template_id") == {first_template, second_template}
    assert picks(replica, "music_track_id") == {first_track, second_track}


def test_catalog_additions_through_this_process_are_seen_at_once(
    media: MediaService, replica: Replica, clips: SeedClips, files: MediaFiles
) -> None:
    add_media(media, "demo-video")
    first_template, first_track = add_template(media), add_track(media)
    assert pick(replica.stub).music_track_id == first_track

    # What `layers admin reaction add` / `music add` do, against the process that caches.
    blob = upload_file(replica.stub, files.mp4, "video/mp4")
    template = replica.stub.CreateReactionTemplate(
        media_pb2.CreateReactionTemplateRequest(name="new", blob_id=blob.blob_id)
    ).reaction_template
    blob = upload_file(replica.stub, clips.music, "audio/mp4")
    track = replica.stub.CreateMusicTrack(
        media_pb2.CreateMusicTrackRequest(title="new", blob_id=blob.blob_id)
    ).music_track
    assert picks(replica, "reaction_template_id") == {first_template, template.reaction_template_id}
    assert picks(replica, "music_track_id") == {first_track, track.music_track_id}


def test_a_warm_pick_is_one_indexed_query(media: MediaService, replica: Replica, db_url: str) -> None:
    add_media(media, "logo")
    demo = add_media(media, "demo-video")
    add_template(media)
    add_track(media)
    pick(replica.stub)  # fills the catalog cache

    statements: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK", "PRAGMA")):
            statements.append((statement, parameters))

    event.listen(replica.engine, "before_cursor_execute", record)
    try:
        assert pick(replica.stub).app_demo_media_id == demo
        assert pick(replica.stub, demo).app_demo_media_id == demo
    finally:
        event.remove(replica.engine, "before_cursor_execute", record)

    assert len(statements) == 2, statements
    assert all(s.lstrip().upper().startswith("SELECT") and "media_items" in s for s, _ in statements)
    # Each is answered from an index (on PostgreSQL: when a sequential scan is not allowed, as on big tables).
    sqlite = db_url.startswith("sqlite")
    with replica.engine.connect() as conn:
        if not sqlite:
            conn.execute(text("SET enable_seqscan = off"))
        for statement, parameters in statements:
            explain = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN "
            plan = " ".join(str(row[-1]) for row in conn.exec_driver_sql(explain + statement, parameters))
            assert ("USING INDEX" in plan or "USING COVERING INDEX" in plan) if sqlite else "Index" in plan, plan


def draw(replica: Replica, draws: int, project: str = PROJECT) -> Any:
    request = media_pb2.PickRenderInputsRequest(organization_id=ORG, project_id=project, draws=draws)
    return replica.stub.PickRenderInputs(request, timeout=10)


def test_further_draws_come_from_the_catalog_and_last_until_it_is_read_again(
    media: MediaService, replica: Replica
) -> None:
    demo = add_media(media, "demo-video")
    templates, tracks = {add_template(media), add_template(media)}, {add_track(media), add_track(media)}

    answer = draw(replica, 40)
    assert answer.app_demo_media_id == demo
    pairs = [(answer.reaction_template_id, answer.music_track_id)]
    pairs += [(d.reaction_template_id, d.music_track_id) for d in answer.further_draws]
    assert len(pairs) == 40
    # Drawn independently from the whole catalog (one of the two missing from 40 draws: ~2 * (1/2)^40).
    assert {t for t, _ in pairs} == templates and {m for _, m in pairs} == tracks
    assert answer.further_draws_valid_ms == TTL * 1000  # the catalog was read just now

    replica.clock.now += 2
    assert draw(replica, 3).further_draws_valid_ms == (TTL - 2) * 1000
    assert len(draw(replica, 10_000).further_draws) == 255  # at most 256 in all
    for one in (0, 1):
        single = draw(replica, one)
        assert single.reaction_template_id in templates and not single.further_draws
        assert single.further_draws_valid_ms == 0

    # Nothing is drawn for a project with no app demo.
    missing = draw(replica, 40, project=OTHER_PROJECT)
    assert missing.app_demo_problem == media_pb2.APP_DEMO_PROBLEM_MISSING and not missing.further_draws


def test_no_further_draws_when_the_catalog_is_read_for_every_pick(media: MediaService) -> None:
    add_media(media, "demo-video")
    add_template(media)
    add_track(media)
    uncached = MediaLibrary(media.engine, LocalBlobStore(media.blob_dir), MAX_UPLOAD_BYTES, catalog_ttl_seconds=0)
    picked = uncached.pick_render_inputs(ORG, PROJECT, "", draws=40)
    assert picked.reaction_template_id and picked.further_draws == ()
    assert picked.further_draws_valid_seconds == 0


def test_content_starts_of_one_project_take_draws_made_ahead(media: MediaService, replica: Replica) -> None:
    """Content's side: 40 starts of one project cost two calls to media (32 draws each), all from the catalog."""
    demo = add_media(media, "demo-video")
    templates, tracks = {add_template(media), add_template(media)}, {add_track(media), add_track(media)}
    port = GrpcMedia(replica.stub)
    calls: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if "media_items" in statement:
            calls.append(statement)

    event.listen(replica.engine, "before_cursor_execute", record)
    try:
        picked = [port.pick_render_inputs(ORG, PROJECT, "") for _ in range(40)]
    finally:
        event.remove(replica.engine, "before_cursor_execute", record)
    assert len(calls) == 2
    assert {p.app_demo_media_id for p in picked} == {demo}
    assert {p.reaction_template_id for p in picked} == templates
    assert {p.music_track_id for p in picked} == tracks


def test_further_draws_last_only_as_long_as_the_sooner_of_the_two_reads(
    media: MediaService, replica: Replica, clips: SeedClips
) -> None:
    add_media(media, "demo-video")
    add_template(media)
    add_track(media)
    draw(replica, 2)  # both read now, due again in TTL
    replica.clock.now += 2
    blob = upload_file(replica.stub, clips.music, "audio/mp4")
    replica.stub.CreateMusicTrack(media_pb2.CreateMusicTrackRequest(title="new", blob_id=blob.blob_id))
    # The catalog is read again now (the add dropped it), the pool is still due at the first read's TTL.
    assert draw(replica, 2).further_draws_valid_ms == (TTL - 2) * 1000


def test_a_read_overtaken_by_an_addition_is_good_for_one_answer_only(media: MediaService) -> None:
    add_template(media)
    clock = Clock()
    ids = CachedIds(Database(media.engine), select(ReactionTemplateRow.reaction_template_id), TTL, clock)

    def added_meanwhile(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        ids.invalidate()  # as an add through this process, while the read is under way

    event.listen(media.engine, "before_cursor_execute", added_meanwhile)
    try:
        read, until = ids.read()
    finally:
        event.remove(media.engine, "before_cursor_execute", added_meanwhile)
    assert len(read) == 1 and until == clock.now  # nothing left to draw ahead from it
    assert ids.read()[1] == clock.now + TTL  # the next read is kept
