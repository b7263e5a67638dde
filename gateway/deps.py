"""FastAPI dependencies: what the composition root built (settings, service clients, the URL signer, the
cursor sealer), the request's id and raw body, and a cursor list's page request.

create_app puts the former on app.state; routes ask for them by type through these aliases.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from common.clients import Clients
from common.paging import DEFAULT_PAGE_SIZE
from common.settings import Settings
from gateway.cursors import CursorQuery, CursorSealer, PageLimit, PageRequest
from gateway.errors import request_id_of
from gateway.origin import Origins
from gateway.signing import UrlSigner


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_clients(request: Request) -> Clients:
    clients: Clients = request.app.state.clients
    return clients


async def get_signer(request: Request) -> UrlSigner:
    """The URL signer, its links absolute: starting with the public base URL or this request's origin."""
    signer: UrlSigner = request.app.state.signer
    origins: Origins = request.app.state.origins
    return signer.at(origins.of(request.scope))


async def get_cursors(request: Request) -> CursorSealer:
    cursors: CursorSealer = request.app.state.cursors
    return cursors


async def get_request_id(request: Request) -> str:
    return request_id_of(request.scope)


async def get_body(request: Request) -> bytes:
    """The request body, for routes that parse it themselves (after the project check, or optional).
    Dependencies run in declaration order: declare this after the auth dependency, so an unauthenticated
    caller's body is never read."""
    return await request.body()


async def get_page(
    cursors: CursorsDep, limit: PageLimit = DEFAULT_PAGE_SIZE, cursor: CursorQuery = None
) -> PageRequest:
    """`?limit=` and `?cursor=` of a cursor list."""
    return PageRequest(limit, cursor, cursors)


SettingsDep = Annotated[Settings, Depends(get_settings)]
ClientsDep = Annotated[Clients, Depends(get_clients)]
SignerDep = Annotated[UrlSigner, Depends(get_signer)]
CursorsDep = Annotated[CursorSealer, Depends(get_cursors)]
RequestIdDep = Annotated[str, Depends(get_request_id)]
BodyDep = Annotated[bytes, Depends(get_body)]
PageDep = Annotated[PageRequest, Depends(get_page)]
