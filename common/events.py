"""Domain events: the `layers.events` topic exchange, its confirming publisher, and the event envelope.

Content writes a DomainEvent to its outbox in the transaction of the state change; the relay publishes it
to the topic exchange with the event type as routing key, so any internal consumer can bind a queue to the
types it wants. The webhooks service's durable queue (dead-lettering to `<queue>.dead`) is declared here too,
by publisher and consumer alike (RabbitMQ refuses a redeclare with other arguments), so no event is
published before a queue holds it.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime
from typing import Protocol

from pika.adapters.blocking_connection import BlockingChannel

from common.render_queue import ConfirmingPublisher, Headers, declare_dead_lettered
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


_ID = re.compile(r"[A-Za-z0-9_-]{1,40}")
_PROJECT_ID = re.compile(r"[A-Za-z0-9_-]{0,36}")


def problem(event: events_pb2.DomainEvent) -> str | None:
    """Why an event from the bus cannot be taken in (None when it can): ids the columns hold, a known
    type, and a body that is the public JSON envelope of that event."""
    if not _ID.fullmatch(event.event_id) or not _ID.fullmatch(event.organization_id):
        return "event_id and organization_id must be 1 to 40 letters, digits, _ or -"
    if not _PROJECT_ID.fullmatch(event.project_id):
        return "project_id is not an id"
    if event.type not in EVENT_TYPES:
        return f"unknown event type {event.type[:60]!r}"
    try:
        body = json.loads(event.body)
    except ValueError:
        return "body is not JSON"
    if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
        return "body is not an object with data"
    if body.get("id") != event.event_id or body.get("type") != event.type:
        return "body's id and type are not the event's"
    return None


def declare_topology(channel: BlockingChannel, exchange: str, webhooks_queue: str) -> None:
    channel.exchange_declare(exchange=exchange, exchange_type="topic", durable=True)
    # A message the webhooks service cannot take in (not an event it knows) is parked in `<queue>.dead`.
    declare_dead_lettered(channel, webhooks_queue)
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
