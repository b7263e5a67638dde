"""The webhooks service on its own (real gRPC, SQLite or PostgreSQL, real HTTP receivers), fed events the way
content's relay does in the embedded default."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common import events
from common.clients import channel
from common.ids import new_id
from common.settings import Settings
from common.ssrf import Resolver
from common.timeutil import utcnow
from layers.webhooks.v1 import webhooks_pb2 as pb
from layers.webhooks.v1 import webhooks_pb2_grpc
from services.webhooks import server
from services.webhooks.server import RunningWebhooks

ORG = "org_test"
PROJECT = "5f0c8c9e-8c3a-4d55-9c1e-2f8f7a1f3b10"


@dataclass
class Service:
    running: RunningWebhooks
    stub: webhooks_pb2_grpc.WebhookServiceStub

    def endpoint(self, url: str, types: list[str] | None = None, org: str = ORG) -> pb.CreateEndpointResponse:
        return self.stub.CreateEndpoint(
            pb.CreateEndpointRequest(organization_id=org, url=url, events=types or ["job.completed"])
        )

    def publish(self, event_type: str = "job.completed", org: str = ORG, **data: Any) -> str:
        """An event as content's relay hands it over; returns its id."""
        event_id = new_id("evt")
        now = utcnow()
        body = events.rfc3339(now)
        raw = f'{{"id":"{event_id}","type":"{event_type}","createdAt":"{body}","data":{{"jobId":"job_x"}}}}'.encode()
        self.running.sink.publish_event(events.domain_event(event_id, event_type, org, PROJECT, now, raw))
        return event_id

    def deliveries(self, endpoint_id: str, org: str = ORG) -> list[pb.Delivery]:
        answer = self.stub.ListDeliveries(pb.ListDeliveriesRequest(organization_id=org, endpoint_id=endpoint_id))
        return list(answer.deliveries)

    def get(self, endpoint_id: str) -> pb.Endpoint:
        return self.stub.GetEndpoint(pb.GetEndpointRequest(organization_id=ORG, endpoint_id=endpoint_id)).endpoint


@contextlib.contextmanager
def webhooks_service(
    data_dir: Path, db_url: str, embedded: bool = True, resolver: Resolver | None = None, **overrides: Any
) -> Iterator[Service]:
    settings = Settings(
        data_dir=data_dir,
        webhooks_db_url=db_url,
        webhook_secret_key="test-webhook-secret-key",
        **{"webhook_retry_delays": "0,0.2,0.2", **overrides},
    )
    running = server.start(settings, "127.0.0.1:0", embedded=embedded, consume=False, resolver=resolver)
    ch = channel(running.address)
    try:
        yield Service(running, webhooks_pb2_grpc.WebhookServiceStub(ch))
    finally:
        ch.close()
        running.stop(grace_seconds=1)
