"""Render messages reach a real RabbitMQ through the outbox, even when the broker was away meanwhile."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pika
import pytest

from common.render_queue import RabbitPublisher, dead_queue, declare_topology, retry_queue
from layers.render.v1 import render_pb2
from tests.e2e.stack import running_stack
from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.rabbitmq


def drain(amqp_url: str, queue: str) -> list[pika.spec.BasicProperties]:
    """Take every message off the queue (acking it) and return their properties."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        channel = connection.channel()
        taken = []
        while True:
            method, properties, body = channel.basic_get(queue)
            if method is None:
                return taken
            assert render_pb2.RenderJob.FromString(body).job_id == properties.message_id
            assert properties.delivery_mode == 2  # persistent
            taken.append(properties)
            channel.basic_ack(method.delivery_tag)
    finally:
        connection.close()


def depth(amqp_url: str, queue: str) -> int:
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        channel = connection.channel()
        declare_topology(channel, queue)
        return channel.queue_declare(queue, passive=True).method.message_count
    finally:
        connection.close()


def delete_topology(amqp_url: str, queue: str) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        channel = connection.channel()
        for name in (queue, retry_queue(queue), dead_queue(queue)):
            channel.queue_delete(name)
    finally:
        connection.close()


def test_posts_accepted_while_rabbitmq_is_unreachable_are_delivered_once_it_is_back(
    amqp_url: str, tmp_path: Path
) -> None:
    queue = f"test.render.{uuid.uuid4().hex[:8]}"
    depth(amqp_url, queue)  # declare it, empty
    with TcpProxy("127.0.0.1", 5672) as proxy:
        proxied_url = f"amqp://guest:guest@127.0.0.1:{proxy.port}/%2F"
        proxy.cut()
        publisher = RabbitPublisher(proxied_url, queue)
        with running_stack(tmp_path, publisher=publisher, render_queue=queue) as stack:
            tenant = stack.tenant(credits=120 * 10)
            job_ids = set()
            with stack.http(tenant["apiKey"]) as client:
                for _ in range(10):
                    response = client.post(
                        f"/v1/projects/{tenant['projectId']}/content/ugc-remix",
                        json={"influencerId": tenant["influencerId"]},
                        headers={"Idempotency-Key": str(uuid.uuid4())},
                    )
                    assert response.status_code == 202, response.text
                    job_ids.add(response.json()["jobId"])
            time.sleep(1.0)
            assert depth(amqp_url, queue) == 0  # nothing got through while it was cut off

            proxy.restore()
            deadline = time.monotonic() + 30
            while depth(amqp_url, queue) < 10 and time.monotonic() < deadline:
                time.sleep(0.2)
            time.sleep(1.0)  # give a duplicate, if any, the chance to show up
            delivered = drain(amqp_url, queue)
    delete_topology(amqp_url, queue)
    assert sorted(p.message_id for p in delivered) == sorted(job_ids)
    assert len(delivered) == 10
