"""Generated from openapi.json by scripts/gen_openapi.py (clients/python/gen_models.py). Do not edit."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class AcceptedJob(BaseModel):
    """The 202 answer to a generation start."""

    model_config = ConfigDict(populate_by_name=True, extra="allow")

    job_id: str = Field(alias="jobId")
    kind: Literal["content_generate"] = Field(alias="kind")
    status: Literal["running"] = Field(alias="status")
    container_ids: list[str] = Field(alias="containerIds")
    location_url: str = Field(alias="locationUrl")
    project_id: str = Field(alias="projectId")
    stage: Literal["queued"] = Field(alias="stage")
    started_at: str | None = Field(alias="startedAt")


class AppMediaUpload(BaseModel):
    """POST /v1/projects/:projectId/app-media as multipart/form-data: the file and what it is."""

    model_config = ConfigDict(populate_by_name=True, extra="allow")

    kind: Literal["demo-video", "logo", "screenshot", "end-card"] = Field(alias="kind")
    file: bytes = Field(alias="file")


class AppMediaUrlBody(BaseModel):
    """POST /v1/projects/:projectId/app-media as JSON: a file for the media service to fetch over https."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    kind: Literal["demo-video", "logo", "screenshot", "end-card"] = Field(alias="kind")
    url: str = Field(alias="url")


class Asset(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="allow")

    asset_id: str = Field(alias="assetId")
    kind: str | None = Field(alias="kind")
    url: str = Field(alias="url")
    thumbnail_url: str | None = Field(alias="thumbnailUrl")
    duration_ms: int = Field(alias="durationMs")
    width: int = Field(alias="width")
    height: int = Field(alias="height")
    mime_type: str | None = Field(alias="mimeType")
    size_bytes: int = Field(alias="sizeBytes")
    checksum_sha256: str | None = Field(alias="checksumSha256")


class CancelResult(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="allow")

    accepted: bool = Field(alias="accepted")
    reason: str | None = Field(default=None, alias="reason")


class Container(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="allow")

    id: str = Field(alias="id")
    project_id: str = Field(alias="projectId")
    status: Literal["queued", "processing", "completed", "failed", "canceled"] | None = Field(alias="status")
    format: str = Field(alias="format")
    creative_type: str = Field(alias="creativeType")
    hook: str | None = Field(alias="hook")
    influencer_id: str | None = Field(alias="influencerId")
    social_account_id: str | None = Field(alias="socialAccountId")
    layer_id: str | None = Field(alias="layerId")
    media_id: str | None = Field(alias="mediaId")
    reaction_template_id: str | None = Field(alias="reactionTemplateId")
    music_track_id: str | None = Field(alias="musicTrackId")
    language: str | None = Field(alias="language")
    voice: str | None = Field(alias="voice")
    preview: Preview | None = Field(alias="preview")
    assets: list[Asset] = Field(alias="assets")
    approval_status: str = Field(alias="approvalStatus")
    created_at: str | None = Field(alias="createdAt")
    completed_at: str | None = Field(alias="completedAt")
    failed_at: str | None = Field(alias="failedAt")
    last_error: JobError | None = Field(alias="lastError")


