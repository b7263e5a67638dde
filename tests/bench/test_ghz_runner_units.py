"""bench/ghz_runner.py without a server: durations, placeholders, templates, config parsing, requests, report."""

from __future__ import annotations

import json
import re
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import ghz_runner
import grpc
import pytest
from ghz_runner import CallContext, ConfigError, MethodInfo, Template
from grpc_health.v1 import health_pb2

METHOD = MethodInfo("grpc.health.v1.Health.Check", "HealthCheckRequest", "HealthCheckResponse")


def ctx(number: int = 0, worker: str = "g0c0") -> CallContext:
    return CallContext(number, worker, METHOD)


def minimal(**extra: Any) -> dict[str, Any]:
    return {"call": "grpc.health.v1.Health.Check", "host": "127.0.0.1:1", "insecure": True, **extra}


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("10s", 10.0), ("1m30s", 90.0), ("250ms", 0.25), ("1.5h", 5400.0), ("0", 0.0), ("", 0.0), (3, 3.0), ("2", 2.0)],
)
def test_durations_are_read_as_go_writes_them(text: str | int, seconds: float) -> None:
    assert ghz_runner.parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["10x", "s", "10s junk", "-1s"])
def test_a_bad_duration_is_refused(text: str) -> None:
    with pytest.raises(ConfigError, match="not a duration"):
        ghz_runner.parse_duration(text)


def test_placeholders_are_filled_in_every_string_and_unknown_ones_named() -> None:
    value = {"a": "${ORG}/$PROJECT", "b": ["x-$ORG"], "c": 3, "d": "$lower stays"}
    assert ghz_runner.placeholders_in(value) == {"ORG", "PROJECT"}
    assert ghz_runner.substitute(value, {"ORG": "o1", "PROJECT": "p1"}) == {
        "a": "o1/p1",
        "b": ["x-o1"],
        "c": 3,
        "d": "$lower stays",
    }
    with pytest.raises(ConfigError, match=r"\$PROJECT.*--set PROJECT=VALUE"):
        ghz_runner.substitute(value, {"ORG": "o1"})


def test_templates_expand_per_call() -> None:
    template = Template.compile("k-{{.WorkerID}}-{{.RequestNumber}}-{{ newUUID }}")
    first, second = template.render(ctx(0, "g0c1")), template.render(ctx(1, "g0c1"))
    assert first.startswith("k-g0c1-0-") and second.startswith("k-g0c1-1-")
    first_uuid, second_uuid = first.removeprefix("k-g0c1-0-"), second.removeprefix("k-g0c1-1-")
    assert uuid.UUID(first_uuid) != uuid.UUID(second_uuid)


def test_every_call_template_field_expands() -> None:
    call = ctx(7, "g1c3")
    expanded = {name: Template.compile("{{." + name + "}}").render(call) for name in sorted(ghz_runner.TEMPLATE_FIELDS)}
    assert expanded["RequestNumber"] == "7"
    assert expanded["WorkerID"] == "g1c3"
    assert int(expanded["TimestampUnixNano"]) == call.now_ns
    assert int(expanded["TimestampUnixMilli"]) == call.now_ns // 1_000_000
    assert int(expanded["TimestampUnix"]) == call.now_ns // 1_000_000_000
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", expanded["Timestamp"])
    uuid.UUID(expanded["UUID"])
    assert expanded["FullyQualifiedName"] == "grpc.health.v1.Health.Check"
    assert (expanded["ServiceName"], expanded["MethodName"]) == ("Health", "Check")
    assert (expanded["InputName"], expanded["OutputName"]) == ("HealthCheckRequest", "HealthCheckResponse")


def test_random_string_has_the_asked_length() -> None:
    assert len(Template.compile("{{randomString 12}}").render(ctx())) == 12
    assert 2 <= len(Template.compile("{{randomString 0}}").render(ctx())) <= 16


