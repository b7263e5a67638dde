"""A project's partner-visible collections: GET /v1/projects/:projectId/media, /influencers, /social-accounts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, TypedDict

from fastapi import APIRouter, Depends, Query, Request, Response

from gateway.auth import ApiKey, require_scope
from gateway.cursors import PageRequest, listing
from gateway.deps import ClientsDep, PageDep
from gateway.project_access import ProjectId, project_or_404, visible_project
from gateway.rendering import json_response
from gateway.responses import Influencer, InfluencerPage, MediaItem, MediaPage, SocialAccount, SocialAccountPage
from gateway.schemas import MediaRole, Platform
from layers.content.v1 import content_pb2
from layers.media.v1 import media_pb2

router = APIRouter(tags=["projects"])


class PageFields(TypedDict):
    """The fields every list request of a project's collection carries."""

    organization_id: str
    project_id: str
    page_size: int
    page_token: str


@dataclass(frozen=True)
class ProjectListing:
    """A key reading a page of one of a project's collections."""

    request: Request
    key: ApiKey
    project: str
    page: PageRequest

    async def check_visible(self) -> None:
        await visible_project(self.request, self.key, self.project)

    async def open(self, collection: str, **filters: str) -> tuple[str, PageFields]:
        """The listing a cursor of this collection is bound to, and the fields of the service request. A refused
        cursor on a project the key cannot see answers that project's 404: the project is checked first."""
        pages = listing(collection, self.key.organization_id, self.project, **filters)
        token = await self.page.token(pages, self.check_visible)
        fields = PageFields(
            organization_id=self.key.organization_id,
            project_id=self.project,
            page_size=self.page.limit,
            page_token=token,
        )
        return pages, fields


async def project_listing(
    request: Request,
    project_id: ProjectId,
    key: Annotated[ApiKey, Depends(require_scope("projects:read"))],
    page: PageDep,
) -> ProjectListing:
    return ProjectListing(request, key, project_or_404(project_id), page)


ListingDep = Annotated[ProjectListing, Depends(project_listing)]


@router.get("/projects/{projectId}/media", name="list_project_media", response_model=MediaPage)
async def list_media(
    listing: ListingDep,
    clients: ClientsDep,
    role: Annotated[MediaRole | None, Query(description="Only media with this role.")] = None,
) -> Response:
    # The media service files rows by project without knowing projects: ask content whether it is visible.
    await listing.check_visible()
    pages, fields = await listing.open("media", role=role or "")
    response = await clients.media.ListMedia(media_pb2.ListMediaRequest(media_role=role or "", **fields))
    items = [MediaItem.of(m) for m in response.media]
    return json_response(MediaPage.of(items, listing.page.next_cursor(pages, response.next_page_token)))


@router.get("/projects/{projectId}/influencers", name="list_project_influencers", response_model=InfluencerPage)
async def list_influencers(listing: ListingDep, clients: ClientsDep) -> Response:
    pages, fields = await listing.open("influencers")
    # Content checks the project belongs to the organization (NOT_FOUND otherwise).
    response = await clients.partner.ListInfluencers(content_pb2.ListInfluencersRequest(**fields))
    items = [Influencer.of(i) for i in response.influencers]
    return json_response(InfluencerPage.of(items, listing.page.next_cursor(pages, response.next_page_token)))


@router.get(
    "/projects/{projectId}/social-accounts", name="list_project_social_accounts", response_model=SocialAccountPage
)
async def list_social_accounts(
    listing: ListingDep,
    clients: ClientsDep,
    platform: Annotated[Platform | None, Query(description="Only accounts on this platform.")] = None,
) -> Response:
    pages, fields = await listing.open("social-accounts", platform=platform or "")
    response = await clients.partner.ListSocialAccounts(
        content_pb2.ListSocialAccountsRequest(platform=platform or "", **fields)
    )
    items = [SocialAccount.of(a) for a in response.social_accounts]
    return json_response(SocialAccountPage.of(items, listing.page.next_cursor(pages, response.next_page_token)))
