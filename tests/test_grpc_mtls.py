"""Mutual TLS and the caller map on a real content server over loopback: certificates made by trustme,
one per identity. The handshake refuses callers without a certificate from the CA; the map refuses an
identity calling what it does not need; the map itself matches the compiled protos."""

from __future__ import annotations

import importlib
import pkgutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from pydantic import ValidationError

import layers
from cli.main import main as layers_main
from common.callers import CALLERS, EVERY_METHOD, may_call
from common.clients import channel
from common.errors import unpack
from common.grpc_server import READINESS_SERVICE, RunningService
from common.render_queue import InProcessQueue
from common.settings import Settings, describe_invalid
from common.tls import GrpcTls
from layers.content.v1 import content_pb2 as pb
from layers.content.v1.content_pb2_grpc import PartnerServiceStub, TenancyAdminServiceStub
from services.content import server as content_server
from tests.support.certs import Certificates
from tests.support.deployment import ROOT
from tests.support.processes import free_port

# The identities deploy/k8s runs (one Secret each): the callers of common.callers and the four servers.
K8S_IDENTITIES = ["gateway", "renderer", "admin", "content", "media", "billing", "webhooks"]


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return Certificates(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def content(certs: Certificates, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    own = certs.issue("content")
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("content"),
        grpc_tls_cert=own.cert,
        grpc_tls_key=own.key,
        grpc_tls_ca=own.ca,
    )
    running = content_server.start(settings, "127.0.0.1:0", publisher=InProcessQueue())
    try:
        yield running
    finally:
        running.stop(grace_seconds=1)


def call_as(certs: Certificates, name: str, address: str) -> grpc.Channel:
    return channel(address, timeout_seconds=5, tls=certs.issue(name).tls)


def test_the_right_caller_gets_through(certs: Certificates, content: RunningService) -> None:
    with call_as(certs, "admin", content.address) as ch:
        org = TenancyAdminServiceStub(ch).CreateOrganization(pb.CreateOrganizationRequest(name="Acme")).organization
    assert org.organization_id
    with call_as(certs, "gateway", content.address) as ch, pytest.raises(grpc.RpcError) as refused:
        PartnerServiceStub(ch).GetProject(pb.GetProjectRequest(organization_id=org.organization_id, project_id="x"))
    assert refused.value.code() == grpc.StatusCode.NOT_FOUND  # type: ignore[attr-defined]  # past the map


def test_a_renderer_may_not_create_a_ugc_remix(certs: Certificates, content: RunningService) -> None:
    with call_as(certs, "renderer", content.address) as ch, pytest.raises(grpc.RpcError) as refused:
        PartnerServiceStub(ch).CreateUgcRemix(pb.CreateUgcRemixRequest())
    error = unpack(refused.value)
    assert (error.code, error.reason) == (grpc.StatusCode.PERMISSION_DENIED, "PERMISSION_DENIED")
    assert "'renderer' may not call /layers.content.v1.PartnerService/CreateUgcRemix" in error.message


def test_an_identity_outside_the_map_may_call_nothing_but_health(certs: Certificates, content: RunningService) -> None:
    with call_as(certs, "media", content.address) as ch:
        with pytest.raises(grpc.RpcError) as refused:
            TenancyAdminServiceStub(ch).CreateOrganization(pb.CreateOrganizationRequest(name="Nope"))
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED  # type: ignore[attr-defined]
        answer = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest())
    assert answer.status == health_pb2.HealthCheckResponse.SERVING