def test_unique_keys_across_many_calls() -> None:
    data = ghz_runner.compile_value({"idempotency_key": "bench-{{newUUID}}", "n": "{{.RequestNumber}}"})
    keys = {ghz_runner.render_value(data, ctx(i))["idempotency_key"] for i in range(1000)}
    assert len(keys) == 1000


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("{{.Nope}}", "unknown template field"),
        ("{{ sprigThing 3 }}", "unsupported template action"),
        ("{{randomString x}}", "randomString takes a number"),
        ("open {{ .RequestNumber", "unterminated"),
    ],
)
def test_templates_it_cannot_run_are_refused(source: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        Template.compile(source)


def test_constant_strings_are_known_as_constant() -> None:
    assert ghz_runner.is_constant(ghz_runner.compile_value({"a": "x", "b": [1, "y"]}))
    assert not ghz_runner.is_constant(ghz_runner.compile_value({"a": ["{{.UUID}}"]}))


def test_config_defaults_follow_ghz() -> None:
    config = ghz_runner.parse_config(minimal())
    assert (config.total, config.concurrency, config.connections) == (200, 50, 1)
    assert (config.duration, config.timeout) == (0.0, 20.0)
    assert config.data == [{}]
    assert config.method_name == "grpc.health.v1.Health.Check"


def test_config_reads_its_options() -> None:
    config = ghz_runner.parse_config(
        minimal(
            call="layers.content.v1.PartnerService/GetJob",
            total=20,
            concurrency="8",
            connections=2,
            duration="1m",
            timeout="500ms",
            name="GetJob",
            data=[{"job_id": "${JOB}"}, {"job_id": "b"}],
            metadata={"X-Request-Id": "{{.RequestNumber}}"},
        ),
        {"JOB": "job_1"},
    )
    assert config.method_name == "layers.content.v1.PartnerService.GetJob"
    assert (config.total, config.concurrency, config.connections) == (20, 8, 2)
    assert (config.duration, config.timeout, config.name) == (60.0, 0.5, "GetJob")
    assert config.data == [{"job_id": "job_1"}, {"job_id": "b"}]
    assert config.metadata == {"x-request-id": "{{.RequestNumber}}"}  # gRPC metadata keys are lower-case


def test_ignored_and_unknown_keys_are_reported() -> None:
    config = ghz_runner.parse_config(minimal(proto="x.proto", qps=5))
    assert any('"proto"' in w for w in config.warnings)
    assert any('"qps"' in w for w in config.warnings)


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ({"host": "h:1", "insecure": True}, 'no "call"'),
        (minimal(insecure=False), "only plaintext"),
        ({"call": "a.B.C", "host": "h:1"}, "only plaintext"),
        (minimal(call="Check"), "package.Service.Method"),
        (minimal(total=0), "at least 1"),
        (minimal(concurrency="many"), "must be a number"),
        (minimal(data=[]), "non-empty array"),
        (minimal(data="x"), "must be an object"),
        (minimal(metadata={"a": 1}), "object of strings"),
        (minimal(duration="soon"), "not a duration"),
    ],
)
def test_bad_configs_are_refused(raw: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        ghz_runner.parse_config(raw)


def test_load_config_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps(minimal(data={"service": "$SVC"})))
    assert ghz_runner.load_config(path, {"SVC": "s"}).data == [{"service": "s"}]
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="not JSON"):
        ghz_runner.load_config(path)


def test_set_assignments() -> None:
    assert ghz_runner.parse_assignments(["A=1", "B_2=x=y", "C="]) == {"A": "1", "B_2": "x=y", "C": ""}
    with pytest.raises(ConfigError):
        ghz_runner.parse_assignments(["lower=1"])
    with pytest.raises(ConfigError):
        ghz_runner.parse_assignments(["NOEQUALS"])


def test_request_factory_builds_requests_round_robin() -> None:
    config = ghz_runner.parse_config(minimal(data=[{"service": "a-{{.RequestNumber}}"}, {"service": "b"}]))
    factory = ghz_runner.RequestFactory(config, METHOD, health_pb2.HealthCheckRequest)
    services = [health_pb2.HealthCheckRequest.FromString(factory.build(n, "g0c0")[0]).service for n in range(4)]
    assert services == ["a-0", "b", "a-2", "b"]


