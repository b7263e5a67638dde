"""Webhook endpoints and their deliveries: /v1/webhook-endpoints… and /v1/webhook-deliveries/:id/replay.

The webhooks service owns them and scopes every call to the key's organization (another organization's id
answers 404). Create and rotate-secret answer a secret, so their Idempotency-Key records are kept by the
webhooks service, where the secret is stored only encrypted; test and replay use the gateway's generic
idempotency (content's records).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Request, Response
from google.protobuf import field_mask_pb2
from pydantic import BaseModel, ConfigDict, Field

from gateway.auth import ApiKey, require_scope
from gateway.cursors import listing
from gateway.deps import BodyDep, ClientsDep, PageDep
from gateway.errors import FieldProblem, validation_error
from gateway.idempotency import REPLAYED_HEADER, IdempotencyKey, IdempotentPost, bodiless_post, request_fingerprint
from gateway.project_access import visible_project
from gateway.rendering import json_response
from gateway.responses import (
    CreatedWebhookEndpoint,
    ReplayAccepted,
    ResponseModel,
    RotatedWebhookSecret,
    WebhookDelivery,
    WebhookDeliveryPage,
    WebhookEndpoint,
    WebhookEndpointPage,
    WebhookEventType,
    WebhookTestAccepted,
)
from gateway.schemas import Id, idempotency_key_problems, parse_body
from layers.webhooks.v1 import webhooks_pb2 as pb

router = APIRouter(tags=["webhooks"])

EndpointId = Annotated[Id, Path(alias="endpointId", description="The webhook endpoint (`whe_…`).")]
DeliveryId = Annotated[Id, Path(alias="deliveryId", description="A delivery (`whd_…`).")]
Reader = Annotated[ApiKey, Depends(require_scope("webhooks:read"))]
Writer = Annotated[ApiKey, Depends(require_scope("webhooks:write"))]
# A POST without a body, by a key that may write webhooks.
WriterPost = Annotated[IdempotentPost, Depends(bodiless_post("webhooks:write"))]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=False)


class CreateWebhookEndpointBody(_Body):
    """POST /v1/webhook-endpoints."""

    url: Annotated[str, Field(min_length=1, max_length=2048, examples=["https://example.com/layers-webhooks"])]
    events: Annotated[list[WebhookEventType], Field(min_length=1, max_length=50)]
    description: Annotated[str, Field(max_length=1000)] = ""
    project_id: Annotated[str | None, Field(alias="projectId")] = None


class UpdateWebhookEndpointBody(_Body):
    """PATCH /v1/webhook-endpoints/:endpointId: only the fields sent change."""

    url: Annotated[str, Field(min_length=1, max_length=2048)] | None = None
    events: Annotated[list[WebhookEventType], Field(min_length=1, max_length=50)] | None = None
    description: Annotated[str, Field(max_length=1000)] | None = None
    status: Literal["active", "paused"] | None = None


def _json_body(model: type[BaseModel]) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema(by_alias=True)}},
        }
    }


def _secret_answer(body: ResponseModel, status: int, replayed: bool) -> Response:
    headers = {REPLAYED_HEADER: "true"} if replayed else None
    # A secret is in this answer: no cache anywhere may keep it.
    return json_response(body, status_code=status, headers={"Cache-Control": "no-store", **(headers or {})})


# --- endpoints ---------------------------------------------------------------------------------------


@router.post(
    "/webhook-endpoints",
    name="create_webhook_endpoint",
    status_code=201,
    response_model=CreatedWebhookEndpoint,
    openapi_extra=_json_body(CreateWebhookEndpointBody),
)
async def create_endpoint(
    request: Request,
    key: Writer,
    body: BodyDep,
    clients: ClientsDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    parsed, problems = parse_body(CreateWebhookEndpointBody, body)
    problems += idempotency_key_problems(idempotency_key)
    if parsed is None or problems:
        raise validation_error(problems)
    project = await visible_project(request, key, parsed.project_id) if parsed.project_id else ""
    canonical = {**parsed.model_dump(by_alias=True), "projectId": project}
    answer = await clients.webhooks.CreateEndpoint(
        pb.CreateEndpointRequest(
            organization_id=key.organization_id,
            url=parsed.url,
            events=parsed.events,
            description=parsed.description,
            project_id=project,
            idempotency_key=idempotency_key or "",
            request_fingerprint=request_fingerprint("POST", "/v1/webhook-endpoints", canonical),
        )
    )
    return _secret_answer(CreatedWebhookEndpoint.of(answer), 201, answer.replayed)


@router.get("/webhook-endpoints", name="list_webhook_endpoints", response_model=WebhookEndpointPage)
async def list_endpoints(key: Reader, clients: ClientsDep, page: PageDep) -> Response:
    pages = listing("webhook-endpoints", key.organization_id)
    token = await page.token(pages)
    answer = await clients.webhooks.ListEndpoints(
        pb.ListEndpointsRequest(organization_id=key.organization_id, page_size=page.limit, page_token=token)
    )
    items = [WebhookEndpoint.of(e) for e in answer.endpoints]
    return json_response(WebhookEndpointPage.of(items, page.next_cursor(pages, answer.next_page_token)))


@router.get("/webhook-endpoints/{endpointId}", name="get_webhook_endpoint", response_model=WebhookEndpoint)
async def get_endpoint(endpoint_id: EndpointId, key: Reader, clients: ClientsDep) -> Response:
    answer = await clients.webhooks.GetEndpoint(
        pb.GetEndpointRequest(organization_id=key.organization_id, endpoint_id=endpoint_id)
    )
    return json_response(WebhookEndpoint.of(answer.endpoint))


_STATUSES = {"active": pb.ENDPOINT_STATUS_ACTIVE, "paused": pb.ENDPOINT_STATUS_PAUSED}


@router.patch(
    "/webhook-endpoints/{endpointId}",
    name="update_webhook_endpoint",
    response_model=WebhookEndpoint,
    openapi_extra=_json_body(UpdateWebhookEndpointBody),
)
async def update_endpoint(endpoint_id: EndpointId, key: Writer, body: BodyDep, clients: ClientsDep) -> Response:
    parsed, problems = parse_body(UpdateWebhookEndpointBody, body)
    if parsed is None or problems:
        raise validation_error(problems)
    sent = sorted(parsed.model_fields_set)
    nulls = [FieldProblem(name, "Must not be null.") for name in sent if getattr(parsed, name) is None]
    if nulls:
        raise validation_error(nulls)
    change = pb.Endpoint(
        endpoint_id=endpoint_id,
        url=parsed.url or "",
        events=parsed.events or [],
        description=parsed.description or "",
        status=_STATUSES.get(parsed.status or "", pb.ENDPOINT_STATUS_UNSPECIFIED),
    )
    answer = await clients.webhooks.UpdateEndpoint(
        pb.UpdateEndpointRequest(
            organization_id=key.organization_id, endpoint=change, update_mask=field_mask_pb2.FieldMask(paths=sent)
        )
    )
    return json_response(WebhookEndpoint.of(answer.endpoint))


@router.delete("/webhook-endpoints/{endpointId}", name="delete_webhook_endpoint", status_code=204)
async def delete_endpoint(endpoint_id: EndpointId, key: Writer, clients: ClientsDep) -> Response:
    await clients.webhooks.DeleteEndpoint(
        pb.DeleteEndpointRequest(organization_id=key.organization_id, endpoint_id=endpoint_id)
    )
    return Response(status_code=204)


@router.post(
    "/webhook-endpoints/{endpointId}/rotate-secret", name="rotate_webhook_secret", response_model=RotatedWebhookSecret
)
async def rotate_secret(endpoint_id: EndpointId, post: WriterPost, clients: ClientsDep) -> Response:
    # The webhooks service keeps this key's record itself (the answer holds a secret): not post.run.
    answer = await clients.webhooks.RotateSecret(
        pb.RotateSecretRequest(
            organization_id=post.organization_id,
            endpoint_id=endpoint_id,
            idempotency_key=post.key or "",
            request_fingerprint=request_fingerprint("POST", post.path, {}),
        )
    )
    return _secret_answer(RotatedWebhookSecret.of(answer), 200, answer.replayed)


async def _new_delivery(
    post: IdempotentPost, send: Callable[[], Awaitable[Any]], body: type[WebhookTestAccepted | ReplayAccepted]
) -> Response:
    """202 with `body` of the delivery `send` creates, once per Idempotency-Key: a retry replays that answer."""

    async def work() -> Response:
        answer = await send()
        return json_response(body.of(answer.delivery), status_code=202)

    return await post.run(request_fingerprint("POST", post.path, {}), work)


# Named as their routes are (FastAPI's default name), so each decorator fits on one line.
@router.post("/webhook-endpoints/{endpointId}/test", status_code=202, response_model=WebhookTestAccepted)
async def test_webhook_endpoint(endpoint_id: EndpointId, post: WriterPost, clients: ClientsDep) -> Response:
    test = pb.SendTestEventRequest(organization_id=post.organization_id, endpoint_id=endpoint_id)
    return await _new_delivery(post, lambda: clients.webhooks.SendTestEvent(test), WebhookTestAccepted)


@router.get(
    "/webhook-endpoints/{endpointId}/deliveries", name="list_webhook_deliveries", response_model=WebhookDeliveryPage
)
async def list_deliveries(endpoint_id: EndpointId, key: Reader, clients: ClientsDep, page: PageDep) -> Response:
    pages = listing("webhook-deliveries", key.organization_id, endpoint_id)

    async def endpoint_visible() -> None:
        # An endpoint the key cannot see is its 404, whatever cursor comes along.
        await clients.webhooks.GetEndpoint(
            pb.GetEndpointRequest(organization_id=key.organization_id, endpoint_id=endpoint_id)
        )

    token = await page.token(pages, endpoint_visible)
    answer = await clients.webhooks.ListDeliveries(
        pb.ListDeliveriesRequest(
            organization_id=key.organization_id, endpoint_id=endpoint_id, page_size=page.limit, page_token=token
        )
    )
    items = [WebhookDelivery.of(d) for d in answer.deliveries]
    return json_response(WebhookDeliveryPage.of(items, page.next_cursor(pages, answer.next_page_token)))


@router.post("/webhook-deliveries/{deliveryId}/replay", status_code=202, response_model=ReplayAccepted)
async def replay_webhook_delivery(delivery_id: DeliveryId, post: WriterPost, clients: ClientsDep) -> Response:
    # The same event again under a new event id, its body naming the original delivery in `replayOf`.
    replay = pb.ReplayDeliveryRequest(organization_id=post.organization_id, delivery_id=delivery_id)
    return await _new_delivery(post, lambda: clients.webhooks.ReplayDelivery(replay), ReplayAccepted)
