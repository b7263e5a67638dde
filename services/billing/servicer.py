"""gRPC edge of billing: protos in, one Ledger call, protos out. Errors are ServiceErrors from the Ledger."""

from __future__ import annotations

import grpc

from common.timeutil import to_timestamp
from layers.billing.v1 import billing_pb2, billing_pb2_grpc
from services.billing.ledger import Ledger, LedgerEntryView, ReservationView, WalletView
from services.billing.models import ReservationState

_STATES = {
    ReservationState.HELD: billing_pb2.RESERVATION_STATE_HELD,
    ReservationState.CAPTURED: billing_pb2.RESERVATION_STATE_CAPTURED,
    ReservationState.RELEASED: billing_pb2.RESERVATION_STATE_RELEASED,
    ReservationState.EXPIRED: billing_pb2.RESERVATION_STATE_EXPIRED,
}


def wallet_pb(wallet: WalletView) -> billing_pb2.Wallet:
    return billing_pb2.Wallet(
        organization_id=wallet.organization_id,
        balance=wallet.balance,
        reserved_credits=wallet.reserved_credits,
        available=wallet.available,
    )


def reservation_pb(reservation: ReservationView) -> billing_pb2.Reservation:
    return billing_pb2.Reservation(
        reservation_id=reservation.reservation_id,
        organization_id=reservation.organization_id,
        amount=reservation.amount,
        state=_STATES[reservation.state],
        expires_at=to_timestamp(reservation.expires_at),
    )


def entry_pb(entry: LedgerEntryView) -> billing_pb2.LedgerEntry:
    return billing_pb2.LedgerEntry(
        entry_id=entry.entry_id,
        organization_id=entry.organization_id,
        delta=entry.delta,
        kind=entry.kind.value,
        reservation_id=entry.reservation_id or "",
        created_at=to_timestamp(entry.created_at),
    )


class BillingServicer(billing_pb2_grpc.BillingServiceServicer):
    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger

    def CreateWallet(
        self, request: billing_pb2.CreateWalletRequest, context: grpc.ServicerContext
    ) -> billing_pb2.CreateWalletResponse:
        wallet = self._ledger.create_wallet(request.organization_id)
        return billing_pb2.CreateWalletResponse(wallet=wallet_pb(wallet))

    def GetWallet(
        self, request: billing_pb2.GetWalletRequest, context: grpc.ServicerContext
    ) -> billing_pb2.GetWalletResponse:
        wallet = self._ledger.get_wallet(request.organization_id)
        return billing_pb2.GetWalletResponse(wallet=wallet_pb(wallet))

    def GrantCredits(
        self, request: billing_pb2.GrantCreditsRequest, context: grpc.ServicerContext
    ) -> billing_pb2.GrantCreditsResponse:
        wallet = self._ledger.grant(request.organization_id, request.credits)
        return billing_pb2.GrantCreditsResponse(wallet=wallet_pb(wallet))

    def Reserve(
        self, request: billing_pb2.ReserveRequest, context: grpc.ServicerContext
    ) -> billing_pb2.ReserveResponse:
        reservation, wallet = self._ledger.reserve(
            request.reservation_id, request.organization_id, request.amount, request.ttl_seconds
        )
        return billing_pb2.ReserveResponse(reservation=reservation_pb(reservation), wallet=wallet_pb(wallet))

    def Capture(
        self, request: billing_pb2.CaptureRequest, context: grpc.ServicerContext
    ) -> billing_pb2.CaptureResponse:
        reservation = self._ledger.capture(request.reservation_id)
        return billing_pb2.CaptureResponse(reservation=reservation_pb(reservation))

    def Release(
        self, request: billing_pb2.ReleaseRequest, context: grpc.ServicerContext
    ) -> billing_pb2.ReleaseResponse:
        reservation = self._ledger.release(request.reservation_id)
        return billing_pb2.ReleaseResponse(reservation=reservation_pb(reservation))

    def GetReservation(
        self, request: billing_pb2.GetReservationRequest, context: grpc.ServicerContext
    ) -> billing_pb2.GetReservationResponse:
        reservation = self._ledger.get_reservation(request.reservation_id)
        return billing_pb2.GetReservationResponse(reservation=reservation_pb(reservation))

    def ListLedgerEntries(
        self, request: billing_pb2.ListLedgerEntriesRequest, context: grpc.ServicerContext
    ) -> billing_pb2.ListLedgerEntriesResponse:
        entries = self._ledger.list_ledger(request.organization_id)
        return billing_pb2.ListLedgerEntriesResponse(entries=[entry_pb(e) for e in entries])