def test_the_health_port_answers_probes_in_plaintext_and_serves_nothing_else(
    certs: Certificates, tmp_path: Path
) -> None:
    own, health_port = certs.issue("content"), free_port()
    settings = Settings(
        data_dir=tmp_path,
        grpc_tls_cert=own.cert,
        grpc_tls_key=own.key,
        grpc_tls_ca=own.ca,
        grpc_health_port=health_port,
    )
    running = content_server.start(settings, "127.0.0.1:0", publisher=InProcessQueue())
    address = f"127.0.0.1:{health_port}"
    try:
        # What a kubelet's gRPC probe asks, without a certificate: liveness, then readiness by name.
        assert layers_main(["health", "--plaintext", address]) == 0
        assert layers_main(["health", "--plaintext", "--service", READINESS_SERVICE, address]) == 0
        with channel(address, timeout_seconds=5) as ch, pytest.raises(grpc.RpcError) as refused:
            TenancyAdminServiceStub(ch).CreateOrganization(pb.CreateOrganizationRequest(name="Probe"))
        assert refused.value.code() == grpc.StatusCode.UNIMPLEMENTED  # type: ignore[attr-defined]
        _refused_at_handshake(channel(running.address, timeout_seconds=5))  # the service port stays mTLS only
        running.drain()  # one set of statuses: the plaintext port reports the drain too
        assert layers_main(["health", "--plaintext", "--service", READINESS_SERVICE, address]) == 1
    finally:
        running.stop(grace_seconds=1)
    _refused_at_handshake(channel(address, timeout_seconds=2))  # and stops with the server


def test_a_health_port_already_taken_stops_the_start_and_gives_the_service_port_back(tmp_path: Path) -> None:
    taken, service_port = socket.socket(), free_port()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        settings = Settings(data_dir=tmp_path, grpc_health_port=taken.getsockname()[1])
        with pytest.raises(RuntimeError, match="could not bind the gRPC health port"):
            content_server.start(settings, f"127.0.0.1:{service_port}", publisher=InProcessQueue())
    finally:
        taken.close()
    with socket.socket() as again:
        again.bind(("127.0.0.1", service_port))  # free: the failed start held on to nothing


def test_the_health_port_may_not_be_another_port_of_the_process() -> None:
    with pytest.raises(ValidationError) as clash:
        Settings(grpc_health_port=9100, metrics_port=9100)
    assert describe_invalid(clash.value) == "LAYERS_GRPC_HEALTH_PORT (9100) is the port of LAYERS_METRICS_PORT"


def _refused_at_handshake(ch: grpc.Channel) -> None:
    with ch, pytest.raises(grpc.RpcError) as refused:
        health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE  # type: ignore[attr-defined]


def test_no_client_certificate_is_refused(certs: Certificates, content: RunningService) -> None:
    server_checked_only = grpc.ssl_channel_credentials(root_certificates=certs.ca_file.read_bytes())
    _refused_at_handshake(grpc.secure_channel(content.address, server_checked_only))


def test_plain_grpc_is_refused(content: RunningService) -> None:
    _refused_at_handshake(channel(content.address, timeout_seconds=5))


def test_a_certificate_from_another_ca_is_refused(certs: Certificates, content: RunningService, tmp_path: Path) -> None:
    stranger = Certificates(tmp_path).issue("admin").tls
    # It trusts the right CA, so only the server's check of the client's certificate can refuse it.
    trusting = GrpcTls(stranger.cert_chain, stranger.private_key, certs.ca_file.read_bytes())
    _refused_at_handshake(channel(content.address, timeout_seconds=5, tls=trusting))


def test_a_server_certificate_from_another_ca_is_refused(content: RunningService, tmp_path: Path) -> None:
    # A caller whose CA did not sign the server's certificate will not talk to it.
    _refused_at_handshake(channel(content.address, timeout_seconds=5, tls=Certificates(tmp_path).issue("admin").tls))


def test_the_tls_variables_go_together(certs: Certificates) -> None:
    own = certs.issue("admin")
    with pytest.raises(ValidationError) as invalid:
        Settings(grpc_tls_cert=own.cert, grpc_tls_ca=own.ca)
    assert describe_invalid(invalid.value) == (
        "LAYERS_GRPC_TLS_CERT, LAYERS_GRPC_TLS_KEY and LAYERS_GRPC_TLS_CA go together: LAYERS_GRPC_TLS_KEY not set"
    )
    with pytest.raises(ValidationError) as missing:
        Settings(grpc_tls_cert=Path("/nonexistent.pem"), grpc_tls_key=own.key, grpc_tls_ca=own.ca)
    assert describe_invalid(missing.value).startswith("LAYERS_GRPC_TLS_CERT: ")


