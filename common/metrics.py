"""Prometheus metrics: every metric the processes export, and the /metrics endpoint of each process.

`serve(port, workers)` starts the endpoint when LAYERS_METRICS_PORT is set (off otherwise). A process that
runs several workers (LAYERS_GRPC_WORKERS, LAYERS_HTTP_WORKERS) serves the workers' sum from the supervisor:
each worker writes its samples under PROMETHEUS_MULTIPROC_DIR (a fresh folder made here unless one is set),
the standard multiprocess mode of prometheus-client. Label values are bounded: route templates, gRPC
method names, status codes, job error codes, fixed outcome names.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client import multiprocess as prometheus_multiprocess

from common.grpc_context import cached_wrap

log = logging.getLogger("layers.metrics")

MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"
# How often the gauges that need a query (queue depth, outbox lag, backlogs) are refreshed.
SAMPLE_SECONDS = 5.0
_LATENCY = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

HTTP_REQUESTS = Counter(
    "layers_http_requests_total", "HTTP requests answered by the gateway", ["route", "method", "status"]
)
HTTP_DURATION = Histogram(
    "layers_http_request_duration_seconds", "HTTP request latency in the gateway", ["route", "method"], buckets=_LATENCY
)
GRPC_HANDLED = Counter(
    "layers_grpc_server_handled_total", "gRPC calls a server finished", ["grpc_service", "grpc_method", "grpc_code"]
)
GRPC_DURATION = Histogram(
    "layers_grpc_server_handling_seconds",
    "gRPC call latency in the server",
    ["grpc_service", "grpc_method"],
    buckets=_LATENCY,
)
JOBS_ACCEPTED = Counter("layers_jobs_accepted_total", "Jobs started", ["kind"])
JOBS_FINISHED = Counter("layers_jobs_finished_total", "Jobs that ended, by status and error code", ["status", "reason"])
RENDER_STAGE = Histogram(
    "layers_render_stage_seconds",
    "Time a render spends in each stage",
    ["stage"],
    buckets=(0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0),
)
RENDER_QUEUE_DEPTH = Gauge(
    "layers_render_queue_depth", "Render messages waiting in the queue", multiprocess_mode="mostrecent"
)
OUTBOX_PENDING = Gauge("layers_outbox_pending", "Outbox rows not yet published", multiprocess_mode="mostrecent")
OUTBOX_LAG = Gauge(
    "layers_outbox_lag_seconds", "Age of the oldest outbox row not yet published", multiprocess_mode="mostrecent"
)
CREDITS = Counter("layers_billing_credits_total", "Credits by what happened to them", ["operation"])
RESERVATIONS_EXPIRING = Gauge(
    "layers_billing_reservations_expiring",
    "Held reservations whose hold ends within the next 10 minutes",
    multiprocess_mode="mostrecent",
)
WEBHOOK_DELIVERIES = Counter("layers_webhook_deliveries_total", "Webhook delivery attempts by outcome", ["outcome"])
WEBHOOK_BACKLOG = Gauge(
    "layers_webhook_deliveries_pending",
    "Webhook deliveries not yet delivered or abandoned",
    multiprocess_mode="mostrecent",
)
RATE_LIMITED = Counter("layers_rate_limit_refusals_total", "Requests refused by the rate limits", ["endpoint_class"])


def serve(port: int | None, workers: int = 1) -> Callable[[], None]:
    """Start this process's /metrics on `port` (nothing when None); returns what stops it."""
    if port is None:
        return lambda: None
    made: str | None = None
    registry: CollectorRegistry | None = None
    if workers > 1:
        if not os.environ.get(MULTIPROC_DIR):
            made = tempfile.mkdtemp(prefix="layers-metrics-")
            os.environ[MULTIPROC_DIR] = made  # inherited by the workers, which start after this
        else:
            # The operator's folder (an emptyDir survives a container restart): an earlier run's samples
            # would be summed into this one's, so they go before the workers start.
            for stale in Path(os.environ[MULTIPROC_DIR]).glob("*.db"):
                stale.unlink(missing_ok=True)
        registry = CollectorRegistry()
        prometheus_multiprocess.MultiProcessCollector(registry, path=os.environ[MULTIPROC_DIR])
    try:
        server, thread = start_http_server(port, registry=registry) if registry else start_http_server(port)
    except OSError as exc:
        raise SystemExit(f"LAYERS_METRICS_PORT={port}: cannot listen ({exc.strerror})") from None
    log.info("metrics on :%d/metrics", port)

    def stop() -> None:
        server.shutdown()
        thread.join(5)
        if made is not None:
            shutil.rmtree(made, ignore_errors=True)

    return stop


