"""The partner read surface over real HTTP: a project's media, influencers and social accounts (cursor pages,
filters, tenancy, scopes), and /v1/whoami and /v1/credits against CONTRACT.md."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from sqlalchemy import create_engine

from cli.admin import add_media
from common.errors import unpack
from common.ffmpeg import probe
from layers.content.v1 import content_pb2
from layers.media.v1 import media_pb2
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


NOT_OURS = "Not a cursor this API issued."


def _hand_made(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def _second_row(stack: Stack, tenant: dict[str, Any], project: str, resource: str, tmp: Path) -> None:
    """One more row after the demo tenant's own, so a page of one has a next page."""
    admin = stack.stubs.admin
    if resource == "influencers":
        admin.CreateInfluencer(
            content_pb2.CreateInfluencerRequest(project_id=project, name="Ana", voice="v", language="en")
        )
    elif resource == "social-accounts":
        admin.CreateSocialAccount(
            content_pb2.CreateSocialAccountRequest(project_id=project, platform="tiktok", handle="@b")
        )
    else:
        add_media(
            stack.stubs, tenant["organizationId"], project, "app-demo", seed_clips.make_app_demo(tmp / "b.mp4", 1)
        )


@pytest.mark.parametrize(
    ("resource", "narrowed"),
    [("media", {"role": "app-demo"}), ("influencers", None), ("social-accounts", {"platform": "tiktok"})],
)
def test_only_a_cursor_this_api_issued_for_this_very_listing_turns_the_page(
    stack: Stack, tmp_path: Path, resource: str, narrowed: dict[str, str] | None
) -> None:
    tenant, stranger = stack.tenant(), stack.tenant()
    project = tenant["projectId"]
    sibling = stack.stubs.admin.CreateProject(
        content_pb2.CreateProjectRequest(organization_id=tenant["organizationId"], name="Sibling")
    ).project.project_id
    _second_row(stack, tenant, project, resource, tmp_path)
    path = f"/v1/projects/{project}/{resource}"
    with stack.http(tenant["apiKey"]) as client:
        first = client.get(path, params={"limit": 1}).json()
        cursor = first["nextCursor"]
        second = client.get(path, params={"limit": 1, "cursor": cursor})
        assert second.status_code == 200, second.text
        assert second.json()["items"] and second.json()["items"] != first["items"]

        # Opaque: nothing in it reads as the JSON the services page with, nor as a row number.
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        assert b"after" not in raw and not raw.isdigit()

        other_listing = "influencers" if resource != "influencers" else "media"
        flipped = cursor[:5] + ("A" if cursor[5] != "A" else "B") + cursor[6:]
        refused: dict[str, tuple[str, dict[str, str], str]] = {
            "true": (path, {}, _hand_made({"after": True})),
            "2**63": (path, {}, _hand_made({"after": 2**63})),
            "a plain row number": (path, {}, _hand_made({"after": 1})),
            "not base64": (path, {}, "!!!"),
            "tampered": (path, {}, flipped),
            "too long": (path, {}, cursor * 40),
            "another endpoint": (f"/v1/projects/{project}/{other_listing}", {}, cursor),
            "another project": (f"/v1/projects/{sibling}/{resource}", {}, cursor),
        }
        if narrowed:
            narrow_first = client.get(path, params={"limit": 1, **narrowed}).json()["nextCursor"]
            assert client.get(path, params={"limit": 1, **narrowed, "cursor": narrow_first}).status_code == 200
            refused["unfiltered cursor, filtered page"] = (path, narrowed, cursor)
            refused["filtered cursor, unfiltered page"] = (path, {}, narrow_first)
        for why, (where, filters, token) in refused.items():
            response = client.get(where, params={"limit": 1, **filters, "cursor": token})
            error = assert_error(response, 422, "VALIDATION")
            assert error["message"] == NOT_OURS, why
            assert error["details"] == {"fields": [{"field": "cursor", "problem": NOT_OURS}]}, why
    with stack.http(stranger["apiKey"]) as client:
        # Another organization's key: its project does not exist for it, cursor or not.
        assert_error(client.get(path, params={"cursor": cursor}), 404, "NOT_FOUND")


@pytest.mark.parametrize("payload", [{"after": True}, {"after": 2**63}, {"after": -1}, {"after": 1.5}, [1], "x"])
def test_the_services_refuse_a_page_token_they_did_not_make(stack: Stack, payload: object) -> None:
    tenant = stack.tenant()
    token = _hand_made(payload)
    calls = [
        lambda: stack.stubs.partner.ListInfluencers(
            content_pb2.ListInfluencersRequest(
                organization_id=tenant["organizationId"], project_id=tenant["projectId"], page_token=token
            )
        ),
        lambda: stack.stubs.partner.ListSocialAccounts(
            content_pb2.ListSocialAccountsRequest(
                organization_id=tenant["organizationId"], project_id=tenant["projectId"], page_token=token
            )
        ),
        lambda: stack.stubs.media.ListMedia(
            media_pb2.ListMediaRequest(
                organization_id=tenant["organizationId"], project_id=tenant["projectId"], page_token=token
            )
        ),
    ]
    for call in calls:
        with pytest.raises(grpc.RpcError) as raised:
            call()
        err = unpack(raised.value)
        assert (err.code, [f.field for f in err.fields]) == (grpc.StatusCode.INVALID_ARGUMENT, ["cursor"])


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
