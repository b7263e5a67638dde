"""A project's partner-visible collections: GET /v1/projects/:projectId/media, /influencers, /social-accounts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from common.paging import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from gateway.auth import ApiKey, require_scope
from gateway.cursors import CursorQuery, CursorSealer, listing
from gateway.deps import ClientsDep, CursorsDep
from gateway.errors import ApiError
from gateway.project_access import ProjectId, project_or_404, visible_project
from gateway.rendering import json_response
from gateway.responses import Influencer, InfluencerPage, MediaItem, MediaPage, SocialAccount, SocialAccountPage
from gateway.schemas import MediaRole, Platform
from layers.content.v1 import content_pb2
from layers.media.v1 import media_pb2

router = APIRouter(tags=["projects"])

Reader = Annotated[ApiKey, Depends(require_scope("projects:read"))]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Rows per page.")]


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
    items = [MediaItem.of(m) for m in response.media]
    return json_response(MediaPage.of(items, cursors.seal(pages, response.next_page_token)))


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
    items = [Influencer.of(i) for i in response.influencers]
    return json_response(InfluencerPage.of(items, cursors.seal(pages, response.next_page_token)))


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
    items = [SocialAccount.of(a) for a in response.social_accounts]
    return json_response(SocialAccountPage.of(items, cursors.seal(pages, response.next_page_token)))
