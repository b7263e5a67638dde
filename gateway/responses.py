"""Every success body of the API, as pydantic models: each model documents its body in /openapi.json (routes
name it as their response model) and is built from the gRPC message by its `of` constructor. Field order is
key order; a field not yet known is null, never missing (the one exception: CancelResult's `reason`).

gateway.rendering turns a model into the bytes sent, so ETags and idempotent replays cover exactly them.
"""

from __future__ import annotations

import logging
from typing import Any, Generic, Literal, Self, TypeVar

from google.protobuf.message import Message
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from gateway.auth import ApiKey
from gateway.proto_json import enum_name, known_strings, optional_time, or_none, same_named
from gateway.schemas import MediaKind, MediaRole, Platform
from gateway.signing import UrlSigner
from layers.billing.v1 import billing_pb2
from layers.content.v1 import content_pb2
from layers.media.v1 import media_pb2
from layers.webhooks.v1 import webhooks_pb2

log = logging.getLogger("layers.gateway")

JOB_KIND = "content_generate"
UGC_REMIX_FORMAT = "ugc-remix"
_TERMINAL = frozenset({"completed", "failed", "canceled"})

JobStatus = Literal["running", "completed", "failed", "canceled"]
JobStage = Literal["queued", "fetching_inputs", "compositing", "uploading"]
ContainerStatus = Literal["queued", "processing", "completed", "failed", "canceled"]
WebhookEventType = Literal["job.completed", "job.failed", "job.canceled", "content.generated", "test.ping"]


class ResponseModel(BaseModel):
    # Built by field name from proto messages; the aliases are the JSON keys.
    model_config = ConfigDict(alias_generator=to_camel, validate_by_name=True, validate_by_alias=False)

    @classmethod
    def checked(cls, **fields: Any) -> Self:
        """The body, checked against its documented types. A service answer outside them is that service's
        bug: it is logged and passed on as it came, rather than failing the partner's request."""
        try:
            # The validator itself: model_validate's own wrapping costs as much again on the hot path.
            body: Self = cls.__pydantic_validator__.validate_python(fields)
            return body
        except ValidationError as exc:
            # Once per model and field: a service a release ahead (a new event type) would otherwise log
            # on every response.
            where = (cls.__name__, tuple(str(e["loc"]) for e in exc.errors(include_url=False)))
            if where not in _REPORTED and len(_REPORTED) < _MAX_REPORTED:
                _REPORTED.add(where)
                log.error("a %s body does not match its schema: %s", cls.__name__, exc.errors(include_url=False))
            return cls.model_construct(**fields)


# The mismatches logged so far (bounded: a flood of new ones is logged up to this many, then quietly).
_REPORTED: set[tuple[str, tuple[str, ...]]] = set()
_MAX_REPORTED = 256


def _job_status(value: int) -> str | None:
    return enum_name(content_pb2.JobStatus, "JOB_STATUS_", value)


def _job_stage(value: int) -> str | None:
    return enum_name(content_pb2.JobStage, "JOB_STAGE_", value)


def _container_status(value: int) -> str | None:
    return enum_name(content_pb2.ContainerStatus, "CONTAINER_STATUS_", value)


# --- jobs and content ----------------------------------------------------------------------------------


class AcceptedJob(ResponseModel):
    """The 202 answer to a generation start."""

    job_id: str = Field(examples=["job_01HZX3..."])
    kind: Literal["content_generate"]
    status: Literal["running"]
    container_ids: list[str] = Field(min_length=1, max_length=1)
    location_url: str
    project_id: str
    stage: Literal["queued"]
    started_at: str | None

    @classmethod
    def of(cls, job: content_pb2.Job) -> Self:
        """A function of the accepted Job only (no clock, no signer), so a replay of the same stored Job is
        byte-identical. Status and stage are what every accepted job is, whatever it has moved on to since."""
        return cls.checked(
            job_id=job.job_id,
            kind=JOB_KIND,
            status="running",
            container_ids=list(job.container_ids),
            location_url=f"/v1/jobs/{job.job_id}",
            project_id=job.project_id,
            stage="queued",
            started_at=optional_time(job, "started_at"),
        )


