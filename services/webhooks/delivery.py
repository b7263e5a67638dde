"""The delivery worker: takes due attempts and POSTs them, signed, with one pooled httpx.AsyncClient.

Each attempt re-runs the SSRF guard on the endpoint's URL (DNS can change after registration) and the
connection goes only to an address that check returned: the client's network backend connects a host
name to the addresses pinned for the current attempt, never to a fresh DNS answer. TLS still checks the
certificate against the host name. No redirects are followed; an attempt has 10 s in all (connect, send,
answer, name resolution included). The worker runs its own event loop in a thread; the database calls go
to threads beside it.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import ssl
import threading
import time
import typing
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpcore
import httpx
from opentelemetry import trace

from common import logs, metrics
from common.errors import ServiceError
from common.timeutil import utcnow
from services.webhooks import signing
from services.webhooks.store import Due, Outcome, Webhooks

log = logging.getLogger("layers.webhooks.delivery")
_tracer = trace.get_tracer("layers.webhooks")

USER_AGENT = "layers-webhooks/1"
MAX_ANSWER_BYTES = 4096
IDLE_POLL_SECONDS = 1.0
# Outcomes recorded in one transaction, at most.
RECORD_BATCH = 200

# (host, port) -> the addresses checked for this attempt; set per task, read by the network backend.
_PINNED: contextvars.ContextVar[dict[tuple[str, int], list[str]]] = contextvars.ContextVar("webhook_pins")


# An attempt's outcome by the delivery's status after it: None when the delivery had moved on meanwhile.
_OUTCOMES = {
    status: metrics.WEBHOOK_DELIVERIES.labels(name)
    for status, name in (
        ("succeeded", "succeeded"),
        ("pending", "retrying"),
        ("failed", "failed"),
        ("abandoned", "abandoned"),
        (None, "stale"),
    )
}


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """Connects a host name only to the addresses pinned for the attempt being sent."""

    def __init__(self) -> None:
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[typing.Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = _PINNED.get({}).get((host.lower(), port))
        if not addresses:
            raise httpcore.ConnectError(f"{host}:{port} was not checked for this attempt")
        error: Exception = httpcore.ConnectError("no address to connect to")
        for address in addresses:
            try:
                return await self._inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        raise error

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def pinned_client(timeout: float, connections: int, ca_file: Path | None = None) -> httpx.AsyncClient:
    tls = ssl.create_default_context()
    if ca_file is not None:
        tls.load_verify_locations(cafile=str(ca_file))
    transport = httpx.AsyncHTTPTransport(verify=tls)
    # httpx builds its pool without a way to name the network backend: give it one that pins.
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=tls,
        max_connections=connections,
        max_keepalive_connections=connections,
        keepalive_expiry=5.0,
        network_backend=PinnedBackend(),
    )
    return httpx.AsyncClient(
        transport=transport, timeout=httpx.Timeout(timeout), follow_redirects=False, trust_env=False
    )


class Sender:
    """One attempt: guard, sign, POST, and what came of it (never raises).

    Name resolution runs on a pool of its own, inside the attempt's time budget: a slow resolver costs
    that attempt its timeout, not the worker loop (whose database calls use the default pool) its pace."""

    def __init__(self, webhooks: Webhooks, client: httpx.AsyncClient, timeout: float, resolvers: int = 16) -> None:
        self.webhooks = webhooks
        self.client = client
        self.timeout = timeout
        self._resolvers = ThreadPoolExecutor(resolvers, thread_name_prefix="webhook-dns")

    def close(self) -> None:
        # A resolver stuck in getaddrinfo cannot be interrupted; do not wait for it.
        self._resolvers.shutdown(wait=False, cancel_futures=True)

    async def attempt(self, due: Due) -> Outcome:
        """The attempt in the trace, and with the request id, of what caused its event."""
        with (
            logs.continued(_tracer, "webhook deliver", logs.parse_headers(due.headers), trace.SpanKind.CLIENT) as span,
            logs.bound(deliveryId=due.delivery_id, eventId=due.event_id),
        ):
            span.set_attribute("layers.webhook.attempt", due.attempt)
            outcome = await self._attempt(due)
            if outcome.status_code is not None:
                span.set_attribute("http.response.status_code", outcome.status_code)
            if outcome.error is not None:
                span.set_status(trace.StatusCode.ERROR, outcome.error)
            return outcome

    async def _attempt(self, due: Due) -> Outcome:
        started, clock = utcnow(), time.monotonic()

        def outcome(status_code: int | None = None, error: str | None = None) -> Outcome:
            return Outcome(started, int((time.monotonic() - clock) * 1000), status_code, error)

        try:
            async with asyncio.timeout(self.timeout):
                return await self._send(due, outcome)
        except TimeoutError:
            return outcome(error=f"timed out after {self.timeout:g} s")
        except Exception as exc:
            # Not the receiver's doing (a bug, a secret that no longer opens): the attempt counts as failed
            # and follows the ladder, instead of staying taken until its lease runs out, again and again.
            log.exception("delivery %s attempt %d failed unexpectedly", due.delivery_id, due.attempt)
            return outcome(error=f"internal error: {exc.__class__.__name__}")

    async def _send(self, due: Due, outcome: typing.Callable[..., Outcome]) -> Outcome:
        try:
            target = self.webhooks.target(due.url)
            loop = asyncio.get_running_loop()
            addresses = await loop.run_in_executor(self._resolvers, self.webhooks.check_url, due.url)
        except ServiceError as exc:
            return outcome(error=f"refused: {exc.message}")
        secrets = self.webhooks.open_secrets(due)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-Layers-Event-Id": due.event_id,
            "X-Layers-Signature": signing.header(secrets, int(time.time()), due.body),
        }
        token = _PINNED.set({(target.host, target.port): addresses})
        try:
            async with self.client.stream("POST", due.url, content=due.body, headers=headers) as response:
                read = 0
                async for chunk in response.aiter_raw():
                    read += len(chunk)
                    if read >= MAX_ANSWER_BYTES:
                        break
                code = response.status_code
        except httpx.TimeoutException:
            return outcome(error=f"timed out after {self.timeout:g} s")
        except httpx.HTTPError as exc:
            return outcome(error=f"connection failed: {exc.__class__.__name__}")
        finally:
            _PINNED.reset(token)
        return outcome(code, None if 200 <= code < 300 else f"answered HTTP {code}")


class DeliveryWorker:
    """Keeps up to `concurrency` attempts in flight; wakes on new deliveries or when the next one is due."""

    def __init__(self, webhooks: Webhooks, timeout: float, concurrency: int = 64, ca_file: Path | None = None) -> None:
        self.webhooks = webhooks
        self.timeout = timeout
        self.concurrency = concurrency
        self.ca_file = ca_file
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._refill = max(1, concurrency // 4)
        self._stopping = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="webhook-delivery", daemon=True)

    def start(self) -> None:
        self._thread.start()
        self._ready.wait(10)

    def wake(self) -> None:
        """Thread-safe: there is something due now."""
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(wake.set)

    def stop(self) -> None:
        self._stopping.set()
        self.wake()
        self._thread.join(timeout=self.timeout + 5)

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._ready.set()
        client = pinned_client(self.timeout, self.concurrency, self.ca_file)
        sender = Sender(self.webhooks, client, self.timeout, resolvers=min(self.concurrency, 32))
        in_flight: set[asyncio.Task[None]] = set()
        self._outcomes: asyncio.Queue[tuple[Due, Outcome]] = asyncio.Queue()
        recorder = asyncio.create_task(self._record_forever())
        next_sample = 0.0
        try:
            while not self._stopping.is_set():
                free = self.concurrency - len(in_flight)
                if in_flight and free < self._refill:
                    # Claim in batches, not one attempt per finished one: a claim is a transaction.
                    await self._wait_for_wake(IDLE_POLL_SECONDS)
                    continue
                taken: list[Due] = []
                if free > 0:
                    try:
                        taken = await asyncio.to_thread(self.webhooks.claim_due, free)
                    except Exception:
                        log.exception("could not take due deliveries; retrying")
                        await asyncio.sleep(1.0)
                        continue
                for due in taken:
                    task = asyncio.create_task(self._deliver(sender, due))
                    in_flight.add(task)
                    task.add_done_callback(self._finished(in_flight))
                if time.monotonic() >= next_sample:
                    with contextlib.suppress(Exception):
                        metrics.WEBHOOK_BACKLOG.set(await asyncio.to_thread(self.webhooks.count_pending))
                    next_sample = time.monotonic() + metrics.SAMPLE_SECONDS
                if taken and len(taken) == free:
                    continue  # there may be more due right now
                await self._sleep_until_due(in_flight, idle=not taken)
        finally:
            for task in in_flight:
                task.cancel()
            await asyncio.gather(*in_flight, return_exceptions=True)
            await self._outcomes.join()  # what came back is recorded before the loop ends
            recorder.cancel()
            await asyncio.gather(recorder, return_exceptions=True)
            await client.aclose()
            sender.close()

    def _finished(self, in_flight: set[asyncio.Task[None]]) -> typing.Callable[[asyncio.Task[None]], None]:
        def done(task: asyncio.Task[None]) -> None:
            in_flight.discard(task)
            if self._wake is not None:
                self._wake.set()  # a slot is free

        return done

    async def _sleep_until_due(self, in_flight: set[asyncio.Task[None]], idle: bool) -> None:
        assert self._wake is not None
        wait = IDLE_POLL_SECONDS
        if len(in_flight) < self.concurrency:
            with contextlib.suppress(Exception):
                due_at = await asyncio.to_thread(self.webhooks.next_due_at)
                if due_at is not None:
                    # Due but not taken means another worker holds it: do not spin on it.
                    floor = 0.05 if idle else 0.0
                    wait = max(floor, min(wait, (due_at - utcnow()).total_seconds()))
        await self._wait_for_wake(wait)

    async def _wait_for_wake(self, seconds: float) -> None:
        assert self._wake is not None
        if seconds > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), seconds)
        self._wake.clear()

    async def _deliver(self, sender: Sender, due: Due) -> None:
        outcome = await sender.attempt(due)
        await self._outcomes.put((due, outcome))

    async def _record_forever(self) -> None:
        """Record outcomes as they come, those waiting together in one transaction. An outcome that cannot
        be recorded is dropped after a few tries: its lease runs out and the attempt is made again."""
        while True:
            batch = [await self._outcomes.get()]
            while len(batch) < RECORD_BATCH and not self._outcomes.empty():
                batch.append(self._outcomes.get_nowait())
            try:
                for pause in (0.5, 1.0, 2.0, 5.0, 0.0):
                    try:
                        statuses = await asyncio.to_thread(self.webhooks.record_many, batch)
                        break
                    except Exception:
                        log.warning("could not record %d attempts; retrying", len(batch), exc_info=True)
                        if not pause:
                            raise
                        await asyncio.sleep(pause)
                for (due, outcome), status in zip(batch, statuses, strict=True):
                    _OUTCOMES[status].inc()
                    with logs.bound(requestId=logs.request_id_from(logs.parse_headers(due.headers))):
                        log.info(
                            "delivery %s attempt %d: %s (%s)",
                            due.delivery_id,
                            due.attempt,
                            outcome.status_code or outcome.error,
                            status,
                        )
            except Exception:
                log.error("gave up recording %d attempts; they will be made again", len(batch))
            finally:
                for _ in batch:
                    self._outcomes.task_done()
