"""GET /v1/content/:containerId/progress and GET /v1/content/:containerId/assets/:assetId."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from layers.content.v1 import content_pb2
from tests.gateway.conftest import PUBLIC_BASE_URL, LiveGateway
from tests.gateway.fakes import (
    ALL,
    ASSET_ID,
    CONTAINER_ID,
    JOB_ID,
    ORG,
    OTHER_ORG,
    PROJECT,
    WRITE_ONLY,
    FakeContent,
    accepted_job,
    asset,
    ts,
)
from tests.gateway.helpers import bearer, error_of

AUTH = bearer(ALL)
PROGRESS = f"/v1/content/{CONTAINER_ID}/progress"
ASSET = f"/v1/content/{CONTAINER_ID}/assets/{ASSET_ID}"


def _container(status: int, *assets: content_pb2.Asset) -> content_pb2.Container:
    return content_pb2.Container(
        container_id=CONTAINER_ID,
        organization_id=ORG,
        project_id=PROJECT,
        status=status,  # type: ignore[arg-type]
        format="ugc-remix",
        job_id=JOB_ID,
        assets=assets,
    )


# --- progress ------------------------------------------------------------------------------------------


def test_progress_of_a_rendering_job(http: httpx.Client, fake_content: FakeContent) -> None:
    fake_content.containers[CONTAINER_ID] = _container(content_pb2.CONTAINER_STATUS_PROCESSING)
    job = accepted_job()
    job.stage = content_pb2.JOB_STAGE_COMPOSITING
    job.stage_progress = 0.375
    job.progress = 0.6
    job.eta_seconds = 12
    job.updated_at.CopyFrom(ts(1_776_513_870, 123_999_999))
    fake_content.jobs[JOB_ID] = job
    response = http.get(PROGRESS, headers=AUTH)
    assert response.status_code == 200
    assert response.json() == {
        "status": "processing",
        "stage": "compositing",
        "stageProgress": 0.375,
        "etaSeconds": 12,
        "updatedAt": "2026-04-18T12:04:30.123Z",
    }
    (sent,) = fake_content.requests("GetContainer")
    assert (sent.organization_id, sent.container_id) == (ORG, CONTAINER_ID)


def test_unknown_eta_is_null_and_zero_eta_is_not(http: httpx.Client, fake_content: FakeContent) -> None:
    fake_content.containers[CONTAINER_ID] = _container(content_pb2.CONTAINER_STATUS_QUEUED)
    body = http.get(PROGRESS, headers=AUTH).json()
    assert body == {
        "status": "queued",
        "stage": "queued",
        "stageProgress": 0.0,
        "etaSeconds": None,
        "updatedAt": "2026-04-18T12:04:11.000Z",
    }
    fake_content.jobs[JOB_ID].eta_seconds = 0
    assert http.get(PROGRESS, headers=AUTH).json()["etaSeconds"] == 0


def test_progress_without_a_job_is_nulls(http: httpx.Client, fake_content: FakeContent) -> None:
    fake_content.containers[CONTAINER_ID] = _container(content_pb2.CONTAINER_STATUS_QUEUED)
    del fake_content.jobs[JOB_ID]
    assert http.get(PROGRESS, headers=AUTH).json() == {
        "status": "queued",
        "stage": None,
        "stageProgress": None,
        "etaSeconds": None,
        "updatedAt": None,
    }


def test_progress_etag_and_304(http: httpx.Client, fake_content: FakeContent) -> None:
    fake_content.containers[CONTAINER_ID] = _container(content_pb2.CONTAINER_STATUS_PROCESSING)
    etag = http.get(PROGRESS, headers=AUTH).headers["etag"]
    unchanged = http.get(PROGRESS, headers={**AUTH, "If-None-Match": etag})
    assert (unchanged.status_code, unchanged.content) == (304, b"")
    fake_content.jobs[JOB_ID].stage_progress = 0.5
    changed = http.get(PROGRESS, headers={**AUTH, "If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.json()["stageProgress"] == 0.5


@pytest.mark.parametrize("path", [PROGRESS, ASSET])
def test_container_of_another_org_is_404(http: httpx.Client, fake_content: FakeContent, path: str) -> None:
    container = _container(content_pb2.CONTAINER_STATUS_COMPLETED, asset())
    container.organization_id = OTHER_ORG
    fake_content.containers[CONTAINER_ID] = container
    error_of(http.get(path, headers=AUTH), 404, "NOT_FOUND")


@pytest.mark.parametrize("path", [PROGRESS, ASSET])
def test_reads_need_content_read(http: httpx.Client, fake_content: FakeContent, path: str) -> None:
    fake_content.containers[CONTAINER_ID] = _container(content_pb2.CONTAINER_STATUS_COMPLETED, asset())
    error = error_of(http.get(path, headers=bearer(WRITE_ONLY)), 403, "FORBIDDEN_SCOPE")
    assert error["details"] == {"requiredScope": "content:read"}
    assert fake_content.requests("GetContainer") == []


# --- asset metadata ------------------------------------------------------------------------------------


def test_asset_metadata_with_signed_urls(http: httpx.Client, gateway: LiveGateway, fake_content: FakeContent) -> None:
    other = asset("ast_01HZX3FFFFFFFFFFFFFFFFFFFF", thumbnail=False)
    fake_content.containers[CONTAINER_ID] = _container(content_pb2.CONTAINER_STATUS_COMPLETED, other, asset())
    response = http.get(ASSET, headers=AUTH)
    assert response.status_code == 200
    body = response.json()
    assert {k: v for k, v in body.items() if k not in ("url", "thumbnailUrl")} == {
        "assetId": ASSET_ID,
        "kind": "video",
        "durationMs": 14500,
        "width": 1080,
        "height": 1920,
        "mimeType": "video/mp4",
        "sizeBytes": 3456789,
        "checksumSha256": "ab" * 32,
    }
    for key, suffix in (("url", "file"), ("thumbnailUrl", "thumbnail")):
        assert body[key].startswith(PUBLIC_BASE_URL + "/")
        url = urlsplit(body[key])
        assert url.path == f"/v1/content/{CONTAINER_ID}/assets/{ASSET_ID}/{suffix}"
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        assert query["org"] == ORG
        assert gateway.signer.verify(url.path, ORG, query["expires"], query["signature"])


def test_asset_without_thumbnail_has_null_thumbnail_url(http: httpx.Client, fake_content: FakeContent) -> None:
    fake_content.containers[CONTAINER_ID] = _container(
        content_pb2.CONTAINER_STATUS_COMPLETED, asset(ASSET_ID, thumbnail=False)
    )
    body = http.get(ASSET, headers=AUTH).json()
    assert body["thumbnailUrl"] is None
    assert body["url"] is not None


def test_unknown_asset_of_the_container_is_404(http: httpx.Client, fake_content: FakeContent) -> None:
    fake_content.containers[CONTAINER_ID] = _container(content_pb2.CONTAINER_STATUS_COMPLETED, asset())
    error = error_of(http.get(f"/v1/content/{CONTAINER_ID}/assets/ast_other", headers=AUTH), 404, "NOT_FOUND")
    assert error["message"] == "assetId is not an asset of this container."


def test_asset_of_an_unknown_container_is_404(http: httpx.Client) -> None:
    error_of(http.get(f"/v1/content/cnt_missing/assets/{ASSET_ID}", headers=AUTH), 404, "NOT_FOUND")
