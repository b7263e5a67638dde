"""Many callers at once over gRPC: the wallet never goes negative and every credit is accounted for."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import grpc

from common.clients import channel
from common.errors import unpack
from common.grpc_server import RunningService
from common.ids import new_id
from layers.billing.v1 import billing_pb2 as pb
from layers.billing.v1.billing_pb2_grpc import BillingServiceStub
from tests.billing.helpers import assert_invariants

PRICE = 120


def test_only_what_is_available_can_be_reserved(
    billing: RunningService, stub: BillingServiceStub, org: str, db_url: str
) -> None:
    stub.GrantCredits(pb.GrantCreditsRequest(organization_id=org, credits=5 * PRICE))
    callers = 20
    barrier = threading.Barrier(callers)
    done = threading.Event()
    observed: list[pb.Wallet] = []

    def watch() -> None:
        # Meanwhile a reader samples the wallet as fast as it can.
        with channel(billing.address) as ch:
            watcher = BillingServiceStub(ch)
            while not done.is_set():
                observed.append(watcher.GetWallet(pb.GetWalletRequest(organization_id=org)).wallet)

    def attempt(i: int) -> str:
        # One channel per caller so the calls really run side by side.
        with channel(billing.address) as ch:
            caller = BillingServiceStub(ch)
            request = pb.ReserveRequest(reservation_id=f"res_{org}_{i}", organization_id=org, amount=PRICE)
            barrier.wait(timeout=10)
            try:
                caller.Reserve(request)
            except grpc.RpcError as exc:
                error = unpack(exc)
                assert error.code == grpc.StatusCode.FAILED_PRECONDITION
                assert error.metadata["required"] == str(PRICE)
                assert int(error.metadata["available"]) < PRICE
                return error.reason
            return "OK"

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        with ThreadPoolExecutor(max_workers=callers) as pool:
            outcomes = list(pool.map(attempt, range(callers)))
    finally:
        done.set()
        watcher.join(timeout=10)

    assert outcomes.count("OK") == 5
    assert outcomes.count("BILLING_EXHAUSTED") == 15
    assert observed, "the watcher saw nothing"
    assert all(w.balance - w.reserved_credits >= 0 and w.available >= 0 for w in observed)
    final = stub.GetWallet(pb.GetWalletRequest(organization_id=org)).wallet
    assert final == pb.Wallet(organization_id=org, balance=5 * PRICE, reserved_credits=5 * PRICE, available=0)
    assert_invariants(stub, db_url)


def test_concurrent_retries_of_one_reservation_hold_once(
    billing: RunningService, stub: BillingServiceStub, org: str, db_url: str
) -> None:
    stub.GrantCredits(pb.GrantCreditsRequest(organization_id=org, credits=10 * PRICE))
    callers = 10
    barrier = threading.Barrier(callers)
    request = pb.ReserveRequest(reservation_id=new_id("res"), organization_id=org, amount=PRICE)

    def attempt(_: int) -> pb.Reservation:
        with channel(billing.address) as ch:
            barrier.wait(timeout=10)
            return BillingServiceStub(ch).Reserve(request).reservation

    with ThreadPoolExecutor(max_workers=callers) as pool:
        reservations = list(pool.map(attempt, range(callers)))

    assert all(r == reservations[0] for r in reservations)
    assert stub.GetWallet(pb.GetWalletRequest(organization_id=org)).wallet.reserved_credits == PRICE
    assert_invariants(stub, db_url)


def test_capture_racing_release_has_one_winner(
    billing: RunningService, stub: BillingServiceStub, org: str, db_url: str
) -> None:
    pairs = 8
    stub.GrantCredits(pb.GrantCreditsRequest(organization_id=org, credits=pairs * PRICE))
    ids = [new_id("res") for _ in range(pairs)]
    for reservation_id in ids:
        stub.Reserve(pb.ReserveRequest(reservation_id=reservation_id, organization_id=org, amount=PRICE))
    barrier = threading.Barrier(2 * pairs)

    def settle(job: tuple[str, str]) -> tuple[str, str, str]:
        action, reservation_id = job
        with channel(billing.address) as ch:
            caller = BillingServiceStub(ch)
            barrier.wait(timeout=10)
            try:
                if action == "capture":
                    caller.Capture(pb.CaptureRequest(reservation_id=reservation_id))
                else:
                    caller.Release(pb.ReleaseRequest(reservation_id=reservation_id))
            except grpc.RpcError as exc:
                error = unpack(exc)
                assert (error.code, error.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "RESERVATION_NOT_HELD")
                return action, reservation_id, error.metadata["state"]
            return action, reservation_id, "OK"

    jobs = [(action, rid) for rid in ids for action in ("capture", "release")]
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        results = list(pool.map(settle, jobs))

    captured = 0
    for reservation_id in ids:
        outcome = {action: result for action, rid, result in results if rid == reservation_id}
        state = stub.GetReservation(pb.GetReservationRequest(reservation_id=reservation_id)).reservation.state
        if outcome["capture"] == "OK":
            # The release came second and saw the capture.
            assert outcome["release"] == "CAPTURED"
            assert state == pb.RESERVATION_STATE_CAPTURED
            captured += 1
        else:
            assert (outcome["capture"], outcome["release"]) == ("RELEASED", "OK")
            assert state == pb.RESERVATION_STATE_RELEASED

    final = stub.GetWallet(pb.GetWalletRequest(organization_id=org)).wallet
    assert final.reserved_credits == 0
    assert final.balance == (pairs - captured) * PRICE
    entries = stub.ListLedgerEntries(pb.ListLedgerEntriesRequest(organization_id=org)).entries
    assert len([e for e in entries if e.kind == "capture"]) == captured
    assert_invariants(stub, db_url)


def test_one_reservation_id_raced_by_many_orgs_goes_to_one(
    billing: RunningService, stub: BillingServiceStub, db_url: str
) -> None:
    orgs = [new_id("org") for _ in range(8)]
    for org in orgs:
        stub.GrantCredits(pb.GrantCreditsRequest(organization_id=org, credits=PRICE))
    reservation_id = new_id("res")
    barrier = threading.Barrier(len(orgs))

    def attempt(org: str) -> str:
        with channel(billing.address) as ch:
            caller = BillingServiceStub(ch)
            barrier.wait(timeout=10)
            try:
                caller.Reserve(pb.ReserveRequest(reservation_id=reservation_id, organization_id=org, amount=PRICE))
            except grpc.RpcError as exc:
                return unpack(exc).reason
            return "OK"

    with ThreadPoolExecutor(max_workers=len(orgs)) as pool:
        outcomes = list(pool.map(attempt, orgs))

    # Each org locks only its own wallet, so the losers meet at the primary key: still a clean conflict.
    assert sorted(outcomes) == ["OK"] + ["RESERVATION_CONFLICT"] * (len(orgs) - 1)
    owner = stub.GetReservation(pb.GetReservationRequest(reservation_id=reservation_id)).reservation
    assert owner.organization_id == orgs[outcomes.index("OK")]
    assert_invariants(stub, db_url)
