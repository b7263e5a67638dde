"""GET /v1/content/:containerId: every field present, null until known."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx

from layers.content.v1 import content_pb2
from tests.gateway.conftest import PUBLIC_BASE_URL, LiveGateway
from tests.gateway.fakes import ALL, ASSET_ID, CONTAINER_ID, JOB_ID, ORG, PROJECT, FakeContent, asset, ts
from tests.gateway.helpers import bearer, error_of

AUTH = bearer(ALL)
PATH = f"/v1/content/{CONTAINER_ID}"


def _container(**fields: object) -> content_pb2.Container:
    return content_pb2.Container(
        container_id=CONTAINER_ID,
        organization_id=ORG,
        project_id=PROJECT,
        format="ugc-remix",
        job_id=JOB_ID,
        created_at=ts(1_776_513_851, 5_000_000),
        **fields,  # type: ignore[arg-type]
    )


def test_queued_container_has_every_field_with_nulls(http: httpx.Client, fake_content: FakeContent) -> None:
    fake_content.containers[CONTAINER_ID] = _container(
        status=content_pb2.CONTAINER_STATUS_QUEUED, influencer_id="inf_1"
    )
    response = http.get(PATH, headers=AUTH)
    assert response.status_code == 200
    assert response.json() == {
        "id": CONTAINER_ID,
        "projectId": PROJECT,
        "status": "queued",
        "format": "ugc-remix",
        "creativeType": "generated",
        "hook": None,
        "influencerId": "inf_1",
        "socialAccountId": None,
        "layerId": None,
        "mediaId": None,
        "reactionTemplateId": None,
        "musicTrackId": None,
        "language": None,
        "voice": None,
        "preview": None,
        "assets": [],
        "approvalStatus": "not_required",
        "createdAt": "2026-04-18T12:04:11.005Z",
        "completedAt": None,
        "failedAt": None,
        "lastError": None,
    }


def test_completed_container_has_preview_and_signed_assets(
    http: httpx.Client, gateway: LiveGateway, fake_content: FakeContent
) -> None:
    fake_content.containers[CONTAINER_ID] = _container(
        status=content_pb2.CONTAINER_STATUS_COMPLETED,
        hook="Line one\nline two 🎉",
        influencer_id="inf_1",
        social_account_id="sac_1",
        layer_id="lyr_1",
        media_id="med_1",
        reaction_template_id="rtp_1",
        music_track_id="trk_1",
        language="en-US",
        voice="warm",
        assets=[asset()],
        completed_at=ts(1_776_513_900),
    )
    body = http.get(PATH, headers=AUTH).json()
    assert body["status"] == "completed"
    assert body["hook"] == "Line one\nline two 🎉"
    assert body["completedAt"] == "2026-04-18T12:05:00.000Z"
    (item,) = body["assets"]
    assert {k: v for k, v in item.items() if k not in ("url", "thumbnailUrl")} == {
        "assetId": ASSET_ID,
        "kind": "video",
        "durationMs": 14500,
        "width": 1080,
        "height": 1920,
        "mimeType": "video/mp4",
        "sizeBytes": 3456789,
        "checksumSha256": "ab" * 32,
    }
    assert body["preview"] == {
        "kind": "video",
        "videoUrl": item["url"],
        "thumbnailUrl": item["thumbnailUrl"],
        "durationMs": 14500,
        "aspectRatio": "9:16",
    }
    for key, suffix in (("url", "file"), ("thumbnailUrl", "thumbnail")):
        url = urlsplit(item[key])
        assert item[key].startswith(PUBLIC_BASE_URL + "/")
        assert url.path == f"/v1/content/{CONTAINER_ID}/assets/{ASSET_ID}/{suffix}"
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        assert set(query) == {"org", "expires", "signature"}
        assert query["org"] == ORG
        assert gateway.signer.verify(url.path, query["org"], query["expires"], query["signature"])


def test_failed_container_has_last_error(http: httpx.Client, fake_content: FakeContent) -> None:
    fake_content.containers[CONTAINER_ID] = _container(
        status=content_pb2.CONTAINER_STATUS_FAILED,
        failed_at=ts(1_776_513_900),
        last_error=content_pb2.JobError(code="RENDER_FAILED", message="The render failed."),
    )
    body = http.get(PATH, headers=AUTH).json()
    assert body["status"] == "failed"
    assert body["failedAt"] == "2026-04-18T12:05:00.000Z"
    assert body["lastError"] == {"code": "RENDER_FAILED", "message": "The render failed."}


def test_unknown_container_is_404(http: httpx.Client) -> None:
    error_of(http.get("/v1/content/cnt_missing", headers=AUTH), 404, "NOT_FOUND")
