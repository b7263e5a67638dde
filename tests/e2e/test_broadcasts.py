"""What the services change reaches every gateway: a revoked API key is refused, and a polled job and
/v1/whoami's balance show the change, within a second through the Redis broadcast, and within the cache TTL
when the broadcast never arrives. The gateways run as their own processes (`python -m gateway`), so nothing
reaches them but Redis and gRPC."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from layers.billing.v1 import billing_pb2
from layers.content.v1 import content_pb2
from tests.conftest import REDIS_URL, require_server
from tests.e2e.stack import Stack, running_stack

ROOT = Path(__file__).resolve().parents[2]
CACHE_SECONDS = 3.0


@pytest.fixture(scope="module")
def broadcasting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    require_server("Redis", "127.0.0.1", 6379)
    with running_stack(tmp_path_factory.mktemp("revocation"), redis_url=REDIS_URL) as stack:
        yield stack


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def gateway_process(stack: Stack, tmp_path: Path, redis_url: str | None) -> Iterator[str]:
    port = _free_port()
    env = {
        **os.environ,
        "LAYERS_HTTP_PORT": str(port),
        "LAYERS_HTTP_WORKERS": "1",
        "LAYERS_CONTENT_ADDR": stack.settings.content_addr,
        "LAYERS_MEDIA_ADDR": stack.settings.media_addr,
        "LAYERS_BILLING_ADDR": stack.settings.billing_addr,
        "LAYERS_DATA_DIR": str(tmp_path),
        "LAYERS_SIGNING_SECRET": "test-signing-secret",
        "LAYERS_AUTH_CACHE_SECONDS": str(CACHE_SECONDS),
        "LAYERS_BALANCE_CACHE_SECONDS": str(CACHE_SECONDS),
        "LAYERS_JOB_CACHE_SECONDS": str(CACHE_SECONDS),
    }
    env.pop("LAYERS_REDIS_URL", None)
    if redis_url:
        env["LAYERS_REDIS_URL"] = redis_url
    log = (tmp_path / f"gateway-{port}.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "gateway"], cwd=ROOT, env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None, (tmp_path / f"gateway-{port}.log").read_text()
                assert time.monotonic() < deadline, "gateway did not come up"
                time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


def seconds_until_each(bases: Sequence[str], shows_it: Callable[[str], bool]) -> dict[str, float]:
    """How long after now each gateway took to show the change; fails when one does not within the TTL."""
    since = time.monotonic()
    seen: dict[str, float] = {}
    while len(seen) < len(bases) and time.monotonic() - since < CACHE_SECONDS:
        for base in bases:
            if base not in seen and shows_it(base):
                seen[base] = time.monotonic() - since
        time.sleep(0.02)
    assert set(seen) == set(bases), seen
    return seen


def whoami(base: str, api_key: str) -> int:
    return httpx.get(f"{base}/v1/whoami", headers={"Authorization": f"Bearer {api_key}"}, timeout=5).status_code


def balance(base: str, api_key: str) -> int:
    response = httpx.get(f"{base}/v1/whoami", headers={"Authorization": f"Bearer {api_key}"}, timeout=5)
    assert response.status_code == 200, response.text
    return int(response.json()["creditBalance"])


def grant(stack: Stack, organization_id: str, credits: int) -> None:
    stack.stubs.billing.GrantCredits(billing_pb2.GrantCreditsRequest(organization_id=organization_id, credits=credits))


def revoke(stack: Stack, api_key: str) -> None:
    key_id = api_key.split("_")[2]
    stack.stubs.admin.RevokeApiKey(content_pb2.RevokeApiKeyRequest(key_id=key_id))


def test_every_gateway_refuses_a_revoked_key_within_a_second(broadcasting: Stack, tmp_path: Path) -> None:
    tenant = broadcasting.tenant()
    key = tenant["apiKey"]
    with (
        gateway_process(broadcasting, tmp_path, REDIS_URL) as one,
        gateway_process(broadcasting, tmp_path, REDIS_URL) as two,
    ):
        assert [whoami(base, key) for base in (one, two, one, two)] == [200] * 4  # both now trust it from cache
        time.sleep(0.3)  # time for both subscriptions to be confirmed (they start with each gateway)
        revoke(broadcasting, key)
        refused = seconds_until_each((one, two), lambda base: whoami(base, key) == 401)
    assert max(refused.values()) < 1.0, refused


def test_without_the_broadcast_the_cache_ttl_still_bounds_trust(broadcasting: Stack, tmp_path: Path) -> None:
    tenant = broadcasting.tenant()
    key = tenant["apiKey"]
    with gateway_process(broadcasting, tmp_path, redis_url=None) as deaf:  # hears no revocation at all
        assert whoami(deaf, key) == 200
        cached_at = time.monotonic()
        revoke(broadcasting, key)
        assert whoami(deaf, key) == 200  # still trusted from its cache: the broadcast did not reach it
        while whoami(deaf, key) == 200:
            assert time.monotonic() - cached_at < CACHE_SECONDS + 1.0, "trusted past the cache TTL"
            time.sleep(0.05)
        assert time.monotonic() - cached_at >= CACHE_SECONDS - 0.2
    # A gateway in content's own process (the embedded default) hears it through the local bus at once.
    other = broadcasting.tenant()
    with broadcasting.http(other["apiKey"]) as client:
        assert client.get("/v1/whoami").status_code == 200
        revoke(broadcasting, other["apiKey"])
        assert client.get("/v1/whoami").status_code == 401


def test_every_gateway_shows_a_new_balance_within_a_second(broadcasting: Stack, tmp_path: Path) -> None:
    tenant = broadcasting.tenant(credits=500)
    key = tenant["apiKey"]
    with (
        gateway_process(broadcasting, tmp_path, REDIS_URL) as one,
        gateway_process(broadcasting, tmp_path, REDIS_URL) as two,
    ):
        assert [balance(base, key) for base in (one, two, one, two)] == [500] * 4  # both now remember it
        time.sleep(0.3)
        grant(broadcasting, tenant["organizationId"], 250)
        seen = seconds_until_each((one, two), lambda base: balance(base, key) == 750)
    assert max(seen.values()) < 1.0, seen


def test_without_the_broadcast_the_cache_ttl_still_bounds_an_old_balance(broadcasting: Stack, tmp_path: Path) -> None:
    tenant = broadcasting.tenant(credits=500)
    key = tenant["apiKey"]
    with gateway_process(broadcasting, tmp_path, redis_url=None) as deaf:
        assert balance(deaf, key) == 500
        cached_at = time.monotonic()
        grant(broadcasting, tenant["organizationId"], 250)
        assert balance(deaf, key) == 500  # remembered: the broadcast did not reach it
        while balance(deaf, key) == 500:
            assert time.monotonic() - cached_at < CACHE_SECONDS + 1.0, "an old balance shown past the cache TTL"
            time.sleep(0.05)
        assert time.monotonic() - cached_at >= CACHE_SECONDS - 0.2
        assert balance(deaf, key) == 750
    # A gateway in billing's own process (the embedded default) hears it through the local bus at once.
    with broadcasting.http(key) as client:
        assert client.get("/v1/whoami").json()["creditBalance"] == 750
        grant(broadcasting, tenant["organizationId"], 1)
        assert client.get("/v1/whoami").json()["creditBalance"] == 751


def test_every_gateway_shows_a_job_change_within_a_second(broadcasting: Stack, tmp_path: Path) -> None:
    tenant = broadcasting.tenant(credits=500)
    key = tenant["apiKey"]
    with broadcasting.http(key) as client:
        started = client.post(
            f"/v1/projects/{tenant['projectId']}/content/ugc-remix", json={"influencerId": tenant["influencerId"]}
        )
    assert started.status_code == 202, started.text
    job_id = started.json()["jobId"]

    def status(base: str) -> str:
        response = httpx.get(f"{base}/v1/jobs/{job_id}", headers={"Authorization": f"Bearer {key}"}, timeout=5)
        assert response.status_code == 200, response.text
        return str(response.json()["status"])

    with (
        gateway_process(broadcasting, tmp_path, REDIS_URL) as one,
        gateway_process(broadcasting, tmp_path, REDIS_URL) as two,
    ):
        assert [status(base) for base in (one, two, one, two)] == ["running"] * 4  # both now remember it
        time.sleep(0.3)
        # Straight to content, as a renderer's callback would come: neither gateway sees the call.
        broadcasting.stubs.partner.CancelJob(
            content_pb2.CancelJobRequest(organization_id=tenant["organizationId"], job_id=job_id)
        )
        seen = seconds_until_each((one, two), lambda base: status(base) == "canceled")
    assert max(seen.values()) < 1.0, seen
