"""GET /v1/credits and GET /v1/whoami."""

from __future__ import annotations

import time
from collections.abc import Callable

import grpc
import httpx

from common import broadcasts
from common.errors import ServiceError
from layers.billing.v1 import billing_pb2
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


def test_whoami_balance_is_kept_until_billing_says_it_changed(http: httpx.Client, fake_billing: FakeBilling) -> None:
    assert [http.get("/v1/whoami", headers=bearer(ALL)).json()["creditBalance"] for _ in range(3)] == [1000] * 3
    assert len(fake_billing.requests("GetWallet")) == 1  # billing asked once, then remembered
    fake_billing.wallets[ORG] = billing_pb2.Wallet(organization_id=ORG, balance=880, reserved_credits=0, available=880)
    assert http.get("/v1/whoami", headers=bearer(ALL)).json()["creditBalance"] == 1000  # not told yet
    broadcasts.LOCAL.publish(broadcasts.BALANCE_CHANGED, "org_someone_else")
    assert http.get("/v1/whoami", headers=bearer(ALL)).json()["creditBalance"] == 1000
    broadcasts.LOCAL.publish(broadcasts.BALANCE_CHANGED, ORG)  # what billing says after a grant or capture
    assert http.get("/v1/whoami", headers=bearer(ALL)).json()["creditBalance"] == 880
    # /v1/credits is never answered from memory: what is held moves with every start.
    assert http.get("/v1/credits", headers=bearer(ALL)).json()["balance"] == 880
    assert len(fake_billing.requests("GetWallet")) == 3


def test_whoami_balance_expires_and_zero_asks_every_time(
    start_gateway: Callable[..., LiveGateway], fake_billing: FakeBilling
) -> None:
    brief = start_gateway(balance_cache_seconds=0.3)
    assert httpx.get(brief.base_url + "/v1/whoami", headers=bearer(ALL)).json()["creditBalance"] == 1000
    fake_billing.wallets[ORG] = billing_pb2.Wallet(organization_id=ORG, balance=5, reserved_credits=0, available=5)
    time.sleep(0.4)  # the broadcast was lost: the TTL still bounds how long the old balance is shown
    assert httpx.get(brief.base_url + "/v1/whoami", headers=bearer(ALL)).json()["creditBalance"] == 5
    asking = start_gateway(balance_cache_seconds=0)
    before = len(fake_billing.requests("GetWallet"))
    for _ in range(3):
        httpx.get(asking.base_url + "/v1/whoami", headers=bearer(ALL))
    assert len(fake_billing.requests("GetWallet")) == before + 3
