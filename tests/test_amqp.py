"""The consumers' reconnect loop: against a real RabbitMQ behind a proxy that is cut and restored, it waits
with doubling delays while the broker is away, connects again once it is back, and ends on stop. Scratch
broker names: fresh each time, and nothing of theirs is left on the broker afterwards."""

from __future__ import annotations

import logging
import queue
import threading
import time

import pika
import pytest

from common import events
from common.amqp import MAX_RECONNECT_SECONDS, consume_until_stopped, next_reconnect_delay, scratch_broker_names
from common.render_queue import connection_parameters, dead_queue, declare_topology, retry_queue
from tests.support.tcp_proxy import TcpProxy

log = logging.getLogger("layers.test.amqp")


def test_the_reconnect_delay_doubles_up_to_its_cap() -> None:
    delays = [0.5]
    for _ in range(7):
        delays.append(next_reconnect_delay(delays[-1]))
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, MAX_RECONNECT_SECONDS, MAX_RECONNECT_SECONDS]


@pytest.mark.rabbitmq
def test_a_lost_broker_is_waited_for_with_doubling_delays_and_connected_to_again(
    amqp_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=log.name)
    stop = threading.Event()
    connected: queue.Queue[pika.BlockingConnection] = queue.Queue()
    attempts = 0

    def count_attempt() -> None:
        nonlocal attempts
        attempts += 1

    with TcpProxy("127.0.0.1", 5672) as proxy:
        proxied_url = f"amqp://guest:guest@127.0.0.1:{proxy.port}/%2F"

        def consume() -> None:
            connection = pika.BlockingConnection(connection_parameters(proxied_url))
            connected.put(connection)
            try:
                while not stop.is_set():
                    connection.process_data_events(time_limit=0.1)
            finally:
                if connection.is_open:
                    connection.close()

        loop = threading.Thread(target=consume_until_stopped, args=(consume, stop, log, count_attempt), daemon=True)
        loop.start()
        try:
            connected.get(timeout=10)
            proxy.cut()
            # The lost connection, then at least one refused attempt (0.5 s later): two warnings.
            deadline = time.monotonic() + 10
            while sum(r.name == log.name for r in caplog.records) < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            proxy.restore()
            connected.get(timeout=10)
        finally:
            stop.set()
            loop.join(timeout=10)
    assert not loop.is_alive()
    lost = [r.getMessage() for r in caplog.records if r.name == log.name]
    delays = [float(message.rsplit(" ", 1)[1].rstrip("s")) for message in lost]
    assert len(delays) >= 2, delays
    assert delays == [0.5 * 2**i for i in range(len(delays))]
    assert attempts == len(delays) + 1  # before every attempt: the two that connected and each failed one


def _exists(amqp_url: str, kind: str, name: str) -> bool:
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        channel = connection.channel()
        if kind == "exchange":
            channel.exchange_declare(name, passive=True)
        else:
            channel.queue_declare(name, passive=True)
        return True
    except pika.exceptions.ChannelClosedByBroker as exc:
        assert exc.reply_code == 404
        return False
    finally:
        if connection.is_open:
            connection.close()


@pytest.mark.rabbitmq
def test_scratch_broker_names_are_fresh_and_leave_nothing_behind(amqp_url: str) -> None:
    with scratch_broker_names(amqp_url, "test") as names, scratch_broker_names(amqp_url, "test") as others:
        assert sorted(names) == ["events_exchange", "render_queue", "webhooks_queue"]
        assert names["render_queue"].startswith("test.render.") and names != others
        render, webhooks = names["render_queue"], names["webhooks_queue"]
        connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
        try:
            declare_topology(connection.channel(), render)
            events.declare_topology(connection.channel(), names["events_exchange"], webhooks)
        finally:
            connection.close()
        made = [
            ("exchange", names["events_exchange"]),
            *[("queue", q) for q in (render, retry_queue(render), dead_queue(render), webhooks, dead_queue(webhooks))],
        ]
        assert [_exists(amqp_url, kind, name) for kind, name in made] == [True] * 6
    assert [_exists(amqp_url, kind, name) for kind, name in made] == [False] * 6
