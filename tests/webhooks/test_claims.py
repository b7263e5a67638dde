"""Each due attempt is taken by exactly one worker: several workers (each with its own engine, as separate
processes have) claiming at once from one PostgreSQL database never take the same attempt twice."""

from __future__ import annotations

import threading

import pytest

from common import events
from common.db import Database, make_engine, migrate
from common.ids import new_id
from common.ssrf import OutboundGuard
from common.timeutil import utcnow
from services.webhooks.secrets import SecretBox
from services.webhooks.server import MIGRATIONS_DIR, VERSION_TABLE
from services.webhooks.store import Webhooks
from tests.webhooks.conftest import ORG, PROJECT

pytestmark = pytest.mark.postgres


def _store(url: str) -> Webhooks:
    return Webhooks(Database(make_engine(url)), SecretBox(b"claims-test-secret-key"), OutboundGuard(), [0.0, 60.0])


def test_concurrent_workers_take_disjoint_attempts(pg_url: str) -> None:
    first = _store(pg_url)
    migrate(first.db.engine, MIGRATIONS_DIR, VERSION_TABLE)
    first.embedded = True  # registration only: nothing is sent here
    first.guard = OutboundGuard(loopback_hosts=["127.0.0.1"])
    for _ in range(3):
        first.create_endpoint(ORG, "http://127.0.0.1:9/hooks", ["job.completed"], "", "")
    for _ in range(100):
        event_id = new_id("evt")
        first.ingest(events.domain_event(event_id, "job.completed", ORG, PROJECT, utcnow(), b"{}"))
    workers = [first, _store(pg_url), _store(pg_url), _store(pg_url)]
    taken: list[list[tuple[str, int]]] = [[] for _ in workers]
    start = threading.Barrier(len(workers))

    def claim(index: int) -> None:
        start.wait()
        while batch := workers[index].claim_due(7):
            taken[index].extend((d.delivery_id, d.attempt) for d in batch)

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(len(workers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    everything = [item for batch in taken for item in batch]
    assert len(everything) == 300 == len(set(everything))
    assert sum(1 for batch in taken if batch) > 1  # the work was really shared
    for worker in workers:
        worker.db.dispose()
