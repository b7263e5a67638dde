"""Rate limits and the concurrent-job cap over real HTTP, with low configured limits: the X-RateLimit-*
headers, 429 RATE_LIMITED at the limit with a correct Retry-After, classes and keys counted apart, and one
budget shared by two gateway replicas through Redis."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from gateway.app import create_app
from layers.content.v1 import content_pb2
from tests.conftest import REDIS_URL, require_server
from tests.e2e.stack import Stack, running_stack
from tests.e2e.test_ugc_remix_http import assert_error
from tests.gateway.conftest import LiveGateway

READS, WRITES, GENERATIONS, RUNNING_CAP = 5, 3, 3, 2


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    require_server("Redis", "127.0.0.1", 6379)
    with running_stack(
        tmp_path_factory.mktemp("limited"),
        redis_url=REDIS_URL,
        rate_limit_reads_per_minute=READS,
        rate_limit_writes_per_minute=WRITES,
        rate_limit_generations_per_minute=GENERATIONS,
        max_concurrent_jobs_per_key=RUNNING_CAP,
    ) as stack:
        yield stack


@pytest.fixture(autouse=True)
def _not_near_a_window_edge() -> None:
    """Counters reset each minute: start early enough in one that a test's requests all fall inside it."""
    into = time.time() % 60
    if into > 45:
        time.sleep(60 - into + 0.2)


def limits_of(response: httpx.Response) -> tuple[int, int, int]:
    headers = response.headers
    return int(headers["X-RateLimit-Limit"]), int(headers["X-RateLimit-Remaining"]), int(headers["X-RateLimit-Reset"])


def new_key(stack: Stack, tenant: dict[str, Any]) -> str:
    request = content_pb2.CreateApiKeyRequest(organization_id=tenant["organizationId"], scopes=["*"])
    return str(stack.stubs.admin.CreateApiKey(request).api_key)


def test_reads_are_limited_per_key_with_headers_and_retry_after(limited: Stack) -> None:
    tenant = limited.tenant()
    with limited.http(tenant["apiKey"]) as client:
        answers = [client.get("/v1/credits") for _ in range(READS)]
        assert [r.status_code for r in answers] == [200] * READS
        assert [limits_of(r)[:2] for r in answers] == [(READS, READS - 1 - i) for i in range(READS)]
        reset = limits_of(answers[0])[2]
        assert reset % 60 == 0 and 0 < reset - time.time() <= 60

        refused = client.get("/v1/credits")
        asked_at = time.time()
        error = assert_error(refused, 429, "RATE_LIMITED")
        retry_after = int(refused.headers["Retry-After"])
        assert error["details"] == {"retryAfterSeconds": retry_after}
        assert abs((reset - asked_at) - retry_after) <= 1.5
        assert limits_of(refused) == (READS, 0, reset)
        # Errors count and carry the headers too; writes have a budget of their own.
        write = client.post(f"/v1/projects/{tenant['projectId']}/app-media", json={"kind": "logo"})
        assert_error(write, 422, "VALIDATION")
        assert limits_of(write)[:2] == (WRITES, WRITES - 1)
    # Another key of the same organization has its own budget; an unknown key gets no headers at all.
    with limited.http(new_key(limited, tenant)) as client:
        assert limits_of(client.get("/v1/whoami"))[:2] == (READS, READS - 1)
    with limited.http("lp_live_01M8KJM77YQN3W8SWKQEXF159V_" + "0" * 48) as client:
        unknown = client.get("/v1/whoami")
    assert unknown.status_code == 401 and "X-RateLimit-Limit" not in unknown.headers


def test_generation_starts_hit_the_running_job_cap_then_the_rate_limit(limited: Stack) -> None:
    tenant = limited.tenant()
    path = f"/v1/projects/{tenant['projectId']}/content/ugc-remix"
    body = {"influencerId": tenant["influencerId"]}
    with limited.http(tenant["apiKey"]) as client:
        started = [client.post(path, json=body) for _ in range(RUNNING_CAP)]
        assert [r.status_code for r in started] == [202] * RUNNING_CAP
        assert [limits_of(r)[:2] for r in started] == [(GENERATIONS, GENERATIONS - 1 - i) for i in range(RUNNING_CAP)]

        capped = client.post(path, json=body)
        error = assert_error(capped, 429, "RATE_LIMITED")
        assert error["details"] == {"retryAfterSeconds": 30, "reason": "CONCURRENT_JOBS"}
        assert capped.headers["Retry-After"] == "30"
        assert client.get("/v1/credits").json()["reservedCredits"] == 120 * RUNNING_CAP

        over = client.post(path, json=body)
        error = assert_error(over, 429, "RATE_LIMITED")
        assert "reason" not in error["details"] and 1 <= error["details"]["retryAfterSeconds"] <= 60


def test_two_gateways_share_one_budget(limited: Stack) -> None:
    second = LiveGateway(create_app(limited.settings)).start()
    try:
        tenant = limited.tenant()
        auth = {"Authorization": f"Bearer {tenant['apiKey']}"}
        with (
            httpx.Client(base_url=limited.base_url, headers=auth) as one,
            httpx.Client(base_url=second.base_url, headers=auth) as two,
        ):
            remaining = [limits_of(gateway.get("/v1/whoami"))[1] for gateway in (one, two, one, two, one)]
            assert remaining == [4, 3, 2, 1, 0]
            assert_error(two.get("/v1/whoami"), 429, "RATE_LIMITED")
    finally:
        second.stop()
