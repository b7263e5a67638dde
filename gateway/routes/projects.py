"""A project's partner-visible collections: GET /v1/projects/:projectId/media, /influencers, /social-accounts."""

from __future__ import annotations

from collections import OrderedDict
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from common.clients import Clients
from common.paging import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from gateway.auth import ApiKey, require_scope
from gateway.cursors import CursorQuery, CursorSealer, listing
from gateway.deps import ClientsDep, CursorsDep
from gateway.errors import ApiError, not_found
from gateway.openapi import InfluencerPage, MediaPage, SocialAccountPage
from gateway.routes._responses import json_response
from gateway.schemas import MediaRole, Platform, canonical_project_id
from gateway.serializers import influencer_json, media_json, page_json, social_account_json
from layers.content.v1 import content_pb2
from layers.media.v1 import media_pb2

router = APIRouter(tags=["projects"])

UNKNOWN_PROJECT = "projectId is not a project of this organization."

ProjectId = Annotated[str, Path(alias="projectId", description="The project (a bare UUID).")]
Reader = Annotated[ApiKey, Depends(require_scope("projects:read"))]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Rows per page.")]


class VisibleProjects:
    """(organization, project) pairs content confirmed. A project never changes organization and is never
    deleted, so a confirmation stays true; bounded, oldest first out. Refusals are not kept."""

    def __init__(self, max_entries: int = 50_000) -> None:
        self.max_entries = max_entries
        self._seen: OrderedDict[tuple[str, str], None] = OrderedDict()

    def __contains__(self, pair: tuple[str, str]) -> bool:
        return pair in self._seen

    def add(self, pair: tuple[str, str]) -> None:
        self._seen[pair] = None
        if len(self._seen) > self.max_entries:
            self._seen.popitem(last=False)


def project_or_404(project_id: str) -> str:
    """The canonical project id; 404 for anything that is not a project id at all, as for an unknown one."""
    project = canonical_project_id(project_id)
    if project is None:
        raise not_found(UNKNOWN_PROJECT)
    return project


async def visible_project(request: Request, key: ApiKey, project_id: str) -> str:
    """The canonical project id when the key's organization owns it; 404 otherwise (no existence leaks)."""
    project = project_or_404(project_id)
    seen: VisibleProjects = request.app.state.visible_projects
    if (key.organization_id, project) not in seen:
        clients: Clients = request.app.state.clients
        await clients.partner.GetProject(
            content_pb2.GetProjectRequest(organization_id=key.organization_id, project_id=project)
        )
        seen.add((key.organization_id, project))
    return project


async def page_token(
    request: Request, key: ApiKey, project: str, cursors: CursorSealer, pages: str, cursor: str | None
) -> str:
    """The service's page token inside `cursor`. A refused cursor on a project the key cannot see answers
    that project's 404, as the project is checked before anything else the request carries."""
    try:
        return cursors.open(pages, cursor)
    except ApiError:
        await visible_project(request, key, project)
        raise


@router.get("/projects/{projectId}/media", name="list_project_media", response_model=MediaPage)
async def list_media(
    request: Request,
    project_id: ProjectId,
    key: Reader,
    clients: ClientsDep,
    cursors: CursorsDep,
    role: Annotated[MediaRole | None, Query(description="Only media with this role.")] = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: CursorQuery = None,
) -> Response:
    # The media service files rows by project without knowing projects: ask content whether it is visible.
    project = await visible_project(request, key, project_id)
    pages = listing("media", key.organization_id, project, role=role or "")
    response = await clients.media.ListMedia(
        media_pb2.ListMediaRequest(
            organization_id=key.organization_id,
            project_id=project,
            media_role=role or "",
            page_size=limit,
            page_token=await page_token(request, key, project, cursors, pages, cursor),
        )
    )
    items = [media_json(m) for m in response.media]
    return json_response(page_json(items, cursors.seal(pages, response.next_page_token)))


@router.get("/projects/{projectId}/influencers", name="list_project_influencers", response_model=InfluencerPage)
async def list_influencers(
    request: Request,
    project_id: ProjectId,
    key: Reader,
    clients: ClientsDep,
    cursors: CursorsDep,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: CursorQuery = None,
) -> Response:
    project = project_or_404(project_id)
    pages = listing("influencers", key.organization_id, project)
    # Content checks the project belongs to the organization (NOT_FOUND otherwise).
    response = await clients.partner.ListInfluencers(
        content_pb2.ListInfluencersRequest(
            organization_id=key.organization_id,
            project_id=project,
            page_size=limit,
            page_token=await page_token(request, key, project, cursors, pages, cursor),
        )
    )
    items = [influencer_json(i) for i in response.influencers]
    return json_response(page_json(items, cursors.seal(pages, response.next_page_token)))


@router.get(
    "/projects/{projectId}/social-accounts", name="list_project_social_accounts", response_model=SocialAccountPage
)
async def list_social_accounts(
    request: Request,
    project_id: ProjectId,
    key: Reader,
    clients: ClientsDep,
    cursors: CursorsDep,
    platform: Annotated[Platform | None, Query(description="Only accounts on this platform.")] = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: CursorQuery = None,
) -> Response:
    project = project_or_404(project_id)
    pages = listing("social-accounts", key.organization_id, project, platform=platform or "")
    response = await clients.partner.ListSocialAccounts(
        content_pb2.ListSocialAccountsRequest(
            organization_id=key.organization_id,
            project_id=project,
            platform=platform or "",
            page_size=limit,
            page_token=await page_token(request, key, project, cursors, pages, cursor),
        )
    )
    items = [social_account_json(a) for a in response.social_accounts]
    return json_response(page_json(items, cursors.seal(pages, response.next_page_token)))
