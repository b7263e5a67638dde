"""The SSRF guard on webhook URLs, outside the embedded default: internal addresses are refused at
registration, and a host name that turns internal after registration (DNS rebinding) is refused at the
attempt, before any connection. The receiver listens on loopback, where every refused URL would land."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from common.errors import unpack
from layers.webhooks.v1 import webhooks_pb2 as pb
from tests.support.receiver import Receiver, receiver
from tests.webhooks.conftest import Service, webhooks_service
from tests.webhooks.helpers import eventually

PUBLIC = "93.184.216.34"


class SwitchableDns:
    """Answers for the names it knows as DNS would (one A record each), the real resolver for the rest."""

    def __init__(self) -> None:
        self.records: dict[str, str] = {}

    def __call__(self, host: str, port: int, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        if host in self.records:
            address = self.records[host]
            if ":" in address:
                return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0))]
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]
        return socket.getaddrinfo(host, port, *args, **kwargs)


@pytest.fixture
def dns() -> SwitchableDns:
    return SwitchableDns()


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with receiver() as running:
        yield running


@pytest.fixture
def service(tmp_path: Path, sqlite_url: str, dns: SwitchableDns) -> Iterator[Service]:
    with webhooks_service(tmp_path, sqlite_url, embedded=False, resolver=dns, webhook_retry_delays="0") as running:
        yield running


def _refusal(service: Service, url: str) -> str:
    with pytest.raises(grpc.RpcError) as caught:
        service.endpoint(url)
    error = unpack(caught.value)
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT and error.fields[0].field == "url"
    return error.reason


def test_internal_addresses_are_refused_at_registration(service: Service, hook: Receiver, dns: SwitchableDns) -> None:
    port = hook.port
    dns.records["internal.example"] = "10.1.2.3"
    dns.records["internal6.example"] = "64:ff9b::a9fe:a9fe"  # NAT64 of 169.254.169.254
    for url in (
        f"https://127.0.0.1:{port}/hooks",
        f"https://localhost:{port}/hooks",
        f"https://[::1]:{port}/hooks",
        "https://169.254.169.254/latest/meta-data/",
        "https://10.0.0.5/hooks",
        "https://172.16.3.4/hooks",
        "https://192.168.1.10/hooks",
        "https://[::ffff:127.0.0.1]/hooks",
        "https://[64:ff9b::7f00:1]/hooks",
        "https://[64:ff9b:1::a00:5]/hooks",
        "https://[2002:a9fe:a9fe::1]/hooks",
        "https://[::ffff:0:a00:5]/hooks",
        "https://[::127.0.0.1]/hooks",
        "https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/hooks",
        "https://internal.example/hooks",
        "https://internal6.example/hooks",
    ):
        assert _refusal(service, url) == "URL_FORBIDDEN", url
    # Plain http and the embedded default's local receivers are not accepted here either.
    assert _refusal(service, hook.url) == "URL_NOT_HTTPS"
    assert _refusal(service, f"http://localhost:{port}/hooks") == "URL_NOT_HTTPS"
    assert hook.requests == []


def test_a_name_that_turns_internal_after_registration_reaches_nothing(
    service: Service, hook: Receiver, dns: SwitchableDns
) -> None:
    dns.records["rebind.example"] = PUBLIC
    created = service.endpoint(f"https://rebind.example:{hook.port}/hooks")  # public now: accepted
    dns.records["rebind.example"] = "127.0.0.1"  # and now it points at us
    service.publish()
    delivery = eventually(
        lambda: (
            (rows := service.deliveries(created.endpoint.endpoint_id))
            and rows[0].status != pb.DELIVERY_STATUS_PENDING
            and rows[0]
        )
    )
    assert delivery and delivery.status == pb.DELIVERY_STATUS_ABANDONED
    assert delivery.last_error.startswith("refused: ") and "public internet" in delivery.last_error
    assert hook.requests == []


def test_https_goes_to_the_checked_address_with_the_certificate_checked(tmp_path: Path, sqlite_url: str) -> None:
    """Outside the embedded default, over TLS: the connection is pinned to the address the guard checked
    (an allowed test host here) and the certificate is verified against the URL's host name."""
    from tests.support.receiver import tls_context

    ca_file = tmp_path / "ca.pem"
    context = tls_context(ca_file)
    options = {"fetch_allowed_hosts": "localhost", "fetch_ca_file": ca_file, "webhook_retry_delays": "0"}
    with (
        receiver(tls=context) as hook,
        webhooks_service(tmp_path, sqlite_url, embedded=False, **options) as service,
    ):
        created = service.endpoint(hook.url)
        service.publish()
        [request] = hook.wait_for(1)
        assert request.headers["host"] == f"localhost:{hook.port}"
        delivery = eventually(
            lambda: (
                (rows := service.deliveries(created.endpoint.endpoint_id))
                and rows[0].status == pb.DELIVERY_STATUS_SUCCEEDED
                and rows[0]
            )
        )
        assert delivery
    # A CA the service does not trust: the attempt fails, nothing is accepted.
    with (
        receiver(tls=tls_context(tmp_path / "other.pem")) as untrusted,
        webhooks_service(
            tmp_path / "2", sqlite_url.replace("test.db", "test2.db"), embedded=False, **options
        ) as service,
    ):
        created = service.endpoint(untrusted.url)
        service.publish()
        delivery = eventually(
            lambda: (
                (rows := service.deliveries(created.endpoint.endpoint_id))
                and rows[0].status != pb.DELIVERY_STATUS_PENDING
                and rows[0]
            )
        )
        assert delivery.status == pb.DELIVERY_STATUS_ABANDONED and "connection failed" in delivery.last_error
