"""The billing process: health, reflection, and `python -m services.billing` under SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.protobuf.descriptor_pool import DescriptorPool
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

from common.clients import channel
from common.grpc_server import RunningService
from common.settings import Settings
from layers.billing.v1 import billing_pb2 as pb
from layers.billing.v1.billing_pb2_grpc import BillingServiceStub
from services.billing.server import SERVICE_NAME, start

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def sqlite_billing(sqlite_url: str, tmp_path: Path) -> Iterator[RunningService]:
    running = start(Settings(data_dir=tmp_path, billing_db_url=sqlite_url), "127.0.0.1:0")
    yield running
    running.stop(grace_seconds=1)


def test_health_reports_serving(sqlite_billing: RunningService) -> None:
    assert SERVICE_NAME == "layers.billing.v1.BillingService"
    with channel(sqlite_billing.address) as ch:
        health = health_pb2_grpc.HealthStub(ch)
        for service in (SERVICE_NAME, ""):
            response = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
            assert response.status == health_pb2.HealthCheckResponse.SERVING


def test_reflection_describes_the_service(sqlite_billing: RunningService) -> None:
    with channel(sqlite_billing.address) as ch:
        database = ProtoReflectionDescriptorDatabase(ch)
        assert SERVICE_NAME in database.get_services()
        service = DescriptorPool(database).FindServiceByName(SERVICE_NAME)
        assert {m.name for m in service.methods} == {
            "CreateWallet",
            "GetWallet",
            "GrantCredits",
            "Reserve",
            "Capture",
            "Release",
            "GetReservation",
            "ListLedgerEntries",
        }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_module_runs_and_stops_on_sigterm(tmp_path: Path) -> None:
    address = f"127.0.0.1:{_free_port()}"
    env = {**os.environ, "LAYERS_BILLING_ADDR": address, "LAYERS_DATA_DIR": str(tmp_path)}
    env.pop("LAYERS_BILLING_DB_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.billing"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        with channel(address) as ch:
            grpc.channel_ready_future(ch).result(timeout=20)
            health = health_pb2_grpc.HealthStub(ch).Check(
                health_pb2.HealthCheckRequest(service=SERVICE_NAME), timeout=5
            )
            assert health.status == health_pb2.HealthCheckResponse.SERVING
            granted = BillingServiceStub(ch).GrantCredits(
                pb.GrantCreditsRequest(organization_id="org_subprocess", credits=5), timeout=5
            )
            assert granted.wallet.balance == 5
        # The embedded default keeps its SQLite file under the data directory.
        assert (tmp_path / "billing.db").is_file()

        began = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        returncode = proc.wait(timeout=10)
        assert time.monotonic() - began < 5
        output = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
        assert returncode == 0, output
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
