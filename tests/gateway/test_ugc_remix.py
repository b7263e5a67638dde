"""POST /v1/projects/:projectId/content/ugc-remix: what content is asked, and the 202 it answers."""

from __future__ import annotations

import hashlib
import json

import httpx

from layers.content.v1 import content_pb2
from tests.gateway.fakes import ALL, CONTAINER_ID, JOB_ID, ORG, PROJECT, FakeContent, accepted_job
from tests.gateway.helpers import UGC_REMIX, bearer, request_id

AUTH = bearer(ALL)


def test_202_envelope_location_and_no_replay_header(http: httpx.Client) -> None:
    response = http.post(UGC_REMIX, json={"influencerId": "inf_1"}, headers=AUTH)
    assert response.status_code == 202
    assert response.json() == {
        "jobId": JOB_ID,
        "kind": "content_generate",
        "status": "running",
        "containerIds": [CONTAINER_ID],
        "locationUrl": f"/v1/jobs/{JOB_ID}",
        "projectId": PROJECT,
        "stage": "queued",
        "startedAt": "2026-04-18T12:04:11.000Z",
    }
    assert response.headers["location"] == f"/v1/jobs/{JOB_ID}"
    assert "idempotent-replayed" not in response.headers
    request_id(response)


def test_replay_is_byte_identical_and_says_so(http: httpx.Client, fake_content: FakeContent) -> None:
    headers = {**AUTH, "Idempotency-Key": "order-42"}
    first = http.post(UGC_REMIX, json={"influencerId": "inf_1"}, headers=headers)
    # Content replays the stored job even though the real job has moved on.
    moved_on = accepted_job()
    moved_on.stage = content_pb2.JOB_STAGE_COMPOSITING
    moved_on.progress = 0.5
    fake_content.create_response = content_pb2.CreateUgcRemixResponse(job=moved_on, replayed=True)
    second = http.post(UGC_REMIX, json={"influencerId": "inf_1"}, headers=headers)
    assert second.status_code == first.status_code == 202
    assert second.content == first.content
    assert second.headers["idempotent-replayed"] == "true"
    assert second.headers["location"] == first.headers["location"]
    assert request_id(second) != request_id(first)


def test_content_gets_the_checked_request(http: httpx.Client, fake_content: FakeContent) -> None:
    hook = "Wait for it…\nthis app 🤯👩‍👩‍👧‍👦\r\n  spaces kept  "
    body = {"socialAccountId": "sac_1", "influencerId": "inf_1", "hook": hook, "mediaId": "med_1"}
    response = http.post(UGC_REMIX, json=body, headers={**AUTH, "Idempotency-Key": "k 1~!"})
    assert response.status_code == 202

    (project_lookup,) = fake_content.requests("GetProject")
    assert (project_lookup.organization_id, project_lookup.project_id) == (ORG, PROJECT)
    (sent,) = fake_content.requests("CreateUgcRemix")
    assert sent.organization_id == ORG
    assert sent.project_id == PROJECT
    assert (sent.social_account_id, sent.influencer_id, sent.media_id) == ("sac_1", "inf_1", "med_1")
    assert sent.HasField("hook") and sent.hook.encode() == hook.encode()
    assert sent.idempotency_key == "k 1~!"
    assert sent.request_id == request_id(response)
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    expected = hashlib.sha256(f"POST\n{UGC_REMIX}\n{canonical}".encode()).hexdigest()
    assert sent.request_fingerprint == expected
    # Order of methods: the key, then the project, then the job.
    assert [m for m, _ in fake_content.calls] == ["AuthenticateApiKey", "GetProject", "CreateUgcRemix"]


def test_omitted_fields_are_empty_and_hook_unset(http: httpx.Client, fake_content: FakeContent) -> None:
    assert http.post(UGC_REMIX, json={"influencerId": "inf_1"}, headers=AUTH).status_code == 202
    (sent,) = fake_content.requests("CreateUgcRemix")
    assert not sent.HasField("hook")
    assert (sent.social_account_id, sent.media_id, sent.idempotency_key) == ("", "", "")


def test_no_influencer_is_left_for_content_to_refuse(http: httpx.Client, fake_content: FakeContent) -> None:
    # INFLUENCER_REQUIRED is content's call (after the project check); the gateway passes {} on.
    assert http.post(UGC_REMIX, json={}, headers=AUTH).status_code == 202
    assert len(fake_content.requests("CreateUgcRemix")) == 1


def test_fingerprint_ignores_key_order_whitespace_and_nulls(http: httpx.Client, fake_content: FakeContent) -> None:
    bodies = [
        b'{"influencerId":"inf_1","hook":"hi"}',
        b'{ "hook" : "hi",\n "influencerId" : "inf_1", "mediaId": null }',
    ]
    for raw in bodies:
        assert http.post(UGC_REMIX, content=raw, headers=AUTH).status_code == 202
    first, second = fake_content.requests("CreateUgcRemix")
    assert first.request_fingerprint == second.request_fingerprint
    assert http.post(UGC_REMIX, json={"influencerId": "inf_1", "hook": "hi!"}, headers=AUTH).status_code == 202
    assert fake_content.requests("CreateUgcRemix")[2].request_fingerprint != first.request_fingerprint


def test_hook_of_2000_emoji_is_accepted_byte_exact(http: httpx.Client, fake_content: FakeContent) -> None:
    hook = "😀" * 2000  # 2000 code points, 8000 UTF-8 bytes
    response = http.post(UGC_REMIX, json={"influencerId": "inf_1", "hook": hook}, headers=AUTH)
    assert response.status_code == 202
    assert fake_content.requests("CreateUgcRemix")[0].hook == hook


def test_upper_case_project_uuid_is_the_same_project(http: httpx.Client, fake_content: FakeContent) -> None:
    path = f"/v1/projects/{PROJECT.upper()}/content/ugc-remix"
    assert http.post(path, json={"influencerId": "inf_1"}, headers=AUTH).status_code == 202
    (sent,) = fake_content.requests("CreateUgcRemix")
    assert sent.project_id == PROJECT
    assert (
        sent.request_fingerprint
        == hashlib.sha256(f'POST\n{UGC_REMIX}\n{{"influencerId":"inf_1"}}'.encode()).hexdigest()
    )


def test_project_of_another_org_is_404(http: httpx.Client, fake_content: FakeContent) -> None:
    fake_content.projects.clear()
    response = http.post(UGC_REMIX, json={"influencerId": "inf_1"}, headers=AUTH)
    assert response.status_code == 404
    assert fake_content.requests("CreateUgcRemix") == []
