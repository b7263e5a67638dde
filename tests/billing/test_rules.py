"""Billing rules over a real gRPC channel, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import grpc
import pytest

from common import broadcasts
from common.clients import channel
from common.ids import new_id
from layers.billing.v1 import billing_pb2 as pb
from layers.billing.v1.billing_pb2_grpc import BillingServiceStub
from tests.billing.conftest import MovableClock, StartBilling
from tests.billing.helpers import assert_invariants, rpc_error

HELD = pb.RESERVATION_STATE_HELD
CAPTURED = pb.RESERVATION_STATE_CAPTURED
RELEASED = pb.RESERVATION_STATE_RELEASED
EXPIRED = pb.RESERVATION_STATE_EXPIRED


def grant(stub: BillingServiceStub, org: str, credits: int) -> pb.Wallet:
    return stub.GrantCredits(pb.GrantCreditsRequest(organization_id=org, credits=credits)).wallet


def reserve(
    stub: BillingServiceStub, org: str, amount: int, reservation_id: str | None = None, ttl: int = 0
) -> pb.ReserveResponse:
    return stub.Reserve(
        pb.ReserveRequest(
            reservation_id=reservation_id or new_id("res"),
            organization_id=org,
            amount=amount,
            ttl_seconds=ttl,
        )
    )


def wallet(stub: BillingServiceStub, org: str) -> pb.Wallet:
    return stub.GetWallet(pb.GetWalletRequest(organization_id=org)).wallet


def ledger(stub: BillingServiceStub, org: str) -> list[pb.LedgerEntry]:
    return list(stub.ListLedgerEntries(pb.ListLedgerEntriesRequest(organization_id=org)).entries)


def test_unknown_org_has_an_empty_wallet(stub: BillingServiceStub, org: str) -> None:
    assert wallet(stub, org) == pb.Wallet(organization_id=org, balance=0, reserved_credits=0, available=0)
    assert ledger(stub, org) == []


def test_create_wallet_twice_keeps_the_first(stub: BillingServiceStub, org: str) -> None:
    created = stub.CreateWallet(pb.CreateWalletRequest(organization_id=org)).wallet
    assert created == pb.Wallet(organization_id=org)
    grant(stub, org, 70)
    again = stub.CreateWallet(pb.CreateWalletRequest(organization_id=org)).wallet
    assert (again.balance, again.available) == (70, 70)


def test_grants_add_up_in_the_ledger(stub: BillingServiceStub, org: str, db_url: str) -> None:
    assert grant(stub, org, 100) == pb.Wallet(organization_id=org, balance=100, available=100)
    assert grant(stub, org, 50).balance == 150

    entries = ledger(stub, org)
    assert [(e.kind, e.delta, e.reservation_id) for e in entries] == [("grant", 100, ""), ("grant", 50, "")]
    assert all(e.entry_id.startswith("led_") and e.organization_id == org for e in entries)
    assert entries[0].created_at.ToDatetime(UTC) <= entries[1].created_at.ToDatetime(UTC)
    assert_invariants(stub, db_url)


@pytest.mark.parametrize("credits", [0, -5])
def test_grant_must_be_positive(stub: BillingServiceStub, org: str, credits: int) -> None:
    error = rpc_error(stub.GrantCredits, pb.GrantCreditsRequest(organization_id=org, credits=credits))
    assert (error.code, error.reason, [f.field for f in error.fields]) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "VALIDATION",
        ["credits"],
    )
    assert wallet(stub, org).balance == 0
    assert ledger(stub, org) == []


def test_reserve_then_capture(stub: BillingServiceStub, org: str, db_url: str) -> None:
    grant(stub, org, 500)
    before = datetime.now(UTC)
    held = reserve(stub, org, 120, "res_capture")
    assert held.reservation.reservation_id == "res_capture"
    assert (held.reservation.organization_id, held.reservation.amount) == (org, 120)
    assert held.reservation.state == HELD
    # ttl 0 means the configured default (two hours).
    expires = held.reservation.expires_at.ToDatetime(UTC)
    assert before + timedelta(hours=2) - timedelta(seconds=5) <= expires <= before + timedelta(hours=2, seconds=5)
    assert held.wallet == pb.Wallet(organization_id=org, balance=500, reserved_credits=120, available=380)
    assert wallet(stub, org) == held.wallet

    captured = stub.Capture(pb.CaptureRequest(reservation_id="res_capture")).reservation
    assert captured.state == CAPTURED
    assert captured.amount == 120
    assert wallet(stub, org) == pb.Wallet(organization_id=org, balance=380, reserved_credits=0, available=380)
    capture_entries = [e for e in ledger(stub, org) if e.kind == "capture"]
    assert [(e.delta, e.reservation_id) for e in capture_entries] == [(-120, "res_capture")]

    # Capturing again changes nothing and writes no second entry.
    again = stub.Capture(pb.CaptureRequest(reservation_id="res_capture")).reservation
    assert again == captured
    assert wallet(stub, org).balance == 380
    assert len([e for e in ledger(stub, org) if e.kind == "capture"]) == 1
    got = stub.GetReservation(pb.GetReservationRequest(reservation_id="res_capture")).reservation
    assert got == captured
    assert_invariants(stub, db_url)


def test_reserve_then_release(stub: BillingServiceStub, org: str, db_url: str) -> None:
    grant(stub, org, 300)
    reserve(stub, org, 120, "res_release")
    released = stub.Release(pb.ReleaseRequest(reservation_id="res_release")).reservation
    assert released.state == RELEASED
    assert wallet(stub, org) == pb.Wallet(organization_id=org, balance=300, reserved_credits=0, available=300)
    # Releasing twice is a no-op; a release writes no ledger entry.
    assert stub.Release(pb.ReleaseRequest(reservation_id="res_release")).reservation == released
    assert wallet(stub, org).reserved_credits == 0
    assert [e.kind for e in ledger(stub, org)] == ["grant"]
    assert_invariants(stub, db_url)


def test_custom_ttl(stub: BillingServiceStub, org: str) -> None:
    grant(stub, org, 100)
    before = datetime.now(UTC)
    held = reserve(stub, org, 10, ttl=60).reservation
    expires = held.expires_at.ToDatetime(UTC)
    assert before + timedelta(seconds=59) <= expires <= before + timedelta(seconds=65)


def test_reserve_is_idempotent(stub: BillingServiceStub, org: str, db_url: str) -> None:
    grant(stub, org, 300)
    first = reserve(stub, org, 120, "res_same", ttl=600)
    # A retry (even with another ttl) returns the first hold and holds nothing more.
    second = reserve(stub, org, 120, "res_same", ttl=30)
    assert second.reservation == first.reservation
    assert second.wallet.reserved_credits == 120
    assert wallet(stub, org).reserved_credits == 120
    assert_invariants(stub, db_url)


@pytest.mark.parametrize("settle", ["capture", "release"])
def test_reserve_repeat_of_a_settled_reservation_is_refused(
    stub: BillingServiceStub, org: str, db_url: str, settle: str
) -> None:
    grant(stub, org, 240)
    reserve(stub, org, 120, "res_done")
    if settle == "capture":
        stub.Capture(pb.CaptureRequest(reservation_id="res_done"))
        state, settled = "CAPTURED", CAPTURED
        after = pb.Wallet(organization_id=org, balance=120, reserved_credits=0, available=120)
    else:
        stub.Release(pb.ReleaseRequest(reservation_id="res_done"))
        state, settled = "RELEASED", RELEASED
        after = pb.Wallet(organization_id=org, balance=240, reserved_credits=0, available=240)

    # Only a retry of an open hold is a repeat: a settled id holds nothing again and says why.
    error = rpc_error(stub.Reserve, pb.ReserveRequest(reservation_id="res_done", organization_id=org, amount=120))
    assert (error.code, error.reason, error.metadata) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "RESERVATION_NOT_HELD",
        {"state": state},
    )
    assert wallet(stub, org) == after
    assert stub.GetReservation(pb.GetReservationRequest(reservation_id="res_done")).reservation.state == settled
    # Another request under the same id is still a conflict first.
    error = rpc_error(stub.Reserve, pb.ReserveRequest(reservation_id="res_done", organization_id=org, amount=60))
    assert (error.code, error.reason) == (grpc.StatusCode.ALREADY_EXISTS, "RESERVATION_CONFLICT")
    assert_invariants(stub, db_url)


def test_reserve_same_id_different_request_conflicts(stub: BillingServiceStub, org: str) -> None:
    grant(stub, org, 500)
    other_org = new_id("org")
    grant(stub, other_org, 500)
    reserve(stub, org, 120, "res_taken")
    for request in (
        pb.ReserveRequest(reservation_id="res_taken", organization_id=org, amount=121),
        pb.ReserveRequest(reservation_id="res_taken", organization_id=other_org, amount=120),
    ):
        error = rpc_error(stub.Reserve, request)
        assert (error.code, error.reason) == (grpc.StatusCode.ALREADY_EXISTS, "RESERVATION_CONFLICT")
        assert error.metadata == {"reservation_id": "res_taken"}
    assert wallet(stub, org).reserved_credits == 120
    assert wallet(stub, other_org).reserved_credits == 0


def test_reserve_on_unknown_org_is_exhausted(stub: BillingServiceStub, org: str) -> None:
    error = rpc_error(stub.Reserve, pb.ReserveRequest(reservation_id="res_x", organization_id=org, amount=120))
    assert (error.code, error.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "BILLING_EXHAUSTED")
    assert error.metadata == {"required": "120", "available": "0"}
    assert "not_found" not in error.message.lower()
    assert rpc_error(stub.GetReservation, pb.GetReservationRequest(reservation_id="res_x")).reason == "NOT_FOUND"


def test_reserve_beyond_available_is_exhausted(stub: BillingServiceStub, org: str, db_url: str) -> None:
    grant(stub, org, 200)
    reserve(stub, org, 120)
    error = rpc_error(stub.Reserve, pb.ReserveRequest(reservation_id="res_big", organization_id=org, amount=120))
    assert (error.code, error.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "BILLING_EXHAUSTED")
    assert error.metadata == {"required": "120", "available": "80"}
    # Exactly what is available still fits.
    assert reserve(stub, org, 80).wallet.available == 0
    assert_invariants(stub, db_url)


def test_capture_of_released_and_release_of_captured_fail(stub: BillingServiceStub, org: str) -> None:
    grant(stub, org, 240)
    reserve(stub, org, 120, "res_a")
    reserve(stub, org, 120, "res_b")
    stub.Release(pb.ReleaseRequest(reservation_id="res_a"))
    stub.Capture(pb.CaptureRequest(reservation_id="res_b"))

    error = rpc_error(stub.Capture, pb.CaptureRequest(reservation_id="res_a"))
    assert (error.code, error.reason, error.metadata) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "RESERVATION_NOT_HELD",
        {"state": "RELEASED"},
    )
    error = rpc_error(stub.Release, pb.ReleaseRequest(reservation_id="res_b"))
    assert (error.code, error.reason, error.metadata) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "RESERVATION_NOT_HELD",
        {"state": "CAPTURED"},
    )
    assert wallet(stub, org) == pb.Wallet(organization_id=org, balance=120, reserved_credits=0, available=120)


def test_unknown_reservation_is_not_found(stub: BillingServiceStub) -> None:
    for call, request in (
        (stub.Capture, pb.CaptureRequest(reservation_id="res_nope")),
        (stub.Release, pb.ReleaseRequest(reservation_id="res_nope")),
        (stub.GetReservation, pb.GetReservationRequest(reservation_id="res_nope")),
    ):
        error = rpc_error(call, request)
        assert (error.code, error.reason) == (grpc.StatusCode.NOT_FOUND, "NOT_FOUND")


@pytest.mark.parametrize(
    ("request_kwargs", "field"),
    [
        ({"reservation_id": "", "amount": 10}, "reservation_id"),
        ({"reservation_id": "r" * 129, "amount": 10}, "reservation_id"),
        ({"reservation_id": "res_v", "amount": 0}, "amount"),
        ({"reservation_id": "res_v", "amount": -1}, "amount"),
        ({"reservation_id": "res_v", "amount": 10, "ttl_seconds": -1}, "ttl_seconds"),
    ],
)
def test_reserve_validates_its_request(
    stub: BillingServiceStub, org: str, request_kwargs: dict[str, object], field: str
) -> None:
    grant(stub, org, 100)
    error = rpc_error(stub.Reserve, pb.ReserveRequest(organization_id=org, **request_kwargs))  # type: ignore[arg-type]
    assert (error.code, error.reason, [f.field for f in error.fields]) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "VALIDATION",
        [field],
    )
    assert wallet(stub, org).reserved_credits == 0


def test_missing_organization_is_invalid(stub: BillingServiceStub) -> None:
    error = rpc_error(stub.GetWallet, pb.GetWalletRequest(organization_id=""))
    assert (error.code, error.reason, [f.field for f in error.fields]) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "VALIDATION",
        ["organization_id"],
    )


def test_due_holds_expire_on_use_before_the_sweeper_runs(
    start_billing: StartBilling, clock: MovableClock, org: str, db_url: str
) -> None:
    # The sweeper runs once at start and then not for a minute: what happens here is Reserve/Release's doing.
    running = start_billing(expiry_sweep_seconds=60)
    with channel(running.address) as ch:
        stub = BillingServiceStub(ch)
        grant(stub, org, 240)
        reserve(stub, org, 120, "res_a", ttl=1)
        reserve(stub, org, 120, "res_b", ttl=1)
        clock.advance(1.2)
        # Retrying an overdue hold is no repeat: it expired, and the retry must not hold the credits again.
        error = rpc_error(stub.Reserve, pb.ReserveRequest(reservation_id="res_a", organization_id=org, amount=120))
        assert (error.code, error.reason, error.metadata) == (
            grpc.StatusCode.FAILED_PRECONDITION,
            "RESERVATION_NOT_HELD",
            {"state": "EXPIRED"},
        )
        # The failed reserve still recorded the org's expiries and gave their credits back.
        assert wallet(stub, org) == pb.Wallet(organization_id=org, balance=240, reserved_credits=0, available=240)
        assert stub.GetReservation(pb.GetReservationRequest(reservation_id="res_a")).reservation.state == EXPIRED
        assert stub.GetReservation(pb.GetReservationRequest(reservation_id="res_b")).reservation.state == EXPIRED
        assert stub.Release(pb.ReleaseRequest(reservation_id="res_b")).reservation.state == EXPIRED
        assert reserve(stub, org, 120, "res_c").reservation.state == HELD
        assert wallet(stub, org) == pb.Wallet(organization_id=org, balance=240, reserved_credits=120, available=120)
        assert [e.kind for e in ledger(stub, org)] == ["grant"]
        assert_invariants(stub, db_url)


def test_capture_after_expiry_charges_late(
    start_billing: StartBilling, clock: MovableClock, org: str, db_url: str
) -> None:
    # A render that outlived its hold is still paid for while the wallet can cover it.
    running = start_billing(expiry_sweep_seconds=60)
    with channel(running.address) as ch:
        stub = BillingServiceStub(ch)
        grant(stub, org, 300)
        reserve(stub, org, 120, "res_a", ttl=1)
        reserve(stub, org, 100, "res_b", ttl=1)
        clock.advance(1.2)
        assert stub.GetReservation(pb.GetReservationRequest(reservation_id="res_a")).reservation.state == HELD

        # Overdue but not yet swept: it expires on the way (with res_b) and is then captured.
        captured = stub.Capture(pb.CaptureRequest(reservation_id="res_a")).reservation
        assert (captured.state, captured.amount) == (CAPTURED, 120)
        assert wallet(stub, org) == pb.Wallet(organization_id=org, balance=180, reserved_credits=0, available=180)

        # Already EXPIRED, its hold already returned: only the balance moves.
        assert stub.GetReservation(pb.GetReservationRequest(reservation_id="res_b")).reservation.state == EXPIRED
        late = stub.Capture(pb.CaptureRequest(reservation_id="res_b")).reservation
        assert late.state == CAPTURED
        assert wallet(stub, org) == pb.Wallet(organization_id=org, balance=80, reserved_credits=0, available=80)
        assert stub.GetReservation(pb.GetReservationRequest(reservation_id="res_b")).reservation == late

        # Still idempotent: a repeat charges nothing more, and a captured reservation cannot be released.
        assert stub.Capture(pb.CaptureRequest(reservation_id="res_b")).reservation == late
        error = rpc_error(stub.Release, pb.ReleaseRequest(reservation_id="res_b"))
        assert (error.reason, error.metadata) == ("RESERVATION_NOT_HELD", {"state": "CAPTURED"})
        captures = [(e.delta, e.reservation_id) for e in ledger(stub, org) if e.kind == "capture"]
        assert captures == [(-120, "res_a"), (-100, "res_b")]
        assert wallet(stub, org).balance == 80
        assert_invariants(stub, db_url)


def test_late_capture_the_wallet_cannot_cover_is_exhausted(
    start_billing: StartBilling, clock: MovableClock, org: str, db_url: str
) -> None:
    running = start_billing(expiry_sweep_seconds=60)
    with channel(running.address) as ch:
        stub = BillingServiceStub(ch)
        grant(stub, org, 150)
        reserve(stub, org, 120, "res_late", ttl=1)
        clock.advance(1.2)
        # The expired hold's credits went to a new reservation meanwhile.
        reserve(stub, org, 100, "res_new")
        assert stub.GetReservation(pb.GetReservationRequest(reservation_id="res_late")).reservation.state == EXPIRED

        error = rpc_error(stub.Capture, pb.CaptureRequest(reservation_id="res_late"))
        assert (error.code, error.reason, error.metadata) == (
            grpc.StatusCode.FAILED_PRECONDITION,
            "BILLING_EXHAUSTED",
            {"required": "120", "available": "50"},
        )
        # Nothing was charged and the reservation stays expired.
        assert wallet(stub, org) == pb.Wallet(organization_id=org, balance=150, reserved_credits=100, available=50)
        assert stub.GetReservation(pb.GetReservationRequest(reservation_id="res_late")).reservation.state == EXPIRED
        assert [e.kind for e in ledger(stub, org)] == ["grant"]

        # Once the credits are there again, a retry does charge it.
        stub.Release(pb.ReleaseRequest(reservation_id="res_new"))
        assert stub.Capture(pb.CaptureRequest(reservation_id="res_late")).reservation.state == CAPTURED
        assert wallet(stub, org) == pb.Wallet(organization_id=org, balance=30, reserved_credits=0, available=30)
        assert [(e.kind, e.delta) for e in ledger(stub, org)] == [("grant", 150), ("capture", -120)]
        assert_invariants(stub, db_url)


def test_reserve_does_not_count_due_holds(
    start_billing: StartBilling, clock: MovableClock, org: str, db_url: str
) -> None:
    running = start_billing(expiry_sweep_seconds=60)
    with channel(running.address) as ch:
        stub = BillingServiceStub(ch)
        grant(stub, org, 120)
        reserve(stub, org, 120, "res_short", ttl=1)
        clock.advance(1.1)
        # Past its expiry the hold no longer counts, even though no sweep has marked it yet.
        assert reserve(stub, org, 120, "res_next").wallet.reserved_credits == 120
        short = stub.GetReservation(pb.GetReservationRequest(reservation_id="res_short")).reservation
        assert short.state == EXPIRED
        assert_invariants(stub, db_url)


def test_grants_and_captures_are_broadcast_after_they_commit(stub: BillingServiceStub, org: str) -> None:
    """Only a grant or a capture moves the balance /v1/whoami shows; each is announced, nothing else is."""
    heard: list[tuple[str, int]] = []
    # The balance as stored when the message is heard: it must already be committed.
    unsubscribe = broadcasts.LOCAL.subscribe(
        broadcasts.BALANCE_CHANGED, lambda changed: heard.append((changed, wallet(stub, changed).balance))
    )
    try:
        grant(stub, org, 500)
        reserve(stub, org, 120, "res_heard_capture")
        reserve(stub, org, 80, "res_heard_release")
        stub.Release(pb.ReleaseRequest(reservation_id="res_heard_release"))
        stub.Capture(pb.CaptureRequest(reservation_id="res_heard_capture"))
        stub.Capture(pb.CaptureRequest(reservation_id="res_heard_capture"))  # already captured: no change
    finally:
        unsubscribe()
    assert [balance for changed, balance in heard if changed == org] == [500, 380]
