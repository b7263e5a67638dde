"""The delivery worker keeps going whatever one attempt does: an attempt that raises is rescheduled on the
ladder, and a resolver that hangs costs its attempt the timeout while other deliveries go out on time."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any

from layers.webhooks.v1 import webhooks_pb2 as pb
from services.webhooks.store import Due
from tests.support.receiver import receiver
from tests.webhooks.conftest import ORG, webhooks_service
from tests.webhooks.helpers import eventually


def test_an_attempt_that_raises_is_retried_and_the_worker_keeps_going(tmp_path: Path, sqlite_url: str) -> None:
    with webhooks_service(tmp_path, sqlite_url, webhook_timeout_seconds=1.0) as service, receiver() as hook:
        broken = service.endpoint(hook.url).endpoint.endpoint_id
        healthy = service.endpoint(hook.url.replace("/hooks", "/other")).endpoint.endpoint_id
        webhooks = service.running.webhooks
        real_open, raised = webhooks.open_secrets, threading.Event()

        def open_secrets(due: Due) -> list[str]:
            if due.endpoint_id == broken and not raised.is_set():
                raised.set()
                raise RuntimeError("a bug")
            return real_open(due)

        webhooks.open_secrets = open_secrets  # type: ignore[method-assign]
        service.publish()
        [delivery] = eventually(
            lambda: [d for d in service.deliveries(broken) if d.status == pb.DELIVERY_STATUS_SUCCEEDED], timeout=5
        )
        assert raised.is_set() and delivery.attempts == 2  # the lease (8 s here) did not have to run out
        assert [d.status for d in service.deliveries(healthy)] == [pb.DELIVERY_STATUS_SUCCEEDED]
        assert len(hook.requests) == 2


class SlowDns:
    """The real resolver, except for one name that answers only after `delay` once `slow` is set."""

    def __init__(self, name: str, delay: float) -> None:
        self.name, self.delay, self.slow = name, delay, False

    def __call__(self, host: str, port: int, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        if host == self.name:
            if self.slow:
                time.sleep(self.delay)
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        return socket.getaddrinfo(host, port, *args, **kwargs)


def test_a_hanging_resolver_is_cut_at_the_timeout_and_stalls_nothing_else(tmp_path: Path, sqlite_url: str) -> None:
    dns = SlowDns("slow.example", delay=4.0)
    with (
        webhooks_service(
            tmp_path,
            sqlite_url,
            resolver=dns,
            webhook_timeout_seconds=1.0,
            webhook_retry_delays="0",
            fetch_allowed_hosts="slow.example",
        ) as service,
        receiver() as hook,
    ):
        slow = service.endpoint("https://slow.example:9/hooks").endpoint.endpoint_id
        fast = service.endpoint(hook.url, ["test.ping"]).endpoint.endpoint_id
        dns.slow = True
        for _ in range(12):  # more than the default thread pool the worker's database calls share
            service.publish()
        time.sleep(0.3)
        sent = time.time()
        service.running.webhooks.send_test(ORG, fast)
        assert hook.wait_for(1, timeout=10)
        assert hook.requests[0].at - sent < 1.5  # not queued behind the slow resolutions
        rows = eventually(
            lambda: all(d.status == pb.DELIVERY_STATUS_ABANDONED for d in service.deliveries(slow)), timeout=3
        )
        assert rows, [d.last_error for d in service.deliveries(slow)]
        assert {d.last_error for d in service.deliveries(slow)} == {"timed out after 1 s"}
