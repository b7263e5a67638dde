"""Ids the gateway refuses before any service sees them: a body id that is not `[A-Za-z0-9_-]{1,100}` is
422 VALIDATION naming the field; a path id that is not one is the 404 an unknown id gets, on every route."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
import pytest

from common.errors import invalid
from gateway.errors import UNKNOWN_ASSET
from layers.content.v1 import content_pb2
from tests.gateway.conftest import LiveGateway
from tests.gateway.fakes import ALL, ASSET_ID, CONTAINER_ID, JOB_ID, ORG, PROJECT, READ_ONLY, FakeContent, asset
from tests.gateway.helpers import UGC_REMIX, bearer, error_of, fields_of

AUTH = bearer(ALL)
BODY_ID_FIELDS = ("socialAccountId", "influencerId", "mediaId")
# As they go on the wire (percent-encoded where they must be).
BAD_IDS = [
    "inf%00x",  # NUL: PostgreSQL cannot store it
    "inf_1%0A",  # a trailing newline, which `$` in a Python regex lets through
    "inf%20x",
    "inf.x",
    "inf:x",
    "inf_%C3%A9",
    "x" * 101,
]
BAD_BODY_IDS = ["inf\x00x", "inf_1\n", "inf x", "inf.x", "inf/x", "inf_é", "x" * 101, ""]
GOOD_IDS = ["x" * 100, "A", "inf_01HZX3-Ab_9"]


@pytest.fixture(autouse=True)
def container(_fresh_fakes: None, fake_content: FakeContent) -> None:
    """A container of the key's organization with one asset, so an asset route gets past the container."""
    fake_content.containers[CONTAINER_ID] = content_pb2.Container(
        container_id=CONTAINER_ID, organization_id=ORG, project_id=PROJECT, job_id=JOB_ID, assets=[asset()]
    )


def looked_up(fake_content: FakeContent) -> list[str]:
    """The calls a request made beyond authenticating its key."""
    return [method for method, _ in fake_content.calls if method != "AuthenticateApiKey"]


# --- ids in the body -----------------------------------------------------------------------------------


@pytest.mark.parametrize("field", BODY_ID_FIELDS)
@pytest.mark.parametrize("bad", BAD_BODY_IDS, ids=repr)
def test_a_body_id_that_is_not_an_id_is_422_naming_the_field(
    http: httpx.Client, fake_content: FakeContent, field: str, bad: str
) -> None:
    body = {"influencerId": "inf_1", field: bad}
    error = error_of(http.post(UGC_REMIX, json=body, headers=AUTH), 422, "VALIDATION")
    assert fields_of(error) == [field]
    assert "valid id" in error["details"]["fields"][0]["problem"]
    assert set(error["details"]) == {"fields"}
    assert fake_content.requests("CreateUgcRemix") == []


@pytest.mark.parametrize("good", GOOD_IDS)
def test_ids_of_the_allowed_shape_reach_the_service_as_sent(
    http: httpx.Client, fake_content: FakeContent, good: str
) -> None:
    body = dict.fromkeys(BODY_ID_FIELDS, good)
    assert http.post(UGC_REMIX, json=body, headers=AUTH).status_code == 202
    (sent,) = fake_content.requests("CreateUgcRemix")
    assert (sent.social_account_id, sent.influencer_id, sent.media_id) == (good, good, good)


def test_every_bad_body_id_is_named(http: httpx.Client) -> None:
    body = dict.fromkeys(BODY_ID_FIELDS, "a\x00b")
    error = error_of(http.post(UGC_REMIX, json=body, headers=AUTH), 422, "VALIDATION")
    assert sorted(fields_of(error)) == sorted(BODY_ID_FIELDS)


def test_the_hook_still_takes_any_text_and_a_service_refusal_names_it(
    http: httpx.Client, fake_content: FakeContent
) -> None:
    hook = "Wait… 😂 /../ %00 <b>\u200b"
    assert http.post(UGC_REMIX, json={"influencerId": "inf_1", "hook": hook}, headers=AUTH).status_code == 202
    assert fake_content.requests("CreateUgcRemix")[0].hook == hook

    # NUL is content's to refuse; its refusal reaches the partner in the contract's shape.
    message = "hook must not contain NUL characters."
    fake_content.fail("CreateUgcRemix", invalid(message, field="hook"))
    response = http.post(UGC_REMIX, json={"influencerId": "inf_1", "hook": "a\x00b"}, headers=AUTH)
    error = error_of(response, 422, "VALIDATION")
    assert error["details"] == {"fields": [{"field": "hook", "problem": message}]}
    assert error["message"] == message


