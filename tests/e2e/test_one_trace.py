"""One ugc-remix is one trace: the partner's POST, content's calls to media and billing, the relay's
publish, RabbitMQ, the renderer's stages and its calls back, the event through RabbitMQ again and the
webhook delivery all continue the `traceparent` the partner sent, on PostgreSQL."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from common.render_queue import RabbitPublisher
from tests.e2e.conftest import fresh_pg_databases
from tests.e2e.stack import running_stack
from tests.support.receiver import receiver
from tests.webhooks.helpers import eventually

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres]

PARTNER_TRACE = uuid.uuid4().hex
PARTNER_SPAN = uuid.uuid4().hex[:16]


def test_one_ugc_remix_is_one_trace_from_the_post_to_the_webhook(
    spans: InMemorySpanExporter,
    tmp_path: Path,
    amqp_url: str,
    broker_names: dict[str, str],
) -> None:
    publisher = RabbitPublisher(amqp_url, broker_names["render_queue"])
    with (
        # Databases of its own: in the session's, media would also pick catalogue clips earlier stacks seeded,
        # whose blobs are in their folders, not in this one's, where the renderer looks.
        fresh_pg_databases() as pg_databases,
        running_stack(
            tmp_path,
            db_urls=pg_databases,
            publisher=publisher,
            renderer=True,
            catalog=(1, 1),
            amqp_url=amqp_url,
            webhooks_embedded=True,
            **broker_names,
        ) as stack,
        receiver() as hook,
    ):
        tenant = stack.tenant()
        with stack.http(tenant["apiKey"]) as client:
            endpoint = client.post("/v1/webhook-endpoints", json={"url": hook.url, "events": ["job.completed"]})
            assert endpoint.status_code == 201, endpoint.text
            started = client.post(
                f"/v1/projects/{tenant['projectId']}/content/ugc-remix",
                json={"influencerId": tenant["influencerId"], "hook": "Wait for it"},
                headers={
                    "Idempotency-Key": str(uuid.uuid4()),
                    "traceparent": f"00-{PARTNER_TRACE}-{PARTNER_SPAN}-01",
                },
            )
            assert started.status_code == 202, started.text
            delivered = hook.wait_for(1, timeout=180)
            assert [r.json["type"] for r in delivered] == ["job.completed"]

            def in_trace() -> list[ReadableSpan]:
                found = [s for s in spans.get_finished_spans() if format(s.context.trace_id, "032x") == PARTNER_TRACE]
                return found if any(s.name == "webhook deliver" for s in found) else []

            trace_spans = eventually(in_trace, timeout=10)

    names = {s.name for s in trace_spans}
    expected = {
        "POST /v1/projects/{projectId}/content/ugc-remix",  # the gateway
        "/layers.content.v1.PartnerService/CreateUgcRemix",  # content
        "/layers.media.v1.MediaService/PickRenderInputs",  # media's picks
        "/layers.billing.v1.BillingService/Reserve",  # billing's hold
        "relay publish layers.render.v1.RenderJob",  # outbox → RabbitMQ
        "render",  # the renderer, from the message's headers
        "render fetching_inputs",
        "render compositing",
        "render uploading",
        "/layers.content.v1.RenderCallbackService/CompleteRender",  # the renderer calling back
        "/layers.billing.v1.BillingService/Capture",  # the charge
        "relay publish layers.events.v1.DomainEvent",  # the event → RabbitMQ → webhooks
        "webhook deliver",
    }
    assert expected <= names, f"missing {sorted(expected - names)}; the trace has {sorted(names)}"
    # One tree: every span's parent is in the trace, but the root's, which is the partner's own span.
    by_id = {s.context.span_id: s for s in trace_spans}
    orphans = [s.name for s in trace_spans if s.parent is None or s.parent.span_id not in by_id]
    assert orphans == ["POST /v1/projects/{projectId}/content/ugc-remix"]
    root = next(s for s in trace_spans if s.name in orphans)
    assert root.parent is not None and format(root.parent.span_id, "016x") == PARTNER_SPAN
    deliver = next(s for s in trace_spans if s.name == "webhook deliver")
    assert deliver.attributes is not None and deliver.attributes["http.response.status_code"] == 200
