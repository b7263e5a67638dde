"""POST /v1/jobs/:jobId/cancel: 202 accepted, 200 ALREADY_COMPLETED, 404 for another org's job."""

from __future__ import annotations

import grpc
import httpx
import pytest

from common.errors import ServiceError
from layers.content.v1 import content_pb2
from tests.gateway.fakes import ALL, JOB_ID, ORG, OTHER_ORG, READ_ONLY, FakeContent
from tests.gateway.helpers import bearer, error_of, fields_of, request_id

AUTH = bearer(ALL)
PATH = f"/v1/jobs/{JOB_ID}/cancel"


def test_running_job_is_canceled_202(http: httpx.Client, fake_content: FakeContent) -> None:
    response = http.post(PATH, headers=AUTH)
    assert response.status_code == 202
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"accepted": True}
    request_id(response)
    (sent,) = fake_content.requests("CancelJob")
    assert (sent.organization_id, sent.job_id) == (ORG, JOB_ID)
    assert fake_content.jobs[JOB_ID].status == content_pb2.JOB_STATUS_CANCELED


def test_second_cancel_is_already_completed_200(http: httpx.Client) -> None:
    assert http.post(PATH, headers=AUTH).status_code == 202
    again = http.post(PATH, headers=AUTH)
    assert again.status_code == 200
    assert again.json() == {"accepted": False, "reason": "ALREADY_COMPLETED"}


@pytest.mark.parametrize("status", [content_pb2.JOB_STATUS_COMPLETED, content_pb2.JOB_STATUS_FAILED])
def test_terminal_job_is_already_completed_200(http: httpx.Client, fake_content: FakeContent, status: int) -> None:
    fake_content.jobs[JOB_ID].status = status  # type: ignore[assignment]
    response = http.post(PATH, headers=AUTH)
    assert response.status_code == 200
    assert response.json() == {"accepted": False, "reason": "ALREADY_COMPLETED"}
    assert fake_content.jobs[JOB_ID].status == status


def test_unknown_job_is_404(http: httpx.Client) -> None:
    error_of(http.post("/v1/jobs/job_01HZX3ZZZZZZZZZZZZZZZZZZZZ/cancel", headers=AUTH), 404, "NOT_FOUND")


def test_job_of_another_org_is_404_and_left_running(http: httpx.Client, fake_content: FakeContent) -> None:
    fake_content.jobs[JOB_ID].organization_id = OTHER_ORG
    error_of(http.post(PATH, headers=AUTH), 404, "NOT_FOUND")
    assert fake_content.jobs[JOB_ID].status == content_pb2.JOB_STATUS_RUNNING


def test_key_without_jobs_cancel_is_403(http: httpx.Client, fake_content: FakeContent) -> None:
    error = error_of(http.post(PATH, headers=bearer(READ_ONLY)), 403, "FORBIDDEN_SCOPE")
    assert error["details"] == {"requiredScope": "jobs:cancel"}
    assert fake_content.requests("CancelJob") == []


def test_no_key_is_401(http: httpx.Client, fake_content: FakeContent) -> None:
    error_of(http.post(PATH), 401, "UNAUTHENTICATED")
    assert fake_content.requests("CancelJob") == []


def test_malformed_idempotency_key_is_422(http: httpx.Client, fake_content: FakeContent) -> None:
    response = http.post(PATH, headers={**AUTH, "Idempotency-Key": "x" * 256})
    assert fields_of(error_of(response, 422, "VALIDATION")) == ["Idempotency-Key"]
    assert fake_content.requests("CancelJob") == []


def test_well_formed_idempotency_key_is_claimed_and_its_answer_stored(
    http: httpx.Client, fake_content: FakeContent
) -> None:
    response = http.post(PATH, headers={**AUTH, "Idempotency-Key": "cancel-7f3a 1"})
    assert response.status_code == 202
    (begun,) = fake_content.requests("BeginIdempotentRequest")
    assert begun.idempotency_key == "cancel-7f3a 1" and begun.scope == f"POST {PATH}"
    (stored,) = fake_content.requests("CompleteIdempotentRequest")
    assert stored.status_code == 202 and stored.body == response.content


def test_empty_object_body_is_fine(http: httpx.Client) -> None:
    assert http.post(PATH, json={}, headers=AUTH).status_code == 202


@pytest.mark.parametrize(
    ("body", "fields"), [(b'{"force": true}', ["force"]), (b"{nope", ["body"]), (b"[1]", ["body"])]
)
def test_body_with_fields_or_not_json_is_422(
    http: httpx.Client, fake_content: FakeContent, body: bytes, fields: list[str]
) -> None:
    response = http.post(PATH, content=body, headers={**AUTH, "Content-Type": "application/json"})
    assert fields_of(error_of(response, 422, "VALIDATION")) == fields
    assert fake_content.requests("CancelJob") == []


def test_not_cancellable_from_content_is_409(http: httpx.Client, fake_content: FakeContent) -> None:
    fake_content.fail("CancelJob", ServiceError(grpc.StatusCode.ABORTED, "NOT_CANCELLABLE", "Past its stage."))
    error = error_of(http.post(PATH, headers=AUTH), 409, "CONFLICT")
    assert error["details"] == {"subcode": "NOT_CANCELLABLE"}