class Asset(ResponseModel):
    asset_id: str
    kind: str | None
    url: str = Field(
        description="Absolute, signed, expiring download URL (no API key needed); supports Range.",
        examples=[
            "https://api.example.com/v1/content/cnt_1/assets/ast_1/file?org=org_1&expires=1776517500&signature=…"
        ],
    )
    thumbnail_url: str | None = Field(description="Absolute, signed, expiring URL of a JPEG still; null without one.")
    duration_ms: int
    width: int
    height: int
    mime_type: str | None
    size_bytes: int
    checksum_sha256: str | None

    @classmethod
    def of(cls, organization_id: str, container_id: str, asset: content_pb2.Asset, signer: UrlSigner) -> Self:
        # The URLs carry the owning org (signed), so the download route needs no API key.
        thumbnail_url = signer.asset_thumbnail_url(organization_id, container_id, asset.asset_id)
        return cls.checked(
            asset_id=asset.asset_id,
            kind=or_none(asset.kind),
            url=signer.asset_file_url(organization_id, container_id, asset.asset_id),
            thumbnail_url=thumbnail_url if asset.thumbnail_blob_id else None,
            duration_ms=asset.duration_ms,
            width=asset.width,
            height=asset.height,
            mime_type=or_none(asset.mime_type),
            size_bytes=asset.size_bytes,
            checksum_sha256=or_none(asset.checksum_sha256),
        )


class JobResult(ResponseModel):
    container_id: str | None
    assets: list[Asset]


class JobError(ResponseModel):
    code: str
    message: str

    @classmethod
    def of(cls, message: Message, field: str) -> Self | None:
        """The JobError in `field` of `message`; None when it is not set."""
        if not message.HasField(field):
            return None
        error: content_pb2.JobError = getattr(message, field)
        return cls.checked(code=error.code, message=error.message)


RENDER_FAILED = JobError(code="RENDER_FAILED", message="The render failed.")


class Job(ResponseModel):
    job_id: str
    kind: str
    status: JobStatus | None
    stage: JobStage | None
    progress: float = Field(ge=0, le=1)
    project_id: str
    container_ids: list[str]
    started_at: str | None
    finished_at: str | None
    result: JobResult | None
    error: JobError | None

    @classmethod
    def of(cls, job: content_pb2.Job, signer: UrlSigner) -> Self:
        status = _job_status(job.status)
        result = None
        if status == "completed":
            container_id = job.container_ids[0] if job.container_ids else ""
            assets = [Asset.of(job.organization_id, container_id, a, signer) for a in job.assets]
            result = JobResult.checked(container_id=or_none(container_id), assets=assets)
        error = None
        if status == "failed":
            error = JobError.of(job, "error") or RENDER_FAILED
        return cls.checked(
            job_id=job.job_id,
            kind=job.kind or JOB_KIND,
            status=status,
            stage=_job_stage(job.stage),
            progress=job.progress,
            project_id=job.project_id,
            container_ids=list(job.container_ids),
            started_at=optional_time(job, "started_at"),
            finished_at=optional_time(job, "finished_at") if status in _TERMINAL else None,
            result=result,
            error=error,
        )


class Preview(ResponseModel):
    kind: str
    video_url: str
    thumbnail_url: str | None
    duration_ms: int
    aspect_ratio: str

    @classmethod
    def of(cls, assets: list[Asset]) -> Self | None:
        """The container's video (or, without one, its first asset) as a feed shows it; None without assets."""
        video = next((a for a in assets if a.kind == "video"), assets[0] if assets else None)
        if video is None:
            return None
        return cls.checked(
            kind="video",
            video_url=video.url,
            thumbnail_url=video.thumbnail_url,
            duration_ms=video.duration_ms,
            aspect_ratio="9:16",
        )


class Container(ResponseModel):
    id: str
    project_id: str
    status: ContainerStatus | None
    format: str
    creative_type: str
    hook: str | None
    influencer_id: str | None
    social_account_id: str | None
    layer_id: str | None
    media_id: str | None
    reaction_template_id: str | None
    music_track_id: str | None
    language: str | None
    voice: str | None
    preview: Preview | None
    assets: list[Asset]
    approval_status: str
    created_at: str | None
    completed_at: str | None
    failed_at: str | None
    last_error: JobError | None

    @classmethod
    def of(cls, container: content_pb2.Container, signer: UrlSigner) -> Self:
        assets = [Asset.of(container.organization_id, container.container_id, a, signer) for a in container.assets]
        return cls.checked(
            id=container.container_id,
            project_id=container.project_id,
            status=_container_status(container.status),
            format=container.format or UGC_REMIX_FORMAT,
            creative_type="generated",
            hook=container.hook if container.HasField("hook") else None,
            influencer_id=or_none(container.influencer_id),
            social_account_id=or_none(container.social_account_id),
            layer_id=or_none(container.layer_id),
            media_id=or_none(container.media_id),
            reaction_template_id=or_none(container.reaction_template_id),
            music_track_id=or_none(container.music_track_id),
            language=or_none(container.language),
            voice=or_none(container.voice),
            preview=Preview.of(assets),
            assets=assets,
            approval_status="not_required",
            created_at=optional_time(container, "created_at"),
            completed_at=optional_time(container, "completed_at"),
            failed_at=optional_time(container, "failed_at"),
            last_error=JobError.of(container, "last_error"),
        )


