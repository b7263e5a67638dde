"""GET /v1/jobs/:jobId: the job JSON, its ETag, and 304 while unchanged."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from common import broadcasts
from layers.content.v1 import content_pb2
from tests.gateway.conftest import PUBLIC_BASE_URL, LiveGateway
from tests.gateway.fakes import (
    ALL,
    ASSET_ID,
    CONTAINER_ID,
    JOB_ID,
    OTHER_ORG,
    PROJECT,
    FakeContent,
    accepted_job,
    asset,
    ts,
)
from tests.gateway.helpers import bearer, error_of, request_id

AUTH = bearer(ALL)
PATH = f"/v1/jobs/{JOB_ID}"


def test_running_job(http: httpx.Client, fake_content: FakeContent) -> None:
    job = accepted_job()
    job.stage = content_pb2.JOB_STAGE_FETCHING_INPUTS
    job.progress = 0.25
    job.finished_at.CopyFrom(ts(1))  # ignored: only a terminal job has finished
    fake_content.jobs[JOB_ID] = job
    response = http.get(PATH, headers=AUTH)
    assert response.status_code == 200
    assert response.json() == {
        "jobId": JOB_ID,
        "kind": "content_generate",
        "status": "running",
        "stage": "fetching_inputs",
        "progress": 0.25,
        "projectId": PROJECT,
        "containerIds": [CONTAINER_ID],
        "startedAt": "2026-04-18T12:04:11.000Z",
        "finishedAt": None,
        "result": None,
        "error": None,
    }
    (sent,) = fake_content.requests("GetJob")
    assert sent.job_id == JOB_ID


def test_completed_job_has_result_with_signed_urls(
    http: httpx.Client, gateway: LiveGateway, fake_content: FakeContent
) -> None:
    job = accepted_job()
    job.status = content_pb2.JOB_STATUS_COMPLETED
    job.stage = content_pb2.JOB_STAGE_UPLOADING
    job.progress = 1.0
    job.finished_at.CopyFrom(ts(1_776_513_900, 987_654_321))
    job.assets.append(asset())
    fake_content.jobs[JOB_ID] = job
    body = http.get(PATH, headers=AUTH).json()
    assert body["status"] == "completed"
    assert body["finishedAt"] == "2026-04-18T12:05:00.987Z"
    assert body["error"] is None
    assert body["result"]["containerId"] == CONTAINER_ID
    (item,) = body["result"]["assets"]
    assert item["assetId"] == ASSET_ID
    url = urlsplit(item["url"])
    assert f"{url.scheme}://{url.netloc}" == PUBLIC_BASE_URL
    assert url.path == f"/v1/content/{CONTAINER_ID}/assets/{ASSET_ID}/file"
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert query["org"] == job.organization_id
    assert gateway.signer.verify(url.path, query["org"], query["expires"], query["signature"])


@pytest.mark.parametrize(
    ("status", "name"), [(content_pb2.JOB_STATUS_FAILED, "failed"), (content_pb2.JOB_STATUS_CANCELED, "canceled")]
)
def test_failed_and_canceled_jobs(http: httpx.Client, fake_content: FakeContent, status: int, name: str) -> None:
    job = accepted_job()
    job.status = status  # type: ignore[assignment]
    job.finished_at.CopyFrom(ts(1_776_513_900))
    if name == "failed":
        job.error.CopyFrom(content_pb2.JobError(code="RENDER_FAILED", message="ffmpeg exited 1"))
    fake_content.jobs[JOB_ID] = job
    body = http.get(PATH, headers=AUTH).json()
    assert body["status"] == name
    assert body["finishedAt"] == "2026-04-18T12:05:00.000Z"
    assert body["result"] is None
    assert body["error"] == ({"code": "RENDER_FAILED", "message": "ffmpeg exited 1"} if name == "failed" else None)


def test_etag_and_304_while_unchanged(http: httpx.Client, fake_content: FakeContent) -> None:
    first = http.get(PATH, headers=AUTH)
    etag = first.headers["etag"]
    assert etag == f'"{hashlib.sha256(first.content).hexdigest()}"'

    for if_none_match in (etag, f"W/{etag}", f'"nope", {etag}', "*"):
        unchanged = http.get(PATH, headers={**AUTH, "If-None-Match": if_none_match})
        assert unchanged.status_code == 304
        assert unchanged.content == b""
        assert unchanged.headers["etag"] == etag
        request_id(unchanged)

    fake_content.jobs[JOB_ID].progress = 0.1
    broadcasts.LOCAL.publish(broadcasts.JOB_CHANGED, JOB_ID)  # as content does after the change commits
    changed = http.get(PATH, headers={**AUTH, "If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    assert changed.json()["progress"] == 0.1


def test_job_of_another_org_is_404(http: httpx.Client, fake_content: FakeContent) -> None:
    fake_content.jobs[JOB_ID].organization_id = OTHER_ORG
    error_of(http.get(PATH, headers=AUTH), 404, "NOT_FOUND")


def test_a_polled_job_is_asked_once_until_content_says_it_changed(
    http: httpx.Client, fake_content: FakeContent
) -> None:
    assert [http.get(PATH, headers=AUTH).json()["progress"] for _ in range(3)] == [0.0] * 3
    assert len(fake_content.requests("GetJob")) == 1
    fake_content.jobs[JOB_ID].progress = 0.4
    assert http.get(PATH, headers=AUTH).json()["progress"] == 0.0  # not told yet
    broadcasts.LOCAL.publish(broadcasts.JOB_CHANGED, "job_another")
    assert http.get(PATH, headers=AUTH).json()["progress"] == 0.0
    broadcasts.LOCAL.publish(broadcasts.JOB_CHANGED, JOB_ID)
    assert http.get(PATH, headers=AUTH).json()["progress"] == 0.4
    assert len(fake_content.requests("GetJob")) == 2


def test_a_cancel_is_read_back_at_once_and_the_ttl_bounds_a_lost_broadcast(
    http: httpx.Client, fake_content: FakeContent, start_gateway: Callable[..., LiveGateway]
) -> None:
    assert http.get(PATH, headers=AUTH).json()["status"] == "running"
    assert http.post(f"/v1/jobs/{JOB_ID}/cancel", headers=AUTH).status_code == 202
    assert http.get(PATH, headers=AUTH).json()["status"] == "canceled"  # no broadcast needed
    brief = start_gateway(job_cache_seconds=0.3)
    assert httpx.get(brief.base_url + PATH, headers=AUTH).json()["progress"] == 0.0
    fake_content.jobs[JOB_ID].progress = 0.7  # and the broadcast is lost
    time.sleep(0.4)
    assert httpx.get(brief.base_url + PATH, headers=AUTH).json()["progress"] == 0.7
