"""CreateUgcRemix on a real database (SQLite and PostgreSQL) with fake media and billing ports."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest
from sqlalchemy import event, func, select

from common.errors import ServiceError
from layers.content.v1 import content_pb2 as pb
from layers.render.v1 import render_pb2
from services.content.models import Container, IdempotencyRecord, Job, OutboxMessage
from services.content.ugc_remix import MISSING_APP_DEMO_MESSAGE, reservation_id_for
from tests.content.world import World, request


def reason_of(w: World, req: pb.CreateUgcRemixRequest) -> str:
    with pytest.raises(ServiceError) as caught:
        w.handler.handle(req)
    return caught.value.reason


def count(w: World, model) -> int:
    with w.db.read() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_accepts_via_social_account_and_records_choices(world: World) -> None:
    response = world.handler.handle(request(world, social_account_id=world.account, hook="Wait…\n😂"))
    job = response.job
    assert job.status == pb.JOB_STATUS_RUNNING and job.stage == pb.JOB_STAGE_QUEUED
    assert len(job.container_ids) == 1 and job.job_id.startswith("job_")
    assert not response.replayed
    with world.db.read() as session:
        container = session.get(Container, job.container_ids[0])
        assert container is not None
        assert container.influencer_id == world.influencer and container.layer_id == world.layer
        assert container.media_id == "med_demo1"  # the project's first app-demo
        assert container.reaction_template_id == "rtp_fake" and container.music_track_id == "trk_fake"
        assert container.hook == "Wait…\n😂" and container.language == "en" and container.voice == "warm"
        outbox = session.scalars(select(OutboxMessage)).one()
    render = render_pb2.RenderJob.FromString(outbox.payload)
    assert render.job_id == job.job_id and render.hook == "Wait…\n😂" and render.media_id == "med_demo1"
    assert world.billing.held == {reservation_id_for(job.job_id): 120}


def test_explicit_influencer_wins_but_layer_comes_from_account(world: World) -> None:
    other = world.tenancy.create_influencer(world.project, "Noor", "calm", "ar").influencer_id
    job = world.handler.handle(request(world, social_account_id=world.account, influencer_id=other)).job
    with world.db.read() as session:
        container = session.get(Container, job.container_ids[0])
    assert container.influencer_id == other and container.layer_id == world.layer and container.language == "ar"


def test_pinned_media_is_used(world: World) -> None:
    job = world.handler.handle(request(world, influencer_id=world.influencer, media_id="med_demo2")).job
    with world.db.read() as session:
        assert session.get(Container, job.container_ids[0]).media_id == "med_demo2"


def test_error_rows(world: World) -> None:
    t = world.tenancy
    assert reason_of(world, request(world)) == "INFLUENCER_REQUIRED"
    assert reason_of(world, request(world, social_account_id="sac_nope")) == "NOT_FOUND"
    assert reason_of(world, request(world, influencer_id="inf_nope")) == "NOT_FOUND"
    assert reason_of(world, request(world, influencer_id=world.influencer, media_id="med_nope")) == "NOT_FOUND"

    lonely = t.create_social_account(world.project, "instagram", "@lonely").social_account_id
    assert reason_of(world, request(world, social_account_id=lonely)) == "ACCOUNT_NOT_WIRED"

    distribution = t.create_layer(world.project, "distribution", "Dist", "").layer_id
    dist_only = t.create_social_account(world.project, "tiktok", "@dist").social_account_id
    t.wire(dist_only, distribution)
    assert reason_of(world, request(world, social_account_id=dist_only)) == "NO_CONTENT_LAYER_WIRED"

    unlayered = t.create_influencer(world.project, "Solo", "v", "en").influencer_id
    assert reason_of(world, request(world, influencer_id=unlayered)) == "NO_CONTENT_LAYER_WIRED"

    empty_layer = t.create_layer(world.project, "content", "Empty", "").layer_id
    no_inf = t.create_social_account(world.project, "tiktok", "@noinf").social_account_id
    t.wire(no_inf, empty_layer)
    assert reason_of(world, request(world, social_account_id=no_inf)) == "INFLUENCER_NOT_WIRED"

    bare_project = t.create_project(world.org, "Bare").project_id
    inf = t.create_influencer(bare_project, "B", "v", "en").influencer_id
    t.create_layer(bare_project, "content", "L", inf)
    with pytest.raises(ServiceError) as caught:
        world.handler.handle(
            pb.CreateUgcRemixRequest(organization_id=world.org, project_id=bare_project, influencer_id=inf)
        )
    assert caught.value.reason == "MISSING_APP_DEMO"
    assert caught.value.message == MISSING_APP_DEMO_MESSAGE
    assert caught.value.metadata == {"format": "ugc-remix"}
    assert count(world, Job) == 0 and world.billing.held == {}


def test_an_influencer_of_another_project_is_not_found_by_either_path(world: World) -> None:
    elsewhere = world.tenancy.create_project(world.org, "Other app").project_id
    stranger = world.tenancy.create_influencer(elsewhere, "Ana", "v", "en").influencer_id
    world.tenancy.create_layer(elsewhere, "content", "L", stranger)
    assert reason_of(world, request(world, influencer_id=stranger)) == "NOT_FOUND"
    assert reason_of(world, request(world, social_account_id=world.account, influencer_id=stranger)) == "NOT_FOUND"
    assert count(world, Job) == 0 and world.billing.held == {}


def test_a_revoked_or_unknown_key_starts_nothing_by_either_path(world: World) -> None:
    key_id, _ = world.tenancy.create_api_key(world.org, ["*"], test_mode=False)
    assert world.handler.handle(request(world, influencer_id=world.influencer, api_key_id=key_id)).job.job_id
    world.tenancy.revoke_api_key(key_id)
    for key in (key_id, "key_unknown"):
        assert reason_of(world, request(world, influencer_id=world.influencer, api_key_id=key)) == "UNAUTHENTICATED"
        assert reason_of(world, request(world, social_account_id=world.account, api_key_id=key)) == "UNAUTHENTICATED"
    assert count(world, Job) == 1 and len(world.billing.held) == 1


def test_a_start_refused_as_not_found_gives_its_key_back(world: World) -> None:
    """The claim made with the start's read is abandoned when the read refuses it, so the partner's fixed
    request may reuse the key (else: in progress for the lease, or a body mismatch)."""
    unknown_project = pb.CreateUgcRemixRequest(
        organization_id=world.org, project_id="prj_nope", influencer_id=world.influencer, idempotency_key="k"
    )
    unknown_project.request_fingerprint = "f0"
    assert reason_of(world, unknown_project) == "NOT_FOUND"
    wrong = request(world, influencer_id="inf_nope", idempotency_key="k", request_fingerprint="f1")
    assert reason_of(world, wrong) == "NOT_FOUND"
    assert count(world, IdempotencyRecord) == 0
    fixed = request(world, influencer_id=world.influencer, idempotency_key="k", request_fingerprint="f2")
    assert world.handler.handle(fixed).job.job_id and count(world, Job) == 1


def test_other_orgs_project_is_not_found(world: World) -> None:
    stranger = world.tenancy.create_organization("Other").organization_id
    req = pb.CreateUgcRemixRequest(organization_id=stranger, project_id=world.project, influencer_id=world.influencer)
    assert reason_of(world, req) == "NOT_FOUND"


def test_billing_exhausted_creates_nothing_and_key_can_be_retried(world: World) -> None:
    world.billing.available = 100
    req = request(world, influencer_id=world.influencer, idempotency_key="k1", request_fingerprint="f1")
    with pytest.raises(ServiceError) as caught:
        world.handler.handle(req)
    assert caught.value.reason == "BILLING_EXHAUSTED"
    assert caught.value.metadata == {"required": "120", "available": "100"}
    assert count(world, Job) == 0 and count(world, IdempotencyRecord) == 0
    world.billing.available = 1000
    assert world.handler.handle(req).job.status == pb.JOB_STATUS_RUNNING


def test_replay_returns_identical_job_and_charges_once(world: World) -> None:
    req = request(world, influencer_id=world.influencer, idempotency_key="key-1", request_fingerprint="fp")
    first = world.handler.handle(req)
    second = world.handler.handle(req)
    assert second.replayed and second.job == first.job
    assert count(world, Job) == 1 and len(world.billing.held) == 1
    changed = request(world, influencer_id=world.influencer, idempotency_key="key-1", request_fingerprint="other")
    with pytest.raises(ServiceError) as caught:
        world.handler.handle(changed)
    assert caught.value.reason == "IDEMPOTENCY_BODY_MISMATCH"


def test_twenty_concurrent_requests_with_one_key_make_one_job(world: World) -> None:
    req = request(world, influencer_id=world.influencer, idempotency_key="same", request_fingerprint="fp")
    barrier = threading.Barrier(20)

    def call():
        barrier.wait()
        try:
            return world.handler.handle(req)
        except ServiceError as exc:
            return exc

    with ThreadPoolExecutor(20) as pool:
        outcomes = list(pool.map(lambda _: call(), range(20)))
    accepted = [o for o in outcomes if isinstance(o, pb.CreateUgcRemixResponse)]
    refused = [o for o in outcomes if isinstance(o, ServiceError)]
    assert accepted, outcomes
    assert {r.reason for r in refused} <= {"IDEMPOTENCY_IN_PROGRESS"}
    assert len({a.job.job_id for a in accepted}) == 1
    assert count(world, Job) == 1 and count(world, OutboxMessage) == 1 and len(world.billing.held) == 1


def test_failed_commit_releases_the_reservation(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_args, **_kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(world.handler, "_write", boom)  # fails inside the transaction that creates the job
    req = request(world, influencer_id=world.influencer, idempotency_key="k", request_fingerprint="f")
    with pytest.raises(RuntimeError):
        world.handler.handle(req)
    assert count(world, Job) == 0 and count(world, IdempotencyRecord) == 0
    assert world.billing.held == {} and len(world.billing.released) == 1


def test_job_state_machine_settles_credits_once(world: World) -> None:
    job = world.handler.handle(request(world, influencer_id=world.influencer)).job
    proceed, _ = world.jobs.start_render(job.job_id)
    assert proceed
    assert world.jobs.report_progress(job.job_id, "compositing", 0.5, 10) is False
    assert world.jobs.report_progress(job.job_id, "fetching_inputs", 1.0, 10) is False  # late, ignored
    assert world.jobs.get_job(world.org, job.job_id).progress == pytest.approx(0.5)
    asset = pb.Asset(
        kind="video",
        blob_id="blb_1",
        thumbnail_blob_id="blb_2",
        duration_ms=9000,
        width=1080,
        height=1920,
        mime_type="video/mp4",
        size_bytes=10,
        checksum_sha256="ab" * 32,
    )
    recorded, done = world.jobs.complete(job.job_id, [asset])
    assert recorded and done.status == pb.JOB_STATUS_COMPLETED and len(done.assets) == 1
    again, _ = world.jobs.complete(job.job_id, [asset])
    assert not again
    assert world.billing.captured == [reservation_id_for(job.job_id)]
    accepted, reason, _ = world.jobs.cancel(world.org, job.job_id)
    assert (accepted, reason) == (False, "ALREADY_COMPLETED")
    assert world.jobs.start_render(job.job_id)[0] is False


def test_cancel_releases_and_stops_renderer(world: World) -> None:
    job = world.handler.handle(request(world, influencer_id=world.influencer)).job
    accepted, _, view = world.jobs.cancel(world.org, job.job_id)
    assert accepted and view.status == pb.JOB_STATUS_CANCELED
    assert world.jobs.report_progress(job.job_id, "compositing", 0.1, None) is True
    assert world.billing.released == [reservation_id_for(job.job_id)]
    with pytest.raises(ServiceError):
        world.jobs.cancel("org_other", job.job_id)


def test_a_slow_owner_overtaken_after_its_lease_neither_duplicates_nor_releases(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import timedelta

    monkeypatch.setattr(world.handler.idempotency, "lease", timedelta(milliseconds=200))
    first_pick, resume = threading.Event(), threading.Event()
    original = world.media.pick_reaction_template

    def slow_once() -> str:
        if not first_pick.is_set():
            first_pick.set()
            resume.wait(10)  # the first request stalls here, past its lease
        return original()

    world.media.pick_reaction_template = slow_once  # type: ignore[method-assign]
    req = request(world, influencer_id=world.influencer, idempotency_key="slow", request_fingerprint="fp")
    outcome: dict[str, object] = {}
    slow = threading.Thread(target=lambda: outcome.update(a=_call(world, req)))
    slow.start()
    assert first_pick.wait(5)
    world.clock.advance(0.3)  # the lease runs out; a retry takes the key over and finishes the work
    taken_over = world.handler.handle(req)
    resume.set()
    slow.join(10)
    error = outcome["a"]
    assert isinstance(error, ServiceError) and error.reason == "IDEMPOTENCY_IN_PROGRESS"
    assert count(world, Job) == 1 and count(world, OutboxMessage) == 1
    assert world.billing.held == {reservation_id_for(taken_over.job.job_id): 120}
    assert world.billing.released == []  # the shared hold was not given back by the loser
    replay = world.handler.handle(req)
    assert replay.replayed and replay.job == taken_over.job


def _call(world: World, req: pb.CreateUgcRemixRequest) -> object:
    try:
        return world.handler.handle(req)
    except ServiceError as exc:
        return exc


def test_a_key_whose_dead_owner_released_its_hold_starts_a_fresh_job(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import timedelta

    from services.content import idempotency

    monkeypatch.setattr(world.handler.idempotency, "lease", timedelta(milliseconds=100))
    # A first owner claimed the key, reserved under its job id, released the hold, then died.
    dead = world.handler.idempotency.claim(
        world.org, f"POST /v1/projects/{world.project}/content/ugc-remix", "orphan", "fp"
    )
    assert isinstance(dead, idempotency.Claim)
    world.billing.reserve(reservation_id_for(dead.job_id), world.org, 120, 60)
    world.billing.release(reservation_id_for(dead.job_id))
    world.clock.advance(0.2)

    req = request(world, influencer_id=world.influencer, idempotency_key="orphan", request_fingerprint="fp")
    job = world.handler.handle(req).job
    assert job.job_id != dead.job_id
    assert world.billing.held == {reservation_id_for(job.job_id): 120}
    assert world.handler.handle(req).job == job  # and the key now replays it


def _dead_claim(world: World, key: str, reserved: bool) -> object:
    """A request that claimed `key` (and, when `reserved`, held its credits) and then died uncommitted."""
    from services.content.idempotency import Claim

    claim = world.handler.idempotency.claim(
        world.org, f"POST /v1/projects/{world.project}/content/ugc-remix", key, "fp"
    )
    assert isinstance(claim, Claim)
    if reserved:
        world.billing.reserve(reservation_id_for(claim.job_id), world.org, 120, 7200)
    return claim


def test_credits_held_by_a_request_that_died_uncommitted_are_released_once_its_lease_ends(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import timedelta

    monkeypatch.setattr(world.handler.idempotency, "lease", timedelta(seconds=1))
    held = _dead_claim(world, "held", reserved=True)
    _dead_claim(world, "never-held", reserved=False)  # billing answers NOT_FOUND: nothing to give back
    world.handler.idempotency.claim(world.org, "POST /v1/jobs/x/cancel", "generic", "fp", with_job=False)
    assert world.handler.release_abandoned() == 0  # both owners may still be alive: nothing is touched
    assert world.billing.held == {reservation_id_for(held.job_id): 120}  # type: ignore[attr-defined]

    world.clock.advance(1.2)
    live = _dead_claim(world, "live", reserved=True)  # claimed just now: its lease still runs
    assert world.handler.release_abandoned() == 2
    assert world.billing.held == {reservation_id_for(live.job_id): 120}  # type: ignore[attr-defined]
    assert reservation_id_for(held.job_id) in world.billing.released  # type: ignore[attr-defined]
    assert world.handler.release_abandoned() == 0  # settled once
    with world.db.read() as session:
        keys = set(session.scalars(select(IdempotencyRecord.idempotency_key)))
    assert keys == {"live", "generic"}  # a generic POST's claim is never settled here: it holds no credits

    # A retry with the dead request's key starts one fresh job and holds its credits once.
    req = request(world, influencer_id=world.influencer, idempotency_key="held", request_fingerprint="fp")
    job = world.handler.handle(req).job
    assert job.job_id != held.job_id  # type: ignore[attr-defined]
    assert world.billing.held == {
        reservation_id_for(live.job_id): 120,  # type: ignore[attr-defined]
        reservation_id_for(job.job_id): 120,
    }


def test_a_release_that_fails_is_tried_again_on_a_later_pass(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import timedelta

    monkeypatch.setattr(world.handler.idempotency, "lease", timedelta(seconds=1))
    held = _dead_claim(world, "held", reserved=True)
    world.clock.advance(1.2)
    real_release = world.billing.release

    def unavailable(reservation_id: str) -> None:
        raise ServiceError(grpc.StatusCode.UNAVAILABLE, "UNAVAILABLE", "billing is down")

    monkeypatch.setattr(world.billing, "release", unavailable)
    assert world.handler.release_abandoned() == 0
    monkeypatch.setattr(world.billing, "release", real_release)
    assert world.handler.release_abandoned() == 0  # the failed pass took the claim: its new lease runs first
    world.clock.advance(1.2)
    assert world.handler.release_abandoned() == 1
    assert world.billing.held == {} and world.billing.released == [reservation_id_for(held.job_id)]  # type: ignore[attr-defined]


def test_a_retry_while_the_first_request_runs_is_told_when_to_come_back(world: World) -> None:
    from services.content.idempotency import MAX_RETRY_AFTER_SECONDS

    _dead_claim(world, "busy", reserved=False)
    req = request(world, influencer_id=world.influencer, idempotency_key="busy", request_fingerprint="fp")
    with pytest.raises(ServiceError) as caught:
        world.handler.handle(req)
    assert (caught.value.reason, caught.value.retry_after_seconds) == (
        "IDEMPOTENCY_IN_PROGRESS",
        MAX_RETRY_AFTER_SECONDS,
    )


def test_a_slow_request_whose_claim_was_settled_gives_back_the_hold_it_made_afterwards(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import timedelta

    monkeypatch.setattr(world.handler.idempotency, "lease", timedelta(seconds=1))
    first_pick, resume = threading.Event(), threading.Event()
    original = world.media.pick_reaction_template

    def slow_once() -> str:
        if not first_pick.is_set():
            first_pick.set()
            resume.wait(10)  # stalls before reserving, past its lease
        return original()

    world.media.pick_reaction_template = slow_once  # type: ignore[method-assign]
    req = request(world, influencer_id=world.influencer, idempotency_key="slow", request_fingerprint="fp")
    outcome: dict[str, object] = {}
    slow = threading.Thread(target=lambda: outcome.update(a=_call(world, req)))
    slow.start()
    assert first_pick.wait(5)
    world.clock.advance(1.2)
    assert world.handler.release_abandoned() == 1  # taken for dead: nothing held yet (NOT_FOUND), claim gone
    resume.set()
    slow.join(10)
    error = outcome["a"]
    assert isinstance(error, ServiceError) and error.reason == "IDEMPOTENCY_IN_PROGRESS"
    assert count(world, Job) == 0
    assert world.billing.held == {}  # the hold it made after its claim was settled went back at once
    fresh = world.handler.handle(req)  # and the key starts one job afresh
    assert world.billing.held == {reservation_id_for(fresh.job.job_id): 120}


def test_a_start_is_two_round_trips_on_postgresql(world: World) -> None:
    """The claim with one read of what the start names, and one write of everything it creates (SQLite, which
    has no data-modifying CTEs, claims, reads and writes statement by statement). BEGIN and COMMIT are not
    counted."""
    key_id = world.tenancy.create_api_key(world.org, ["*"], False)[0]
    statements: list[str] = []

    def record(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        statements.append(statement.split(None, 1)[0].upper())

    event.listen(world.db.engine, "before_cursor_execute", record)
    try:
        start = request(world, influencer_id=world.influencer, api_key_id=key_id, idempotency_key="k")
        world.handler.handle(start)
    finally:
        event.remove(world.db.engine, "before_cursor_execute", record)
    statements = [s for s in statements if s not in ("BEGIN", "BEGIN IMMEDIATE")]
    if world.db.engine.dialect.name == "postgresql":
        assert statements == ["WITH", "WITH"], statements
    else:
        assert statements == ["INSERT", "SELECT", "INSERT", "INSERT", "INSERT", "UPDATE", "UPDATE"], statements
