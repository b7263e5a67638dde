"""Where events come from: the webhooks queue on `layers.events` (RabbitMQ), or content's relay directly in
the embedded default's one process.

RabbitMQ: durable queue, manual ack only after the event's deliveries are committed; a message that
cannot be taken in now (database down) is requeued, and a redelivered one adds nothing (the event id is
the key). A message that is no event this service knows (not a DomainEvent, an unknown type, a body that
is not its JSON envelope) is rejected without requeue, into the queue's dead-letter queue, and logged
once: retrying cannot fix it, and requeued it would hold back the events taken in with it.
"""

from __future__ import annotations

import logging
import threading

import pika
from google.protobuf.message import DecodeError
from pika.adapters.blocking_connection import BlockingChannel

from common.amqp import consume_until_stopped
from common.events import declare_topology, problem
from common.render_queue import Headers, connection_parameters
from layers.events.v1 import events_pb2
from services.webhooks.store import Webhooks

log = logging.getLogger("layers.webhooks.consumer")

PREFETCH = 200
# Events taken in per transaction, at most: what arrived together is committed together, then acked.
INGEST_BATCH = 100


class LocalEventSink:
    """The embedded default's event publisher for content's relay: publishing is taking the event in, so
    the outbox row is marked sent only once the deliveries are committed here."""

    def __init__(self, webhooks: Webhooks) -> None:
        self.webhooks = webhooks

    def publish_event(self, event: events_pb2.DomainEvent, headers: Headers | None = None) -> None:
        reason = problem(event)
        if reason is not None:
            # Raising would have the relay offer it again forever; there is no dead-letter queue in-process.
            log.error("dropping event %s: %s", event.event_id[:40], reason)
            return
        self.webhooks.ingest(event, headers)

    def idle(self) -> None:
        pass

    def close(self) -> None:
        pass


class RabbitEventConsumer:
    def __init__(self, amqp_url: str, exchange: str, queue_name: str, webhooks: Webhooks) -> None:
        self.amqp_url = amqp_url
        self.exchange = exchange
        self.queue_name = queue_name
        self.webhooks = webhooks
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self.run_forever, name="webhook-events", daemon=True)
        self._pending: list[tuple[int, events_pb2.DomainEvent, Headers | None]] = []

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def run_forever(self) -> None:
        consume_until_stopped(self._consume, self._stop, log)

    def _consume(self) -> None:
        connection = pika.BlockingConnection(connection_parameters(self.amqp_url))
        try:
            channel = connection.channel()
            declare_topology(channel, self.exchange, self.queue_name)
            channel.basic_qos(prefetch_count=PREFETCH)
            channel.basic_consume(self.queue_name, on_message_callback=self._on_message, auto_ack=False)
            log.info("webhooks consuming %s", self.queue_name)
            self._pending = []  # unacked messages of a lost connection come again
            while not self._stop.is_set():
                connection.process_data_events(time_limit=0.05 if self._pending else 0.5)
                self._flush(channel)
        finally:
            if connection.is_open:
                connection.close()

    def _on_message(
        self,
        channel: BlockingChannel,
        method: pika.spec.Basic.Deliver,
        properties: pika.BasicProperties,
        body: bytes,
    ) -> None:
        try:
            event = events_pb2.DomainEvent.FromString(body)
            reason = problem(event)
        except DecodeError:
            reason = "not a DomainEvent"
        if reason is not None:
            log.error("dead-lettering message %s: %s", properties.message_id, reason)
            channel.basic_reject(method.delivery_tag, requeue=False)
            return
        self._pending.append((method.delivery_tag, event, properties.headers))
        if len(self._pending) >= INGEST_BATCH:
            self._flush(channel)

    def _flush(self, channel: BlockingChannel) -> None:
        """Commit the pending events' deliveries, then ack them all at once; on failure, requeue them."""
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        last_tag = batch[-1][0]
        try:
            self.webhooks.ingest_many([(event, headers) for _, event, headers in batch])
        except Exception:
            log.warning("could not take %d events in; requeued", len(batch), exc_info=True)
            self._stop.wait(0.5)
            channel.basic_nack(last_tag, multiple=True, requeue=True)
            return
        channel.basic_ack(last_tag, multiple=True)
