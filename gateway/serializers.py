"""Proto -> public JSON, as pure functions: camelCase keys, RFC 3339 ms timestamps, nulls never missing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from gateway.signing import UrlSigner
from layers.billing.v1 import billing_pb2
from layers.content.v1 import content_pb2
from layers.media.v1 import media_pb2

JOB_KIND = "content_generate"
UGC_REMIX_FORMAT = "ugc-remix"
_TERMINAL = frozenset({"completed", "failed", "canceled"})


def json_bytes(obj: Any) -> bytes:
    """The exact bytes we send: compact, UTF-8, key order as built (so equal inputs give equal bytes)."""
    return json.dumps(obj, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")


def rfc3339(ts: Timestamp) -> str:
    """`2026-04-18T12:04:11.000Z`: UTC, milliseconds (truncated), Z."""
    moment = datetime.fromtimestamp(ts.seconds, tz=UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{ts.nanos // 1_000_000:03d}Z"


def optional_time(message: Message, field: str) -> str | None:
    """A Timestamp field as RFC 3339, or None when it was never set."""
    return rfc3339(getattr(message, field)) if message.HasField(field) else None


def _or_none(value: str) -> str | None:
    # proto3 strings cannot be null; empty means "not known".
    return value or None


def _enum_value(enum: Any, prefix: str, value: int) -> str | None:
    """JOB_STATUS_RUNNING -> "running"; UNSPECIFIED or a value newer than this code -> None."""
    try:
        name: str = enum.Name(value)
    except ValueError:
        return None
    short = name.removeprefix(prefix).lower()
    return None if short == "unspecified" else short


def job_status(value: int) -> str | None:
    return _enum_value(content_pb2.JobStatus, "JOB_STATUS_", value)


def job_stage(value: int) -> str | None:
    return _enum_value(content_pb2.JobStage, "JOB_STAGE_", value)


def container_status(value: int) -> str | None:
    return _enum_value(content_pb2.ContainerStatus, "CONTAINER_STATUS_", value)


def accepted_job_json(job: content_pb2.Job) -> dict[str, Any]:
    """The 202 body for an accepted ugc-remix. A function of the accepted Job only (no clock, no
    signer), so a replay of the same stored Job is byte-identical. Status and stage are what every
    accepted job is, whatever the job has moved on to since."""
    location = f"/v1/jobs/{job.job_id}"
    return {
        "jobId": job.job_id,
        "kind": JOB_KIND,
        "status": "running",
        "containerIds": list(job.container_ids),
        "locationUrl": location,
        "projectId": job.project_id,
        "stage": "queued",
        "startedAt": optional_time(job, "started_at"),
    }


def asset_json(organization_id: str, container_id: str, asset: content_pb2.Asset, signer: UrlSigner) -> dict[str, Any]:
    # The URLs carry the owning org (signed), so the download route needs no API key.
    thumbnail_url = signer.asset_thumbnail_url(organization_id, container_id, asset.asset_id)
    return {
        "assetId": asset.asset_id,
        "kind": _or_none(asset.kind),
        "url": signer.asset_file_url(organization_id, container_id, asset.asset_id),
        "thumbnailUrl": thumbnail_url if asset.thumbnail_blob_id else None,
        "durationMs": asset.duration_ms,
        "width": asset.width,
        "height": asset.height,
        "mimeType": _or_none(asset.mime_type),
        "sizeBytes": asset.size_bytes,
        "checksumSha256": _or_none(asset.checksum_sha256),
    }


def _error_json(message: Message, field: str) -> dict[str, str] | None:
    if not message.HasField(field):
        return None
    error: content_pb2.JobError = getattr(message, field)
    return {"code": error.code, "message": error.message}


def job_json(job: content_pb2.Job, signer: UrlSigner) -> dict[str, Any]:
    status = job_status(job.status)
    container_id = job.container_ids[0] if job.container_ids else ""
    result = None
    if status == "completed":
        result = {
            "containerId": _or_none(container_id),
            "assets": [asset_json(job.organization_id, container_id, a, signer) for a in job.assets],
        }
    error = None
    if status == "failed":
        error = _error_json(job, "error") or {"code": "RENDER_FAILED", "message": "The render failed."}
    return {
        "jobId": job.job_id,
        "kind": job.kind or JOB_KIND,
        "status": status,
        "stage": job_stage(job.stage),
        "progress": job.progress,
        "projectId": job.project_id,
        "containerIds": list(job.container_ids),
        "startedAt": optional_time(job, "started_at"),
        "finishedAt": optional_time(job, "finished_at") if status in _TERMINAL else None,
        "result": result,
        "error": error,
    }


def _preview(assets: list[dict[str, Any]]) -> dict[str, Any] | None:
    video = next((a for a in assets if a["kind"] == "video"), assets[0] if assets else None)
    if video is None:
        return None
    return {
        "kind": "video",
        "videoUrl": video["url"],
        "thumbnailUrl": video["thumbnailUrl"],
        "durationMs": video["durationMs"],
        "aspectRatio": "9:16",
    }


def container_json(container: content_pb2.Container, signer: UrlSigner) -> dict[str, Any]:
    assets = [asset_json(container.organization_id, container.container_id, a, signer) for a in container.assets]
    return {
        "id": container.container_id,
        "projectId": container.project_id,
        "status": container_status(container.status),
        "format": container.format or UGC_REMIX_FORMAT,
        "creativeType": "generated",
        "hook": container.hook if container.HasField("hook") else None,
        "influencerId": _or_none(container.influencer_id),
        "socialAccountId": _or_none(container.social_account_id),
        "layerId": _or_none(container.layer_id),
        "mediaId": _or_none(container.media_id),
        "reactionTemplateId": _or_none(container.reaction_template_id),
        "musicTrackId": _or_none(container.music_track_id),
        "language": _or_none(container.language),
        "voice": _or_none(container.voice),
        "preview": _preview(assets),
        "assets": assets,
        "approvalStatus": "not_required",
        "createdAt": optional_time(container, "created_at"),
        "completedAt": optional_time(container, "completed_at"),
        "failedAt": optional_time(container, "failed_at"),
        "lastError": _error_json(container, "last_error"),
    }


def progress_json(container: content_pb2.Container, job: content_pb2.Job | None) -> dict[str, Any]:
    """GET /v1/content/:id/progress: the container's status and its job's live stage."""
    return {
        "status": container_status(container.status),
        "stage": job_stage(job.stage) if job else None,
        "stageProgress": job.stage_progress if job else None,
        "etaSeconds": job.eta_seconds if job and job.HasField("eta_seconds") else None,
        "updatedAt": optional_time(job, "updated_at") if job else None,
    }


def cancel_json(accepted: bool, reason: str) -> dict[str, Any]:
    if accepted:
        return {"accepted": True}
    return {"accepted": False, "reason": reason or "ALREADY_COMPLETED"}


def credits_json(organization_id: str, wallet: billing_pb2.Wallet, ugc_remix_credits: int) -> dict[str, Any]:
    return {
        "organizationId": organization_id,
        "balance": wallet.balance,
        "available": max(0, wallet.available),
        "reservedCredits": wallet.reserved_credits,
        "estimatedCreditsPerFormat": {"ugc_remix": ugc_remix_credits},
    }


def whoami_json(organization_id: str, key_id: str, scopes: list[str], wallet: billing_pb2.Wallet) -> dict[str, Any]:
    return {
        "organizationId": organization_id,
        "keyId": key_id,
        "scopes": scopes,
        "creditBalance": wallet.balance,
    }


def media_json(item: media_pb2.MediaItem) -> dict[str, Any]:
    """A media-library row. Images have no duration: null rather than 0."""
    return {
        "mediaId": item.media_id,
        "projectId": item.project_id,
        "kind": item.kind,
        "mediaRole": item.media_role,
        "mimeType": _or_none(item.blob.mime_type),
        "sizeBytes": item.blob.size_bytes,
        "durationMs": item.probe.duration_ms or None,
        "width": item.probe.width,
        "height": item.probe.height,
        "createdAt": optional_time(item, "created_at"),
    }


def influencer_json(influencer: content_pb2.Influencer) -> dict[str, Any]:
    return {
        "influencerId": influencer.influencer_id,
        "projectId": influencer.project_id,
        "name": influencer.name,
        "voice": influencer.voice,
        "language": influencer.language,
        "createdAt": optional_time(influencer, "created_at"),
    }


def social_account_json(account: content_pb2.SocialAccount) -> dict[str, Any]:
    return {
        "socialAccountId": account.social_account_id,
        "projectId": account.project_id,
        "platform": account.platform,
        "handle": account.handle,
        "layerIds": list(account.layer_ids),
        "createdAt": optional_time(account, "created_at"),
    }


def page_json(items: list[dict[str, Any]], next_cursor: str | None) -> dict[str, Any]:
    return {"items": items, "nextCursor": next_cursor}
