"""The partner read surface over real HTTP: a project's media, influencers and social accounts (cursor pages,
filters, tenancy, scopes), and /v1/whoami and /v1/credits against CONTRACT.md."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine

from common.ffmpeg import probe
from layers.content.v1 import content_pb2
from services.media import seed_clips
from services.media.blob_store import LocalBlobStore
from services.media.library import MediaLibrary
from services.media.probing import Measured
from tests.e2e.stack import Stack
from tests.e2e.test_ugc_remix_http import assert_error


def walk(
    client: httpx.Client,
    path: str,
    limit: int,
    between_pages: Callable[[], None] = lambda: None,
    **filters: str,
) -> list[str]:
    """Every id a cursor walk returns, page by page; checks each page's size on the way."""
    ids: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {**filters, "limit": limit, **({"cursor": cursor} if cursor else {})}
        response = client.get(path, params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        assert set(page) == {"items", "nextCursor"}
        assert len(page["items"]) <= limit
        ids += [next(v for k, v in item.items() if k.endswith("Id") and k != "projectId") for item in page["items"]]
        cursor = page["nextCursor"]
        if cursor is None:
            return ids
        assert len(page["items"]) == limit
        between_pages()


def test_450_influencers_in_pages_of_200_no_duplicate_no_gap_stable_under_inserts(stack: Stack) -> None:
    tenant = stack.tenant()
    project = tenant["projectId"]
    admin = stack.stubs.admin

    def add(name: str) -> str:
        request = content_pb2.CreateInfluencerRequest(project_id=project, name=name, voice="v", language="en")
        return str(admin.CreateInfluencer(request).influencer.influencer_id)

    expected = [tenant["influencerId"]] + [add(f"inf {i}") for i in range(449)]
    added: list[str] = []
    with stack.http(tenant["apiKey"]) as client:
        seen = walk(client, f"/v1/projects/{project}/influencers", 200, lambda: added.append(add("late")))
        assert seen[:450] == expected and len(set(seen)) == len(seen)
        # Rows added mid-walk come after every earlier row, never shifting a page.
        assert seen[450:] == added and len(added) == 2
        assert walk(client, f"/v1/projects/{project}/influencers", 200) == expected + added


def test_450_media_rows_in_pages_of_200_and_the_role_filter(stack: Stack, tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    tenant = stack.tenant()
    project = tenant["projectId"]
    # Filing 450 probed uploads through the API would take minutes: file one real blob 450 times directly.
    clip = seed_clips.make_app_demo(tmp_path_factory.mktemp("clip") / "demo.mp4", seconds=1)
    found = probe(clip)
    measured = Measured(found.duration_ms, found.width, found.height, found.has_audio, True, found.format_name)
    engine = create_engine(stack.settings.media_database)
    library = MediaLibrary(engine, LocalBlobStore(stack.settings.blobs), stack.settings.max_upload_bytes)
    try:
        blob = library.write_blob("video/mp4", 0, [clip.read_bytes()])
        rows = [
            library.record_media(tenant["organizationId"], project, "logo" if i % 3 == 0 else "demo-video",
                                 blob.blob_id, measured).media_id
            for i in range(449)
        ]  # fmt: skip
    finally:
        engine.dispose()
    expected = [tenant["mediaId"], *rows]
    with stack.http(tenant["apiKey"]) as client:
        seen = walk(client, f"/v1/projects/{project}/media", 200)
        assert seen == expected
        logos = walk(client, f"/v1/projects/{project}/media", 200, role="logo")
        assert logos == [m for i, m in enumerate(rows) if i % 3 == 0]
        demos = client.get(f"/v1/projects/{project}/media", params={"role": "app-demo", "limit": 2}).json()
        assert [m["mediaRole"] for m in demos["items"]] == ["app-demo", "app-demo"] and demos["nextCursor"]


def test_social_accounts_filter_by_platform_and_show_their_wiring(stack: Stack) -> None:
    tenant = stack.tenant()
    project = tenant["projectId"]
    insta = stack.stubs.admin.CreateSocialAccount(
        content_pb2.CreateSocialAccountRequest(project_id=project, platform="instagram", handle="@gram")
    ).social_account
    with stack.http(tenant["apiKey"]) as client:
        everything = client.get(f"/v1/projects/{project}/social-accounts").json()["items"]
        tiktok = client.get(f"/v1/projects/{project}/social-accounts?platform=tiktok").json()["items"]
        instagram = client.get(f"/v1/projects/{project}/social-accounts?platform=instagram").json()["items"]
        bad = client.get(f"/v1/projects/{project}/social-accounts?platform=myspace")
    assert [a["socialAccountId"] for a in everything] == [tenant["socialAccountId"], insta.social_account_id]
    assert tiktok == [
        {
            "socialAccountId": tenant["socialAccountId"],
            "projectId": project,
            "platform": "tiktok",
            "handle": "@demo.app",
            "layerIds": [tenant["layerId"]],
            "createdAt": tiktok[0]["createdAt"],
        }
    ]
    assert [a["handle"] for a in instagram] == ["@gram"] and instagram[0]["layerIds"] == []
    assert assert_error(bad, 422, "VALIDATION")["details"]["fields"][0]["field"] == "platform"


@pytest.mark.parametrize("resource", ["media", "influencers", "social-accounts"])
def test_bad_paging_tenancy_and_scope(stack: Stack, resource: str) -> None:
    mine, theirs = stack.tenant(), stack.tenant()
    path = f"/v1/projects/{mine['projectId']}/{resource}"
    reader = stack.stubs.admin.CreateApiKey(
        content_pb2.CreateApiKeyRequest(organization_id=mine["organizationId"], scopes=["content:read"])
    ).api_key
    with stack.http(mine["apiKey"]) as client:
        for limit in (0, 201, "x"):
            error = assert_error(client.get(path, params={"limit": limit}), 422, "VALIDATION")
            assert error["details"]["fields"][0]["field"] == "limit"
        error = assert_error(client.get(path, params={"cursor": "not-a-cursor"}), 422, "VALIDATION")
        assert error["details"] == {"fields": [{"field": "cursor", "problem": "Not a cursor this API issued."}]}
        assert_error(client.get(f"/v1/projects/{theirs['projectId']}/{resource}"), 404, "NOT_FOUND")
        assert_error(client.get(f"/v1/projects/not-a-uuid/{resource}"), 404, "NOT_FOUND")
    with stack.http(reader) as client:
        error = assert_error(client.get(path), 403, "FORBIDDEN_SCOPE")
        assert error["details"] == {"requiredScope": "projects:read"}


def test_whoami_and_credits_follow_the_contract(stack: Stack) -> None:
    tenant = stack.tenant(credits=600)
    with stack.http(tenant["apiKey"]) as client:
        assert (
            client.post(
                f"/v1/projects/{tenant['projectId']}/content/ugc-remix", json={"influencerId": tenant["influencerId"]}
            ).status_code
            == 202
        )
        whoami = client.get("/v1/whoami").json()
        credits = client.get("/v1/credits").json()
    assert whoami == {
        "organizationId": tenant["organizationId"],
        "keyId": tenant["keyId"],
        "scopes": ["*"],
        "creditBalance": 600,
    }
    assert credits == {
        "organizationId": tenant["organizationId"],
        "balance": 600,
        "available": 480,
        "reservedCredits": 120,
        "estimatedCreditsPerFormat": {"ugc_remix": 120},
    }
