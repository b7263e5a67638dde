"""Domain events are written with the state change that causes them: one transaction, or neither."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from common import events
from common.render_queue import InProcessQueue
from layers.content.v1 import content_pb2 as pb
from layers.events.v1 import events_pb2
from services.content import jobs as jobs_module
from services.content.models import Job, OutboxMessage
from tests.content.test_relay import CollectedEvents, _relay
from tests.content.world import World, request

ASSET = pb.Asset(kind="video", blob_id="blb_1", thumbnail_blob_id="blb_2", duration_ms=9000, width=1080, height=1920,
                 mime_type="video/mp4", size_bytes=42, checksum_sha256="c" * 64)  # fmt: skip


def _events(world: World) -> list[events_pb2.DomainEvent]:
    with world.db.read() as session:
        rows = session.scalars(
            select(OutboxMessage.payload).where(OutboxMessage.message_type == events.MESSAGE_TYPE)
        ).all()
    return [events_pb2.DomainEvent.FromString(r) for r in rows]


def test_each_end_of_a_job_records_its_events(world: World) -> None:
    completed = world.handler.handle(request(world, influencer_id=world.influencer)).job
    failed = world.handler.handle(request(world, influencer_id=world.influencer)).job
    canceled = world.handler.handle(request(world, influencer_id=world.influencer)).job
    world.jobs.complete(completed.job_id, [ASSET])
    world.jobs.fail(failed.job_id, "RENDER_FAILED", "no")
    world.jobs.cancel(world.org, canceled.job_id)
    world.jobs.fail(completed.job_id, "LATE", "a terminal job changes no more, and says nothing more")

    recorded = _events(world)
    assert [e.type for e in recorded] == ["job.completed", "content.generated", "job.failed", "job.canceled"]
    bodies = [json.loads(e.body) for e in recorded]
    for event, body in zip(recorded, bodies, strict=True):
        assert body["id"] == event.event_id and body["type"] == event.type
        assert event.organization_id == world.org and event.project_id == world.project
    assert bodies[0]["data"]["jobId"] == completed.job_id
    assert bodies[0]["data"]["result"]["assets"][0]["checksumSha256"] == "c" * 64
    assert bodies[1]["data"]["id"] == completed.container_ids[0]
    assert bodies[2]["data"]["error"] == {"code": "RENDER_FAILED", "message": "no"}
    assert bodies[3]["data"] == {"jobId": canceled.job_id, "kind": "content_generate", "projectId": world.project}

    collected = CollectedEvents()
    assert _relay(world, InProcessQueue(), collected).publish_pending() == 3 + 4
    assert [e.event_id for e in collected.events] == [e.event_id for e in recorded]


def test_no_event_for_a_state_change_that_rolled_back(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    job = world.handler.handle(request(world, influencer_id=world.influencer)).job
    written: list[str] = []
    record = jobs_module.events.job_completed

    def record_then_fail(*args: object, **kwargs: object) -> None:
        record(*args, **kwargs)  # type: ignore[arg-type]
        written.append("outbox")
        raise RuntimeError("the commit never happens")

    monkeypatch.setattr(jobs_module.events, "job_completed", record_then_fail)
    with pytest.raises(RuntimeError):
        world.jobs.complete(job.job_id, [ASSET])
    assert written == ["outbox"]
    assert _events(world) == []
    with world.db.read() as session:
        assert session.scalar(select(Job.status).where(Job.job_id == job.job_id)) == "running"
