"""Consuming from RabbitMQ across lost connections: the loop the renderer and the webhooks consumer share."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import pika

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
