"""GET /v1/credits and GET /v1/whoami: the caller's organization and wallet."""

from __future__ import annotations

from typing import Annotated

import grpc
from fastapi import APIRouter, Depends, Response

from common.clients import Clients
from gateway.auth import ApiKey, CurrentKey, require_scope
from gateway.deps import ClientsDep, SettingsDep
from gateway.rendering import json_response
from gateway.responses import Credits, WhoAmI
from layers.billing.v1 import billing_pb2

router = APIRouter(tags=["account"])


async def _wallet(clients: Clients, organization_id: str) -> billing_pb2.Wallet:
    try:
        response = await clients.billing.GetWallet(billing_pb2.GetWalletRequest(organization_id=organization_id))
    except grpc.RpcError as exc:
        # An organization that never had a wallet has no credits; that is not a missing resource.
        if exc.code() == grpc.StatusCode.NOT_FOUND:  # type: ignore[attr-defined]
            return billing_pb2.Wallet(organization_id=organization_id)
        raise
    wallet: billing_pb2.Wallet = response.wallet
    return wallet


@router.get("/credits", name="get_credits", response_model=Credits)
async def get_credits(
    key: Annotated[ApiKey, Depends(require_scope("credits:read"))],
    clients: ClientsDep,
    settings: SettingsDep,
) -> Response:
    wallet = await _wallet(clients, key.organization_id)
    return json_response(Credits.of(key.organization_id, wallet, settings.ugc_remix_credits))


@router.get("/whoami", name="whoami", response_model=WhoAmI)
async def whoami(key: CurrentKey, clients: ClientsDep) -> Response:
    wallet = await _wallet(clients, key.organization_id)
    return json_response(WhoAmI.of(key, wallet))