def test_a_partial_set_stops_a_command_with_one_line(
    monkeypatch: pytest.MonkeyPatch, certs: Certificates, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LAYERS_GRPC_TLS_CERT", str(certs.issue("admin").cert))
    assert layers_main(["health", "127.0.0.1:1"]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        "layers: LAYERS_GRPC_TLS_CERT, LAYERS_GRPC_TLS_KEY and LAYERS_GRPC_TLS_CA go together: "
        "LAYERS_GRPC_TLS_KEY, LAYERS_GRPC_TLS_CA not set"
    )


def _served_services() -> dict[str, set[str]]:
    """Every service the protos define, with its methods."""
    services: dict[str, set[str]] = {}
    for module in pkgutil.walk_packages(layers.__path__, "layers."):
        if module.name.endswith("_pb2"):
            for service in importlib.import_module(module.name).DESCRIPTOR.services_by_name.values():
                services[service.full_name] = {m.name for m in service.methods}
    return services


def test_the_caller_map_matches_the_protos() -> None:
    served = _served_services()
    assert {"layers.content.v1.PartnerService", "layers.media.v1.MediaService"} <= set(served)
    for identity, grants in CALLERS.items():
        for service, allowed in grants.items():
            assert service in served, f"{identity}: no service {service}"
            unknown = set() if allowed == EVERY_METHOD else set(allowed) - served[service]
            assert not unknown, f"{identity}: {unknown} not in {service}"
    for service, methods in served.items():
        assert any(may_call(identity, f"/{service}/{m}") for identity in CALLERS for m in methods), service


def test_least_privilege_in_the_map() -> None:
    assert may_call("gateway", "/layers.content.v1.PartnerService/CreateUgcRemix")
    assert may_call("renderer", "/layers.content.v1.RenderCallbackService/CompleteRender")
    assert may_call("renderer", "/layers.media.v1.MediaService/WriteBlob")
    assert not may_call("renderer", "/layers.content.v1.PartnerService/CreateUgcRemix")
    assert not may_call("gateway", "/layers.content.v1.TenancyAdminService/CreateApiKey")
    assert not may_call("gateway", "/layers.billing.v1.BillingService/GrantCredits")
    assert not may_call("content", "/layers.content.v1.PartnerService/GetJob")
    assert not may_call("", "/layers.media.v1.MediaService/ReadBlob")
    assert may_call("", "/grpc.health.v1.Health/Check")


def test_the_kubernetes_certificate_script_makes_working_identities(tmp_path: Path) -> None:
    """deploy/k8s/grpc-certs.sh: what its Secrets hold serves and calls as the caller map expects."""
    printed = subprocess.run(
        [str(ROOT / "deploy" / "k8s" / "grpc-certs.sh"), str(tmp_path / "certs")],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    assert [line.split()[6] for line in printed] == [f"layers-grpc-tls-{name}" for name in K8S_IDENTITIES]

    def identity(name: str) -> GrpcTls:
        folder = tmp_path / "certs" / name
        return GrpcTls.from_settings(
            Settings(grpc_tls_cert=folder / "tls.crt", grpc_tls_key=folder / "tls.key", grpc_tls_ca=folder / "ca.crt")
        )  # type: ignore[return-value]

    own = tmp_path / "certs" / "content"
    settings = Settings(
        data_dir=tmp_path / "data",
        grpc_tls_cert=own / "tls.crt",
        grpc_tls_key=own / "tls.key",
        grpc_tls_ca=own / "ca.crt",
    )
    running = content_server.start(settings, "127.0.0.1:0", publisher=InProcessQueue())
    address = f"localhost:{running.port}"  # a name the server's certificate carries
    try:
        with channel(address, timeout_seconds=5, tls=identity("admin")) as ch:
            assert (
                TenancyAdminServiceStub(ch).CreateOrganization(pb.CreateOrganizationRequest(name="Acme")).organization
            )
        with (
            channel(address, timeout_seconds=5, tls=identity("renderer")) as ch,
            pytest.raises(grpc.RpcError) as refused,
        ):
            PartnerServiceStub(ch).CreateUgcRemix(pb.CreateUgcRemixRequest())
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED  # type: ignore[attr-defined]
    finally:
        running.stop(grace_seconds=1)
