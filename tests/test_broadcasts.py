"""The broadcasts over real Redis: a service's Follower hears what a Broadcaster publishes and stops; a hung
Redis holds nothing up."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from common.broadcasts import JOB_CHANGED, KEY_REVOKED, LOCAL, Broadcaster, Follower
from tests.conftest import REDIS_URL, require_server

REPO = Path(__file__).resolve().parents[1]


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


def test_a_hung_redis_never_holds_up_the_change_that_is_announced(caplog: pytest.LogCaptureFixture) -> None:
    """A Redis that accepts connections and never answers: publish returns at once, the local bus still
    hears it, a message already waiting is not queued twice, and close gives up after its timeout."""
    with socket.socket() as hung:
        hung.bind(("127.0.0.1", 0))
        hung.listen(16)  # connections complete in the backlog; nothing is ever read or answered
        port = hung.getsockname()[1]
        heard: list[str] = []
        unsubscribe = LOCAL.subscribe(JOB_CHANGED, heard.append)
        broadcaster = Broadcaster(f"redis://127.0.0.1:{port}/0")
        try:
            started = time.monotonic()
            for _ in range(100):
                for n in range(5):
                    broadcaster.publish(JOB_CHANGED, f"job_{n}")
            assert time.monotonic() - started < 0.5
            assert heard == [f"job_{n}" for n in range(5)] * 100
        finally:
            unsubscribe()
            started = time.monotonic()
            broadcaster.close(timeout=1.0)
        assert time.monotonic() - started < 1.5
        # At most the five distinct ones were waiting (the sender may hold one): each job once, not 100 times.
        dropped = [r.getMessage() for r in caplog.records if "broadcasts dropped" in r.getMessage()]
        assert dropped and int(dropped[0].split()[0]) <= 5, dropped
        broadcaster.publish(JOB_CHANGED, "job_after_close")
        assert any("job_after_close: closed" in r.getMessage() for r in caplog.records)


# A fresh interpreter, where redis is not imported yet: is it, by the time the follower's thread starts?
FIRST_IMPORT = f"""
import sys, threading
from common.broadcasts import JOB_CHANGED, Follower
assert "redis" not in sys.modules
start = threading.Thread.start
def checked_start(thread):
    assert "redis.asyncio" in sys.modules, "the follower's thread would import redis itself"
    start(thread)
threading.Thread.start = checked_start
follower = Follower({REDIS_URL!r}, {{JOB_CHANGED: print}}, lambda: None)
follower.close()
"""


def test_a_follower_imports_redis_before_its_thread_starts() -> None:
    """redis's first import in a process, on two threads at once (the follower's, and one building a
    Broadcaster), can fail on the import lock and leave the follower dead: it is imported on the caller's."""
    require_server("Redis", "127.0.0.1", 6379)
    run = subprocess.run([sys.executable, "-c", FIRST_IMPORT], cwd=REPO, capture_output=True, text=True, timeout=30)
    assert run.returncode == 0, run.stderr[-2000:]
