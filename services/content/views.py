"""Rows to protos."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from common.timeutil import to_timestamp
from layers.content.v1 import content_pb2 as pb
from services.content import models

JOB_STATUS = {
    "running": pb.JOB_STATUS_RUNNING,
    "completed": pb.JOB_STATUS_COMPLETED,
    "failed": pb.JOB_STATUS_FAILED,
    "canceled": pb.JOB_STATUS_CANCELED,
}
JOB_STAGE = {
    "queued": pb.JOB_STAGE_QUEUED,
    "fetching_inputs": pb.JOB_STAGE_FETCHING_INPUTS,
    "compositing": pb.JOB_STAGE_COMPOSITING,
    "uploading": pb.JOB_STAGE_UPLOADING,
}
STAGE_NAMES = {value: name for name, value in JOB_STAGE.items()}
CONTAINER_STATUS = {
    "queued": pb.CONTAINER_STATUS_QUEUED,
    "processing": pb.CONTAINER_STATUS_PROCESSING,
    "completed": pb.CONTAINER_STATUS_COMPLETED,
    "failed": pb.CONTAINER_STATUS_FAILED,
    "canceled": pb.CONTAINER_STATUS_CANCELED,
}


def asset_file(asset: models.Asset | pb.Asset) -> dict[str, Any]:
    """The rendered file an asset row or message describes, named alike on both: to make the other from."""
    return {
        "blob_id": asset.blob_id,
        "thumbnail_blob_id": asset.thumbnail_blob_id,
        "duration_ms": asset.duration_ms,
        "width": asset.width,
        "height": asset.height,
        "mime_type": asset.mime_type,
        "size_bytes": asset.size_bytes,
        "checksum_sha256": asset.checksum_sha256,
    }


def asset_pb(asset: models.Asset) -> pb.Asset:
    return pb.Asset(asset_id=asset.asset_id, kind=asset.kind, **asset_file(asset))


def job_pb(job: models.Job, container_ids: Sequence[str], assets: Sequence[models.Asset] = ()) -> pb.Job:
    message = pb.Job(
        job_id=job.job_id,
        kind=job.kind,
        status=JOB_STATUS[job.status],
        stage=JOB_STAGE[job.stage],
        progress=job.progress,
        stage_progress=job.stage_progress,
        organization_id=job.organization_id,
        project_id=job.project_id,
        container_ids=list(container_ids),
        started_at=to_timestamp(job.started_at),
        finished_at=to_timestamp(job.finished_at),
        updated_at=to_timestamp(job.updated_at),
        assets=[asset_pb(a) for a in assets],
    )
    if job.eta_seconds is not None:
        message.eta_seconds = job.eta_seconds
    if job.error_code:
        message.error.CopyFrom(pb.JobError(code=job.error_code, message=job.error_message or ""))
    return message


def container_pb(container: models.Container, assets: Sequence[models.Asset] = ()) -> pb.Container:
    message = pb.Container(
        container_id=container.container_id,
        job_id=container.job_id,
        organization_id=container.organization_id,
        project_id=container.project_id,
        status=CONTAINER_STATUS[container.status],
        format=container.format,
        influencer_id=container.influencer_id,
        social_account_id=container.social_account_id or "",
        layer_id=container.layer_id,
        media_id=container.media_id,
        reaction_template_id=container.reaction_template_id,
        music_track_id=container.music_track_id,
        language=container.language,
        voice=container.voice,
        assets=[asset_pb(a) for a in assets],
        created_at=to_timestamp(container.created_at),
        completed_at=to_timestamp(container.completed_at),
        failed_at=to_timestamp(container.failed_at),
    )
    if container.hook is not None:
        message.hook = container.hook
    if container.last_error_code:
        message.last_error.CopyFrom(
            pb.JobError(code=container.last_error_code, message=container.last_error_message or "")
        )
    return message


def influencer_pb(row: models.Influencer) -> pb.Influencer:
    return pb.Influencer(
        influencer_id=row.influencer_id,
        project_id=row.project_id,
        name=row.name,
        voice=row.voice,
        language=row.language,
        created_at=to_timestamp(row.created_at),
    )


def social_account_pb(row: models.SocialAccount, layer_ids: Sequence[str]) -> pb.SocialAccount:
    return pb.SocialAccount(
        social_account_id=row.social_account_id,
        project_id=row.project_id,
        platform=row.platform,
        handle=row.handle,
        layer_ids=list(layer_ids),
        created_at=to_timestamp(row.created_at),
    )
