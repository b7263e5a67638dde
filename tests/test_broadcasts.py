"""The broadcasts over real Redis: a service's Follower hears what a Broadcaster publishes, and stops."""

from __future__ import annotations

import threading
import time

from common.broadcasts import JOB_CHANGED, KEY_REVOKED, Broadcaster, Follower
from tests.conftest import REDIS_URL, require_server


def test_a_follower_hears_its_channels_and_stops_when_closed() -> None:
    require_server("Redis", "127.0.0.1", 6379)
    heard: list[str] = []
    subscribed = threading.Event()
    follower = Follower(REDIS_URL, {JOB_CHANGED: heard.append}, subscribed.set)
    broadcaster = Broadcaster(REDIS_URL)
    try:
        assert subscribed.wait(5), "never subscribed"
        broadcaster.publish(KEY_REVOKED, "key_not_followed")
        broadcaster.publish(JOB_CHANGED, "job_1")
        deadline = time.monotonic() + 2
        while not heard and time.monotonic() < deadline:
            time.sleep(0.01)
        assert heard == ["job_1"]
    finally:
        follower.close()
        broadcaster.close()
    assert not follower.running
