"""Organizations' credit balances as /v1/whoami shows them, remembered for `balance_cache_seconds`.

A balance moves only when credits are granted or a reservation is captured (a hold changes what is
available, which /v1/credits reports, not the balance). Billing broadcasts both (common.broadcasts), so the
gateway forgets the organization's entry as soon as it hears; the TTL bounds a missed broadcast.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import grpc

from common.clients import Clients
from common.recent import RecentAnswers
from layers.billing.v1 import billing_pb2


async def wallet_of(clients: Clients, organization_id: str) -> billing_pb2.Wallet:
    """The organization's wallet, from billing: an organization that never had one has no credits."""
    try:
        response = await clients.billing.GetWallet(billing_pb2.GetWalletRequest(organization_id=organization_id))
    except grpc.RpcError as exc:
        # An organization that never had a wallet has no credits; that is not a missing resource.
        if exc.code() == grpc.StatusCode.NOT_FOUND:  # type: ignore[attr-defined]
            return billing_pb2.Wallet(organization_id=organization_id)
        raise
    wallet: billing_pb2.Wallet = response.wallet
    return wallet


class Balances(RecentAnswers[str, int]):
    """By organization id; `forget_key` is the broadcast's listener."""

    def __init__(self, ttl_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(clock=clock)
        self.ttl = ttl_seconds

    async def of(self, clients: Clients, organization_id: str) -> int:
        balance = self.get(organization_id)
        if balance is None:
            started = self.clock()
            balance = (await wallet_of(clients, organization_id)).balance
            self.put(organization_id, balance, self.ttl, started)
        return balance
