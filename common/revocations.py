"""The API-key revocation broadcast: content announces a revoked key id, every gateway drops it from its
cache of verified keys.

With Redis (`LAYERS_REDIS_URL`) it is a pub/sub channel, so gateways in other processes and machines hear
it within milliseconds. Without Redis (the embedded default, where gateway and content share a process)
it is a process-local list of listeners. A gateway that misses a message still stops trusting the key when
its cache entry expires (`auth_cache_seconds`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger("layers.revocations")

CHANNEL = "layers.api-key-revoked"

Listener = Callable[[str], None]


class LocalBus:
    """Revocations inside one process; listeners are called on the revoking thread."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def publish(self, key_id: str) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(key_id)
            except Exception:  # one broken listener must not keep the others from hearing it
                log.exception("a revocation listener failed")


# The one bus of this process: content publishes to it, an in-process gateway listens to it.
LOCAL = LocalBus()


class RevocationPublisher:
    """What content calls after a key's revocation commits: the local bus always, Redis when configured.
    A failed Redis publish is logged, not raised: the revocation is already durable, and gateways stop
    trusting the key within their cache TTL anyway."""

    def __init__(self, redis_url: str | None) -> None:
        self._redis = None
        if redis_url:
            import redis

            self._redis = redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)

    def publish(self, key_id: str) -> None:
        if self._redis is not None:
            try:
                self._redis.publish(CHANNEL, key_id)
            except Exception as exc:  # redis.RedisError, OSError: both mean "not delivered"
                log.warning("could not broadcast the revocation of %s: %s", key_id, exc)
        LOCAL.publish(key_id)

    def close(self) -> None:
        if self._redis is not None:
            self._redis.close()
