"""The gRPC server factory every service uses: health, reflection, rich errors, graceful stop.

`create_server(...)` builds and starts a server and returns it with its bound port (port 0 picks a free
one, which tests rely on); `wait_for_stop_signal(...)` blocks a service's main thread until SIGTERM/SIGINT,
then runs its stop (RunningService.stop: a graceful server stop, then its closers). `serve(...)` is a
service's `main`: one process, or LAYERS_GRPC_WORKERS processes sharing the port through SO_REUSEPORT
(Python serves one request at a time per process, so a busy service wants one per core).
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import multiprocessing
import signal
import socket
import sys
import threading
import weakref
from collections.abc import Callable, Iterable
from concurrent import futures
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from common import logs, metrics
from common.callers import CallerInterceptor
from common.clients import CHANNEL_OPTIONS
from common.errors import ErrorInterceptor
from common.grpc_context import ServerContextInterceptor
from common.metrics import GrpcServerMetrics
from common.settings import Settings
from common.tls import GrpcTls

log = logging.getLogger("layers.grpc")

# The health service name readiness probes ask for. The overall "" status stays liveness (cheap, SERVING
# until the server stops); this one turns NOT_SERVING while a dependency is unreachable or while draining.
READINESS_SERVICE = "layers.readiness"
READINESS_INTERVAL_SECONDS = 2.0

_health: weakref.WeakKeyDictionary[grpc.Server, health.HealthServicer] = weakref.WeakKeyDictionary()
# A server's plaintext health-only server (LAYERS_GRPC_HEALTH_PORT), stopped with it.
_health_only: weakref.WeakKeyDictionary[grpc.Server, grpc.Server] = weakref.WeakKeyDictionary()


def create_service_server(
    register: Callable[[grpc.Server], None],
    service_names: Iterable[str],
    address: str,
    settings: Settings,
    reuse_port: bool = False,
) -> tuple[grpc.Server, int]:
    """A service's server as its settings ask: mTLS with LAYERS_GRPC_TLS_*, a health port with
    LAYERS_GRPC_HEALTH_PORT."""
    return create_server(
        register,
        service_names,
        address,
        reuse_port=reuse_port,
        tls=GrpcTls.from_settings(settings),
        health_port=settings.grpc_health_port,
    )


def create_server(
    register: Callable[[grpc.Server], None],
    service_names: Iterable[str],
    address: str,
    max_workers: int = 16,
    reuse_port: bool = False,
    tls: GrpcTls | None = None,
    health_port: int | None = None,
) -> tuple[grpc.Server, int]:
    """Build, bind and start a server; return it and the port it listens on. `reuse_port` only for the
    worker processes of `serve`, which checked that no other process holds the port. With `tls`, only
    clients with a certificate from its CA connect, and each may call only what common.callers allows.
    With `health_port`, the same health statuses are also served in plaintext on that port (same host),
    and nothing else is; RunningService.stop stops that server too."""
    # Outermost first: the request id is bound before anything logs, refused callers are counted too, and a
    # refused caller never reaches the handler.
    caller_check = [CallerInterceptor()] if tls is not None else []
    interceptors = [ServerContextInterceptor(), GrpcServerMetrics(), *caller_check, ErrorInterceptor()]
    pool = futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="grpc")
    server = grpc.server(
        pool,
        interceptors=interceptors,
        # SO_REUSEPORT off by default: a second server on a taken port must fail, not silently share it.
        options=[*CHANNEL_OPTIONS, ("grpc.so_reuseport", 1 if reuse_port else 0)],
    )
    register(server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = list(service_names)
    for name in [*names, "", READINESS_SERVICE]:
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    _health[server] = health_servicer
    reflection.enable_server_reflection([*names, health.SERVICE_NAME, reflection.SERVICE_NAME], server)
    # The health-only server shares the pool: a service too wedged to answer its calls fails liveness too.
    health_only = _health_server(health_servicer, pool, reuse_port) if health_port is not None else None
    try:
        port = _bind(server, address, tls)
        if health_only is not None:
            _bind(health_only, f"{address.rpartition(':')[0]}:{health_port}", None, what="the gRPC health port")
        server.start()
        if health_only is not None:
            health_only.start()
    except BaseException:
        for taken in (server, health_only):
            if taken is not None:
                _release(taken)
        raise
    if health_only is not None:
        _health_only[server] = health_only
    return server, port


def _health_server(servicer: health.HealthServicer, pool: futures.ThreadPoolExecutor, reuse_port: bool) -> grpc.Server:
    server = grpc.server(pool, options=[("grpc.so_reuseport", 1 if reuse_port else 0)])
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    return server


def _release(server: grpc.Server) -> None:
    """Give back the ports a server bound: gRPC closes listeners only when a started server stops."""
    with contextlib.suppress(Exception):
        server.start()  # already started: nothing to do
    server.stop(None).wait()


def _bind(server: grpc.Server, address: str, tls: GrpcTls | None, what: str = "gRPC server") -> int:
    try:
        port = server.add_secure_port(address, tls.server_credentials()) if tls else server.add_insecure_port(address)
    except RuntimeError:
        port = 0
    if port == 0:
        raise RuntimeError(f"could not bind {what} to {address} (is another instance running there?)")
    return port


def wait_for_stop_signal(on_stop: Callable[[], Any] | None = None) -> None:
    """Block the main thread until SIGTERM or SIGINT, then run on_stop."""
    stop = threading.Event()

    def handle(signum: int, _frame: Any) -> None:
        log.info("received signal %s, stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    stop.wait()
    if on_stop is not None:
        on_stop()


class RunningService:
    """A started service: its gRPC server, bound port, the things to close when it stops, and the checks
    (each raises when its dependency is unreachable) that decide its readiness, run every few seconds."""

    def __init__(
        self,
        name: str,
        server: grpc.Server,
        port: int,
        closers: Iterable[Callable[[], Any]] = (),
        checks: Iterable[Callable[[], Any]] = (),
        check_interval: float = READINESS_INTERVAL_SECONDS,
    ):
        self.name = name
        self.server = server
        self.port = port
        self._closers = list(closers)
        self._checks = list(checks)
        self._draining = threading.Event()
        if self._checks:
            threading.Thread(target=self._watch, args=(check_interval,), name=f"{name}-readiness", daemon=True).start()

    def _set_ready(self, ready: bool) -> None:
        status = health_pb2.HealthCheckResponse.SERVING if ready else health_pb2.HealthCheckResponse.NOT_SERVING
        _health[self.server].set(READINESS_SERVICE, status)

    def _watch(self, interval: float) -> None:
        ready = True
        while not self._draining.wait(interval):
            try:
                for check in self._checks:
                    check()
                now_ready = True
            except Exception as exc:  # any failure of a dependency means: send no traffic here
                now_ready = False
                if ready:
                    log.warning("%s not ready: %s", self.name, exc)
            if not self._draining.is_set() and now_ready != ready:
                ready = now_ready
                self._set_ready(ready)

    def drain(self) -> None:
        """Report not ready from now on (load balancers stop sending), before the server stops."""
        self._draining.set()
        self._set_ready(False)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self, grace_seconds: float = 5.0) -> None:
        self.drain()
        self.server.stop(grace_seconds).wait()
        health_only = _health_only.pop(self.server, None)
        if health_only is not None:
            health_only.stop(0).wait()
        for close in reversed(self._closers):
            try:
                close()
            except Exception:  # a failing closer must not keep the others from running
                log.exception("error while stopping %s", self.name)


# What a service's module offers `serve`: start(settings, reuse_port=...) -> RunningService.
Starter = Callable[..., RunningService]


def serve(name: str, module: str, address: str, settings: Any, database_url: str) -> None:
    """A service's process entry point: serve on `address` until SIGTERM/SIGINT.

    With workers > 1 this process only supervises: it checks the port is free (no foreign process may
    hold it: SO_REUSEPORT would otherwise share its traffic), then runs `workers` processes that each
    bind it with SO_REUSEPORT, and the kernel spreads connections across them. If one dies, the others
    are stopped and the exit status says so, for the orchestrator to restart the whole set."""
    workers = settings.grpc_workers
    if workers > 1 and database_url.startswith("sqlite"):
        raise SystemExit(f"LAYERS_GRPC_WORKERS={workers} needs PostgreSQL: SQLite takes one writer process")
    stop_metrics = metrics.serve(settings.metrics_port, workers)
    try:
        _serve(name, module, address, settings, workers)
    finally:
        stop_metrics()


def _serve(name: str, module: str, address: str, settings: Any, workers: int) -> None:
    if workers <= 1:
        running = _start(module, settings, reuse_port=False)
        log.info("%s listening on %s:%d", name, address.rpartition(":")[0], running.port)
        wait_for_stop_signal(running.stop)
        log.info("%s stopped", name)
        return
    _check_port_free(address)
    if settings.grpc_health_port is not None:
        _check_port_free(f"{address.rpartition(':')[0]}:{settings.grpc_health_port}")
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=_run_worker, args=(module, settings), name=f"{name}-{i}", daemon=False)
        for i in range(workers)
    ]
    stop = threading.Event()

    def handle(signum: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    for process in processes:
        process.start()
    log.info("%s: %d processes on %s", name, workers, address)
    failed = False
    while not stop.wait(0.5):
        if any(not p.is_alive() for p in processes):
            failed = True
            log.error("%s: a worker process exited; stopping the others", name)
            break
    for process in processes:
        if process.is_alive():
            process.terminate()  # SIGTERM: each worker stops gracefully
    for process in processes:
        process.join(15)
        if process.is_alive():
            process.kill()
    if failed:
        sys.exit(1)


def _start(module: str, settings: Any, reuse_port: bool) -> RunningService:
    starter: Starter = importlib.import_module(module).start
    return starter(settings, reuse_port=reuse_port)


def _run_worker(module: str, settings: Any) -> None:
    logs.configure()
    running = _start(module, settings, reuse_port=True)
    wait_for_stop_signal(running.stop)


def _check_port_free(address: str) -> None:
    host, _, port = address.rpartition(":")
    host = host.strip("[]") or "0.0.0.0"
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # SO_REUSEADDR only forgives TIME_WAIT leftovers; a listening socket still makes bind fail.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, int(port)))
        except OSError as exc:
            raise SystemExit(f"could not bind {address}: {exc.strerror} (is another instance running there?)") from None