class Progress(ResponseModel):
    status: ContainerStatus | None
    stage: JobStage | None
    stage_progress: float | None
    eta_seconds: int | None
    updated_at: str | None

    @classmethod
    def of(cls, container: content_pb2.Container, job: content_pb2.Job | None) -> Self:
        """GET /v1/content/:id/progress: the container's status and its job's live stage."""
        return cls.checked(
            status=_container_status(container.status),
            stage=_job_stage(job.stage) if job else None,
            stage_progress=job.stage_progress if job else None,
            eta_seconds=job.eta_seconds if job and job.HasField("eta_seconds") else None,
            updated_at=optional_time(job, "updated_at") if job else None,
        )


class CancelResult(ResponseModel):
    accepted: bool
    # Only a refused cancel says why.
    reason: str | None = Field(default=None, examples=["ALREADY_COMPLETED"], exclude_if=lambda reason: reason is None)

    @classmethod
    def of(cls, accepted: bool, reason: str) -> Self:
        if accepted:
            return cls.checked(accepted=True)
        return cls.checked(accepted=False, reason=reason or "ALREADY_COMPLETED")


# --- the caller's account ------------------------------------------------------------------------------


class Credits(ResponseModel):
    organization_id: str
    balance: int
    available: int = Field(ge=0)
    reserved_credits: int
    estimated_credits_per_format: dict[str, int] = Field(examples=[{"ugc_remix": 120}])

    @classmethod
    def of(cls, organization_id: str, wallet: billing_pb2.Wallet, ugc_remix_credits: int) -> Self:
        return cls.checked(
            organization_id=organization_id,
            balance=wallet.balance,
            available=max(0, wallet.available),
            reserved_credits=wallet.reserved_credits,
            estimated_credits_per_format={"ugc_remix": ugc_remix_credits},
        )


class WhoAmI(ResponseModel):
    organization_id: str
    key_id: str
    scopes: list[str]
    credit_balance: int

    @classmethod
    def of(cls, key: ApiKey, credit_balance: int) -> Self:
        return cls.checked(
            organization_id=key.organization_id,
            key_id=key.key_id,
            scopes=list(key.scopes),
            credit_balance=credit_balance,
        )


# --- a project's collections ---------------------------------------------------------------------------

ItemT = TypeVar("ItemT", bound=ResponseModel)


class Page(ResponseModel, Generic[ItemT]):
    items: list[ItemT]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null on the last page.")

    @classmethod
    def of(cls, items: list[ItemT], next_cursor: str | None) -> Self:
        return cls.checked(items=items, next_cursor=next_cursor)


class MediaItem(ResponseModel):
    """A row of the project's media library."""

    media_id: str = Field(examples=["med_01HZX3..."])
    project_id: str
    kind: MediaKind
    media_role: MediaRole
    mime_type: str | None
    size_bytes: int
    duration_ms: int | None = Field(description="Null for still images.")
    width: int
    height: int
    created_at: str | None

    @classmethod
    def of(cls, item: media_pb2.MediaItem) -> Self:
        blob, probe = item.blob, item.probe
        return cls.checked(
            **same_named(item, "media_id", "project_id", "kind", "media_role"),
            mime_type=or_none(blob.mime_type),
            size_bytes=blob.size_bytes,
            duration_ms=probe.duration_ms or None,  # a still image has no duration: null, not 0
            width=probe.width,
            height=probe.height,
            created_at=optional_time(item, "created_at"),
        )


class MediaPage(Page[MediaItem]):
    pass


class Influencer(ResponseModel):
    influencer_id: str
    project_id: str
    name: str
    voice: str
    language: str
    created_at: str | None

    @classmethod
    def of(cls, influencer: content_pb2.Influencer) -> Self:
        return cls.checked(
            **same_named(influencer, "influencer_id", "project_id", "name", "voice", "language"),
            created_at=optional_time(influencer, "created_at"),
        )