def test_a_media_refusal_keeps_its_reason_beside_the_fields(http: httpx.Client, fake_content: FakeContent) -> None:
    message = "The file is not a video."
    fake_content.fail("CreateUgcRemix", invalid(message, field="mediaId", reason="NOT_A_VIDEO"))
    response = http.post(UGC_REMIX, json={"influencerId": "inf_1", "mediaId": "med_1"}, headers=AUTH)
    error = error_of(response, 422, "VALIDATION")
    assert error["details"] == {"fields": [{"field": "mediaId", "problem": message}], "reason": "NOT_A_VIDEO"}


# --- ids in the path -----------------------------------------------------------------------------------

JOB, CONTAINER = "Job not found.", "Container not found."
# (method, path with {id} where the id under test goes, the message an unknown id answers there)
PATH_ROUTES = [
    ("GET", "/v1/jobs/{id}", JOB),
    ("POST", "/v1/jobs/{id}/cancel", JOB),
    ("GET", "/v1/content/{id}", CONTAINER),
    ("GET", "/v1/content/{id}/progress", CONTAINER),
    ("GET", "/v1/content/{id}/assets/" + ASSET_ID, CONTAINER),
    ("GET", f"/v1/content/{CONTAINER_ID}/assets/{{id}}", UNKNOWN_ASSET),
]


@pytest.mark.parametrize(("method", "path", "message"), PATH_ROUTES)
@pytest.mark.parametrize("bad", BAD_IDS)
def test_a_path_id_that_is_not_an_id_is_404_and_reaches_no_service(
    http: httpx.Client, fake_content: FakeContent, method: str, path: str, message: str, bad: str
) -> None:
    error = error_of(http.request(method, path.format(id=bad), headers=AUTH), 404, "NOT_FOUND")
    assert error["message"] == message
    assert error["details"] == {}
    assert looked_up(fake_content) == []


@pytest.mark.parametrize(("method", "path", "message"), PATH_ROUTES)
def test_a_malformed_path_id_answers_exactly_as_an_unknown_one(
    http: httpx.Client, fake_content: FakeContent, method: str, path: str, message: str
) -> None:
    malformed = http.request(method, path.format(id="job_%00x"), headers=AUTH)
    unknown = http.request(method, path.format(id="job_01HZX3ZZZZZZZZZZZZZZZZZZZZ"), headers=AUTH)
    assert looked_up(fake_content), "the unknown id is looked up"
    bad, known = error_of(malformed, 404, "NOT_FOUND"), error_of(unknown, 404, "NOT_FOUND")
    assert {**bad, "requestId": None} == {**known, "requestId": None} == {**bad, "requestId": None, "message": message}


@pytest.mark.parametrize("good", GOOD_IDS)
def test_path_ids_of_the_allowed_shape_are_looked_up(http: httpx.Client, fake_content: FakeContent, good: str) -> None:
    error_of(http.get(f"/v1/jobs/{good}", headers=AUTH), 404, "NOT_FOUND")
    assert [r.job_id for r in fake_content.requests("GetJob")] == [good]


def test_the_key_and_its_scope_are_checked_before_the_path_id(http: httpx.Client) -> None:
    error_of(http.get("/v1/jobs/job_%00x"), 401, "UNAUTHENTICATED")
    error_of(http.post("/v1/jobs/job_%00x/cancel", headers=bearer(READ_ONLY)), 403, "FORBIDDEN_SCOPE")
    error_of(http.get("/v1/jobs/job_%00x", headers=bearer(READ_ONLY)), 404, "NOT_FOUND")


@pytest.mark.parametrize("variant", ["file", "thumbnail"])
@pytest.mark.parametrize(("container_id", "asset_id"), [("cnt\x00x", ASSET_ID), (CONTAINER_ID, "ast\x00x")])
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_signed_downloads_with_a_malformed_id_are_404_even_when_signed(
    http: httpx.Client,
    gateway: LiveGateway,
    fake_content: FakeContent,
    variant: str,
    container_id: str,
    asset_id: str,
    method: str,
) -> None:
    sign = gateway.signer.asset_file_url if variant == "file" else gateway.signer.asset_thumbnail_url
    url = urlsplit(sign(ORG, container_id, asset_id))
    assert "%00" in url.path
    response = http.request(method, f"{url.path}?{url.query}")
    assert response.status_code == 404
    if method == "GET":
        error_of(response, 404, "NOT_FOUND")
    assert looked_up(fake_content) == []
