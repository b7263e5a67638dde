"""The seed's endpoint through real HTTP and gRPC: its 202, every error row, idempotency and tenancy."""

from __future__ import annotations

import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from layers.content.v1 import content_pb2
from layers.render.v1 import render_pb2
from tests.e2e.stack import Stack
from tests.support.envelope import error_of

SEED_202_KEYS = {"jobId", "kind", "status", "containerIds", "locationUrl"}


def remix_path(tenant: dict[str, Any]) -> str:
    return f"/v1/projects/{tenant['projectId']}/content/ugc-remix"


def post(stack: Stack, tenant: dict[str, Any], body: Any, key: str | None = None, **kwargs: Any):
    headers = {"Idempotency-Key": key} if key else {}
    with stack.http(tenant["apiKey"]) as client:
        return client.post(kwargs.pop("path", remix_path(tenant)), json=body, headers=headers, **kwargs)


def assert_error(response, status: int, code: str, details_code: str | None = None) -> dict[str, Any]:
    error = error_of(response, status, code)
    if details_code is not None:
        assert error["details"]["code"] == details_code
        assert error["details"]["format"] == "ugc-remix"
    return error


def test_seed_example_answers_202_and_the_job_and_container_can_be_read(stack: Stack) -> None:
    tenant = stack.tenant()
    response = post(stack, tenant, {"influencerId": tenant["influencerId"]}, key=str(uuid.uuid4()))
    assert response.status_code == 202, response.text
    body = response.json()
    assert set(body) >= SEED_202_KEYS
    assert body["kind"] == "content_generate" and body["status"] == "running"
    assert body["jobId"].startswith("job_") and len(body["containerIds"]) == 1
    assert body["containerIds"][0].startswith("cnt_")
    assert body["locationUrl"] == f"/v1/jobs/{body['jobId']}"
    assert response.headers["Location"] == body["locationUrl"]

    with stack.http(tenant["apiKey"]) as client:
        job = client.get(body["locationUrl"])
        assert job.status_code == 200
        assert job.json()["jobId"] == body["jobId"] and job.json()["stage"] == "queued"
        container = client.get(f"/v1/content/{body['containerIds'][0]}").json()
    assert container["influencerId"] == tenant["influencerId"]
    assert container["layerId"] == tenant["layerId"] and container["mediaId"] == tenant["mediaId"]
    assert container["reactionTemplateId"].startswith("rtp_") and container["musicTrackId"].startswith("trk_")
    assert container["format"] == "ugc-remix" and container["hook"] is None

    assert stack.queue is not None
    deadline = time.monotonic() + 5  # the relay publishes just after the commit
    while not (queued := [d for d in list(stack.queue._items.queue) if d.message_id == body["jobId"]]):
        assert time.monotonic() < deadline, "the render message never reached the queue"
        time.sleep(0.02)
    assert len(queued) == 1
    assert render_pb2.RenderJob.FromString(queued[0].body).container_id == body["containerIds"][0]


def test_hook_is_stored_byte_exact(stack: Stack) -> None:
    tenant = stack.tenant()
    hook = "Wait for it…\r\nthis app 😂🔥\nمرحبا  "
    response = post(stack, tenant, {"socialAccountId": tenant["socialAccountId"], "hook": hook})
    assert response.status_code == 202, response.text
    with stack.http(tenant["apiKey"]) as client:
        container = client.get(f"/v1/content/{response.json()['containerIds'][0]}").json()
    assert container["hook"] == hook and container["socialAccountId"] == tenant["socialAccountId"]


