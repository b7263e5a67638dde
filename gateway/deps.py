"""FastAPI dependencies for what the composition root built: settings, service clients, the URL signer.

create_app puts them on app.state; routes ask for them by type through these aliases.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from common.settings import Settings
from gateway.clients import ServiceClients
from gateway.errors import request_id_of
from gateway.signing import UrlSigner


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_clients(request: Request) -> ServiceClients:
    clients: ServiceClients = request.app.state.clients
    return clients


def get_signer(request: Request) -> UrlSigner:
    signer: UrlSigner = request.app.state.signer
    return signer


def get_request_id(request: Request) -> str:
    return request_id_of(request.scope)


SettingsDep = Annotated[Settings, Depends(get_settings)]
ClientsDep = Annotated[ServiceClients, Depends(get_clients)]
SignerDep = Annotated[UrlSigner, Depends(get_signer)]
RequestIdDep = Annotated[str, Depends(get_request_id)]
