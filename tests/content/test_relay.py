"""The outbox relay and content's housekeeping on a real database: resending after a restart, purging old
rows, every chore on its beat."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select

from common import metrics
from common.render_queue import Headers, InProcessQueue
from common.timeutil import utcnow
from layers.events.v1 import events_pb2
from services.content.housekeeping import Housekeeping
from services.content.jobs import Jobs
from services.content.models import IdempotencyRecord, Job, OutboxMessage
from services.content.relay import OutboxRelay
from tests.content.fakes import FakeBilling
from tests.content.world import World, request


class CollectedEvents:
    """An event publisher that keeps what it was given (the relay's side of the contract only)."""

    def __init__(self) -> None:
        self.events: list[events_pb2.DomainEvent] = []

    def publish_event(self, event: events_pb2.DomainEvent, headers: Headers | None = None) -> None:
        self.events.append(event)

    def idle(self) -> None:
        pass

    def close(self) -> None:
        pass


def _relay(w: World, queue: InProcessQueue, events: CollectedEvents | None = None) -> OutboxRelay:
    return OutboxRelay(w.db, queue, events=events or CollectedEvents())


def test_running_jobs_are_resent_and_finished_ones_are_not(world: World) -> None:
    queue = InProcessQueue()
    relay = _relay(world, queue)
    running = world.handler.handle(request(world, influencer_id=world.influencer)).job
    done = world.handler.handle(request(world, influencer_id=world.influencer)).job
    world.jobs.cancel(world.org, done.job_id)
    assert relay.publish_pending() == 3 and len(queue) == 2  # and the cancel's event

    restarted = InProcessQueue()  # what a restart leaves: an empty in-memory queue
    relay = _relay(world, restarted)
    assert relay.resend_running_jobs() == 1
    assert relay.publish_pending() == 1
    delivery = restarted.get(timeout=1)
    assert delivery is not None and delivery.message_id == running.job_id


def test_purge_drops_expired_idempotency_records_and_old_sent_rows(world: World) -> None:
    relay, housekeeping = _relay(world, InProcessQueue()), Housekeeping(world.db, world.jobs)
    keep = request(world, influencer_id=world.influencer, idempotency_key="fresh", request_fingerprint="f")
    old = request(world, influencer_id=world.influencer, idempotency_key="stale", request_fingerprint="f")
    world.handler.handle(keep)
    stale_job = world.handler.handle(old).job
    relay.publish_pending()
    long_ago = utcnow() - timedelta(days=8)
    with world.db.write() as session:
        record = session.scalar(select(IdempotencyRecord).where(IdempotencyRecord.idempotency_key == "stale"))
        record.expires_at = long_ago
        row = session.scalar(select(OutboxMessage).where(OutboxMessage.message_id == stale_job.job_id))
        row.sent_at = long_ago
    assert housekeeping.purge() == (1, 1)
    with world.db.read() as session:
        keys = list(session.scalars(select(IdempotencyRecord.idempotency_key)))
        outbox = session.scalar(select(func.count()).select_from(OutboxMessage))
        jobs = session.scalar(select(func.count()).select_from(Job))
    assert keys == ["fresh"] and outbox == 1 and jobs == 2  # the jobs themselves are kept
    assert world.handler.handle(old).job.job_id != stale_job.job_id  # the stale key starts afresh


def test_housekeeping_runs_every_chore_on_its_beat_and_one_failing_stops_no_other(world: World) -> None:
    settled, abandoned = threading.Event(), []

    class CountingJobs(Jobs):
        def settle_pending(self, limit: int = 100) -> int:
            settled.set()
            raise RuntimeError("billing away")

    def release_abandoned() -> int:
        abandoned.append(1)
        raise RuntimeError("billing away")

    housekeeping = Housekeeping(world.db, CountingJobs(world.db, FakeBilling(0)), release_abandoned=release_abandoned)
    world.handler.handle(request(world, influencer_id=world.influencer))  # one outbox row waiting
    metrics.OUTBOX_PENDING.set(-1)
    housekeeping.start()
    try:
        assert settled.wait(5)
        deadline = time.monotonic() + 5
        while REGISTRY.get_sample_value("layers_outbox_pending") != 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert REGISTRY.get_sample_value("layers_outbox_pending") == 1  # sampled after the failure before it
        assert abandoned
    finally:
        housekeeping.stop()


class FailingOnce(InProcessQueue):
    """A queue whose second publish fails, as a broker gone away mid-batch would."""

    def __init__(self) -> None:
        super().__init__()
        self.publishes = 0

    def publish(self, message_id: str, body: bytes, headers: Headers | None = None) -> None:
        self.publishes += 1
        if self.publishes == 2:
            raise ConnectionError("broker gone")
        super().publish(message_id, body, headers)


def test_a_failed_publish_keeps_its_row_and_later_rows_unsent_and_marks_the_earlier_sent(world: World) -> None:
    queue = FailingOnce()
    relay = _relay(world, queue)
    jobs = [world.handler.handle(request(world, influencer_id=world.influencer)).job.job_id for _ in range(3)]

    def outbox() -> dict[str, tuple[bool, int, str | None]]:
        with world.db.read() as session:
            rows = session.scalars(select(OutboxMessage).where(OutboxMessage.message_id.in_(jobs)))
            return {r.message_id: (r.sent_at is not None, r.attempts, r.last_error) for r in rows}

    with pytest.raises(ConnectionError):
        relay.publish_pending()
    assert outbox() == {
        jobs[0]: (True, 1, None),
        jobs[1]: (False, 1, "ConnectionError: broker gone"),
        jobs[2]: (False, 0, None),
    }
    assert relay.publish_pending() == 2
    assert outbox() == {
        jobs[0]: (True, 1, None),
        jobs[1]: (True, 2, "ConnectionError: broker gone"),
        jobs[2]: (True, 1, None),
    }
    assert [queue.get(timeout=1).message_id for _ in range(3)] == jobs  # type: ignore[union-attr]


class HeldOnFirstPublish(InProcessQueue):
    """A queue whose first publish waits until it is let go, so the relay holds its rows' locks meanwhile."""

    def __init__(self) -> None:
        super().__init__()
        self.publishing, self.go_on = threading.Event(), threading.Event()

    def publish(self, message_id: str, body: bytes, headers: Headers | None = None) -> None:
        if not self.publishing.is_set():
            self.publishing.set()
            assert self.go_on.wait(10)
        super().publish(message_id, body, headers)


# PostgreSQL only: SQLite runs one content process, whose relay publishes row by row without locks.
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_two_relays_on_postgresql_never_publish_one_row_twice(world: World) -> None:
    """Content replicas each run a relay: a row one of them is publishing is skipped by the other."""
    assert world.db.engine.dialect.name == "postgresql"
    jobs = {world.handler.handle(request(world, influencer_id=world.influencer)).job.job_id for _ in range(3)}
    held, other = HeldOnFirstPublish(), InProcessQueue()
    first = threading.Thread(target=_relay(world, held).publish_pending)
    first.start()
    try:
        assert held.publishing.wait(10)
        assert _relay(world, other).publish_pending() == 0  # every unsent row is locked by the first
    finally:
        held.go_on.set()
        first.join(10)
    published = []
    while (delivery := held.get(timeout=0.1)) is not None:
        published.append(delivery.message_id)
    assert sorted(published) == sorted(jobs) and other.get(timeout=0.1) is None
