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


# How long a key's forgetting is remembered, to refuse a look-up of it that was in flight: longer than any
# look-up takes (they are bounded by the RPC deadline, LAYERS_RPC_TIMEOUT_SECONDS at most 300).
FORGOTTEN_SECONDS = 600.0


class RecentAnswers(Generic[K, V]):
    """Answers by key, each until `ttl` after its look-up began. Bounded (least recently used entries go
    first), so a client spraying random keys cannot grow it. A look-up that started before its key was
    last forgotten (or before any `forget` or `clear`) is not kept: the service may have answered before it
    committed the change. Called from the event loop and, for the in-process broadcast, from the services'
    threads: every operation holds a lock."""

    def __init__(self, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_entries = max_entries
        self.clock = clock
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._invalidated_at = float("-inf")  # of every key
        self._forgotten: OrderedDict[K, float] = OrderedDict()  # of one key, oldest first
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
        """Remember the answer to a look-up that began at `started` (this cache's clock) until `ttl` after."""
        with self._lock:
            if ttl <= 0 or started <= max(self._invalidated_at, self._forgotten.get(key, float("-inf"))):
                return
            self._entries[key] = (started + ttl, answer)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def forget(self, matches: Callable[[K, V], bool]) -> None:
        """Drop every entry `matches`, and refuse to keep any look-up still in flight (for rare changes)."""
        with self._lock:
            self._invalidated_at = self.clock()
            for key, (_, answer) in list(self._entries.items()):
                if matches(key, answer):
                    del self._entries[key]

    def forget_key(self, key: K) -> None:
        """Drop the key's entry, and refuse to keep a look-up of it still in flight."""
        with self._lock:
            now = self.clock()
            self._entries.pop(key, None)
            self._forgotten[key] = now
            self._forgotten.move_to_end(key)
            while self._forgotten:
                oldest, at = next(iter(self._forgotten.items()))
                if at > now - FORGOTTEN_SECONDS and len(self._forgotten) <= self.max_entries:
                    break
                del self._forgotten[oldest]
                # Dropped before its time: no look-up that began by then may be kept, of any key.
                if at > now - FORGOTTEN_SECONDS:
                    self._invalidated_at = max(self._invalidated_at, at)

    def clear(self) -> None:
        with self._lock:
            self._invalidated_at = self.clock()
            self._entries.clear()
            self._forgotten.clear()
