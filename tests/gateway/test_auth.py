"""API keys and scopes: 401 before content is asked, 403 naming the scope, "*" grants all."""

from __future__ import annotations

import time
from collections.abc import Callable

import grpc
import httpx
import pytest

from common.errors import ServiceError
from tests.gateway.conftest import LiveGateway
from tests.gateway.fakes import ALL, NO_SCOPES, ORG, READ_ONLY, WRITE_ONLY, FakeContent
from tests.gateway.helpers import UGC_REMIX, bearer, error_of


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Basic dXNlcjpwYXNz",
        "Token lp_live_keyall_s3cretALL",
        "Bearer sk_live_abc_def",
        "Bearer lp_prod_keyall_s3cretALL",
        "Bearer lp_live_nosecret",
        "Bearer lp_live__s3cret",
        "Bearer lp_live_key_",
        "Bearer lp_live_key_sec ret",
        "Bearer lp_live_key_" + "s" * 600,
    ],
)
def test_missing_or_malformed_key_is_401_without_asking_content(
    http: httpx.Client, fake_content: FakeContent, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = http.post(UGC_REMIX, json={"influencerId": "inf_1"}, headers=headers)
    error_of(response, 401, "UNAUTHENTICATED")
    assert response.headers["www-authenticate"] == "Bearer"
    assert fake_content.calls == []


def test_unknown_or_revoked_key_is_401_from_content(http: httpx.Client, fake_content: FakeContent) -> None:
    response = http.get("/v1/whoami", headers=bearer("lp_live_revoked_s3cret"))
    error = error_of(response, 401, "UNAUTHENTICATED")
    assert error["message"] == "Unknown or revoked API key."
    assert [r.api_key for r in fake_content.requests("AuthenticateApiKey")] == ["lp_live_revoked_s3cret"]


def test_bearer_scheme_is_case_insensitive(http: httpx.Client) -> None:
    response = http.get("/v1/whoami", headers={"Authorization": f"bearer {ALL}"})
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "key", "scope"),
    [
        ("POST", UGC_REMIX, READ_ONLY, "content:write"),
        ("GET", "/v1/jobs/job_x", WRITE_ONLY, "jobs:read"),
        ("GET", "/v1/content/cnt_x", WRITE_ONLY, "content:read"),
        ("GET", "/v1/credits", WRITE_ONLY, "credits:read"),
    ],
)
def test_missing_scope_is_403_naming_it(
    http: httpx.Client, fake_content: FakeContent, method: str, path: str, key: str, scope: str
) -> None:
    response = http.request(method, path, json={"influencerId": "inf_1"}, headers=bearer(key))
    error = error_of(response, 403, "FORBIDDEN_SCOPE")
    assert error["details"] == {"requiredScope": scope}
    # Only the key was looked up: nothing about the resource leaked or ran.
    assert [m for m, _ in fake_content.calls] == ["AuthenticateApiKey"]


def test_scope_is_checked_before_the_project(http: httpx.Client) -> None:
    response = http.post("/v1/projects/not-a-uuid/content/ugc-remix", json={}, headers=bearer(READ_ONLY))
    error_of(response, 403, "FORBIDDEN_SCOPE")


def test_star_grants_every_scope(http: httpx.Client) -> None:
    assert http.get("/v1/credits", headers=bearer(ALL)).status_code == 200
    assert http.post(UGC_REMIX, json={"influencerId": "inf_1"}, headers=bearer(ALL)).status_code == 202


def test_whoami_needs_only_a_valid_key(http: httpx.Client) -> None:
    response = http.get("/v1/whoami", headers=bearer(NO_SCOPES))
    assert response.status_code == 200
    assert response.json() == {
        "organizationId": ORG,
        "keyId": "keynone",
        "scopes": [],
        "creditBalance": 1000,
    }


def test_a_verified_key_is_asked_of_content_once_while_cached(http: httpx.Client, fake_content: FakeContent) -> None:
    for _ in range(5):
        assert http.get("/v1/whoami", headers=bearer(ALL)).status_code == 200
    assert len(fake_content.requests("AuthenticateApiKey")) == 1


def test_a_refusal_is_remembered_briefly_then_asked_again(
    start_gateway: Callable[..., LiveGateway], fake_content: FakeContent
) -> None:
    gateway = start_gateway(auth_refusal_cache_seconds=0.5)
    with httpx.Client(base_url=gateway.base_url, timeout=5) as client:
        for _ in range(3):
            error_of(client.get("/v1/whoami", headers=bearer("lp_live_revoked_s3cret")), 401, "UNAUTHENTICATED")
        assert len(fake_content.requests("AuthenticateApiKey")) == 1
        time.sleep(0.6)
        error_of(client.get("/v1/whoami", headers=bearer("lp_live_revoked_s3cret")), 401, "UNAUTHENTICATED")
    assert len(fake_content.requests("AuthenticateApiKey")) == 2


def test_an_outage_is_never_cached(http: httpx.Client, fake_content: FakeContent) -> None:
    fake_content.fail("AuthenticateApiKey", ServiceError(grpc.StatusCode.UNAVAILABLE, "UNAVAILABLE", "down"))
    error_of(http.get("/v1/whoami", headers=bearer(ALL)), 503, "UNAVAILABLE")
    fake_content.errors.clear()
    assert http.get("/v1/whoami", headers=bearer(ALL)).status_code == 200


def test_rate_limits_in_memory_without_redis(start_gateway: Callable[..., LiveGateway]) -> None:
    if time.time() % 60 > 50:  # all four requests in one clock minute
        time.sleep(60 - time.time() % 60 + 0.1)
    gateway = start_gateway(rate_limit_reads_per_minute=3)
    with httpx.Client(base_url=gateway.base_url, timeout=5, headers=bearer(ALL)) as client:
        answers = [client.get("/v1/whoami") for _ in range(3)]
        assert [r.status_code for r in answers] == [200, 200, 200]
        assert [r.headers["X-RateLimit-Remaining"] for r in answers] == ["2", "1", "0"]
        refused = client.get("/v1/whoami")
    error = error_of(refused, 429, "RATE_LIMITED")
    assert 1 <= error["details"]["retryAfterSeconds"] <= 60
    assert refused.headers["Retry-After"] == str(error["details"]["retryAfterSeconds"])
    assert refused.headers["X-RateLimit-Limit"] == "3"
