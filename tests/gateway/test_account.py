"""GET /v1/credits and GET /v1/whoami."""

from __future__ import annotations

from collections.abc import Callable

import grpc
import httpx

from common.errors import ServiceError
from tests.gateway.conftest import LiveGateway
from tests.gateway.fakes import ALL, ORG, READ_ONLY, FakeBilling
from tests.gateway.helpers import bearer, error_of


def test_credits(http: httpx.Client, fake_billing: FakeBilling) -> None:
    response = http.get("/v1/credits", headers=bearer(READ_ONLY))
    assert response.status_code == 200
    assert response.json() == {
        "organizationId": ORG,
        "balance": 1000,
        "available": 760,
        "reservedCredits": 240,
        "estimatedCreditsPerFormat": {"ugc_remix": 120},
    }
    (sent,) = fake_billing.requests("GetWallet")
    assert sent.organization_id == ORG


def test_credits_per_format_follows_settings(start_gateway: Callable[..., LiveGateway]) -> None:
    live = start_gateway(ugc_remix_credits=75)
    body = httpx.get(live.base_url + "/v1/credits", headers=bearer(ALL)).json()
    assert body["estimatedCreditsPerFormat"] == {"ugc_remix": 75}


def test_org_without_wallet_has_zero_credits(http: httpx.Client, fake_billing: FakeBilling) -> None:
    fake_billing.wallets.clear()
    assert http.get("/v1/credits", headers=bearer(ALL)).json()["balance"] == 0
    assert http.get("/v1/whoami", headers=bearer(ALL)).json()["creditBalance"] == 0


def test_billing_down_is_503(http: httpx.Client, fake_billing: FakeBilling) -> None:
    fake_billing.fail("GetWallet", ServiceError(grpc.StatusCode.UNAVAILABLE, "UNAVAILABLE", "db down"))
    error_of(http.get("/v1/credits", headers=bearer(ALL)), 503, "UNAVAILABLE")


def test_whoami(http: httpx.Client) -> None:
    assert http.get("/v1/whoami", headers=bearer(ALL)).json() == {
        "organizationId": ORG,
        "keyId": "keyall",
        "scopes": ["*"],
        "creditBalance": 1000,
    }
