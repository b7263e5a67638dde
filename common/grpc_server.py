"""The gRPC server factory every service uses: health, reflection, rich errors, graceful stop.

`create_server(...)` builds and starts a server and returns it with its bound port (port 0 picks a free
one, which tests rely on); `wait_for_stop_signal(...)` blocks a service's main thread until SIGTERM/SIGINT,
then runs its stop (RunningService.stop: a graceful server stop, then its closers).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterable
from concurrent import futures
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from common.errors import ErrorInterceptor

log = logging.getLogger("layers.grpc")

# Large enough for blob chunks plus framing; chunks themselves are 1 MiB.
MAX_MESSAGE_BYTES = 8 * 1024 * 1024
CHANNEL_OPTIONS = [
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
]


def create_server(
    register: Callable[[grpc.Server], None],
    service_names: Iterable[str],
    address: str,
    max_workers: int = 16,
) -> tuple[grpc.Server, int]:
    """Build, bind and start a server; return it and the port it listens on."""
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="grpc"),
        interceptors=[ErrorInterceptor()],
        # No SO_REUSEPORT: a second server on a taken port must fail, not silently share its traffic.
        options=[*CHANNEL_OPTIONS, ("grpc.so_reuseport", 0)],
    )
    register(server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = list(service_names)
    for name in [*names, ""]:
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    reflection.enable_server_reflection([*names, health.SERVICE_NAME, reflection.SERVICE_NAME], server)
    try:
        port = server.add_insecure_port(address)
    except RuntimeError:
        port = 0
    if port == 0:
        raise RuntimeError(f"could not bind gRPC server to {address} (is another instance running there?)")
    server.start()
    return server, port


def channel(address: str) -> grpc.Channel:
    """A client channel with the same message limits as the servers."""
    return grpc.insecure_channel(address, options=CHANNEL_OPTIONS)


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
    """A started service: its gRPC server, bound port, and the things to close when it stops."""

    def __init__(self, name: str, server: grpc.Server, port: int, closers: Iterable[Callable[[], Any]] = ()):
        self.name = name
        self.server = server
        self.port = port
        self._closers = list(closers)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self, grace_seconds: float = 5.0) -> None:
        self.server.stop(grace_seconds).wait()
        for close in reversed(self._closers):
            try:
                close()
            except Exception:  # a failing closer must not keep the others from running
                log.exception("error while stopping %s", self.name)
