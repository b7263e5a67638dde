"""`layers serve content` on its own, configured by environment variables, as docker-compose runs it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest

from common.amqp import scratch_broker_names
from common.clients import channel
from layers.content.v1 import content_pb2 as pb
from layers.content.v1.content_pb2_grpc import TenancyAdminServiceStub

LAYERS = str(Path(sys.executable).parent / "layers")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("workers", [1, 2])
def test_serve_content_on_postgres_and_rabbitmq(tmp_path: Path, pg_url: str, amqp_url: str, workers: int) -> None:
    address = f"127.0.0.1:{_free_port()}"
    with scratch_broker_names(amqp_url, "test-serve-content") as names:
        _serve_content_on_postgres_and_rabbitmq(tmp_path, pg_url, amqp_url, workers, address, names)


def _serve_content_on_postgres_and_rabbitmq(
    tmp_path: Path, pg_url: str, amqp_url: str, workers: int, address: str, names: dict[str, str]
) -> None:
    env = {
        **os.environ,
        **{f"LAYERS_{setting.upper()}": name for setting, name in names.items()},
        "LAYERS_GRPC_WORKERS": str(workers),
        "LAYERS_CONTENT_ADDR": address,
        "LAYERS_CONTENT_DB_URL": pg_url,
        "LAYERS_AMQP_URL": amqp_url,
        "LAYERS_DATA_DIR": str(tmp_path),
    }
    proc = subprocess.Popen([LAYERS, "serve", "content"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        with channel(address) as ch:
            grpc.channel_ready_future(ch).result(timeout=20)
            health = subprocess.run([LAYERS, "health", address], capture_output=True, text=True, timeout=10)
            assert health.returncode == 0 and "SERVING" in health.stdout
            org = TenancyAdminServiceStub(ch).CreateOrganization(pb.CreateOrganizationRequest(name="Solo"), timeout=5)
            assert org.organization.organization_id.startswith("org_")
        assert not (tmp_path / "content.db").exists()  # it used PostgreSQL, not the embedded default
        began = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        returncode = proc.wait(timeout=15)
        output = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
        assert returncode == 0, output
        assert time.monotonic() - began < 10
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    unreachable = subprocess.run([LAYERS, "health", address], capture_output=True, text=True, timeout=10)
    assert unreachable.returncode == 1


def test_serve_content_without_a_broker_says_what_is_missing(tmp_path: Path) -> None:
    env = {**os.environ, "LAYERS_DATA_DIR": str(tmp_path), "LAYERS_CONTENT_ADDR": f"127.0.0.1:{_free_port()}"}
    env.pop("LAYERS_AMQP_URL", None)
    done = subprocess.run([LAYERS, "serve", "content"], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode != 0 and "LAYERS_AMQP_URL" in done.stderr


def test_an_idempotency_lease_a_live_request_could_outlast_is_refused_at_start_up(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "LAYERS_DATA_DIR": str(tmp_path),
        "LAYERS_CONTENT_ADDR": f"127.0.0.1:{_free_port()}",
        "LAYERS_RPC_TIMEOUT_SECONDS": "30",
        "LAYERS_IDEMPOTENCY_LEASE_SECONDS": "45",
    }
    done = subprocess.run([LAYERS, "serve", "content"], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.startswith("layers: LAYERS_IDEMPOTENCY_LEASE_SECONDS (45) must be more than")


def test_a_taken_port_is_refused_and_nothing_is_left_open(tmp_path: Path) -> None:
    from common.render_queue import InProcessQueue
    from common.settings import Settings
    from services.content import server

    settings = Settings(data_dir=tmp_path)
    first = server.start(settings, "127.0.0.1:0", publisher=InProcessQueue())
    try:
        try:
            server.start(settings, first.address, publisher=InProcessQueue())
        except RuntimeError as exc:
            assert "could not bind" in str(exc)
        else:
            raise AssertionError("a second content service started on a port already in use")
    finally:
        first.stop(grace_seconds=0)


def test_several_workers_refuse_a_port_another_process_holds(tmp_path: Path, pg_url: str, amqp_url: str) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        address = f"127.0.0.1:{holder.getsockname()[1]}"
        env = {
            **os.environ,
            "LAYERS_GRPC_WORKERS": "2",
            "LAYERS_CONTENT_ADDR": address,
            "LAYERS_CONTENT_DB_URL": pg_url,
            "LAYERS_AMQP_URL": amqp_url,
            "LAYERS_DATA_DIR": str(tmp_path),
        }
        done = subprocess.run([LAYERS, "serve", "content"], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode != 0
    assert f"could not bind {address}" in done.stderr


def test_several_workers_need_postgresql(tmp_path: Path, amqp_url: str) -> None:
    env = {**os.environ, "LAYERS_GRPC_WORKERS": "2", "LAYERS_AMQP_URL": amqp_url, "LAYERS_DATA_DIR": str(tmp_path)}
    env.pop("LAYERS_CONTENT_DB_URL", None)
    done = subprocess.run([LAYERS, "serve", "content"], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode != 0 and "needs PostgreSQL" in done.stderr
