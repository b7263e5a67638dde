"""What a process remembers briefly of answers it would otherwise ask for on every request: a gateway its
verified keys, organizations' balances and polled jobs; content the jobs it serves to GetJob.

A broadcast (common.broadcasts) makes an entry forgotten the moment what it says changes; its TTL bounds
how long it is believed when a broadcast is lost.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class RecentAnswers(Generic[K, V]):
    """Answers by key, each until its expiry. Bounded (least recently used entries go first), so a client
    spraying random keys cannot grow it. A look-up that started before the latest `forget` or `clear` is
    not kept: the service may have answered before it committed the change. Changes are rare next to
    look-ups, so this costs at most one more look-up. Called from the event loop and, for the in-process
    broadcast, from the services' threads: every operation holds a lock."""

    def __init__(self, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_entries = max_entries
        self.clock = clock
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._invalidated_at = float("-inf")
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            expires, answer = entry
            if expires <= self.clock():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return answer

    def put(self, key: K, answer: V, ttl: float, started: float) -> None:
        """Remember the answer to a look-up that began at `started` (this cache's clock) for `ttl` seconds."""
        with self._lock:
            if ttl <= 0 or started <= self._invalidated_at:
                return
            self._entries[key] = (self.clock() + ttl, answer)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def forget(self, matches: Callable[[K, V], bool]) -> None:
        """Drop every entry `matches`, and refuse to keep any look-up still in flight."""
        with self._lock:
            self._invalidated_at = self.clock()
            for key, (_, answer) in list(self._entries.items()):
                if matches(key, answer):
                    del self._entries[key]

    def forget_key(self, key: K) -> None:
        with self._lock:
            self._invalidated_at = self.clock()
            self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._invalidated_at = self.clock()
            self._entries.clear()
