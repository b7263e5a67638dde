"""Event intake: a redelivered event (RabbitMQ gives back what a killed consumer had not acked) is taken
in once and acked, on SQLite and PostgreSQL; a message that is no event this service knows is
dead-lettered once and does not hold back the events that came with it."""

from __future__ import annotations

import logging
import time
import uuid
from pathlib import Path

import pika
import pytest
from sqlalchemy import func, select

from common import events
from common.ids import new_id
from common.render_queue import dead_queue
from common.timeutil import utcnow
from services.webhooks.consumer import RabbitEventConsumer
from services.webhooks.models import Delivery
from tests.webhooks.conftest import ORG, PROJECT, Service, webhooks_service
from tests.webhooks.helpers import eventually


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
        assert webhooks.ingest_many([(second, None), (first, None), (second, None)]) == 2  # and inside one batch
        with webhooks.db.read() as session:
            assert session.scalar(select(func.count()).select_from(Delivery)) == 4


def _queue_depth(amqp_url: str, queue: str) -> int:
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        return int(connection.channel().queue_declare(queue, passive=True).method.message_count)
    finally:
        connection.close()


@pytest.mark.rabbitmq
@pytest.mark.postgres
def test_poison_messages_are_dead_lettered_once_and_hold_nothing_back(
    tmp_path: Path, pg_url: str, amqp_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    tag = uuid.uuid4().hex[:8]
    exchange, queue = f"test.events.{tag}", f"test.webhooks.{tag}"
    publisher = events.RabbitEventPublisher(amqp_url, exchange, queue)
    caplog.set_level(logging.ERROR, logger="layers.webhooks.consumer")
    try:
        with webhooks_service(tmp_path, pg_url) as service:
            service.endpoint("http://127.0.0.1:9/hooks")
            good = [_event(new_id("evt")) for _ in range(2)]
            overlong = _event("evt_" + "x" * 60)  # more than the column holds: a batch with it never commits
            unknown = _event(new_id("evt"))
            unknown.type = "job.exploded"
            not_json = _event(new_id("evt"))
            not_json.body = b"{not json"
            no_data = _event(new_id("evt"))
            no_data.body = f'{{"id":"{no_data.event_id}","type":"job.completed"}}'.encode()
            no_id = _event("")
            for event in (good[0], overlong, unknown, not_json, no_data, no_id, good[1]):
                publisher.publish_event(event)
            publisher._send(exchange, "job.completed", b"\xff not a protobuf", "msg_garbage", events.MESSAGE_TYPE)
            consumer = RabbitEventConsumer(amqp_url, exchange, queue, service.running.webhooks)
            consumer.start()
            try:
                made = eventually(lambda: _deliveries(service) == 2 and _queue_depth(amqp_url, dead_queue(queue)) == 6)
                time.sleep(1.0)  # a requeued poison message would come round again by now
            finally:
                consumer.stop()
            assert made, (_deliveries(service), _queue_depth(amqp_url, dead_queue(queue)))
            assert _queue_depth(amqp_url, queue) == 0
            assert _queue_depth(amqp_url, dead_queue(queue)) == 6
            dead = [r.getMessage() for r in caplog.records if r.getMessage().startswith("dead-lettering")]
            assert len(dead) == 6, dead
    finally:
        publisher.close()
        connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
        try:
            channel = connection.channel()
            for name in (queue, dead_queue(queue)):
                channel.queue_delete(name)
            channel.exchange_delete(exchange)
        finally:
            connection.close()


def _deliveries(service: Service) -> int:
    with service.running.webhooks.db.read() as session:
        return int(session.scalar(select(func.count()).select_from(Delivery)) or 0)
