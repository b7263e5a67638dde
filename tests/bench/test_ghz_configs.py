"""bench/ghz/*.json are ghz configs whose calls exist in proto/ and whose data fits the request messages,
and whose placeholders are exactly the ones bench/request_path.py fills."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path
from typing import Any

import ghz_runner
import pytest
import request_path
from google.protobuf import json_format, message_factory
from google.protobuf.descriptor import MethodDescriptor
from grpc_health.v1 import health_pb2

ROOT = Path(__file__).resolve().parents[2]
GHZ = ROOT / "bench" / "ghz"
CONFIGS = sorted(GHZ.glob("*.json"))
EXPECTED = {
    "create_ugc_remix.json": "layers.content.v1.PartnerService.CreateUgcRemix",
    "get_job.json": "layers.content.v1.PartnerService.GetJob",
    "health_check.json": "grpc.health.v1.Health.Check",
}
# What request_path.py substitutes: one value for every placeholder the configs use.
TENANT = request_path.Tenant("org_1", "0f8fad5b-d9cb-469f-a165-70867728950e", "key_1", "lp_x", "inf_1", "job_1")


def proto_methods() -> set[str]:
    """ "package.Service.Method" of every rpc in proto/ (read from the .proto text)."""
    methods = set()
    for path in (ROOT / "proto").rglob("*.proto"):
        text = re.sub(r"//[^\n]*", "", path.read_text())
        package = re.search(r"^\s*package\s+([\w.]+)\s*;", text, re.M)
        assert package, f"{path} has no package"
        for service, body in re.findall(r"\bservice\s+(\w+)\s*\{(.*?)\n\}", text, re.S):
            for method in re.findall(r"\brpc\s+(\w+)\s*\(", body):
                methods.add(f"{package.group(1)}.{service}.{method}")
    return methods


def method_descriptor(full_name: str) -> MethodDescriptor:
    """The generated descriptor of a method: layers/<pkg>/v1/*_pb2 for ours, grpc_health for Health."""
    service_name, _, method = full_name.rpartition(".")
    package, _, service = service_name.rpartition(".")
    if package == "grpc.health.v1":
        module: Any = health_pb2
    else:
        short = package.split(".")[1]  # layers.content.v1 -> content
        module = importlib.import_module(f"layers.{short}.v1.{short}_pb2")
    services = module.DESCRIPTOR.services_by_name
    assert service in services, f"{service} is not generated in {module.__name__}: run scripts/gen_protos.py"
    descriptor: MethodDescriptor = services[service].methods_by_name[method]
    return descriptor


def test_every_config_is_here() -> None:
    assert sorted(p.name for p in CONFIGS) == sorted(EXPECTED)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_config_is_a_ghz_config(path: Path) -> None:
    raw = json.loads(path.read_text())
    assert "proto" not in raw and "protoset" not in raw, "the servers have reflection: ghz needs no .proto"
    assert raw["insecure"] is True
    assert raw["concurrency"] == 32
    assert "total" in raw or "duration" in raw
    assert isinstance(raw["data"], dict)
    config = ghz_runner.parse_config(raw, TENANT.variables())
    assert config.warnings == []
    assert config.method_name == EXPECTED[path.name]


def test_calls_exist_in_the_protos() -> None:
    methods = proto_methods()
    for name, call in EXPECTED.items():
        if call.startswith("grpc.health.v1."):
            continue  # not ours: checked against grpc_health's descriptors below
        assert call in methods, f"{name}: {call} is not an rpc in proto/"


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_data_fits_the_request_message(path: Path) -> None:
    config = ghz_runner.parse_config(json.loads(path.read_text()), TENANT.variables())
    method = method_descriptor(config.method_name)
    message_class = message_factory.GetMessageClass(method.input_type)
    info = ghz_runner.MethodInfo(config.method_name, method.input_type.name, method.output_type.name)
    factory = ghz_runner.RequestFactory(config, info, message_class)  # raises when a field is unknown
    body, _ = factory.build(0, "g0c0")
    request = message_class.FromString(body)
    assert json_format.MessageToDict(request, preserving_proto_field_name=True).keys() <= config.data[0].keys()


def test_placeholders_are_the_ones_request_path_fills() -> None:
    used: set[str] = set()
    for path in CONFIGS:
        used |= ghz_runner.placeholders_in(json.loads(path.read_text()))
    assert used == set(TENANT.variables())


def test_create_ugc_remix_sends_a_fresh_idempotency_key_per_call() -> None:
    path = GHZ / "create_ugc_remix.json"
    config = ghz_runner.parse_config(json.loads(path.read_text()), TENANT.variables())
    method = method_descriptor(config.method_name)
    message_class = message_factory.GetMessageClass(method.input_type)
    info = ghz_runner.MethodInfo(config.method_name, method.input_type.name, method.output_type.name)
    factory = ghz_runner.RequestFactory(config, info, message_class)
    requests: list[Any] = [message_class.FromString(factory.build(n, "g0c0")[0]) for n in range(500)]
    assert len({r.idempotency_key for r in requests}) == 500
    assert {r.organization_id for r in requests} == {"org_1"}
    assert {r.api_key_id for r in requests} == {"key_1"}
    assert all(r.idempotency_key and len(r.idempotency_key) <= 255 for r in requests)