def test_request_factory_expands_metadata() -> None:
    config = ghz_runner.parse_config(minimal(metadata={"x-id": "{{.WorkerID}}/{{.RequestNumber}}", "x-c": "k"}))
    factory = ghz_runner.RequestFactory(config, METHOD, health_pb2.HealthCheckRequest)
    assert dict(factory.build(5, "g0c2")[1]) == {"x-id": "g0c2/5", "x-c": "k"}


def test_data_that_does_not_fit_the_message_is_refused() -> None:
    config = ghz_runner.parse_config(minimal(data={"no_such_field": "x"}))
    with pytest.raises(ConfigError, match="does not fit HealthCheckRequest"):
        ghz_runner.RequestFactory(config, METHOD, health_pb2.HealthCheckRequest)


def test_status_names_are_gos() -> None:
    assert ghz_runner.status_name(grpc.StatusCode.OK) == "OK"
    assert ghz_runner.status_name(grpc.StatusCode.NOT_FOUND) == "NotFound"
    assert ghz_runner.status_name(grpc.StatusCode.CANCELLED) == "Canceled"
    assert ghz_runner.status_name(grpc.StatusCode.FAILED_PRECONDITION) == "FailedPrecondition"


def make_report(latencies_ms: list[float], statuses: dict[str, int]) -> ghz_runner.Report:
    return ghz_runner.Report(
        name="t",
        call="a.B.C",
        host="h:1",
        date="2026-01-01T00:00:00+00:00",
        end_reason="normal",
        total_seconds=2.0,
        latencies_ns=[int(ms * 1e6) for ms in latencies_ms],
        statuses=Counter(statuses),
        errors=Counter(
            {"rpc error: code = NotFound desc = x": statuses.get("NotFound", 0)} if "NotFound" in statuses else {}
        ),
        options={},
    )


def test_report_figures() -> None:
    report = make_report([float(ms) for ms in range(1, 101)], {"OK": 90, "NotFound": 10})
    assert report.count == 100 and report.ok == 90
    assert report.rps == pytest.approx(50.0)
    assert report.percentile_ns(50) == 50_000_000
    assert report.percentile_ns(99) == 99_000_000
    histogram = report.histogram()
    assert len(histogram) == ghz_runner.HISTOGRAM_BUCKETS + 1
    assert sum(n for _, n in histogram) == 100
    assert histogram[0][0] == 1_000_000 and histogram[-1][0] == 100_000_000
    as_json = report.to_json()
    assert as_json["count"] == 100 and as_json["statusCodeDistribution"] == {"OK": 90, "NotFound": 10}
    assert [d["percentage"] for d in as_json["latencyDistribution"]] == [10, 25, 50, 75, 90, 95, 99]
    assert as_json["fastest"] == 1_000_000 and as_json["slowest"] == 100_000_000


def test_summary_has_ghzs_sections() -> None:
    text = ghz_runner.format_summary(make_report([1.0, 2.0, 3.0], {"OK": 2, "NotFound": 1}))
    for part in (
        "Summary:",
        "  Count:\t3",
        "  Total:\t2.00 s",
        "  Slowest:\t3.00 ms",
        "  Fastest:\t1.00 ms",
        "  Average:\t2.00 ms",
        "  Requests/sec:\t1.50",
        "Response time histogram:",
        "Latency distribution:",
        "  50 % in 2.00 ms",
        "Status code distribution:",
        "  [OK]\t2 responses",
        "  [NotFound]\t1 responses",
        "Error distribution:",
    ):
        assert part in text


def test_an_empty_report_still_prints() -> None:
    text = ghz_runner.format_summary(make_report([], {}))
    assert "Count:\t0" in text and "Requests/sec:\t0.00" in text


def test_durations_print_in_ghz_units() -> None:
    assert ghz_runner.format_duration(1.5e9) == "1.50 s"
    assert ghz_runner.format_duration(2.25e6) == "2.25 ms"
    assert ghz_runner.format_duration(750e3) == "750.00 μs"
    assert ghz_runner.format_duration(12) == "12 ns"
