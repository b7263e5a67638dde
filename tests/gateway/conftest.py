"""The gateway over real HTTP (uvicorn on a free loopback port) in front of fake services over real gRPC."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from common.grpc_server import create_server
from common.settings import Settings
from gateway.app import create_app
from gateway.main import uvicorn_config
from gateway.project_access import VisibleProjects
from layers.billing.v1 import billing_pb2_grpc
from layers.content.v1 import content_pb2_grpc
from tests.gateway.fakes import FakeBilling, FakeContent

PUBLIC_BASE_URL = "https://api.example.test"


class LiveGateway:
    """A gateway app served in a thread as production serves it (gateway.main's uvicorn config), on a port
    the OS picked."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        settings: Settings = app.state.settings
        self._server = uvicorn.Server(uvicorn_config(app, settings, log_level="warning", lifespan="on"))
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)

    def start(self) -> LiveGateway:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("gateway did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)

    @property
    def signer(self) -> Any:
        return self.app.state.signer


@pytest.fixture(scope="session")
def fake_content() -> FakeContent:
    return FakeContent()


@pytest.fixture(scope="session")
def fake_billing() -> FakeBilling:
    return FakeBilling()


@pytest.fixture(scope="session")
def services_addr(fake_content: FakeContent, fake_billing: FakeBilling) -> Iterator[str]:
    def register(server: grpc.Server) -> None:
        content_pb2_grpc.add_PartnerServiceServicer_to_server(fake_content, server)
        content_pb2_grpc.add_EdgeServiceServicer_to_server(fake_content, server)
        billing_pb2_grpc.add_BillingServiceServicer_to_server(fake_billing, server)

    server, port = create_server(
        register,
        ["layers.content.v1.PartnerService", "layers.content.v1.EdgeService", "layers.billing.v1.BillingService"],
        "127.0.0.1:0",
    )
    yield f"127.0.0.1:{port}"
    server.stop(0).wait()


def gateway_settings(services_addr: str, data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "content_addr": services_addr,
        "media_addr": services_addr,
        "billing_addr": services_addr,
        "data_dir": data_dir,
        "public_base_url": PUBLIC_BASE_URL,
        "signing_secret": None,
        "rpc_timeout_seconds": 5.0,
        # The shared gateway serves every test: budgets no test run can spend (tests of limits set their own).
        "rate_limit_reads_per_minute": 10**9,
        "rate_limit_writes_per_minute": 10**9,
        "rate_limit_generations_per_minute": 10**9,
        # Long enough that a test's answers are remembered throughout, however slow the machine.
        "job_cache_seconds": 30,
        "balance_cache_seconds": 30,
        **overrides,
    }
    return Settings(**values)


@pytest.fixture(scope="session")
def gateway(services_addr: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveGateway]:
    app = create_app(gateway_settings(services_addr, tmp_path_factory.mktemp("gateway-data")))
    live = LiveGateway(app).start()
    yield live
    live.stop()


@pytest.fixture
def start_gateway(services_addr: str, tmp_path: Path) -> Iterator[Callable[..., LiveGateway]]:
    """Start an extra gateway with some settings changed; stopped after the test."""
    started: list[LiveGateway] = []

    def start(**overrides: Any) -> LiveGateway:
        app = create_app(gateway_settings(services_addr, tmp_path, **overrides))
        live = LiveGateway(app).start()
        started.append(live)
        return live

    yield start
    for live in started:
        live.stop()


@pytest.fixture(autouse=True)
def _fresh_fakes(request: pytest.FixtureRequest, fake_content: FakeContent, fake_billing: FakeBilling) -> None:
    fake_content.reset()
    fake_billing.reset()
    if "gateway" in request.fixturenames:
        # Each test starts with the shared gateway's caches cold, so it sees every look-up it causes.
        app = request.getfixturevalue("gateway").app
        app.state.key_cache.clear()
        app.state.balances.clear()
        app.state.polled_jobs.clear()
        app.state.visible_projects = VisibleProjects()


@pytest.fixture
def http(gateway: LiveGateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.base_url, timeout=10) as client:
        yield client