class Stopper:
    """What `serve` returned, as a part with a close() for a list of parts to stop."""

    def __init__(self, stop: Callable[[], None]) -> None:
        self.close = stop


@contextmanager
def timed(histogram: Any) -> Iterator[None]:
    """Observe the seconds the block takes on an already-labelled histogram."""
    started = time.perf_counter()
    try:
        yield
    finally:
        histogram.observe(time.perf_counter() - started)


class GrpcServerMetrics(grpc.ServerInterceptor):
    """Calls finished by method and status code, and their latency. Label children are built once per
    method (and code), so a call costs a lookup and two updates."""

    def __init__(self) -> None:
        self._wrapped: dict[str, Any] = {}
        self._handled: dict[tuple[str, grpc.StatusCode], Any] = {}

    def intercept_service(self, continuation: Callable[..., Any], handler_call_details: Any) -> Any:
        return cached_wrap(self._wrapped, continuation, handler_call_details, self._wrappers)

    def _wrappers(self, method: str) -> tuple[Any, Any]:
        duration = GRPC_DURATION.labels(*_split(method))

        def finish(context: grpc.ServicerContext, started: float, ended: grpc.StatusCode) -> None:
            """`ended`: the code when the handler set none (OK, or how it stopped)."""
            duration.observe(time.perf_counter() - started)
            code = context.code() or ended  # type: ignore[attr-defined]
            handled = self._handled.get((method, code))
            if handled is None:
                handled = self._handled[(method, code)] = GRPC_HANDLED.labels(*_split(method), code.name)
            handled.inc()

        def unary(fn: Callable[..., Any]) -> Callable[..., Any]:
            def handler(request: Any, context: grpc.ServicerContext) -> Any:
                started, ended = time.perf_counter(), grpc.StatusCode.UNKNOWN
                try:
                    answer = fn(request, context)
                    ended = grpc.StatusCode.OK
                    return answer
                finally:
                    finish(context, started, ended)

            return handler

        def stream(fn: Callable[..., Any]) -> Callable[..., Any]:
            def handler(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
                started, ended = time.perf_counter(), grpc.StatusCode.UNKNOWN
                try:
                    yield from fn(request, context)
                    ended = grpc.StatusCode.OK
                except GeneratorExit:  # the client went away mid-stream: not a server error
                    ended = grpc.StatusCode.CANCELLED
                    raise
                finally:
                    finish(context, started, ended)

            return handler

        return unary, stream


class HttpMetrics:
    """The gateway's requests by route template, method and status, and their latency, with the label
    children kept once made."""

    def __init__(self) -> None:
        self._requests: dict[tuple[str, str, int], Any] = {}
        self._durations: dict[tuple[str, str], Any] = {}

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        duration = self._durations.get((route, method))
        if duration is None:
            duration = self._durations[(route, method)] = HTTP_DURATION.labels(route, method)
        duration.observe(seconds)
        requests = self._requests.get((route, method, status))
        if requests is None:
            requests = self._requests[(route, method, status)] = HTTP_REQUESTS.labels(route, method, str(status))
        requests.inc()


def _split(method: str) -> tuple[str, str]:
    service, _, name = method.lstrip("/").partition("/")
    return service, name