class InfluencerPage(Page[Influencer]):
    pass


class SocialAccount(ResponseModel):
    social_account_id: str
    project_id: str
    platform: Platform
    handle: str
    layer_ids: list[str]
    created_at: str | None

    @classmethod
    def of(cls, account: content_pb2.SocialAccount) -> Self:
        return cls.checked(
            **same_named(account, "social_account_id", "project_id", "platform", "handle"),
            layer_ids=list(account.layer_ids),
            created_at=optional_time(account, "created_at"),
        )


class SocialAccountPage(Page[SocialAccount]):
    pass


# --- webhooks ------------------------------------------------------------------------------------------


class WebhookEndpoint(ResponseModel):
    """A URL that receives signed events (never its secret)."""

    endpoint_id: str = Field(examples=["whe_01HZX3..."])
    url: str
    events: list[WebhookEventType]
    description: str | None
    project_id: str | None = Field(description="Only this project's events; null for the whole organization.")
    status: Literal["active", "paused", "auto_paused"]
    created_at: str | None
    updated_at: str | None

    @classmethod
    def of(cls, endpoint: webhooks_pb2.Endpoint) -> Self:
        return cls.checked(
            **same_named(endpoint, "endpoint_id", "url"),
            events=list(endpoint.events),
            **known_strings(endpoint, "description", "project_id"),
            status=enum_name(webhooks_pb2.EndpointStatus, "ENDPOINT_STATUS_", endpoint.status),
            created_at=optional_time(endpoint, "created_at"),
            updated_at=optional_time(endpoint, "updated_at"),
        )


class CreatedWebhookEndpoint(ResponseModel):
    endpoint: WebhookEndpoint
    signing_secret: str = Field(description="`whsec_…`: shown this once.", examples=["whsec_..."])

    @classmethod
    def of(cls, answer: webhooks_pb2.CreateEndpointResponse) -> Self:
        return cls.checked(endpoint=WebhookEndpoint.of(answer.endpoint), signing_secret=answer.signing_secret)


class WebhookEndpointPage(Page[WebhookEndpoint]):
    pass


class RotatedWebhookSecret(ResponseModel):
    endpoint_id: str
    signing_secret: str = Field(description="The new secret, shown this once.")
    previous_secret_expires_at: str | None = Field(description="Until then the old secret signs too.")

    @classmethod
    def of(cls, answer: webhooks_pb2.RotateSecretResponse) -> Self:
        return cls.checked(
            endpoint_id=answer.endpoint_id,
            signing_secret=answer.signing_secret,
            previous_secret_expires_at=optional_time(answer, "previous_secret_expires_at"),
        )


class WebhookTestAccepted(ResponseModel):
    delivery_id: str
    event_id: str

    @classmethod
    def of(cls, delivery: webhooks_pb2.Delivery) -> Self:
        return cls.checked(delivery_id=delivery.delivery_id, event_id=delivery.event_id)


class WebhookDelivery(ResponseModel):
    delivery_id: str = Field(examples=["whd_01HZX3..."])
    event_id: str = Field(examples=["evt_01HZX3..."])
    event_type: WebhookEventType
    status: Literal["pending", "succeeded", "failed", "abandoned"]
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: str | None
    created_at: str | None
    replay_of: str | None = Field(description="The delivery this one replays.")

    @classmethod
    def of(cls, delivery: webhooks_pb2.Delivery) -> Self:
        return cls.checked(
            **same_named(delivery, "delivery_id", "event_id", "event_type", "attempts"),
            status=enum_name(webhooks_pb2.DeliveryStatus, "DELIVERY_STATUS_", delivery.status),
            last_status_code=delivery.last_status_code or None,
            **known_strings(delivery, "last_error", "replay_of"),
            next_attempt_at=optional_time(delivery, "next_attempt_at"),
            created_at=optional_time(delivery, "created_at"),
        )


class WebhookDeliveryPage(Page[WebhookDelivery]):
    pass


class ReplayAccepted(ResponseModel):
    delivery_id: str = Field(description="The new delivery.")

    @classmethod
    def of(cls, delivery: webhooks_pb2.Delivery) -> Self:
        return cls.checked(delivery_id=delivery.delivery_id)


# --- health --------------------------------------------------------------------------------------------


class Health(ResponseModel):
    status: Literal["ok"]


class NotReady(ResponseModel):
    status: Literal["unavailable"]
    reason: str = Field(examples=["redis unreachable"])
