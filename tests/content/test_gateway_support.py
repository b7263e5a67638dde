"""The content RPCs behind the gateway's generic idempotency, and the concurrent-job cap, on a real database
(SQLite and PostgreSQL), including under concurrency."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from common.db import Database, make_engine, migrate
from common.errors import ServiceError
from layers.content.v1 import content_pb2
from services.content.idempotency import Claim, IdempotencyStore, Replay
from services.content.jobs import Jobs
from services.content.models import ApiKey, IdempotencyRecord, Job
from services.content.server import MIGRATIONS
from tests.content.world import World, request


@pytest.fixture
def db(db_url: str):
    database = Database(make_engine(db_url))
    migrate(database.engine, MIGRATIONS, "alembic_version_content")
    yield database
    database.dispose()


def test_generic_claims_store_status_and_body_and_replay_them(db: Database) -> None:
    store = IdempotencyStore(db)
    scope = "POST /v1/projects/p/app-media"
    claim = store.claim("org_1", scope, "key-1", "fp-a", with_job=False)
    assert isinstance(claim, Claim) and claim.job_id == ""
    with pytest.raises(ServiceError) as info:
        store.claim("org_1", scope, "key-1", "fp-a", with_job=False)
    # the lease has minutes left
    assert (info.value.reason, info.value.retry_after_seconds) == ("IDEMPOTENCY_IN_PROGRESS", 5)
    store.complete_request("org_1", scope, "key-1", 201, b'{"mediaId":"med_1"}')
    replay = store.claim("org_1", scope, "key-1", "fp-a", with_job=False)
    assert replay == Replay(b'{"mediaId":"med_1"}', 201)
    with pytest.raises(ServiceError) as info:
        store.claim("org_1", scope, "key-1", "fp-b", with_job=False)
    assert info.value.reason == "IDEMPOTENCY_BODY_MISMATCH"
    # A second completion (say, of a taken-over claim) does not overwrite the stored answer.
    store.complete_request("org_1", scope, "key-1", 201, b"other")
    assert store.claim("org_1", scope, "key-1", "fp-a", with_job=False) == replay


def test_an_abandoned_claim_frees_the_key_but_a_stored_answer_stays(db: Database) -> None:
    store = IdempotencyStore(db)
    scope = "POST /v1/projects/p/app-media"
    store.claim("org_1", scope, "key-2", "fp-a", with_job=False)
    store.abandon_request("org_1", scope, "key-2")
    assert isinstance(store.claim("org_1", scope, "key-2", "fp-b", with_job=False), Claim)
    store.complete_request("org_1", scope, "key-2", 201, b"{}")
    store.abandon_request("org_1", scope, "key-2")
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(IdempotencyRecord)) == 1


def test_a_key_at_its_running_job_cap_gets_rate_limited(world: World) -> None:
    key_id = world.tenancy.create_api_key(world.org, ["*"], False)[0]
    accepted = [world.handler.handle(request(world, influencer_id=world.influencer, api_key_id=key_id)) for _ in "abc"]
    with pytest.raises(ServiceError) as info:
        world.handler.handle(request(world, influencer_id=world.influencer, api_key_id=key_id))
    error = info.value
    assert (error.code.name, error.reason, error.retry_after_seconds) == ("RESOURCE_EXHAUSTED", "CONCURRENT_JOBS", 30)
    assert len(world.billing.held) == 3  # the refused start's reservation was released
    # Another key of the organization is not held back, and a finished job frees a slot.
    other = world.tenancy.create_api_key(world.org, ["*"], False)[0]
    world.handler.handle(request(world, influencer_id=world.influencer, api_key_id=other))
    Jobs(world.db, world.billing).cancel(world.org, accepted[0].job.job_id)
    world.handler.handle(request(world, influencer_id=world.influencer, api_key_id=key_id))
    with world.db.read() as session:
        running = session.scalar(
            select(func.count()).select_from(Job).where(Job.api_key_id == key_id, Job.status == "running")
        )
    assert running == 3


def running_counter(world: World, key_id: str) -> int:
    with world.db.read() as session:
        return int(session.scalar(select(ApiKey.running_jobs).where(ApiKey.key_id == key_id)) or 0)


def test_the_running_counter_follows_every_way_a_job_ends(world: World) -> None:
    key_id = world.tenancy.create_api_key(world.org, ["*"], False)[0]
    jobs = Jobs(world.db, world.billing)
    started = [world.handler.handle(request(world, influencer_id=world.influencer, api_key_id=key_id)) for _ in "abc"]
    assert running_counter(world, key_id) == 3
    ids = [s.job.job_id for s in started]
    jobs.cancel(world.org, ids[0])
    jobs.fail(ids[1], "RENDER_FAILED", "boom")
    jobs.complete(ids[2], [])
    assert running_counter(world, key_id) == 0
    # A second ending of a finished job changes nothing.
    jobs.cancel(world.org, ids[0])
    jobs.fail(ids[2], "RENDER_FAILED", "late")
    assert running_counter(world, key_id) == 0


def test_the_cap_costs_the_same_however_many_jobs_run(world: World) -> None:
    """No statement of a start counts jobs: the cap is one conditional UPDATE of the key's counter."""
    from sqlalchemy import event

    key_id = world.tenancy.create_api_key(world.org, ["*"], False)[0]
    statements: list[str] = []

    def record(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(world.db.engine, "before_cursor_execute", record)
    try:
        world.handler.handle(request(world, influencer_id=world.influencer, api_key_id=key_id))
    finally:
        event.remove(world.db.engine, "before_cursor_execute", record)
    assert not [s for s in statements if "count(" in s.lower()], statements
    assert sum("UPDATE api_keys SET running_jobs" in s for s in statements) == 1


def test_concurrent_starts_with_one_key_stay_within_the_cap(world: World) -> None:
    key_id = world.tenancy.create_api_key(world.org, ["*"], False)[0]
    barrier = threading.Barrier(50)

    def start(_: int) -> str:
        barrier.wait()
        try:
            world.handler.handle(request(world, influencer_id=world.influencer, api_key_id=key_id))
        except ServiceError as exc:
            return exc.reason
        return "ACCEPTED"

    with ThreadPoolExecutor(50) as pool:
        outcomes = list(pool.map(start, range(50)))
    assert outcomes.count("ACCEPTED") == 3 and outcomes.count("CONCURRENT_JOBS") == 47, outcomes
    assert running_counter(world, key_id) == 3


def set_running_counter(world: World, key_id: str, value: int) -> None:
    with world.db.write() as session:
        session.get_one(ApiKey, key_id).running_jobs = value


def test_recount_sets_a_drifted_counter_to_the_jobs_running(world: World) -> None:
    key_id = world.tenancy.create_api_key(world.org, ["*"], False)[0]
    idle = world.tenancy.create_api_key(world.org, ["*"], False)[0]
    for _ in "ab":
        world.handler.handle(request(world, influencer_id=world.influencer, api_key_id=key_id))
    set_running_counter(world, key_id, 7)
    set_running_counter(world, idle, -1)
    checked, corrections = world.tenancy.recount_running_jobs()
    assert checked >= 2
    assert sorted(corrections) == sorted([(key_id, 7, 2), (idle, -1, 0)])
    assert (running_counter(world, key_id), running_counter(world, idle)) == (2, 0)
    assert world.tenancy.recount_running_jobs(key_id) == (1, [])
    with pytest.raises(ServiceError) as info:
        world.tenancy.recount_running_jobs("key_nope")
    assert info.value.code.name == "NOT_FOUND"


def test_recount_while_jobs_start_and_end_leaves_the_counter_exact(world: World) -> None:
    key_id = world.tenancy.create_api_key(world.org, ["*"], False)[0]
    jobs = Jobs(world.db, world.billing)
    stop = threading.Event()

    def churn(_: int) -> None:
        while not stop.is_set():
            try:
                started = world.handler.handle(request(world, influencer_id=world.influencer, api_key_id=key_id))
            except ServiceError:
                continue
            jobs.cancel(world.org, started.job.job_id)

    with ThreadPoolExecutor(4) as pool:
        churners = [pool.submit(churn, i) for i in range(4)]
        corrections = [world.tenancy.recount_running_jobs(key_id)[1] for _ in range(30)]
        stop.set()
        for churner in churners:
            churner.result()  # a churner's own failure fails the test
    assert corrections == [[]] * 30  # the counter was never wrong to begin with
    with world.db.read() as session:
        running = session.scalar(
            select(func.count()).select_from(Job).where(Job.api_key_id == key_id, Job.status == "running")
        )
    assert running_counter(world, key_id) == running
    assert world.tenancy.recount_running_jobs(key_id) == (1, [])


def test_every_change_a_poll_would_see_is_announced_after_it_commits(world: World) -> None:
    """What lets gateways keep a polled job: each change to it is told, with the job already stored."""
    heard: list[tuple[str, str, float]] = []

    def on_change(job_id: str) -> None:  # reads back what a poll would see at that moment
        job = Jobs(world.db, world.billing).get_job(world.org, job_id)
        heard.append((job_id, content_pb2.JobStatus.Name(job.status), job.progress))

    jobs = Jobs(world.db, world.billing, job_changed=on_change)
    rendered, failed, canceled = (world.handler.handle(request(world, influencer_id=world.influencer)) for _ in "abc")
    rendered_id = rendered.job.job_id
    jobs.start_render(rendered_id)
    jobs.report_progress(rendered_id, "compositing", 0.5, 10)
    jobs.complete(rendered_id, [])
    jobs.fail(failed.job.job_id, "RENDER_FAILED", "boom")
    jobs.cancel(world.org, canceled.job.job_id)
    assert [(job_id, status) for job_id, status, _ in heard] == [
        (rendered_id, "JOB_STATUS_RUNNING"),
        (rendered_id, "JOB_STATUS_RUNNING"),
        (rendered_id, "JOB_STATUS_COMPLETED"),
        (failed.job.job_id, "JOB_STATUS_FAILED"),
        (canceled.job.job_id, "JOB_STATUS_CANCELED"),
    ]
    assert heard[1][2] > heard[0][2] and heard[2][2] == 1.0  # the progress report was stored when told
    # A late report of an earlier stage changes nothing, and is not told.
    late = world.handler.handle(request(world, influencer_id=world.influencer)).job.job_id
    jobs.report_progress(late, "compositing", 0.2, 5)
    jobs.report_progress(late, "fetching_inputs", 0.9, 5)
    assert [job_id for job_id, _, _ in heard].count(late) == 1
    heard[:] = [entry for entry in heard if entry[0] != late]
    # An ended job changes no more, and nothing more is said of it.
    jobs.start_render(rendered_id)
    jobs.report_progress(rendered_id, "uploading", 1.0, 0)
    jobs.complete(rendered_id, [])
    jobs.fail(failed.job.job_id, "RENDER_FAILED", "late")
    jobs.cancel(world.org, canceled.job.job_id)
    assert len(heard) == 5


def test_a_recent_job_is_served_from_memory_until_it_changes(world: World) -> None:
    """Content's GetJob memory: its own changes show at once, another process's once it hears of them."""
    jobs = Jobs(world.db, world.billing, recent_seconds=30)
    other_worker = Jobs(world.db, world.billing)  # another process on the same database
    job_id = world.handler.handle(request(world, influencer_id=world.influencer)).job.job_id
    assert jobs.get_job(world.org, job_id).progress == 0.0
    jobs.start_render(job_id)
    jobs.report_progress(job_id, "compositing", 0.5, 10)
    seen = jobs.get_job(world.org, job_id).progress
    assert seen > 0.0  # its own change: read afresh
    other_worker.report_progress(job_id, "uploading", 0.5, 2)
    assert jobs.get_job(world.org, job_id).progress == seen  # remembered: not told yet
    fresh = jobs.get_job(world.org, job_id, fresh=True).progress  # what the gateway asks for
    assert fresh > seen
    other_worker.report_progress(job_id, "uploading", 0.9, 1)
    jobs.forget(job_id)  # the broadcast of the other worker's change
    assert jobs.get_job(world.org, job_id).progress > fresh
    with pytest.raises(ServiceError):  # another organization is refused, remembered or not
        jobs.get_job("org_someone_else", job_id)
