"""GET /readyz on a real gateway: ready only while content answers its readiness check over the gateway's
gRPC channel and, when configured, Redis answers; /healthz (liveness) stays 200 either way."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from common.grpc_server import RunningService, create_server
from tests.conftest import require_server
from tests.gateway.conftest import LiveGateway
from tests.support.processes import free_port


def test_ready_when_content_is_ready(gateway: LiveGateway) -> None:
    reply = httpx.get(f"{gateway.base_url}/readyz", timeout=5)
    assert reply.status_code == 200 and reply.json() == {"status": "ok"}


def test_not_ready_while_content_is_unreachable(start_gateway: Callable[..., LiveGateway]) -> None:
    gateway = start_gateway(content_addr=f"127.0.0.1:{free_port()}")
    reply = httpx.get(f"{gateway.base_url}/readyz", timeout=5)
    assert reply.status_code == 503 and reply.json()["reason"] == "content unreachable"
    assert httpx.get(f"{gateway.base_url}/healthz", timeout=5).status_code == 200


def test_not_ready_while_content_drains(start_gateway: Callable[..., LiveGateway]) -> None:
    server, port = create_server(lambda _s: None, [], "127.0.0.1:0")
    content = RunningService("content", server, port)
    try:
        gateway = start_gateway(content_addr=content.address)
        assert httpx.get(f"{gateway.base_url}/readyz", timeout=5).status_code == 200
        content.drain()
        reply = httpx.get(f"{gateway.base_url}/readyz", timeout=5)
        assert reply.status_code == 503 and reply.json()["reason"] == "content not ready"
    finally:
        content.stop(grace_seconds=0)


@pytest.mark.redis
def test_ready_with_redis(start_gateway: Callable[..., LiveGateway]) -> None:
    require_server("Redis", "127.0.0.1", 6379)
    gateway = start_gateway(redis_url="redis://127.0.0.1:6379/0")
    assert httpx.get(f"{gateway.base_url}/readyz", timeout=5).status_code == 200


def test_not_ready_while_redis_is_unreachable(start_gateway: Callable[..., LiveGateway]) -> None:
    gateway = start_gateway(redis_url=f"redis://127.0.0.1:{free_port()}/0")
    reply = httpx.get(f"{gateway.base_url}/readyz", timeout=5)
    assert reply.status_code == 503 and reply.json()["reason"] == "redis unreachable"
