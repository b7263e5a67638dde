"""The expiry sweeper: unsettled holds come back on their own, and the sweeper stops with the service."""

from __future__ import annotations

import threading
import time

from common.clients import channel
from common.ids import new_id
from layers.billing.v1 import billing_pb2 as pb
from layers.billing.v1.billing_pb2_grpc import BillingServiceStub
from tests.billing.conftest import StartBilling
from tests.billing.helpers import assert_invariants


def _sweepers_alive() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "billing-expiry-sweeper"]


def test_sweeper_expires_held_reservations(start_billing: StartBilling, org: str, db_url: str) -> None:
    running = start_billing(expiry_sweep_seconds=0.1)
    with channel(running.address) as ch:
        stub = BillingServiceStub(ch)
        stub.GrantCredits(pb.GrantCreditsRequest(organization_id=org, credits=300))
        short, long = new_id("res"), new_id("res")
        stub.Reserve(pb.ReserveRequest(reservation_id=short, organization_id=org, amount=120, ttl_seconds=1))
        stub.Reserve(pb.ReserveRequest(reservation_id=long, organization_id=org, amount=100, ttl_seconds=600))
        assert stub.GetWallet(pb.GetWalletRequest(organization_id=org)).wallet.reserved_credits == 220

        # Only reads from here on: whatever changes is the sweeper's work.
        deadline = time.monotonic() + 5
        state = pb.RESERVATION_STATE_HELD
        while time.monotonic() < deadline:
            state = stub.GetReservation(pb.GetReservationRequest(reservation_id=short)).reservation.state
            if state != pb.RESERVATION_STATE_HELD:
                break
            time.sleep(0.05)
        assert state == pb.RESERVATION_STATE_EXPIRED

        wallet = stub.GetWallet(pb.GetWalletRequest(organization_id=org)).wallet
        assert wallet == pb.Wallet(organization_id=org, balance=300, reserved_credits=100, available=200)
        held = stub.GetReservation(pb.GetReservationRequest(reservation_id=long)).reservation
        assert held.state == pb.RESERVATION_STATE_HELD
        assert_invariants(stub, db_url)


def test_sweeper_stops_promptly_with_the_service(start_billing: StartBilling) -> None:
    # A long interval: stopping must interrupt the wait, not sit it out.
    before = set(_sweepers_alive())
    running = start_billing(expiry_sweep_seconds=60)
    ours = set(_sweepers_alive()) - before
    assert len(ours) == 1
    began = time.monotonic()
    running.stop(grace_seconds=1)
    assert time.monotonic() - began < 3
    assert not any(thread.is_alive() for thread in ours)