class CreateWebhookEndpointBody(BaseModel):
    """POST /v1/webhook-endpoints."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    url: str = Field(alias="url")
    events: list[Literal["job.completed", "job.failed", "job.canceled", "content.generated", "test.ping"]] = Field(
        alias="events"
    )
    description: str = Field(default="", alias="description")
    project_id: str | None = Field(default=None, alias="projectId")


class CreatedWebhookEndpoint(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="allow")

    endpoint: WebhookEndpoint = Field(alias="endpoint")
    signing_secret: str = Field(alias="signingSecret")


class Credits(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="allow")

    organization_id: str = Field(alias="organizationId")
    balance: int = Field(alias="balance")
    available: int = Field(alias="available")
    reserved_credits: int = Field(alias="reservedCredits")
    estimated_credits_per_format: dict[str, int] = Field(alias="estimatedCreditsPerFormat")


class ErrorBody(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="allow")

    code: Literal[
        "UNAUTHENTICATED",
        "FORBIDDEN_SCOPE",
        "NOT_FOUND",
        "VALIDATION",
        "BILLING_EXHAUSTED",
        "IDEMPOTENCY_CONFLICT",
        "CONFLICT",
        "PAYLOAD_TOO_LARGE",
        "RATE_LIMITED",
        "FORBIDDEN_SIGNATURE",
        "RANGE_NOT_SATISFIABLE",
        "METHOD_NOT_ALLOWED",
        "BAD_REQUEST",
        "HEADERS_TOO_LARGE",
        "REQUEST_TIMEOUT",
        "INTERNAL",
        "UNAVAILABLE",
    ] = Field(alias="code")
    message: str = Field(alias="message")
    request_id: str = Field(alias="requestId")
    details: ErrorDetails = Field(alias="details")


class ErrorDetails(BaseModel):
    """Structure for the codes that carry it; other keys may appear (e.g. `reason` of a refused file)."""

    model_config = ConfigDict(populate_by_name=True, extra="allow")

    code: (
        Literal[
            "INFLUENCER_REQUIRED",
            "ACCOUNT_NOT_WIRED",
            "NO_CONTENT_LAYER_WIRED",
            "INFLUENCER_NOT_WIRED",
            "MISSING_APP_DEMO",
        ]
        | None
    ) = Field(default=None, alias="code")
    format: str | None = Field(default=None, alias="format")
    fields: list[FieldProblem] | None = Field(default=None, alias="fields")
    required_scope: str | None = Field(default=None, alias="requiredScope")
    reason: str | None = Field(default=None, alias="reason")
    subcode: str | None = Field(default=None, alias="subcode")
    required: int | None = Field(default=None, alias="required")
    available: int | None = Field(default=None, alias="available")
    limit_bytes: int | None = Field(default=None, alias="limitBytes")
    retry_after_seconds: int | None = Field(default=None, alias="retryAfterSeconds")
    size_bytes: int | None = Field(default=None, alias="sizeBytes")


class ErrorEnvelope(BaseModel):
    """Every 4xx and 5xx body."""

    model_config = ConfigDict(populate_by_name=True, extra="allow")

    error: ErrorBody = Field(alias="error")


class FieldProblem(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="allow")

    field: str = Field(alias="field")
    problem: str = Field(alias="problem")


class Health(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="allow")

    status: Literal["ok"] = Field(alias="status")


class Influencer(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="allow")

    influencer_id: str = Field(alias="influencerId")
    project_id: str = Field(alias="projectId")
    name: str = Field(alias="name")
    voice: str = Field(alias="voice")
    language: str = Field(alias="language")
    created_at: str | None = Field(alias="createdAt")


class InfluencerPage(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="allow")

    items: list[Influencer] = Field(alias="items")
    next_cursor: str | None = Field(alias="nextCursor")


class Job(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="allow")

    job_id: str = Field(alias="jobId")
    kind: str = Field(alias="kind")
    status: Literal["running", "completed", "failed", "canceled"] | None = Field(alias="status")
    stage: Literal["queued", "fetching_inputs", "compositing", "uploading"] | None = Field(alias="stage")
    progress: float = Field(alias="progress")
    project_id: str = Field(alias="projectId")
    container_ids: list[str] = Field(alias="containerIds")
    started_at: str | None = Field(alias="startedAt")
    finished_at: str | None = Field(alias="finishedAt")
    result: JobResult | None = Field(alias="result")
    error: JobError | None = Field(alias="error")


class JobError(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="allow")

    code: str = Field(alias="code")
    message: str = Field(alias="message")


class JobResult(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="allow")

    container_id: str | None = Field(alias="containerId")
    assets: list[Asset] = Field(alias="assets")


class MediaItem(BaseModel):
    """A row of the project's media library."""

    model_config = ConfigDict(populate_by_name=True, extra="allow")

    media_id: str = Field(alias="mediaId")
    project_id: str = Field(alias="projectId")
    kind: Literal["demo-video", "logo", "screenshot", "end-card"] = Field(alias="kind")
    media_role: Literal["app-demo", "logo", "screenshot", "end-card"] = Field(alias="mediaRole")
    mime_type: str | None = Field(alias="mimeType")
    size_bytes: int = Field(alias="sizeBytes")
    duration_ms: int | None = Field(alias="durationMs")
    width: int = Field(alias="width")
    height: int = Field(alias="height")
    created_at: str | None = Field(alias="createdAt")


