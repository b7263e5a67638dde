"""Where events come from: the webhooks queue on `layers.events` (RabbitMQ), or content's relay directly in
the embedded default's one process.

RabbitMQ: durable queue, manual ack only after the event's deliveries are committed; a message that
cannot be taken in now (database down) is requeued, and a redelivered one adds nothing (the event id is
the key). A message that is not a DomainEvent is rejected into nothing: retrying cannot fix it.
"""

from __future__ import annotations

import logging
import threading

import pika
from google.protobuf.message import DecodeError
from pika.adapters.blocking_connection import BlockingChannel

from common.events import declare_topology
from common.render_queue import connection_parameters
from layers.events.v1 import events_pb2
from services.webhooks.store import Webhooks

log = logging.getLogger("layers.webhooks.consumer")

MAX_RECONNECT_SECONDS = 30.0
PREFETCH = 100


class LocalEventSink:
    """The embedded default's event publisher for content's relay: publishing is taking the event in, so
    the outbox row is marked sent only once the deliveries are committed here."""

    def __init__(self, webhooks: Webhooks) -> None:
        self.webhooks = webhooks

    def publish_event(self, event: events_pb2.DomainEvent) -> None:
        self.webhooks.ingest(event)

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

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def run_forever(self) -> None:
        delay = 0.5
        while not self._stop.is_set():
            try:
                self._consume()
                delay = 0.5
            except (pika.exceptions.AMQPError, OSError) as exc:
                log.warning("RabbitMQ connection lost (%s); reconnecting in %.1fs", exc.__class__.__name__, delay)
                self._stop.wait(delay)
                delay = min(MAX_RECONNECT_SECONDS, delay * 2)

    def _consume(self) -> None:
        connection = pika.BlockingConnection(connection_parameters(self.amqp_url))
        try:
            channel = connection.channel()
            declare_topology(channel, self.exchange, self.queue_name)
            channel.basic_qos(prefetch_count=PREFETCH)
            channel.basic_consume(self.queue_name, on_message_callback=self._on_message, auto_ack=False)
            log.info("webhooks consuming %s", self.queue_name)
            while not self._stop.is_set():
                connection.process_data_events(time_limit=0.5)
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
        # Taking an event in is one short transaction: done on this thread, then acked.
        try:
            event = events_pb2.DomainEvent.FromString(body)
        except DecodeError:
            log.error("dropping message %s: not a DomainEvent", properties.message_id)
            channel.basic_reject(method.delivery_tag, requeue=False)
            return
        try:
            self.webhooks.ingest(event)
        except Exception:
            log.warning("could not take event %s in; requeued", event.event_id, exc_info=True)
            self._stop.wait(0.5)
            channel.basic_nack(method.delivery_tag, requeue=True)
            return
        channel.basic_ack(method.delivery_tag)
