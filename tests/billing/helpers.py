"""Assertions shared by the billing tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from common.db import make_engine
from common.errors import ServiceError, unpack
from layers.billing.v1 import billing_pb2, billing_pb2_grpc
from services.billing.models import LedgerEntry, Reservation, Wallet


def rpc_error(call: Callable[[Any], Any], request: Any) -> ServiceError:
    """Make a call that must fail and return its rich error."""
    try:
        call(request)
    except grpc.RpcError as exc:
        return unpack(exc)
    raise AssertionError(f"{request!r} succeeded but should have failed")


def assert_invariants(stub: billing_pb2_grpc.BillingServiceStub, db_url: str) -> None:
    """Every wallet's balance is its ledger's sum and its reserved credits are its open holds' sum."""
    engine = make_engine(db_url)
    try:
        # Read everything in one short transaction: on SQLite it holds the database's write lock.
        with Session(engine) as session:
            wallets = session.scalars(select(Wallet)).all()
            ledger_sums = {
                org: int(total)
                for org, total in session.execute(
                    select(LedgerEntry.organization_id, func.sum(LedgerEntry.delta)).group_by(
                        LedgerEntry.organization_id
                    )
                )
            }
            held_sums = {
                org: int(total)
                for org, total in session.execute(
                    select(Reservation.organization_id, func.sum(Reservation.amount))
                    .where(Reservation.state == "HELD")
                    .group_by(Reservation.organization_id)
                )
            }
    finally:
        engine.dispose()
    assert wallets, "no wallet to check"
    for wallet in wallets:
        org = wallet.organization_id
        assert wallet.balance == ledger_sums.get(org, 0), org
        assert wallet.reserved_credits == held_sums.get(org, 0), org
        assert 0 <= wallet.reserved_credits <= wallet.balance, org

        # The same facts as a client sees them over gRPC.
        seen = stub.GetWallet(billing_pb2.GetWalletRequest(organization_id=org)).wallet
        entries = stub.ListLedgerEntries(billing_pb2.ListLedgerEntriesRequest(organization_id=org)).entries
        assert seen.balance == sum(e.delta for e in entries) == wallet.balance
        assert seen.reserved_credits == wallet.reserved_credits
        assert seen.available == max(0, seen.balance - seen.reserved_credits)
