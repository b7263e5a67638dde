"""Rows -> protos, shared by the servicer and the stored answers of idempotent calls."""

from __future__ import annotations

from common.timeutil import to_timestamp
from layers.webhooks.v1 import webhooks_pb2 as pb
from services.webhooks.models import Delivery, Endpoint

_ENDPOINT_STATUS = {
    "active": pb.ENDPOINT_STATUS_ACTIVE,
    "paused": pb.ENDPOINT_STATUS_PAUSED,
    "auto_paused": pb.ENDPOINT_STATUS_AUTO_PAUSED,
}
STATUS_NAMES = {value: name for name, value in _ENDPOINT_STATUS.items()}
_DELIVERY_STATUS = {
    "pending": pb.DELIVERY_STATUS_PENDING,
    "succeeded": pb.DELIVERY_STATUS_SUCCEEDED,
    "failed": pb.DELIVERY_STATUS_FAILED,
    "abandoned": pb.DELIVERY_STATUS_ABANDONED,
}


def endpoint_pb(row: Endpoint) -> pb.Endpoint:
    return pb.Endpoint(
        endpoint_id=row.endpoint_id,
        organization_id=row.organization_id,
        url=row.url,
        events=row.events.split(),
        description=row.description,
        project_id=row.project_id or "",
        status=_ENDPOINT_STATUS[row.status],
        created_at=to_timestamp(row.created_at),
        updated_at=to_timestamp(row.updated_at),
    )


def delivery_pb(row: Delivery) -> pb.Delivery:
    return pb.Delivery(
        delivery_id=row.delivery_id,
        endpoint_id=row.endpoint_id,
        event_id=row.event_id,
        event_type=row.event_type,
        status=_DELIVERY_STATUS[row.status],
        attempts=row.attempts,
        last_status_code=row.last_status_code or 0,
        last_error=row.last_error or "",
        next_attempt_at=to_timestamp(row.next_attempt_at) if row.status == "pending" else None,
        created_at=to_timestamp(row.created_at),
        replay_of=row.replay_of or "",
    )