def test_every_error_row_of_the_seed(stack: Stack) -> None:
    tenant = stack.tenant()
    admin = stack.stubs.admin
    project = tenant["projectId"]

    assert_error(post(stack, tenant, {"influencerId": 42}), 422, "VALIDATION")
    assert_error(post(stack, tenant, {"influencerId": tenant["influencerId"], "extra": 1}), 422, "VALIDATION")
    assert_error(post(stack, tenant, {}), 422, "VALIDATION", "INFLUENCER_REQUIRED")

    for field in ("socialAccountId", "influencerId"):
        error = assert_error(post(stack, tenant, {field: "x_unknown"}), 404, "NOT_FOUND")
        assert error["message"] == f"{field} is not on this project."
    error = assert_error(
        post(stack, tenant, {"influencerId": tenant["influencerId"], "mediaId": "med_unknown"}), 404, "NOT_FOUND"
    )
    assert error["message"] == "mediaId is not on this project."

    lonely = admin.CreateSocialAccount(
        content_pb2.CreateSocialAccountRequest(project_id=project, platform="tiktok", handle="@lonely")
    ).social_account.social_account_id
    assert_error(post(stack, tenant, {"socialAccountId": lonely}), 422, "VALIDATION", "ACCOUNT_NOT_WIRED")

    dist = admin.CreateLayer(content_pb2.CreateLayerRequest(project_id=project, kind="distribution", name="D")).layer
    admin.WireSocialAccount(content_pb2.WireSocialAccountRequest(social_account_id=lonely, layer_id=dist.layer_id))
    assert_error(post(stack, tenant, {"socialAccountId": lonely}), 422, "VALIDATION", "NO_CONTENT_LAYER_WIRED")

    solo = admin.CreateInfluencer(
        content_pb2.CreateInfluencerRequest(project_id=project, name="Solo", voice="v", language="en")
    ).influencer.influencer_id
    assert_error(post(stack, tenant, {"influencerId": solo}), 422, "VALIDATION", "NO_CONTENT_LAYER_WIRED")

    empty = admin.CreateLayer(content_pb2.CreateLayerRequest(project_id=project, kind="content", name="E")).layer
    admin.WireSocialAccount(content_pb2.WireSocialAccountRequest(social_account_id=lonely, layer_id=empty.layer_id))
    assert_error(post(stack, tenant, {"socialAccountId": lonely}), 422, "VALIDATION", "INFLUENCER_NOT_WIRED")

    bare = admin.CreateProject(
        content_pb2.CreateProjectRequest(organization_id=tenant["organizationId"], name="Bare")
    ).project.project_id
    inf = admin.CreateInfluencer(
        content_pb2.CreateInfluencerRequest(project_id=bare, name="B", voice="v", language="en")
    ).influencer.influencer_id
    admin.CreateLayer(content_pb2.CreateLayerRequest(project_id=bare, kind="content", name="L", influencer_id=inf))
    error = assert_error(
        post(stack, tenant, {"influencerId": inf}, path=f"/v1/projects/{bare}/content/ugc-remix"),
        422,
        "VALIDATION",
        "MISSING_APP_DEMO",
    )
    assert error["message"].startswith("MISSING_APP_DEMO: ugc-remix requires an app-demo asset on the project.")

    key = str(uuid.uuid4())
    assert post(stack, tenant, {"influencerId": tenant["influencerId"]}, key=key).status_code == 202
    error = assert_error(
        post(stack, tenant, {"influencerId": tenant["influencerId"], "hook": "x"}, key=key), 409, "IDEMPOTENCY_CONFLICT"
    )
    assert error["details"]["reason"] == "BODY_MISMATCH"

    poor = stack.tenant(credits=100)
    error = assert_error(post(stack, poor, {"influencerId": poor["influencerId"]}), 402, "BILLING_EXHAUSTED")
    assert error["details"] == {"required": 120, "available": 100}


def test_another_orgs_ids_are_not_found(stack: Stack) -> None:
    mine, theirs = stack.tenant(), stack.tenant()
    response = post(stack, mine, {"influencerId": theirs["influencerId"]})
    assert_error(response, 404, "NOT_FOUND")
    assert_error(post(stack, mine, {"influencerId": mine["influencerId"]}, path=remix_path(theirs)), 404, "NOT_FOUND")
    job = post(stack, theirs, {"influencerId": theirs["influencerId"]}).json()
    with stack.http(mine["apiKey"]) as client:
        assert_error(client.get(job["locationUrl"]), 404, "NOT_FOUND")
        assert_error(client.get(f"/v1/content/{job['containerIds'][0]}"), 404, "NOT_FOUND")


def test_replay_is_identical_and_charges_once(stack: Stack) -> None:
    tenant = stack.tenant(credits=1200)
    key = str(uuid.uuid4())
    first = post(stack, tenant, {"influencerId": tenant["influencerId"], "hook": "hi 👋"}, key=key)
    second = post(stack, tenant, {"hook": "hi 👋", "influencerId": tenant["influencerId"]}, key=key)
    assert first.status_code == second.status_code == 202
    assert second.content == first.content
    assert second.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    with stack.http(tenant["apiKey"]) as client:
        credits = client.get("/v1/credits").json()
    assert credits["reservedCredits"] == 120 and credits["available"] == 1080


