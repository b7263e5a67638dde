"""Events through the production path: content's outbox → relay → the `layers.events` topic exchange on a
real RabbitMQ → the webhooks service's queue (manual ack) → a signed delivery; on PostgreSQL. A message
delivered twice by the broker is one delivery (the event id is the key)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from common import events
from common.render_queue import RabbitPublisher
from common.timeutil import utcnow
from services.webhooks import signing
from tests.e2e.stack import Stack, running_stack
from tests.support.receiver import receiver
from tests.webhooks.helpers import complete_job, deliveries, eventually, start_job

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres]


@pytest.fixture
def rabbit_stack(
    tmp_path: Path, amqp_url: str, pg_databases: dict[str, str], broker_names: dict[str, str]
) -> Iterator[Stack]:
    publisher = RabbitPublisher(amqp_url, broker_names["render_queue"])
    with running_stack(
        tmp_path, db_urls=pg_databases, publisher=publisher, amqp_url=amqp_url, webhooks_embedded=True, **broker_names
    ) as stack:
        yield stack


def test_a_completed_job_reaches_the_receiver_through_rabbitmq(rabbit_stack: Stack, amqp_url: str) -> None:
    tenant = rabbit_stack.tenant()
    with receiver() as hook, rabbit_stack.http(tenant["apiKey"]) as client:
        created = client.post(
            "/v1/webhook-endpoints", json={"url": hook.url, "events": ["job.completed", "content.generated"]}
        ).json()
        job = start_job(client, tenant)
        complete_job(rabbit_stack.stubs, job["jobId"])
        received = hook.wait_for(2)
        assert sorted(r.json["type"] for r in received) == ["content.generated", "job.completed"]
        assert all(signing.verify(created["signingSecret"], r.headers["x-layers-signature"], r.body) for r in received)
        endpoint_id = created["endpoint"]["endpointId"]

        def settled() -> list[dict[str, Any]]:
            rows = deliveries(client, endpoint_id)
            return rows if rows and all(d["status"] == "succeeded" for d in rows) else []

        assert len(eventually(settled)) == 2

        # The broker delivering one event twice (a redelivery after a lost ack) makes one delivery.
        event_id = _publish_twice(rabbit_stack, tenant, amqp_url)
        assert hook.wait_for(1, where=lambda r: r.event_id == event_id)
        assert len(hook.wait_for(2, timeout=1.5, where=lambda r: r.event_id == event_id)) == 1


def _publish_twice(stack: Stack, tenant: dict[str, Any], amqp_url: str) -> str:
    settings = stack.settings
    event_id = f"evt_dup{uuid.uuid4().hex[:16]}"
    body = f'{{"id":"{event_id}","type":"job.completed","createdAt":"x","data":{{}}}}'.encode()
    event = events.domain_event(
        event_id, "job.completed", tenant["organizationId"], tenant["projectId"], utcnow(), body
    )
    publisher = events.RabbitEventPublisher(amqp_url, settings.events_exchange, settings.webhooks_queue)
    try:
        publisher.publish_event(event)
        publisher.publish_event(event)
    finally:
        publisher.close()
    return event_id