class MediaPage(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="allow")

    items: list[MediaItem] = Field(alias="items")
    next_cursor: str | None = Field(alias="nextCursor")


class NotReady(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="allow")

    status: Literal["unavailable"] = Field(alias="status")
    reason: str = Field(alias="reason")


class Preview(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="allow")

    kind: str = Field(alias="kind")
    video_url: str = Field(alias="videoUrl")
    thumbnail_url: str | None = Field(alias="thumbnailUrl")
    duration_ms: int = Field(alias="durationMs")
    aspect_ratio: str = Field(alias="aspectRatio")


class Progress(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="allow")

    status: Literal["queued", "processing", "completed", "failed", "canceled"] | None = Field(alias="status")
    stage: Literal["queued", "fetching_inputs", "compositing", "uploading"] | None = Field(alias="stage")
    stage_progress: float | None = Field(alias="stageProgress")
    eta_seconds: int | None = Field(alias="etaSeconds")
    updated_at: str | None = Field(alias="updatedAt")


class ReplayAccepted(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="allow")

    delivery_id: str = Field(alias="deliveryId")


class RotatedWebhookSecret(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="allow")

    endpoint_id: str = Field(alias="endpointId")
    signing_secret: str = Field(alias="signingSecret")
    previous_secret_expires_at: str | None = Field(alias="previousSecretExpiresAt")


class SocialAccount(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="allow")

    social_account_id: str = Field(alias="socialAccountId")
    project_id: str = Field(alias="projectId")
    platform: Literal["tiktok", "instagram"] = Field(alias="platform")
    handle: str = Field(alias="handle")
    layer_ids: list[str] = Field(alias="layerIds")
    created_at: str | None = Field(alias="createdAt")


class SocialAccountPage(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="allow")

    items: list[SocialAccount] = Field(alias="items")
    next_cursor: str | None = Field(alias="nextCursor")


class UgcRemixBody(BaseModel):
    """POST /v1/projects/:projectId/content/ugc-remix. Strict: a number is not a string, and an unknown field is an
    error rather than silently ignored (no mass assignment).
    """

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    social_account_id: str | None = Field(default=None, alias="socialAccountId")
    influencer_id: str | None = Field(default=None, alias="influencerId")
    hook: str | None = Field(default=None, alias="hook")
    media_id: str | None = Field(default=None, alias="mediaId")


