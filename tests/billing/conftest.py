"""Billing fixtures: a real billing server on a free loopback port, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from common.clients import channel
from common.grpc_server import RunningService
from common.ids import new_id
from common.settings import Settings
from layers.billing.v1 import billing_pb2_grpc
from services.billing.server import start
from tests.support.clocks import MovableClock

StartBilling = Callable[..., RunningService]


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
def start_billing(db_url: str, tmp_path: Path, clock: MovableClock) -> Iterator[StartBilling]:
    """Start billing on the test database with some settings overridden, on the test's clock; everything
    stops at teardown."""
    started: list[RunningService] = []

    def _start(**overrides: Any) -> RunningService:
        settings = Settings(data_dir=tmp_path, billing_db_url=db_url, **overrides)
        running = start(settings, "127.0.0.1:0", clock=clock)
        started.append(running)
        return running

    yield _start
    for running in started:
        running.stop(grace_seconds=1)


@pytest.fixture
def billing(start_billing: StartBilling) -> RunningService:
    return start_billing()


@pytest.fixture
def stub(billing: RunningService) -> Iterator[billing_pb2_grpc.BillingServiceStub]:
    with channel(billing.address) as ch:
        yield billing_pb2_grpc.BillingServiceStub(ch)


@pytest.fixture
def org() -> str:
    return new_id("org")
