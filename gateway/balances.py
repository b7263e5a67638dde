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


class Balances:
    def __init__(self, ttl_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl_seconds
        self._recent: RecentAnswers[str, int] = RecentAnswers(clock=clock)

    async def of(self, clients: Clients, organization_id: str) -> int:
        balance = self._recent.get(organization_id)
        if balance is None:
            started = self._recent.clock()
            balance = (await wallet_of(clients, organization_id)).balance
            self._recent.put(organization_id, balance, self.ttl, started)
        return balance

    def changed(self, organization_id: str) -> None:
        """The broadcast's listener: the organization's balance moved."""
        self._recent.forget_key(organization_id)

    def clear(self) -> None:
        self._recent.clear()
