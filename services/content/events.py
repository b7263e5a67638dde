"""Domain events of a job's end, written to the outbox in the transaction that ends the job.

Each row holds a DomainEvent whose body is already the public JSON partners receive, so the event says
what was true when the change committed, and nothing is emitted for a change that rolled back. Assets
carry their metadata, not download links: links are signed for an hour, and a delivery may be retried
for a day; a partner asks GET /v1/content/:id/assets/:assetId for a fresh link.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from common import events, logs
from common.ids import new_id
from services.content.models import Asset, Container, Job, OutboxMessage

JOB_KIND = "content_generate"


def _asset(asset: Asset) -> dict[str, Any]:
    return {
        "assetId": asset.asset_id,
        "kind": asset.kind,
        "durationMs": asset.duration_ms,
        "width": asset.width,
        "height": asset.height,
        "mimeType": asset.mime_type,
        "sizeBytes": asset.size_bytes,
        "checksumSha256": asset.checksum_sha256,
    }


def _record(session: Session, job: Job, event_type: str, now: datetime, data: dict[str, Any]) -> str:
    event_id = new_id("evt")
    body = {"id": event_id, "type": event_type, "createdAt": events.rfc3339(now), "data": data}
    raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    message = events.domain_event(event_id, event_type, job.organization_id, job.project_id, now, raw)
    session.add(
        OutboxMessage(
            message_id=event_id,
            message_type=events.MESSAGE_TYPE,
            payload=message.SerializeToString(),
            created_at=now,
            attempts=0,
            headers=logs.headers_json(),
        )
    )
    return event_id


def job_completed(session: Session, job: Job, container: Container, assets: Sequence[Asset], now: datetime) -> None:
    outputs = [_asset(a) for a in assets]
    result = {"containerId": container.container_id, "assets": outputs}
    base = {"jobId": job.job_id, "kind": JOB_KIND, "projectId": job.project_id}
    _record(session, job, events.JOB_COMPLETED, now, {**base, "result": result})
    _record(
        session,
        job,
        events.CONTENT_GENERATED,
        now,
        {"id": container.container_id, "projectId": container.project_id, "assets": outputs},
    )


def job_failed(session: Session, job: Job, code: str, message: str, now: datetime) -> None:
    data = {
        "jobId": job.job_id,
        "kind": JOB_KIND,
        "projectId": job.project_id,
        "error": {"code": code, "message": message},
    }
    _record(session, job, events.JOB_FAILED, now, data)


def job_canceled(session: Session, job: Job, now: datetime) -> None:
    _record(
        session, job, events.JOB_CANCELED, now, {"jobId": job.job_id, "kind": JOB_KIND, "projectId": job.project_id}
    )
