"""POST /v1/projects/:projectId/content/ugc-remix, GET /v1/content/:containerId (and its progress and
assets), and the signed asset downloads."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request, Response

from common.clients import Clients
from gateway.auth import ApiKey, require_scope
from gateway.deps import BodyDep, ClientsDep, RequestIdDep, SignerDep
from gateway.downloads import Conditions, SignedLink, Variant, asset_of, conditions, serve_asset, signed_link
from gateway.errors import validation_error
from gateway.idempotency import IdempotencyKey, request_fingerprint
from gateway.project_access import ProjectId, visible_project
from gateway.rendering import conditional_json, json_response
from gateway.responses import AcceptedJob, Asset, Container, Progress
from gateway.schemas import (
    AssetId,
    ContainerId,
    UgcRemixBody,
    idempotency_key_problems,
    parse_body,
)
from layers.content.v1 import content_pb2

router = APIRouter(tags=["content"])


@router.post(
    "/projects/{projectId}/content/ugc-remix",
    name="create_ugc_remix",
    status_code=202,
    response_model=AcceptedJob,
    # The body is parsed in the route (after the project check), so document it by hand.
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": UgcRemixBody.model_json_schema(by_alias=True)}},
        }
    },
)
async def create_ugc_remix(
    request: Request,
    project_id: ProjectId,
    key: Annotated[ApiKey, Depends(require_scope("content:write"))],
    body: BodyDep,
    clients: ClientsDep,
    request_id: RequestIdDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    # Contract order: auth -> scope (dependencies) -> project visible -> body shape -> the rest (content).
    # A cheap look-up first, so an unknown project answers 404 even when the body is also bad.
    project = await visible_project(request, key, project_id)

    parsed, problems = parse_body(UgcRemixBody, body)
    problems += idempotency_key_problems(idempotency_key)
    if parsed is None or problems:
        raise validation_error(problems)

    # The route's own path with the canonical project id (url_path_for would try every route in turn).
    path = f"/v1/projects/{project}/content/ugc-remix"
    response = await clients.partner.CreateUgcRemix(
        content_pb2.CreateUgcRemixRequest(
            organization_id=key.organization_id,
            project_id=project,
            social_account_id=parsed.social_account_id or "",
            influencer_id=parsed.influencer_id or "",
            hook=parsed.hook,
            media_id=parsed.media_id or "",
            idempotency_key=idempotency_key or "",
            request_fingerprint=request_fingerprint("POST", path, parsed.canonical()),
            request_id=request_id,
            api_key_id=key.key_id,
        )
    )
    accepted = AcceptedJob.of(response.job)
    headers = {"Location": accepted.location_url}
    if response.replayed:
        headers["Idempotent-Replayed"] = "true"
    return json_response(accepted, status_code=202, headers=headers)


ContentReader = Annotated[ApiKey, Depends(require_scope("content:read"))]


async def _container(clients: Clients, key: ApiKey, container_id: str) -> content_pb2.GetContainerResponse:
    """The container of the key's organization, with its job (NOT_FOUND for any other)."""
    response: content_pb2.GetContainerResponse = await clients.partner.GetContainer(
        content_pb2.GetContainerRequest(organization_id=key.organization_id, container_id=container_id)
    )
    return response


@router.get("/content/{containerId}", name="get_container", response_model=Container)
async def get_container(
    container_id: ContainerId, key: ContentReader, clients: ClientsDep, signer: SignerDep
) -> Response:
    response = await _container(clients, key, container_id)
    return json_response(Container.of(response.container, signer))


@router.get("/content/{containerId}/progress", name="get_container_progress", response_model=Progress)
async def get_container_progress(
    container_id: ContainerId,
    key: ContentReader,
    clients: ClientsDep,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    response = await _container(clients, key, container_id)
    job = response.job if response.HasField("job") else None
    return conditional_json(Progress.of(response.container, job), if_none_match)


@router.get("/content/{containerId}/assets/{assetId}", name="get_asset", response_model=Asset)
async def get_asset(
    container_id: ContainerId, asset_id: AssetId, key: ContentReader, clients: ClientsDep, signer: SignerDep
) -> Response:
    container = (await _container(clients, key, container_id)).container
    asset = asset_of(container, asset_id)
    return json_response(Asset.of(container.organization_id, container.container_id, asset, signer))


# The signed download links: no API key, the signature is the authority. GET and HEAD, any Range.
ConditionsDep = Annotated[Conditions, Depends(conditions)]


def _download(variant: Variant) -> Callable[..., Awaitable[Response]]:
    """The signed-link download of an asset's file or thumbnail (GET and HEAD)."""

    async def download(
        request: Request,
        container_id: ContainerId,
        asset_id: AssetId,
        wanted: ConditionsDep,
        clients: ClientsDep,
        # A default, not Annotated: annotations are strings here, and `variant` is not a module name.
        link: SignedLink = Depends(signed_link(variant)),  # noqa: B008
    ) -> Response:
        return await serve_asset(
            clients,
            method=request.method,
            link=link,
            container_id=container_id,
            asset_id=asset_id,
            variant=variant,
            conditions=wanted,
        )

    return download


_VARIANTS: tuple[Variant, ...] = ("file", "thumbnail")
for _variant in _VARIANTS:
    _path = f"/content/{{containerId}}/assets/{{assetId}}/{_variant}"
    _endpoint = _download(_variant)
    router.head(_path, name=f"head_asset_{_variant}")(_endpoint)  # registered first, as decorators did
    router.get(_path, name=f"download_asset_{_variant}")(_endpoint)