def test_twenty_concurrent_requests_with_one_key(stack: Stack) -> None:
    tenant = stack.tenant(credits=120 * 20)
    key = str(uuid.uuid4())
    barrier = threading.Barrier(20)

    def call(_: int):
        barrier.wait()
        return post(stack, tenant, {"influencerId": tenant["influencerId"]}, key=key)

    with ThreadPoolExecutor(20) as pool:
        responses = list(pool.map(call, range(20)))
    accepted = [r for r in responses if r.status_code == 202]
    assert accepted
    assert {r.json()["jobId"] for r in accepted} == {accepted[0].json()["jobId"]}
    for refused in (r for r in responses if r.status_code != 202):
        assert refused.status_code == 409 and refused.json()["error"]["details"]["reason"] == "IN_PROGRESS"
        # A live first request finishes in moments: its racers are told to come back soon, not in minutes.
        assert 1 <= int(refused.headers["Retry-After"]) <= 5
    with stack.http(tenant["apiKey"]) as client:
        assert client.get("/v1/credits").json()["reservedCredits"] == 120


@pytest.mark.postgres
def test_wallet_for_five_generations_accepts_exactly_five_of_twenty(pg_stack: Stack) -> None:
    tenant = pg_stack.tenant(credits=120 * 5)
    barrier = threading.Barrier(20)

    def call(_: int):
        barrier.wait()
        return post(pg_stack, tenant, {"influencerId": tenant["influencerId"]}, key=str(uuid.uuid4()))

    with ThreadPoolExecutor(20) as pool:
        responses = list(pool.map(call, range(20)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(202) == 5 and statuses.count(402) == 15, statuses
    for refused in (r for r in responses if r.status_code == 402):
        assert refused.json()["error"]["code"] == "BILLING_EXHAUSTED"
    with pg_stack.http(tenant["apiKey"]) as client:
        credits = client.get("/v1/credits").json()
    assert credits == {
        "organizationId": tenant["organizationId"],
        "balance": 600,
        "available": 0,
        "reservedCredits": 600,
        "estimatedCreditsPerFormat": {"ugc_remix": 120},
    }
    from layers.billing.v1 import billing_pb2
    from services.content.ugc_remix import reservation_id_for

    ledger = pg_stack.stubs.billing.ListLedgerEntries(
        billing_pb2.ListLedgerEntriesRequest(organization_id=tenant["organizationId"])
    ).entries
    assert [(e.kind, e.delta) for e in ledger] == [("grant", 600)]  # held, not yet charged
    for accepted in (r.json() for r in responses if r.status_code == 202):
        hold = pg_stack.stubs.billing.GetReservation(
            billing_pb2.GetReservationRequest(reservation_id=reservation_id_for(accepted["jobId"]))
        ).reservation
        assert hold.state == billing_pb2.RESERVATION_STATE_HELD and hold.amount == 120


@pytest.mark.postgres
def test_ids_postgres_cannot_hold_are_refused_not_a_500(pg_stack: Stack) -> None:
    """PostgreSQL refuses a NUL in text, so such an id must never reach it: in the body it is 422 naming the
    field, in the path the 404 an unknown id gets, word for word."""
    tenant = pg_stack.tenant()
    influencer = tenant["influencerId"]
    for field, body in (
        ("influencerId", {"influencerId": "inf\u0000x"}),
        ("socialAccountId", {"socialAccountId": "sac\u0000x"}),
        ("mediaId", {"influencerId": influencer, "mediaId": "med\u0000x"}),
    ):
        error = assert_error(post(pg_stack, tenant, body), 422, "VALIDATION")
        assert [f["field"] for f in error["details"]["fields"]] == [field], error
    # A NUL in the hook is content's to refuse, and its refusal names the field the same way.
    error = assert_error(post(pg_stack, tenant, {"influencerId": influencer, "hook": "a\u0000b"}), 422, "VALIDATION")
    assert error["details"] == {"fields": [{"field": "hook", "problem": "hook must not contain NUL characters."}]}

    container = post(pg_stack, tenant, {"influencerId": influencer}).json()["containerIds"][0]
    routes = [
        ("GET", "/v1/jobs/{}"),
        ("POST", "/v1/jobs/{}/cancel"),
        ("GET", "/v1/content/{}"),
        ("GET", "/v1/content/{}/progress"),
        ("GET", "/v1/content/{}/assets/ast_unknown"),
        ("GET", f"/v1/content/{container}/assets/{{}}"),
    ]
    with pg_stack.http(tenant["apiKey"]) as client:
        for method, path in routes:
            malformed = assert_error(client.request(method, path.format("x_%00x")), 404, "NOT_FOUND")
            unknown = assert_error(client.request(method, path.format("x_unknown")), 404, "NOT_FOUND")
            assert (malformed["message"], malformed["details"]) == (unknown["message"], {}), path


def test_malformed_json_uses_the_envelope(stack: Stack) -> None:
    tenant = stack.tenant()
    with stack.http(tenant["apiKey"]) as client:
        response = client.post(remix_path(tenant), content=b"{not json", headers={"Content-Type": "application/json"})
    assert_error(response, 422, "VALIDATION")
    assert json.loads(response.content)["error"]["message"]
