"""RabbitMQ beyond one queue's topology: the reconnect loop the renderer and the webhooks consumer share, and
scratch names for the tests and benchmarks."""

from __future__ import annotations

import contextlib
import logging
import threading
import uuid
from collections.abc import Callable, Iterator

import pika

from common.render_queue import dead_queue, retry_queue

FIRST_RECONNECT_SECONDS = 0.5
MAX_RECONNECT_SECONDS = 30.0


def next_reconnect_delay(delay: float) -> float:
    """The wait after another failed connection: double the last one, capped."""
    return min(MAX_RECONNECT_SECONDS, delay * 2)


def consume_until_stopped(
    consume: Callable[[], None],
    stop: threading.Event,
    log: logging.Logger,
    before_connecting: Callable[[], None] = lambda: None,
) -> None:
    """Call `consume` (one connection's life) until `stop` is set; when the broker goes away, wait with capped
    exponential backoff and call it again. A connection that ended without an error starts the backoff over."""
    delay = FIRST_RECONNECT_SECONDS
    while not stop.is_set():
        before_connecting()
        try:
            consume()
            delay = FIRST_RECONNECT_SECONDS
        except (pika.exceptions.AMQPError, OSError) as exc:
            log.warning("RabbitMQ connection lost (%s); reconnecting in %.1fs", exc.__class__.__name__, delay)
            stop.wait(delay)
            delay = next_reconnect_delay(delay)


@contextlib.contextmanager
def scratch_broker_names(amqp_url: str, prefix: str) -> Iterator[dict[str, str]]:
    """Fresh names for the settings `render_queue`, `events_exchange` and `webhooks_queue`, whose queues
    (dead-letter and retry queues included) and exchange are deleted afterwards."""
    tag = uuid.uuid4().hex[:8]
    names = {
        "render_queue": f"{prefix}.render.{tag}",
        "events_exchange": f"{prefix}.events.{tag}",
        "webhooks_queue": f"{prefix}.webhooks.{tag}",
    }
    try:
        yield names
    finally:
        connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
        try:
            channel = connection.channel()
            render, webhooks = names["render_queue"], names["webhooks_queue"]
            for name in (render, retry_queue(render), dead_queue(render), webhooks, dead_queue(webhooks)):
                channel.queue_delete(name)
            channel.exchange_delete(names["events_exchange"])
        finally:
            connection.close()
