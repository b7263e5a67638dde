"""Domain events: the `layers.events` topic exchange, its confirming publisher, and the event envelope.

Content writes a DomainEvent to its outbox in the transaction of the state change; the relay publishes it
to the topic exchange with the event type as routing key, so any internal consumer can bind a queue to the
types it wants. The webhooks service's durable queue is declared here too, by publisher and consumer alike
(RabbitMQ refuses a redeclare with other arguments), so no event is published before a queue holds it.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Protocol

from pika.adapters.blocking_connection import BlockingChannel

from common.render_queue import ConfirmingPublisher, Headers
from common.timeutil import as_utc, to_timestamp
from layers.events.v1 import events_pb2

log = logging.getLogger("layers.events")

MESSAGE_TYPE = events_pb2.DomainEvent.DESCRIPTOR.full_name

JOB_COMPLETED = "job.completed"
JOB_FAILED = "job.failed"
JOB_CANCELED = "job.canceled"
CONTENT_GENERATED = "content.generated"
TEST_PING = "test.ping"
EVENT_TYPES = (JOB_COMPLETED, JOB_FAILED, JOB_CANCELED, CONTENT_GENERATED, TEST_PING)


def rfc3339(moment: datetime) -> str:
    """`2026-04-18T12:04:11.000Z`: UTC, milliseconds, Z (the public contract's timestamps)."""
    moment = as_utc(moment)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def domain_event(
    event_id: str, event_type: str, organization_id: str, project_id: str, created_at: datetime, body: bytes
) -> events_pb2.DomainEvent:
    return events_pb2.DomainEvent(
        event_id=event_id,
        type=event_type,
        organization_id=organization_id,
        project_id=project_id,
        created_at=to_timestamp(created_at),
        body=body,
    )


def declare_topology(channel: BlockingChannel, exchange: str, webhooks_queue: str) -> None:
    channel.exchange_declare(exchange=exchange, exchange_type="topic", durable=True)
    channel.queue_declare(queue=webhooks_queue, durable=True)
    channel.queue_bind(queue=webhooks_queue, exchange=exchange, routing_key="#")


class EventPublisher(Protocol):
    def publish_event(self, event: events_pb2.DomainEvent, headers: Headers | None = None) -> None:
        """Return only once the event is durably someone else's responsibility; raise otherwise."""

    def idle(self) -> None: ...

    def close(self) -> None: ...


class RabbitEventPublisher(ConfirmingPublisher):
    """Domain events to the topic exchange, routed by event type."""

    def __init__(self, amqp_url: str, exchange: str, webhooks_queue: str) -> None:
        super().__init__(amqp_url, lambda channel: declare_topology(channel, exchange, webhooks_queue))
        self.exchange = exchange
        self.webhooks_queue = webhooks_queue

    def publish_event(self, event: events_pb2.DomainEvent, headers: Headers | None = None) -> None:
        self._send(self.exchange, event.type, event.SerializeToString(), event.event_id, MESSAGE_TYPE, headers)


class DiscardEvents:
    """For a content service whose events nobody consumes (tests of other parts): accepts and drops them."""

    def publish_event(self, event: events_pb2.DomainEvent, headers: Headers | None = None) -> None:
        log.debug("event %s (%s) not published: no consumer configured", event.event_id, event.type)

    def idle(self) -> None:
        pass

    def close(self) -> None:
        pass
