"""Metrics of a multi-process gateway add up across its workers, and a bad metrics port is refused in one
line; the gRPC metrics count each call by its status code."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest

from common import clients, metrics
from common.errors import ServiceError
from common.grpc_server import create_server
from tests.e2e.test_dev_crash import wait_until
from tests.e2e.test_observability_e2e import scrape, value
from tests.support.processes import free_port

LAYERS = str(Path(sys.executable).parent / "layers")


def test_a_two_worker_gateway_serves_the_sum_of_its_workers(tmp_path: Path) -> None:
    http_port, metrics_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LAYERS_", "PROMETHEUS_"))}
    env.update(
        TMPDIR=str(tmp_path),  # where the workers' metrics folder is made, and must be removed from
        LAYERS_DATA_DIR=str(tmp_path),
        LAYERS_HTTP_PORT=str(http_port),
        LAYERS_HTTP_WORKERS="2",
        LAYERS_METRICS_PORT=str(metrics_port),
        LAYERS_SIGNING_SECRET="s" * 32,
    )
    log = tmp_path / "gateway.log"
    with log.open("wb") as out:
        process = subprocess.Popen([LAYERS, "serve", "gateway"], env=env, stdout=out, stderr=out)
    try:
        wait_until(lambda: _answers(http_port, process), 60, f"the gateway answers (see {log})")
        # New connections each time, so both workers take some.
        for _ in range(40):
            assert httpx.get(f"http://127.0.0.1:{http_port}/healthz", timeout=5).status_code == 200
        samples = scrape(metrics_port)
        assert value(samples, "layers_http_requests_total", route="/healthz", status="200") >= 40
    finally:
        process.terminate()
        assert process.wait(timeout=30) == 0
    assert not list(tmp_path.glob("layers-metrics-*"))


def _answers(port: int, process: subprocess.Popen[bytes]) -> bool:
    assert process.poll() is None, "the gateway exited"
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def test_a_taken_metrics_port_stops_the_process_with_one_line() -> None:
    port = free_port()
    stop = metrics.serve(port)
    try:
        with pytest.raises(SystemExit, match=f"LAYERS_METRICS_PORT={port}: cannot listen"):
            metrics.serve(port)
    finally:
        stop()


def test_grpc_calls_are_counted_by_method_and_code() -> None:
    def ok(request: bytes, context: grpc.ServicerContext) -> bytes:
        return b"ok"

    def refuse(request: bytes, context: grpc.ServicerContext) -> bytes:
        raise ServiceError(grpc.StatusCode.FAILED_PRECONDITION, "NOPE", "refused")

    handler = grpc.method_handlers_generic_handler(
        "test.Counted",
        {"Ok": grpc.unary_unary_rpc_method_handler(ok), "Refuse": grpc.unary_unary_rpc_method_handler(refuse)},
    )
    server, port = create_server(lambda s: s.add_generic_rpc_handlers((handler,)), [], "127.0.0.1:0")
    channel = clients.channel(f"127.0.0.1:{port}", timeout_seconds=5)

    def handled(method: str, code: str) -> float:
        sample = metrics.GRPC_HANDLED.labels("test.Counted", method, code)
        return float(sample._value.get())

    try:
        before = handled("Ok", "OK"), handled("Refuse", "FAILED_PRECONDITION")
        channel.unary_unary("/test.Counted/Ok", None, None)(b"")
        for _ in range(2):
            with pytest.raises(grpc.RpcError):
                channel.unary_unary("/test.Counted/Refuse", None, None)(b"")
        assert (handled("Ok", "OK"), handled("Refuse", "FAILED_PRECONDITION")) == (before[0] + 1, before[1] + 2)
    finally:
        channel.close()
        server.stop(None)


def test_a_stream_the_client_cancels_counts_as_cancelled() -> None:
    def endless(request: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
        while True:
            yield b"chunk"
            time.sleep(0.01)

    handler = grpc.method_handlers_generic_handler(
        "test.Streamed", {"Endless": grpc.unary_stream_rpc_method_handler(endless)}
    )
    server, port = create_server(lambda s: s.add_generic_rpc_handlers((handler,)), [], "127.0.0.1:0")
    channel = clients.channel(f"127.0.0.1:{port}", timeout_seconds=5)

    def handled(code: str) -> float:
        return float(metrics.GRPC_HANDLED.labels("test.Streamed", "Endless", code)._value.get())

    try:
        before = handled("CANCELLED"), handled("UNKNOWN")
        call = channel.unary_stream("/test.Streamed/Endless", None, None)(b"")
        assert next(call) == b"chunk"
        call.cancel()
        deadline = time.monotonic() + 10
        while handled("CANCELLED") == before[0] and time.monotonic() < deadline:
            gc.collect()  # the server closes the abandoned generator when it lets go of it
            time.sleep(0.05)
        assert (handled("CANCELLED"), handled("UNKNOWN")) == (before[0] + 1, before[1])
    finally:
        channel.close()
        server.stop(None)


def test_an_operators_multiprocess_folder_starts_empty(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Samples an earlier run left in PROMETHEUS_MULTIPROC_DIR (an emptyDir outlives a restart) are not summed."""
    stale = tmp_path / "counter_4242.db"
    stale.write_bytes(b"an earlier run's samples")
    keep = tmp_path / "notes.txt"
    keep.write_text("not ours")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    stop = metrics.serve(free_port(), workers=2)
    try:
        assert not stale.exists() and keep.exists()
    finally:
        stop()
    assert tmp_path.exists()  # the operator's folder stays
