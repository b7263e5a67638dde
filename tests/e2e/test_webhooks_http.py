"""Webhooks through the whole system over REST: a render that completes pushes signed job.completed and
content.generated to a real receiver, and the endpoints' REST contract (CRUD, scopes, tenancy, idempotency,
the secret shown once). On SQLite (in-process events) and on PostgreSQL."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from services.webhooks import signing
from services.webhooks.store import MAX_ENDPOINTS
from tests.e2e.stack import Stack, running_stack
from tests.support.receiver import Receiver, receiver
from tests.webhooks.helpers import complete_job, deliveries, eventually, start_job


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def hooks_stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    urls = request.getfixturevalue("pg_databases") if request.param == "postgres" else None
    with running_stack(
        tmp_path_factory.mktemp("hooks"), db_urls=urls, webhooks_embedded=True, webhook_retry_delays="0,0.2,0.2"
    ) as stack:
        yield stack


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with receiver() as running:
        yield running


def _register(client: Any, url: str, events: list[str], **extra: Any) -> dict[str, Any]:
    response = client.post("/v1/webhook-endpoints", json={"url": url, "events": events, **extra})
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_a_completed_render_pushes_signed_events(hooks_stack: Stack, hook: Receiver) -> None:
    tenant = hooks_stack.tenant()
    with hooks_stack.http(tenant["apiKey"]) as client:
        created = _register(client, hook.url, ["job.completed", "content.generated"], description="mine")
        secret = created["signingSecret"]
        assert secret.startswith("whsec_")
        endpoint = created["endpoint"]
        assert endpoint["status"] == "active" and endpoint["description"] == "mine"
        job = start_job(client, tenant)
        complete_job(hooks_stack.stubs, job["jobId"])

        received = hook.wait_for(2)
        assert sorted(r.json["type"] for r in received) == ["content.generated", "job.completed"]
        for r in received:
            assert r.headers["content-type"] == "application/json"
            assert r.event_id == r.json["id"] and r.event_id.startswith("evt_")
            assert signing.verify(secret, r.headers["x-layers-signature"], r.body)
            assert not signing.verify("whsec_another", r.headers["x-layers-signature"], r.body)
            assert not signing.verify(secret, r.headers["x-layers-signature"], r.body + b" ")
        completed = next(r.json for r in received if r.json["type"] == "job.completed")
        assert completed["data"]["jobId"] == job["jobId"]
        assert completed["data"]["projectId"] == tenant["projectId"]
        assert completed["data"]["kind"] == "content_generate"
        assert completed["data"]["result"]["containerId"] == job["containerIds"][0]
        assert completed["data"]["result"]["assets"][0]["sizeBytes"] == 123_456
        generated = next(r.json for r in received if r.json["type"] == "content.generated")
        assert generated["data"]["id"] == job["containerIds"][0]

        log = eventually(
            lambda: (
                (rows := deliveries(client, endpoint["endpointId"]))
                and all(d["status"] == "succeeded" for d in rows)
                and rows
            )
        )
        assert len(log) == 2
        assert {d["eventId"] for d in log} == {r.event_id for r in received}
        assert all(d["attempts"] == 1 and d["lastStatusCode"] == 200 and d["replayOf"] is None for d in log)


def test_canceled_and_unsubscribed_events(hooks_stack: Stack, hook: Receiver) -> None:
    tenant = hooks_stack.tenant()
    with hooks_stack.http(tenant["apiKey"]) as client:
        _register(client, hook.url, ["job.canceled"])
        job = start_job(client, tenant)
        assert client.post(f"/v1/jobs/{job['jobId']}/cancel").status_code == 202
        other = start_job(client, tenant)
        complete_job(hooks_stack.stubs, other["jobId"])  # job.completed: not subscribed
        received = hook.wait_for(1)
        assert [r.json["type"] for r in received] == ["job.canceled"]
        assert received[0].json["data"] == {
            "jobId": job["jobId"],
            "kind": "content_generate",
            "projectId": tenant["projectId"],
        }
        assert len(hook.wait_for(2, timeout=1.0)) == 1


def test_endpoint_crud_secret_once_and_tenancy(hooks_stack: Stack, hook: Receiver) -> None:
    tenant, stranger = hooks_stack.tenant(), hooks_stack.tenant()
    with hooks_stack.http(tenant["apiKey"]) as client, hooks_stack.http(stranger["apiKey"]) as other:
        created = _register(client, hook.url, ["job.failed"], projectId=tenant["projectId"])
        endpoint_id = created["endpoint"]["endpointId"]
        assert created["endpoint"]["projectId"] == tenant["projectId"]
        fetched = client.get(f"/v1/webhook-endpoints/{endpoint_id}")
        assert fetched.status_code == 200 and fetched.json() == created["endpoint"]
        listed = client.get("/v1/webhook-endpoints").json()
        assert [e["endpointId"] for e in listed["items"]] == [endpoint_id] and listed["nextCursor"] is None
        for body in (fetched.text, client.get("/v1/webhook-endpoints").text):
            assert created["signingSecret"] not in body and "signingSecret" not in body

        changed = client.patch(
            f"/v1/webhook-endpoints/{endpoint_id}", json={"events": ["job.failed", "job.completed"], "status": "paused"}
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["events"] == ["job.failed", "job.completed"] and changed.json()["status"] == "paused"

        # Another organization's id answers like an unknown one.
        for method, path in (
            ("GET", f"/v1/webhook-endpoints/{endpoint_id}"),
            ("PATCH", f"/v1/webhook-endpoints/{endpoint_id}"),
            ("DELETE", f"/v1/webhook-endpoints/{endpoint_id}"),
            ("POST", f"/v1/webhook-endpoints/{endpoint_id}/rotate-secret"),
            ("POST", f"/v1/webhook-endpoints/{endpoint_id}/test"),
            ("GET", f"/v1/webhook-endpoints/{endpoint_id}/deliveries"),
        ):
            answer = other.request(method, path, json={} if method == "PATCH" else None)
            assert answer.status_code == 404 and answer.json()["error"]["code"] == "NOT_FOUND", (method, path)
        assert other.get("/v1/webhook-endpoints").json()["items"] == []
        assert (
            other.post(
                "/v1/webhook-endpoints",
                json={"url": hook.url, "events": ["job.failed"], "projectId": tenant["projectId"]},
            ).status_code
            == 404
        )

        assert client.delete(f"/v1/webhook-endpoints/{endpoint_id}").status_code == 204
        assert client.get(f"/v1/webhook-endpoints/{endpoint_id}").status_code == 404


def test_an_organization_has_at_most_twenty_endpoints(hooks_stack: Stack, hook: Receiver) -> None:
    tenant = hooks_stack.tenant()
    with hooks_stack.http(tenant["apiKey"]) as client:
        ids = [_register(client, hook.url, ["job.failed"])["endpoint"]["endpointId"] for _ in range(MAX_ENDPOINTS)]
        refused = client.post("/v1/webhook-endpoints", json={"url": hook.url, "events": ["job.failed"]})
        assert refused.status_code == 409, refused.text
        error = refused.json()["error"]
        assert error["code"] == "CONFLICT" and "at most 20" in error["message"]
        assert error["details"] == {"subcode": "ENDPOINT_LIMIT_REACHED", "limit": MAX_ENDPOINTS}
        assert client.delete(f"/v1/webhook-endpoints/{ids[0]}").status_code == 204
        _register(client, hook.url, ["job.failed"])  # a deleted endpoint makes room


def test_validation_and_scopes(hooks_stack: Stack, hook: Receiver) -> None:
    tenant = hooks_stack.tenant()
    with hooks_stack.http(tenant["apiKey"]) as client:
        for body, field in (
            ({"url": hook.url, "events": ["job.exploded"]}, "events.0"),
            ({"url": hook.url, "events": []}, "events"),
            ({"url": hook.url, "events": ["job.failed"], "secret": "x"}, "secret"),
            ({"url": "ftp://example.com/x", "events": ["job.failed"]}, "url"),
            ({"url": "http://example.com/x", "events": ["job.failed"]}, "url"),
        ):
            answer = client.post("/v1/webhook-endpoints", json=body)
            assert answer.status_code == 422, (body, answer.text)
            assert field in [f["field"] for f in answer.json()["error"]["details"]["fields"]], answer.json()
    key = hooks_stack.stubs.admin.CreateApiKey(
        __import__("layers.content.v1.content_pb2", fromlist=["x"]).CreateApiKeyRequest(
            organization_id=tenant["organizationId"], scopes=["webhooks:read"]
        )
    ).api_key
    with hooks_stack.http(key) as reader:
        assert reader.get("/v1/webhook-endpoints").status_code == 200
        refused = reader.post("/v1/webhook-endpoints", json={"url": hook.url, "events": ["job.failed"]})
        assert refused.status_code == 403 and refused.json()["error"]["details"]["requiredScope"] == "webhooks:write"


def test_every_post_is_idempotent(hooks_stack: Stack, hook: Receiver) -> None:
    tenant = hooks_stack.tenant()
    with hooks_stack.http(tenant["apiKey"]) as client:
        body = {"url": hook.url, "events": ["test.ping"]}
        first = client.post("/v1/webhook-endpoints", json=body, headers={"Idempotency-Key": "create-1"})
        again = client.post("/v1/webhook-endpoints", json=body, headers={"Idempotency-Key": "create-1"})
        assert first.status_code == again.status_code == 201
        assert again.headers["Idempotent-Replayed"] == "true" and again.content == first.content
        assert len(client.get("/v1/webhook-endpoints").json()["items"]) == 1
        conflict = client.post(
            "/v1/webhook-endpoints", json={**body, "description": "x"}, headers={"Idempotency-Key": "create-1"}
        )
        assert conflict.status_code == 409 and conflict.json()["error"]["code"] == "IDEMPOTENCY_CONFLICT"
        endpoint_id = first.json()["endpoint"]["endpointId"]

        rotate = f"/v1/webhook-endpoints/{endpoint_id}/rotate-secret"
        rotated = client.post(rotate, headers={"Idempotency-Key": "rotate-1"})
        replayed = client.post(rotate, headers={"Idempotency-Key": "rotate-1"})
        assert rotated.status_code == 200 and replayed.content == rotated.content
        assert rotated.json()["signingSecret"] != first.json()["signingSecret"]

        test = f"/v1/webhook-endpoints/{endpoint_id}/test"
        sent = client.post(test, headers={"Idempotency-Key": "ping-1"})
        resent = client.post(test, headers={"Idempotency-Key": "ping-1"})
        assert sent.status_code == resent.status_code == 202 and sent.content == resent.content
        pings = hook.wait_for(1)
        assert [r.json["type"] for r in pings] == ["test.ping"]
        delivery_id = sent.json()["deliveryId"]
        replay = f"/v1/webhook-deliveries/{delivery_id}/replay"
        first_replay = client.post(replay, headers={"Idempotency-Key": "replay-1"})
        second_replay = client.post(replay, headers={"Idempotency-Key": "replay-1"})
        assert first_replay.status_code == 202 and first_replay.content == second_replay.content
        received = hook.wait_for(2)
        assert len(received) == 2 and len(hook.wait_for(3, timeout=1.0)) == 2
        assert received[1].json["replayOf"] == delivery_id and received[1].event_id != received[0].event_id
        # Both signed with both live secrets (the rotation's overlap).
        signature = received[1].headers["x-layers-signature"]
        assert signature.count("v1=") == 2
        assert signing.verify(first.json()["signingSecret"], signature, received[1].body)
        assert signing.verify(rotated.json()["signingSecret"], signature, received[1].body)


def test_loopback_is_refused_outside_the_embedded_default(tmp_path: Path, hook: Receiver) -> None:
    with running_stack(tmp_path) as stack:
        tenant = stack.tenant()
        with stack.http(tenant["apiKey"]) as client:
            answer = client.post("/v1/webhook-endpoints", json={"url": hook.url, "events": ["job.completed"]})
            assert answer.status_code == 422
            assert answer.json()["error"]["details"]["reason"] == "URL_NOT_HTTPS"
            answer = client.post(
                "/v1/webhook-endpoints", json={"url": f"https://127.0.0.1:{hook.port}/x", "events": ["job.completed"]}
            )
            assert answer.status_code == 422 and answer.json()["error"]["details"]["reason"] == "URL_FORBIDDEN"
    assert hook.requests == []


def test_the_webhook_lists_take_only_cursors_they_issued(hooks_stack: Stack, hook: Receiver) -> None:
    tenant, stranger = hooks_stack.tenant(), hooks_stack.tenant()
    not_ours = "Not a cursor this API issued."
    hand_made = [
        base64.urlsafe_b64encode(json.dumps({"after": after}).encode()).decode().rstrip("=")
        for after in (True, 2**63, 1)
    ]
    with hooks_stack.http(tenant["apiKey"]) as client, hooks_stack.http(stranger["apiKey"]) as other:
        first, second = (_register(client, hook.url, ["job.failed"])["endpoint"]["endpointId"] for _ in range(2))
        for _ in range(2):
            assert client.post(f"/v1/webhook-endpoints/{first}/test").status_code == 202
        assert eventually(lambda: len(deliveries(client, first)) == 2)
        endpoints = "/v1/webhook-endpoints"
        log, other_log = f"{endpoints}/{first}/deliveries", f"{endpoints}/{second}/deliveries"
        endpoints_cursor = client.get(endpoints, params={"limit": 1}).json()["nextCursor"]
        log_cursor = client.get(log, params={"limit": 1}).json()["nextCursor"]
        for path, cursor in ((endpoints, endpoints_cursor), (log, log_cursor)):
            page = client.get(path, params={"limit": 1, "cursor": cursor})
            assert page.status_code == 200 and len(page.json()["items"]) == 1, page.text
        refused = [(client, path, token) for path in (endpoints, log) for token in hand_made]
        refused += [(client, log, endpoints_cursor), (client, other_log, log_cursor), (client, endpoints, log_cursor)]
        refused += [(other, endpoints, endpoints_cursor)]
        for who, path, token in refused:
            response = who.get(path, params={"limit": 1, "cursor": token})
            assert response.status_code == 422, (path, token, response.text)
            error = response.json()["error"]
            assert error["message"] == not_ours
            assert error["details"] == {"fields": [{"field": "cursor", "problem": not_ours}]}
        # Another organization's endpoint is unknown to it, whatever cursor comes along.
        assert other.get(log, params={"cursor": log_cursor}).status_code == 404