class UpdateWebhookEndpointBody(BaseModel):
    """PATCH /v1/webhook-endpoints/:endpointId: only the fields sent change."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    url: str | None = Field(default=None, alias="url")
    events: list[Literal["job.completed", "job.failed", "job.canceled", "content.generated", "test.ping"]] | None = (
        Field(default=None, alias="events")
    )
    description: str | None = Field(default=None, alias="description")
    status: Literal["active", "paused"] | None = Field(default=None, alias="status")


class WebhookDelivery(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="allow")

    delivery_id: str = Field(alias="deliveryId")
    event_id: str = Field(alias="eventId")
    event_type: Literal["job.completed", "job.failed", "job.canceled", "content.generated", "test.ping"] = Field(
        alias="eventType"
    )
    status: Literal["pending", "succeeded", "failed", "abandoned"] = Field(alias="status")
    attempts: int = Field(alias="attempts")
    last_status_code: int | None = Field(alias="lastStatusCode")
    last_error: str | None = Field(alias="lastError")
    next_attempt_at: str | None = Field(alias="nextAttemptAt")
    created_at: str | None = Field(alias="createdAt")
    replay_of: str | None = Field(alias="replayOf")


class WebhookDeliveryPage(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="allow")

    items: list[WebhookDelivery] = Field(alias="items")
    next_cursor: str | None = Field(alias="nextCursor")


class WebhookEndpoint(BaseModel):
    """A URL that receives signed events (never its secret)."""

    model_config = ConfigDict(populate_by_name=True, extra="allow")

    endpoint_id: str = Field(alias="endpointId")
    url: str = Field(alias="url")
    events: list[Literal["job.completed", "job.failed", "job.canceled", "content.generated", "test.ping"]] = Field(
        alias="events"
    )
    description: str | None = Field(alias="description")
    project_id: str | None = Field(alias="projectId")
    status: Literal["active", "paused", "auto_paused"] = Field(alias="status")
    created_at: str | None = Field(alias="createdAt")
    updated_at: str | None = Field(alias="updatedAt")


class WebhookEndpointPage(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="allow")

    items: list[WebhookEndpoint] = Field(alias="items")
    next_cursor: str | None = Field(alias="nextCursor")


class WebhookTestAccepted(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="allow")

    delivery_id: str = Field(alias="deliveryId")
    event_id: str = Field(alias="eventId")


class WhoAmI(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="allow")

    organization_id: str = Field(alias="organizationId")
    key_id: str = Field(alias="keyId")
    scopes: list[str] = Field(alias="scopes")
    credit_balance: int = Field(alias="creditBalance")


# Every error.code the API answers with (ErrorBody.code); errors.py has a class for each.
ERROR_CODES = (
    "UNAUTHENTICATED",
    "FORBIDDEN_SCOPE",
    "NOT_FOUND",
    "VALIDATION",
    "BILLING_EXHAUSTED",
    "IDEMPOTENCY_CONFLICT",
    "CONFLICT",
    "PAYLOAD_TOO_LARGE",
    "RATE_LIMITED",
    "FORBIDDEN_SIGNATURE",
    "RANGE_NOT_SATISFIABLE",
    "METHOD_NOT_ALLOWED",
    "BAD_REQUEST",
    "HEADERS_TOO_LARGE",
    "REQUEST_TIMEOUT",
    "INTERNAL",
    "UNAVAILABLE",
)

SCHEMAS: dict[str, type[BaseModel]] = {
    "AcceptedJob": AcceptedJob,
    "AppMediaUpload": AppMediaUpload,
    "AppMediaUrlBody": AppMediaUrlBody,
    "Asset": Asset,
    "CancelResult": CancelResult,
    "Container": Container,
    "CreateWebhookEndpointBody": CreateWebhookEndpointBody,
    "CreatedWebhookEndpoint": CreatedWebhookEndpoint,
    "Credits": Credits,
    "ErrorBody": ErrorBody,
    "ErrorDetails": ErrorDetails,
    "ErrorEnvelope": ErrorEnvelope,
    "FieldProblem": FieldProblem,
    "Health": Health,
    "Influencer": Influencer,
    "InfluencerPage": InfluencerPage,
    "Job": Job,
    "JobError": JobError,
    "JobResult": JobResult,
    "MediaItem": MediaItem,
    "MediaPage": MediaPage,
    "NotReady": NotReady,
    "Preview": Preview,
    "Progress": Progress,
    "ReplayAccepted": ReplayAccepted,
    "RotatedWebhookSecret": RotatedWebhookSecret,
    "SocialAccount": SocialAccount,
    "SocialAccountPage": SocialAccountPage,
    "UgcRemixBody": UgcRemixBody,
    "UpdateWebhookEndpointBody": UpdateWebhookEndpointBody,
    "WebhookDelivery": WebhookDelivery,
    "WebhookDeliveryPage": WebhookDeliveryPage,
    "WebhookEndpoint": WebhookEndpoint,
    "WebhookEndpointPage": WebhookEndpointPage,
    "WebhookTestAccepted": WebhookTestAccepted,
    "WhoAmI": WhoAmI,
}

for _model in SCHEMAS.values():
    _model.model_rebuild()
