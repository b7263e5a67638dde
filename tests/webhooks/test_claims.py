"""Each due attempt is taken by exactly one worker: several workers (each with its own engine, as separate
processes have) claiming at once from one PostgreSQL database never take the same attempt twice; an
endpoint deleted while they claim and report neither deadlocks with them nor has its deliveries taken
once the delete has returned."""

from __future__ import annotations

import random
import threading
import time

import pytest
from sqlalchemy import func, select

from common import events
from common.db import Database, make_engine, migrate
from common.ids import new_id
from common.ssrf import OutboundGuard
from common.timeutil import utcnow
from services.webhooks.models import Delivery
from services.webhooks.secrets import SecretBox
from services.webhooks.server import MIGRATIONS_DIR, VERSION_TABLE
from services.webhooks.store import Outcome, Webhooks
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


def test_delete_racing_with_workers_neither_deadlocks_nor_hands_out_its_deliveries(pg_url: str) -> None:
    owner = _store(pg_url)
    migrate(owner.db.engine, MIGRATIONS_DIR, VERSION_TABLE)
    owner.embedded, owner.guard = True, OutboundGuard(loopback_hosts=["127.0.0.1"])
    owner.ladder = [0.0] * 1000  # failed attempts come due again at once: the workers never run dry
    endpoints = [owner.create_endpoint(ORG, "http://127.0.0.1:9/hooks", ["job.completed"], "", "") for _ in range(8)]
    for _ in range(40):
        owner.ingest(events.domain_event(new_id("evt"), "job.completed", ORG, PROJECT, utcnow(), b"{}"))
    workers = [_store(pg_url) for _ in range(3)]
    for worker in workers:
        worker.ladder = owner.ladder
    deleted: set[str] = set()
    stop = threading.Event()
    errors: list[BaseException] = []
    late: list[str] = []

    def work(store: Webhooks, seed: int) -> None:
        codes = random.Random(seed)
        try:
            while not stop.is_set():
                gone = set(deleted)  # deleted before this claim began
                batch = store.claim_due(10)
                late.extend(d.endpoint_id for d in batch if d.endpoint_id in gone)
                # 200 and 410 end a delivery and update its endpoint's row: the lock a delete also takes.
                outcomes = [Outcome(utcnow(), 1, codes.choice([200, 410, 503, 503])) for _ in batch]
                store.record_many(list(zip(batch, outcomes, strict=True)))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w, i)) for i, w in enumerate(workers)]
    for thread in threads:
        thread.start()
    try:
        for created in endpoints:
            time.sleep(0.3)
            owner.delete_endpoint(ORG, created.endpoint.endpoint_id)
            deleted.add(created.endpoint.endpoint_id)
        time.sleep(0.5)
    finally:
        stop.set()
        for thread in threads:
            thread.join(60)
    assert errors == [] and late == []
    with owner.db.read() as session:
        pending = session.scalar(select(func.count()).select_from(Delivery).where(Delivery.status == "pending"))
    assert pending == 0  # every delivery the deletes found pending was stopped
    for store in [owner, *workers]:
        store.db.dispose()
