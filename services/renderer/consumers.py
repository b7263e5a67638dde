"""Where render messages come from: RabbitMQ (production) or the in-process queue (embedded default).

Both run the same pipeline and share the retry rule: a transient failure waits with exponential backoff
and is tried again, up to max_attempts; then the job is failed (credits released) and, on RabbitMQ, the
message is rejected into the dead-letter queue. Permanent failures are recorded by the pipeline itself;
a misconfigured renderer (a font or ffmpeg missing) fails the job at once: no retry fixes the machine.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pika
from google.protobuf.message import DecodeError
from opentelemetry import trace
from pika.adapters.blocking_connection import BlockingChannel

from common import logs, metrics
from common.amqp import consume_until_stopped
from common.render_queue import Delivery, Headers, InProcessQueue, connection_parameters, declare_topology, retry_queue
from common.settings import ConfigError
from layers.render.v1 import render_pb2
from services.renderer.pipeline import RenderPipeline, TransientError

log = logging.getLogger("layers.renderer")
_tracer = trace.get_tracer("layers.renderer")

ATTEMPT_HEADER = "x-render-attempt"


def backoff_seconds(attempt: int, base: float) -> float:
    """Wait before attempt + 1: base, 2·base, 4·base … capped at five minutes."""
    return float(min(300.0, base * 2 ** (attempt - 1)))


def run_once(
    pipeline: RenderPipeline, body: bytes, attempt: int, max_attempts: int, headers: Headers | None = None
) -> bool:
    """Render one message; True when it is finished with (ack), False when it should be retried later.
    Every line of the render (and of the calls it makes) carries the job and the request that started it."""
    with logs.continued(_tracer, "render", headers, trace.SpanKind.CONSUMER):
        try:
            job = render_pb2.RenderJob.FromString(body)
        except DecodeError:
            log.error("dropping a render message that is not a RenderJob")
            return True
        with logs.bound(jobId=job.job_id, organizationId=job.organization_id):
            return _render(pipeline, job, attempt, max_attempts)


def _render(pipeline: RenderPipeline, job: render_pb2.RenderJob, attempt: int, max_attempts: int) -> bool:
    try:
        outcome = pipeline.run(job)
        log.info("job %s: %s", job.job_id, outcome.value)
        return True
    except TransientError as exc:
        if attempt < max_attempts:
            log.warning("job %s attempt %d/%d failed transiently: %s", job.job_id, attempt, max_attempts, exc)
            return False
        log.error("job %s failed after %d attempts: %s", job.job_id, attempt, exc)
        code, message = "RENDER_UNAVAILABLE", "Rendering failed repeatedly; credits were released."
    except ConfigError as exc:
        log.error("job %s failed: the renderer is misconfigured: %s", job.job_id, exc)
        code, message = "RENDERER_MISCONFIGURED", "The renderer is misconfigured; credits were released."
    except Exception:
        # Not a dependency being away: an error retrying will not fix. Fail the job rather than leave it
        # running (holding credits and a slot of the key's concurrent-job cap) forever.
        log.exception("job %s failed", job.job_id)
        code, message = "RENDER_FAILED", "The render failed; credits were released."
    try:
        pipeline.fail(job.job_id, code, message)
    except Exception as exc:
        if attempt < max_attempts:
            log.warning("could not record the failure of %s yet: %s", job.job_id, exc)
            return False  # try the message again later, failure recording included
        log.exception("could not record the failure of %s", job.job_id)
        raise
    if code == "RENDER_UNAVAILABLE":
        raise RetriesExhausted(job.job_id)  # the job is failed; RabbitMQ parks the message as dead
    return True


class RetriesExhausted(Exception):
    """A render message that failed transiently max_attempts times; its job has been failed."""


class Heartbeat:
    """Touches a file while the consumer is connected, for container health checks."""

    def __init__(self, path: Path | None) -> None:
        self.path = path

    def beat(self) -> None:
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.touch()


class Consumer:
    """What both consumers share: the pipeline, the retry rule, the heartbeat and a stop flag."""

    def __init__(
        self,
        pipeline: RenderPipeline,
        max_attempts: int = 5,
        retry_base_seconds: float = 2.0,
        heartbeat: Heartbeat | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.max_attempts = max_attempts
        self.retry_base_seconds = retry_base_seconds
        self.heartbeat = heartbeat or Heartbeat(None)
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def run_forever(self) -> None:
        raise NotImplementedError


class RabbitConsumer(Consumer):
    """Durable queue, manual ack, prefetch 1; the render runs in a worker thread while this thread keeps
    the connection (and its heartbeats) alive; acks go back through add_callback_threadsafe."""

    def __init__(self, amqp_url: str, queue_name: str, pipeline: RenderPipeline, **options: Any) -> None:
        super().__init__(pipeline, **options)
        self.amqp_url = amqp_url
        self.queue_name = queue_name
        self._worker: threading.Thread | None = None

    def run_forever(self) -> None:
        """Consume until stop(); reconnect with capped exponential backoff when the broker goes away."""
        consume_until_stopped(self._consume, self._stop, log, before_connecting=self._join_worker)

    def _join_worker(self) -> None:
        if self._worker is not None:
            # A render from a lost connection may still be running: one render at a time per renderer,
            # so let it finish (its message was redelivered and will be skipped as already done).
            self._worker.join()

    def _consume(self) -> None:
        connection = pika.BlockingConnection(connection_parameters(self.amqp_url))
        try:
            channel = connection.channel()
            declare_topology(channel, self.queue_name)
            channel.basic_qos(prefetch_count=1)
            # Retry copies are published on this channel before the original is acked: confirm them.
            channel.confirm_delivery()
            on_message = functools.partial(self._on_message, connection)
            channel.basic_consume(self.queue_name, on_message_callback=on_message, auto_ack=False)
            log.info("renderer consuming %s", self.queue_name)
            next_sample = 0.0
            while not self._stop.is_set():
                connection.process_data_events(time_limit=1.0)
                self.heartbeat.beat()
                if time.monotonic() >= next_sample:
                    declared = channel.queue_declare(self.queue_name, passive=True)
                    metrics.RENDER_QUEUE_DEPTH.set(declared.method.message_count)
                    next_sample = time.monotonic() + metrics.SAMPLE_SECONDS
        finally:
            if connection.is_open:
                connection.close()

    def _on_message(
        self,
        connection: pika.BlockingConnection,
        channel: BlockingChannel,
        method: pika.spec.Basic.Deliver,
        properties: pika.BasicProperties,
        body: bytes,
    ) -> None:
        attempt = int((properties.headers or {}).get(ATTEMPT_HEADER, 1))
        worker = threading.Thread(
            target=self._work,
            args=(connection, channel, method.delivery_tag, properties, body, attempt),
            name=f"render-{properties.message_id}",
            daemon=True,
        )
        worker.start()
        self._worker = worker

    def _work(
        self,
        connection: pika.BlockingConnection,
        channel: BlockingChannel,
        tag: int,
        properties: pika.BasicProperties,
        body: bytes,
        attempt: int,
    ) -> None:
        try:
            finished = run_once(self.pipeline, body, attempt, self.max_attempts, properties.headers)
        except Exception:
            # Retries exhausted (the job was failed) or a bug: park the message in the dead-letter queue.
            log.exception("render message %s dead-lettered", properties.message_id)
            callback: Callable[[], None] = functools.partial(_reject, channel, tag)
        else:
            if finished:
                callback = functools.partial(_ack, channel, tag)
            else:
                delay = backoff_seconds(attempt, self.retry_base_seconds)
                callback = functools.partial(self._retry_later, channel, tag, properties, body, attempt + 1, delay)
        try:
            connection.add_callback_threadsafe(callback)
        except Exception:
            # The connection is gone; the broker will redeliver the unacked message.
            log.warning("could not settle message %s: connection closed", properties.message_id)

    def _retry_later(
        self,
        channel: BlockingChannel,
        tag: int,
        properties: pika.BasicProperties,
        body: bytes,
        attempt: int,
        delay: float,
    ) -> None:
        """Park a copy in the retry queue (it expires back into the work queue), then ack the original."""
        channel.basic_publish(
            exchange="",
            routing_key=retry_queue(self.queue_name),
            body=body,
            properties=pika.BasicProperties(
                delivery_mode=pika.DeliveryMode.Persistent,
                message_id=properties.message_id,
                type=properties.type,
                content_type=properties.content_type,
                headers={**(properties.headers or {}), ATTEMPT_HEADER: attempt},
                expiration=str(int(delay * 1000)),
            ),
        )
        _ack(channel, tag)


def _ack(channel: BlockingChannel, tag: int) -> None:
    if channel.is_open:
        channel.basic_ack(tag)


def _reject(channel: BlockingChannel, tag: int) -> None:
    if channel.is_open:
        channel.basic_reject(tag, requeue=False)


class InProcessConsumer(Consumer):
    """The embedded default's consumer: one thread taking messages off the in-process queue."""

    def __init__(self, queue: InProcessQueue, pipeline: RenderPipeline, **options: Any) -> None:
        super().__init__(pipeline, **options)
        self.queue = queue

    def run_forever(self) -> None:
        while not self._stop.is_set():
            self.heartbeat.beat()
            metrics.RENDER_QUEUE_DEPTH.set(len(self.queue))
            delivery = self.queue.get(timeout=0.5)
            if delivery is None:
                continue
            try:
                finished = run_once(self.pipeline, delivery.body, delivery.attempt, self.max_attempts, delivery.headers)
            except Exception:
                log.exception("render message %s dropped", delivery.message_id)
                continue
            if not finished:
                retry = Delivery(delivery.message_id, delivery.body, delivery.attempt + 1, delivery.headers)
                timer = threading.Timer(
                    backoff_seconds(delivery.attempt, self.retry_base_seconds), self.queue.requeue, args=(retry,)
                )
                timer.daemon = True
                timer.start()
