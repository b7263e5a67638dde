"""GET /v1/credits and GET /v1/whoami: the caller's organization and wallet."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from gateway.auth import ApiKey, CurrentKey, require_scope
from gateway.balances import Balances, wallet_of
from gateway.deps import ClientsDep, SettingsDep
from gateway.rendering import json_response
from gateway.responses import Credits, WhoAmI

router = APIRouter(tags=["account"])


@router.get("/credits", name="get_credits", response_model=Credits)
async def get_credits(
    key: Annotated[ApiKey, Depends(require_scope("credits:read"))],
    clients: ClientsDep,
    settings: SettingsDep,
) -> Response:
    # Always billing's own answer: what is held and available moves with every start.
    wallet = await wallet_of(clients, key.organization_id)
    return json_response(Credits.of(key.organization_id, wallet, settings.ugc_remix_credits))


@router.get("/whoami", name="whoami", response_model=WhoAmI)
async def whoami(key: CurrentKey, clients: ClientsDep, request: Request) -> Response:
    balances: Balances = request.app.state.balances
    return json_response(WhoAmI.of(key, await balances.of(clients, key.organization_id)))
