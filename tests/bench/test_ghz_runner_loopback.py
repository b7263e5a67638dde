"""bench/ghz_runner.py against a real gRPC server on loopback: the method found by reflection, the calls
counted by status, ghz's summary printed and its JSON written."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import ghz_runner
import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

pytestmark = pytest.mark.bench


class RecordingHealth(health.HealthServicer):
    """The stock health servicer, remembering the metadata of each call."""

    def __init__(self) -> None:
        super().__init__()
        self.request_ids: list[str] = []
        self.peers: set[str] = set()

    def Check(self, request: health_pb2.HealthCheckRequest, context: grpc.ServicerContext) -> Any:
        self.peers.add(context.peer())
        metadata = dict(context.invocation_metadata())
        if "x-request-id" in metadata:
            self.request_ids.append(str(metadata["x-request-id"]))
        return super().Check(request, context)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, RecordingHealth]]:
    grpc_server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    servicer = RecordingHealth()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, grpc_server)
    servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    reflection.enable_server_reflection([health.SERVICE_NAME, reflection.SERVICE_NAME], grpc_server)
    port = grpc_server.add_insecure_port("127.0.0.1:0")
    grpc_server.start()
    try:
        yield f"127.0.0.1:{port}", servicer
    finally:
        grpc_server.stop(0).wait()


def write_config(tmp_path: Path, **fields: Any) -> Path:
    config = {
        "call": "grpc.health.v1.Health.Check",
        "host": "127.0.0.1:1",  # replaced by --host, as ghz's flag replaces it
        "insecure": True,
        "total": 200,
        "concurrency": 8,
        "data": {"service": ""},
        **fields,
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return path


def run(config: Path, host: str, tmp_path: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    out = tmp_path / "report.json"
    code = ghz_runner.main(["--config", str(config), "--host", host, "--json", str(out), *extra])
    return code, json.loads(out.read_text()) if out.exists() else {}


def test_200_calls_all_ok(
    server: tuple[str, RecordingHealth], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    host, _ = server
    code, report = run(write_config(tmp_path), host, tmp_path)
    assert code == 0
    assert report["count"] == 200
    assert report["statusCodeDistribution"] == {"OK": 200}
    assert report["errorDistribution"] == {}
    assert report["options"]["concurrency"] == 8
    assert 0 < report["fastest"] <= report["average"] <= report["slowest"]
    assert sum(b["count"] for b in report["histogram"]) == 200
    summary = capsys.readouterr().out
    assert "  Count:\t200" in summary
    assert "  [OK]\t200 responses" in summary
    assert "Latency distribution:" in summary and "  99 % in " in summary


def test_a_failing_call_is_counted_in_the_status_distribution(
    server: tuple[str, RecordingHealth], tmp_path: Path
) -> None:
    host, _ = server
    config = write_config(tmp_path, data=[{"service": ""}, {"service": "no.such.Service"}])
    code, report = run(config, host, tmp_path)
    assert code == 0
    assert report["count"] == 200
    assert report["statusCodeDistribution"] == {"OK": 100, "NotFound": 100}
    [(message, count)] = report["errorDistribution"].items()
    assert count == 100 and message.startswith("rpc error: code = NotFound desc = ")


def test_templates_reach_the_server_and_are_distinct(server: tuple[str, RecordingHealth], tmp_path: Path) -> None:
    host, servicer = server
    servicer.request_ids.clear()
    config = write_config(tmp_path, metadata={"x-request-id": "{{.WorkerID}}-{{.RequestNumber}}-{{newUUID}}"})
    code, _ = run(config, host, tmp_path, "-n", "100")
    assert code == 0
    assert len(servicer.request_ids) == 100
    assert len(set(servicer.request_ids)) == 100
    assert {rid.split("-")[0][:3] for rid in servicer.request_ids} == {"g0c"}


def test_duration_mode_stops_by_itself(server: tuple[str, RecordingHealth], tmp_path: Path) -> None:
    host, _ = server
    code, report = run(write_config(tmp_path), host, tmp_path, "-z", "500ms", "-c", "4", "--connections", "2")
    assert code == 0
    assert report["endReason"] == "timeout"
    assert report["count"] > 0 and report["statusCodeDistribution"] == {"OK": report["count"]}
    assert 0.5e9 <= report["total"] < 3e9


def test_each_connection_is_its_own_tcp_connection(server: tuple[str, RecordingHealth], tmp_path: Path) -> None:
    host, servicer = server
    servicer.peers.clear()
    code, report = run(write_config(tmp_path), host, tmp_path, "--connections", "3")
    assert code == 0 and report["statusCodeDistribution"] == {"OK": 200}
    assert len(servicer.peers) == 3


def test_an_unknown_method_is_named_with_the_ones_that_exist(
    server: tuple[str, RecordingHealth], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    host, _ = server
    code, _ = run(write_config(tmp_path, call="grpc.health.v1.Health/Nope"), host, tmp_path)
    assert code == 2
    err = capsys.readouterr().err
    assert "no method grpc.health.v1.Health.Nope" in err and "Check" in err


def test_an_unknown_service_is_reported(
    server: tuple[str, RecordingHealth], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    host, _ = server
    code, _ = run(write_config(tmp_path, call="layers.content.v1.Nothing.Here"), host, tmp_path)
    assert code == 2
    assert "does not list the service layers.content.v1.Nothing" in capsys.readouterr().err


def test_a_placeholder_without_a_value_stops_before_any_call(
    server: tuple[str, RecordingHealth], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    host, _ = server
    config = write_config(tmp_path, data={"service": "${BENCH_TEST_UNSET_NAME}"})
    code, _ = run(config, host, tmp_path)
    assert code == 2
    assert "--set BENCH_TEST_UNSET_NAME=VALUE" in capsys.readouterr().err
    code, report = run(config, host, tmp_path, "--set", "BENCH_TEST_UNSET_NAME=")
    assert code == 0 and report["statusCodeDistribution"] == {"OK": 200}
