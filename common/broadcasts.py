"""The broadcasts gateways follow: content announces a revoked API key and a job that changed, billing an
organization whose balance changed, and every gateway drops what it cached about them.

With Redis (`LAYERS_REDIS_URL`) each is a pub/sub channel, so gateways in other processes and machines hear
it within milliseconds. Without Redis (the embedded default, where the gateway shares the services'
process) it is a process-local list of listeners. A gateway that misses a message still lets go of the
entry when it expires (`auth_cache_seconds`, `balance_cache_seconds`, `job_cache_seconds`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

log = logging.getLogger("layers.broadcasts")

# The channels, each carrying one id per message.
KEY_REVOKED = "layers.api-key-revoked"  # an API key id, after its revocation commits
BALANCE_CHANGED = "layers.balance-changed"  # an organization id, after a grant or capture commits
JOB_CHANGED = "layers.job-changed"  # a job id, after a change to what GetJob answers commits

Listener = Callable[[str], None]

# How long a channel may be silent before the listener checks that it is still connected: a half-open
# connection would otherwise leave it deaf (the cache TTLs still bound staleness meanwhile).
CHANNEL_CHECK_SECONDS = 5.0


class LocalBus:
    """Broadcasts inside one process; listeners are called on the publishing thread."""

    def __init__(self) -> None:
        self._listeners: dict[str, list[Listener]] = {}
        self._lock = threading.Lock()

    def subscribe(self, channel: str, listener: Listener) -> Callable[[], None]:
        with self._lock:
            self._listeners.setdefault(channel, []).append(listener)

        def unsubscribe() -> None:
            with self._lock:
                listeners = self._listeners.get(channel, [])
                if listener in listeners:
                    listeners.remove(listener)

        return unsubscribe

    def publish(self, channel: str, message: str) -> None:
        with self._lock:
            listeners = list(self._listeners.get(channel, ()))
        for listener in listeners:
            try:
                listener(message)
            except Exception:  # one broken listener must not keep the others from hearing it
                log.exception("a %s listener failed", channel)


# The one bus of this process: the services publish to it, an in-process gateway listens to it.
LOCAL = LocalBus()


class Broadcaster:
    """What a service calls after a change commits: the local bus at once, Redis when configured, from a
    thread of its own so a slow or hung Redis never holds up the caller (a render's callback, a capture).
    Nothing is raised: the change is already durable, and gateways let go of what they cached within its
    TTL anyway. A message already waiting is not queued twice (a busy job's reports collapse into one);
    beyond PENDING_LIMIT waiting, or refused by Redis, or after `close`, messages are dropped and logged."""

    PENDING_LIMIT = 10_000

    def __init__(self, redis_url: str | None) -> None:
        self._pending: dict[tuple[str, str], None] = {}  # insertion-ordered: oldest first
        self._wake = threading.Condition()
        self._closed = False
        self._sender: threading.Thread | None = None
        if redis_url:
            import redis

            client = redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
            self._sender = threading.Thread(target=self._send, args=(client,), name="broadcaster", daemon=True)
            self._sender.start()

    def publish(self, channel: str, message: str) -> None:
        if self._sender is not None:
            with self._wake:
                if self._closed or len(self._pending) >= self.PENDING_LIMIT:
                    log.warning("could not broadcast %s %s: %s", channel, message, self._refusal())
                else:
                    self._pending[(channel, message)] = None
                    self._wake.notify()
        LOCAL.publish(channel, message)

    def _refusal(self) -> str:
        return "closed" if self._closed else f"{self.PENDING_LIMIT} messages waiting"

    def _send(self, client: Any) -> None:
        try:
            while True:
                with self._wake:
                    while not self._pending and not self._closed:
                        self._wake.wait()
                    if not self._pending:
                        return
                    channel, message = next(iter(self._pending))
                    del self._pending[(channel, message)]
                try:
                    client.publish(channel, message)
                except Exception as exc:  # redis.RedisError, OSError: both mean "not delivered"
                    log.warning("could not broadcast %s %s: %s", channel, message, exc)
        finally:
            client.close()

    def close(self, timeout: float = 5.0) -> None:
        """Send what is waiting, for at most `timeout`; what is still waiting then is dropped."""
        if self._sender is None:
            return
        with self._wake:
            self._closed = True
            self._wake.notify()
        self._sender.join(timeout)
        with self._wake:
            dropped = len(self._pending)
            self._pending.clear()
        if dropped:
            log.warning("%d broadcasts dropped: Redis took them too slowly", dropped)


async def listen(redis_url: str, listeners: Mapping[str, Listener], on_subscribed: Callable[[], None]) -> None:
    """Follow the Redis channels of `listeners` until cancelled, reconnecting with backoff. Whenever the
    subscription (re)starts `on_subscribed` runs: messages may have been missed meanwhile, so what was
    cached should be dropped."""
    import redis.asyncio as aioredis

    backoff = 0.5
    while True:
        client = aioredis.Redis.from_url(redis_url, socket_connect_timeout=2, socket_keepalive=True)
        try:
            async with client.pubsub() as pubsub:
                await pubsub.subscribe(*listeners)
                # Only once Redis confirms every channel is nothing missed from here on.
                confirmed = 0
                while confirmed < len(listeners):
                    reply = await pubsub.get_message(timeout=CHANNEL_CHECK_SECONDS)
                    if reply is None:
                        raise TimeoutError("no subscription confirmed")
                    confirmed += reply.get("type") == "subscribe"
                    _dispatch(listeners, reply)
                on_subscribed()
                backoff = 0.5
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=CHANNEL_CHECK_SECONDS)
                    if message is None:
                        await asyncio.wait_for(pubsub.ping(), CHANNEL_CHECK_SECONDS)  # raises when the link is gone
                    else:
                        _dispatch(listeners, message)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # connection refused or dropped: keep trying, the TTLs still bound staleness
            log.warning("broadcast channels unavailable (%s); retrying in %.1fs", exc.__class__.__name__, backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 10.0)
        finally:
            await client.aclose()


def _dispatch(listeners: Mapping[str, Listener], message: Mapping[str, Any]) -> None:
    """Hand a pub/sub message to its channel's listener; other replies (confirmations, pongs) are not ours."""
    if message.get("type") != "message":
        return
    channel, data = message["channel"], message["data"]
    listener = listeners.get(channel.decode() if isinstance(channel, bytes) else str(channel))
    if listener is not None:
        listener(data.decode() if isinstance(data, bytes) else str(data))


class Follower:
    """`listen` on a thread of its own, for a service with no event loop of its own (content follows
    other processes' job changes this way). `close` stops it."""

    def __init__(self, redis_url: str, listeners: Mapping[str, Listener], on_subscribed: Callable[[], None]) -> None:
        # Imported here, in the caller's thread: redis's first import on the new thread, racing another
        # thread's first import of it, can fail on the import lock and leave the follower dead.
        import redis.asyncio  # noqa: F401

        self._loop = asyncio.new_event_loop()
        self._task = self._loop.create_task(listen(redis_url, listeners, on_subscribed))
        self._thread = threading.Thread(target=self._run, name="broadcast-follower", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._task)
        except asyncio.CancelledError:
            pass
        finally:
            self._loop.close()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def close(self, timeout: float = 5.0) -> None:
        if self._thread.is_alive():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: it has stopped already
                self._loop.call_soon_threadsafe(self._task.cancel)
            self._thread.join(timeout)
