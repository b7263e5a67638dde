"""Event intake: a redelivered event (RabbitMQ gives back what a killed consumer had not acked) is taken
in once and acked, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from common import events
from common.ids import new_id
from common.timeutil import utcnow
from services.webhooks.models import Delivery
from tests.webhooks.conftest import ORG, PROJECT, webhooks_service


def _event(event_id: str) -> events.events_pb2.DomainEvent:
    body = f'{{"id":"{event_id}","type":"job.completed","createdAt":"2026-01-01T00:00:00.000Z","data":{{}}}}'
    return events.domain_event(event_id, "job.completed", ORG, PROJECT, utcnow(), body.encode())


def test_a_redelivered_event_fans_out_once(tmp_path: Path, db_url: str) -> None:
    with webhooks_service(tmp_path, db_url) as service:
        service.endpoint("http://127.0.0.1:9/hooks")
        service.endpoint("http://127.0.0.1:9/other")
        webhooks = service.running.webhooks
        first, second = _event(new_id("evt")), _event(new_id("evt"))
        assert webhooks.ingest(first) == 2
        assert webhooks.ingest(first) == 0  # again, in a transaction of its own
        assert webhooks.ingest_many([second, first, second]) == 2  # and inside one batch
        with webhooks.db.read() as session:
            assert session.scalar(select(func.count()).select_from(Delivery)) == 4
