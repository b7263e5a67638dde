"""Crash safety: the webhooks service as its own process (PostgreSQL, RabbitMQ), SIGKILLed while deliveries
are pending against a receiver that is down and events are still arriving; restarted, it delivers every
event exactly once to the receiver once that is back."""

from __future__ import annotations

import collections
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pika
import pytest
from sqlalchemy import create_engine, func, select

from common import events
from common.clients import channel
from common.ids import new_id
from common.render_queue import dead_queue
from common.timeutil import utcnow
from layers.webhooks.v1 import webhooks_pb2 as pb
from layers.webhooks.v1 import webhooks_pb2_grpc
from services.webhooks.models import Delivery
from tests.support.processes import ServiceProcess, free_port, grpc_serving
from tests.support.receiver import receiver, tls_context
from tests.webhooks.conftest import ORG, PROJECT

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres]


@pytest.fixture
def names(amqp_url: str) -> Iterator[tuple[str, str]]:
    tag = uuid.uuid4().hex[:8]
    exchange, queue = f"test.events.{tag}", f"test.webhooks.{tag}"
    yield exchange, queue
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        ch = connection.channel()
        ch.queue_delete(queue)
        ch.queue_delete(dead_queue(queue))
        ch.exchange_delete(exchange)
    finally:
        connection.close()


def test_sigkill_with_deliveries_pending_loses_and_doubles_nothing(
    tmp_path: Path, pg_url: str, amqp_url: str, names: tuple[str, str]
) -> None:
    exchange, queue = names
    ca_file = tmp_path / "ca.pem"
    context = tls_context(ca_file)
    hook_port = free_port()
    env = {
        **os.environ,
        "LAYERS_DATA_DIR": str(tmp_path),
        "LAYERS_WEBHOOKS_ADDR": f"127.0.0.1:{free_port()}",
        "LAYERS_WEBHOOKS_DB_URL": pg_url,
        "LAYERS_AMQP_URL": amqp_url,
        "LAYERS_EVENTS_EXCHANGE": exchange,
        "LAYERS_WEBHOOKS_QUEUE": queue,
        "LAYERS_WEBHOOK_SECRET_KEY": "crash-test-secret-key",
        "LAYERS_WEBHOOK_RETRY_DELAYS": ",".join(["0"] + ["0.5"] * 30),
        "LAYERS_WEBHOOK_TIMEOUT_SECONDS": "1",
        # The receiver is on loopback: the test-only allowance of the one SSRF guard, and its CA.
        "LAYERS_FETCH_ALLOWED_HOSTS": "localhost",
        "LAYERS_FETCH_CA_FILE": str(ca_file),
    }
    service = ServiceProcess("webhooks", env, tmp_path / "webhooks.log", grpc_serving(env["LAYERS_WEBHOOKS_ADDR"]))
    publisher = events.RabbitEventPublisher(amqp_url, exchange, queue)
    engine = create_engine(pg_url)
    try:
        service.start()
        stub = webhooks_pb2_grpc.WebhookServiceStub(channel(env["LAYERS_WEBHOOKS_ADDR"]))
        stub.CreateEndpoint(
            pb.CreateEndpointRequest(
                organization_id=ORG, url=f"https://localhost:{hook_port}/hooks", events=["job.completed"]
            )
        )

        def publish(count: int) -> list[str]:
            ids = []
            for _ in range(count):
                event_id = new_id("evt")
                body = f'{{"id":"{event_id}","type":"job.completed","createdAt":"x","data":{{}}}}'.encode()
                publisher.publish_event(events.domain_event(event_id, "job.completed", ORG, PROJECT, utcnow(), body))
                ids.append(event_id)
            return ids

        sent = publish(20)

        def failed_attempts() -> int:
            with engine.connect() as conn:
                return int(conn.scalar(select(func.count()).where(Delivery.attempts >= 2)) or 0)

        deadline = time.monotonic() + 30
        while failed_attempts() < 20 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert failed_attempts() == 20  # every one pending, retried against a receiver that is down
        sent += publish(20)  # and more arriving as it dies
        service.kill()

        with receiver(port=hook_port, tls=context) as hook:
            service.start()
            deadline = time.monotonic() + 60
            while len({r.event_id for r in hook.requests}) < len(sent) and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(1.0)  # anything sent twice would arrive by now
            counts = collections.Counter(r.event_id for r in hook.requests)
        assert set(counts) == set(sent)
        assert set(counts.values()) == {1}
        with engine.connect() as conn:
            statuses = dict(conn.execute(select(Delivery.status, func.count()).group_by(Delivery.status)).all())
        assert statuses == {"succeeded": len(sent)}
    finally:
        publisher.close()
        service.stop()
        engine.dispose()
