"""The render queue: its RabbitMQ topology, a confirming publisher, and the in-process stand-in.

Topology (declared identically by publisher and consumer, since RabbitMQ refuses a redeclare with other
arguments):
- `<queue>`        durable work queue; rejected messages dead-letter to `<queue>.dead`.
- `<queue>.retry`  durable holding queue; a message waits there for its per-message expiration, then
                   dead-letters back to `<queue>` (retry with backoff without blocking a consumer).
- `<queue>.dead`   durable dead-letter queue, for messages that failed for good.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import pika
from pika.adapters.blocking_connection import BlockingChannel

log = logging.getLogger("layers.queue")

MESSAGE_TYPE = "layers.render.v1.RenderJob"


def retry_queue(name: str) -> str:
    return f"{name}.retry"


def dead_queue(name: str) -> str:
    return f"{name}.dead"


def declare_dead_lettered(channel: BlockingChannel, name: str) -> None:
    """A durable queue whose rejected messages go to its durable `<name>.dead` (render and event queues)."""
    channel.queue_declare(queue=dead_queue(name), durable=True)
    channel.queue_declare(
        queue=name,
        durable=True,
        arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": dead_queue(name)},
    )


def declare_topology(channel: BlockingChannel, name: str) -> None:
    declare_dead_lettered(channel, name)
    channel.queue_declare(
        queue=retry_queue(name),
        durable=True,
        arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": name},
    )


def connection_parameters(amqp_url: str) -> pika.URLParameters:
    params = pika.URLParameters(amqp_url)
    # Fail fast when the broker is unreachable: the outbox keeps the message and the relay retries.
    params.socket_timeout = 5
    params.blocked_connection_timeout = 30
    params.connection_attempts = 1
    if "heartbeat" not in amqp_url:
        params.heartbeat = 30
    return params


# The AMQP headers a message carries from the context that wrote it (common.logs.PROPAGATED).
Headers = Mapping[str, str]


class Publisher(Protocol):
    def publish(self, message_id: str, body: bytes, headers: Headers | None = None) -> None:
        """Return only once the broker has taken responsibility for the message; raise otherwise."""

    def idle(self) -> None:
        """Called between publishes so a connection can service its heartbeats."""

    def close(self) -> None: ...


class ConfirmingPublisher:
    """One AMQP connection publishing persistent, mandatory messages with publisher confirms: a publish
    returns once the broker has taken the message, and a failure drops the connection so the next publish
    reconnects (declaring the topology again). Render messages and domain events both go out this way."""

    def __init__(self, amqp_url: str, declare: Callable[[BlockingChannel], None]) -> None:
        self.amqp_url = amqp_url
        self._declare = declare
        self._connection: pika.BlockingConnection | None = None
        self._channel: BlockingChannel | None = None

    def _ensure(self) -> BlockingChannel:
        if self._channel is None or not self._channel.is_open:
            self.close()
            self._connection = pika.BlockingConnection(connection_parameters(self.amqp_url))
            channel = self._connection.channel()
            self._declare(channel)
            channel.confirm_delivery()
            self._channel = channel
        return self._channel

    def _send(
        self,
        exchange: str,
        routing_key: str,
        body: bytes,
        message_id: str,
        message_type: str,
        headers: Headers | None = None,
    ) -> None:
        try:
            self._ensure().basic_publish(
                exchange=exchange,
                routing_key=routing_key,
                body=body,
                properties=pika.BasicProperties(
                    delivery_mode=pika.DeliveryMode.Persistent,
                    message_id=message_id,
                    type=message_type,
                    content_type="application/x-protobuf",
                    headers=dict(headers) if headers else None,
                ),
                mandatory=True,
            )
        except Exception:
            self.close()
            raise

    def idle(self) -> None:
        if self._connection is not None and self._connection.is_open:
            try:
                self._connection.process_data_events(0)
            except Exception:
                self.close()

    def close(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None and connection.is_open:
            try:
                connection.close()
            except Exception:
                log.debug("error closing AMQP connection", exc_info=True)


class RabbitPublisher(ConfirmingPublisher):
    """Render messages to the work queue (the default exchange, routed by queue name)."""

    def __init__(self, amqp_url: str, queue_name: str) -> None:
        super().__init__(amqp_url, lambda channel: declare_topology(channel, queue_name))
        self.queue_name = queue_name

    def publish(self, message_id: str, body: bytes, headers: Headers | None = None) -> None:
        self._send("", self.queue_name, body, message_id, MESSAGE_TYPE, headers)


@dataclass
class Delivery:
    message_id: str
    body: bytes
    attempt: int = 1
    headers: Headers | None = None


@dataclass
class InProcessQueue:
    """The embedded default's queue: the same publish contract, held in memory by one process."""

    _items: queue.Queue[Delivery] = field(default_factory=queue.Queue)
    _closed: threading.Event = field(default_factory=threading.Event)

    def publish(self, message_id: str, body: bytes, headers: Headers | None = None) -> None:
        if self._closed.is_set():
            raise RuntimeError("queue is closed")
        self._items.put(Delivery(message_id, body, headers=headers))

    def requeue(self, delivery: Delivery) -> None:
        self._items.put(delivery)

    def get(self, timeout: float) -> Delivery | None:
        try:
            return self._items.get(timeout=timeout)
        except queue.Empty:
            return None

    def idle(self) -> None:
        pass

    def close(self) -> None:
        self._closed.set()

    def __len__(self) -> int:
        return self._items.qsize()
