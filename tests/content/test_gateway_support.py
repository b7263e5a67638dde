"""The content RPCs behind the gateway's rate limits, generic idempotency and concurrent-job cap, on a real
database (SQLite and PostgreSQL), including under concurrency."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from common.db import Database, make_engine, migrate
from common.errors import ServiceError
from services.content.idempotency import Claim, IdempotencyStore, Replay
from services.content.jobs import Jobs
from services.content.models import IdempotencyRecord, Job, RateLimitCounter
from services.content.rate_limits import RateLimiter
from services.content.server import MIGRATIONS
from tests.content.world import World, request


@pytest.fixture
def db(db_url: str):
    database = Database(make_engine(db_url))
    migrate(database.engine, MIGRATIONS, "alembic_version_content")
    yield database
    database.dispose()


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_fixed_window_counts_to_the_limit_then_refuses_until_the_next_window(db: Database) -> None:
    clock = Clock(1_800_000_030.4)  # 30.4 s into a minute window starting at 1_800_000_000
    limiter = RateLimiter(db, clock)
    decisions = [limiter.consume("k1", "reads", 3, 60) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0]
    assert {d.reset_at for d in decisions} == {1_800_000_060}
    assert decisions[-1].retry_after_seconds == 30  # 29.6 s, rounded up
    # Another class and another key have budgets of their own.
    assert limiter.consume("k1", "writes", 3, 60).remaining == 2
    assert limiter.consume("k2", "reads", 3, 60).remaining == 2
    clock.now = 1_800_000_060.0
    fresh = limiter.consume("k1", "reads", 3, 60)
    assert fresh.allowed and fresh.remaining == 2 and fresh.reset_at == 1_800_000_120
    with db.read() as session:
        windows = session.scalars(
            select(RateLimitCounter.window_start).where(
                RateLimitCounter.key_id == "k1", RateLimitCounter.endpoint_class == "reads"
            )
        ).all()
    assert windows == [1_800_000_060]  # the spent window was dropped


def test_concurrent_requests_never_overshoot_the_limit(db: Database) -> None:
    limiter = RateLimiter(db, Clock(1_800_000_001.0))
    barrier = threading.Barrier(20)

    def take(_: int) -> list[bool]:
        barrier.wait()
        return [limiter.consume("busy", "generations", 20, 60).allowed for _ in range(2)]

    with ThreadPoolExecutor(20) as pool:
        allowed = [a for pair in pool.map(take, range(20)) for a in pair]
    assert allowed.count(True) == 20
    with db.read() as session:
        assert session.scalar(select(RateLimitCounter.count).where(RateLimitCounter.key_id == "busy")) == 40


@pytest.mark.parametrize(
    ("key", "endpoint", "limit", "window"), [("", "reads", 1, 60), ("k", "other", 1, 60), ("k", "reads", 0, 60)]
)
def test_bad_rate_limit_requests_are_refused(db: Database, key: str, endpoint: str, limit: int, window: int) -> None:
    with pytest.raises(ServiceError) as info:
        RateLimiter(db).consume(key, endpoint, limit, window)
    assert info.value.reason == "VALIDATION"


def test_generic_claims_store_status_and_body_and_replay_them(db: Database) -> None:
    store = IdempotencyStore(db)
    scope = "POST /v1/projects/p/app-media"
    claim = store.claim("org_1", scope, "key-1", "fp-a", with_job=False)
    assert isinstance(claim, Claim) and claim.job_id == ""
    with pytest.raises(ServiceError) as info:
        store.claim("org_1", scope, "key-1", "fp-a", with_job=False)
    assert info.value.metadata == {"reason": "IN_PROGRESS"}
    store.complete_request("org_1", scope, "key-1", 201, b'{"mediaId":"med_1"}')
    replay = store.claim("org_1", scope, "key-1", "fp-a", with_job=False)
    assert replay == Replay(b'{"mediaId":"med_1"}', 201)
    with pytest.raises(ServiceError) as info:
        store.claim("org_1", scope, "key-1", "fp-b", with_job=False)
    assert info.value.metadata == {"reason": "BODY_MISMATCH"}
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
    assert (error.code.name, error.reason) == ("RESOURCE_EXHAUSTED", "RATE_LIMITED")
    assert error.metadata == {"retryAfterSeconds": "30", "reason": "CONCURRENT_JOBS"}
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


def test_concurrent_starts_with_one_key_stay_within_the_cap(world: World) -> None:
    key_id = world.tenancy.create_api_key(world.org, ["*"], False)[0]
    barrier = threading.Barrier(10)

    def start(_: int) -> str:
        barrier.wait()
        try:
            world.handler.handle(request(world, influencer_id=world.influencer, api_key_id=key_id))
        except ServiceError as exc:
            return exc.reason
        return "ACCEPTED"

    with ThreadPoolExecutor(10) as pool:
        outcomes = list(pool.map(start, range(10)))
    assert outcomes.count("ACCEPTED") == 3 and outcomes.count("RATE_LIMITED") == 7, outcomes
