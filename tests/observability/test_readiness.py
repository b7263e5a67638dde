"""Readiness: a gRPC service's `layers.readiness` health status turns NOT_SERVING while its database is
unreachable (a real `layers serve billing` behind a TCP proxy that is cut) and once it starts draining, while
the overall status that liveness probes ask for stays SERVING."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from common.clients import channel
from common.grpc_server import READINESS_SERVICE, RunningService, create_server
from tests.support.processes import ServiceProcess, clean_environment, free_port
from tests.support.tcp_proxy import TcpProxy

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def status(address: str, service: str) -> int | None:
    with channel(address) as ch:
        try:
            reply = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(service=service), timeout=2)
        except grpc.RpcError:
            return None
    return int(reply.status)


def eventually(condition: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.2)


@pytest.mark.postgres
def test_not_ready_while_the_database_is_unreachable(pg_url: str, tmp_path: Path) -> None:
    host_port = "127.0.0.1:5432"
    assert host_port in pg_url
    with TcpProxy("127.0.0.1", 5432) as proxy:
        address = f"127.0.0.1:{free_port()}"
        env = clean_environment(
            LAYERS_BILLING_ADDR=address,
            LAYERS_BILLING_DB_URL=pg_url.replace(host_port, f"127.0.0.1:{proxy.port}"),
            LAYERS_DATA_DIR=str(tmp_path / "data"),
        )
        billing = ServiceProcess(
            "billing", env, tmp_path / "billing.log", lambda: status(address, READINESS_SERVICE) == SERVING
        )
        billing.start()
        try:
            proxy.cut()
            eventually(lambda: status(address, READINESS_SERVICE) == NOT_SERVING)
            assert status(address, "") == SERVING  # liveness: the process itself is fine, do not restart it
            proxy.restore()
            eventually(lambda: status(address, READINESS_SERVICE) == SERVING)
        finally:
            billing.stop()


def test_draining_reports_not_ready_and_stays_alive() -> None:
    server, port = create_server(lambda _s: None, [], "127.0.0.1:0")
    running = RunningService("probe", server, port, checks=[lambda: None], check_interval=0.05)
    try:
        assert status(running.address, READINESS_SERVICE) == SERVING
        running.drain()
        time.sleep(0.2)  # a check passing after the drain must not turn it back to SERVING
        assert status(running.address, READINESS_SERVICE) == NOT_SERVING
        assert status(running.address, "") == SERVING
    finally:
        running.stop(grace_seconds=0)
