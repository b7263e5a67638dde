"""What webhook tests share: completing a job the way the renderer does, and polling for a delivery."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from common.clients import Clients
from layers.content.v1 import content_pb2


def start_job(client: httpx.Client, tenant: dict[str, Any]) -> dict[str, Any]:
    response = client.post(
        f"/v1/projects/{tenant['projectId']}/content/ugc-remix", json={"influencerId": tenant["influencerId"]}
    )
    assert response.status_code == 202, response.text
    return dict(response.json())


def complete_job(stubs: Clients, job_id: str) -> None:
    """What the renderer reports at the end of a render (the output is described, not rendered)."""
    stubs.render.StartRender(content_pb2.StartRenderRequest(job_id=job_id))
    asset = content_pb2.Asset(
        kind="video",
        blob_id="blb_test",
        thumbnail_blob_id="blb_thumb",
        duration_ms=12_000,
        width=1080,
        height=1920,
        mime_type="video/mp4",
        size_bytes=123_456,
        checksum_sha256="ab" * 32,
    )
    answer = stubs.render.CompleteRender(content_pb2.CompleteRenderRequest(job_id=job_id, assets=[asset]))
    assert answer.recorded


def eventually(check: Callable[[], Any], timeout: float = 20.0, every: float = 0.05) -> Any:
    """The first truthy answer of `check`, or its last answer once the time is up."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(every)


def deliveries(client: httpx.Client, endpoint_id: str) -> list[dict[str, Any]]:
    response = client.get(f"/v1/webhook-endpoints/{endpoint_id}/deliveries")
    assert response.status_code == 200, response.text
    return list(response.json()["items"])
