"""The response models built from proto messages, and the bytes they render to."""

from __future__ import annotations

import json
import logging

import pytest

from gateway import responses
from gateway.proto_json import enum_name, optional_time, rfc3339
from gateway.rendering import json_bytes
from gateway.responses import AcceptedJob, CancelResult, Job, JobError, WebhookEndpoint
from gateway.signing import UrlSigner
from layers.content.v1 import content_pb2
from layers.webhooks.v1 import webhooks_pb2
from tests.gateway.fakes import accepted_job, ts

SIGNER = UrlSigner(b"k" * 32, clock=lambda: 1_000_000.0)


@pytest.mark.parametrize(
    ("seconds", "nanos", "text"),
    [
        (0, 0, "1970-01-01T00:00:00.000Z"),
        (1_776_513_851, 0, "2026-04-18T12:04:11.000Z"),
        (1_776_513_851, 1_000_000, "2026-04-18T12:04:11.001Z"),
        (1_776_513_851, 999_999_999, "2026-04-18T12:04:11.999Z"),  # truncated, never rounded up
        (1_776_513_851, 123_456, "2026-04-18T12:04:11.000Z"),
    ],
)
def test_rfc3339_is_utc_with_milliseconds_and_z(seconds: int, nanos: int, text: str) -> None:
    assert rfc3339(ts(seconds, nanos)) == text


def test_unset_timestamp_is_null_set_epoch_is_not() -> None:
    job = content_pb2.Job()
    assert optional_time(job, "started_at") is None
    job.started_at.CopyFrom(ts(0))
    assert optional_time(job, "started_at") == "1970-01-01T00:00:00.000Z"


def test_enums_lower_case_and_unspecified_is_null() -> None:
    assert enum_name(content_pb2.JobStatus, "JOB_STATUS_", content_pb2.JOB_STATUS_CANCELED) == "canceled"
    assert enum_name(content_pb2.JobStage, "JOB_STAGE_", content_pb2.JOB_STAGE_FETCHING_INPUTS) == "fetching_inputs"
    assert enum_name(content_pb2.JobStatus, "JOB_STATUS_", content_pb2.JOB_STATUS_UNSPECIFIED) is None
    assert enum_name(content_pb2.JobStage, "JOB_STAGE_", 99) is None  # a value newer than this code


def test_accepted_body_is_a_function_of_the_job_only() -> None:
    job = accepted_job()
    first = json_bytes(AcceptedJob.of(job))
    job.progress = 0.9
    job.stage = content_pb2.JOB_STAGE_UPLOADING
    job.updated_at.CopyFrom(ts(2_000_000_000))
    assert json_bytes(AcceptedJob.of(job)) == first


def test_accepted_body_without_started_at_is_null() -> None:
    job = accepted_job()
    job.ClearField("started_at")
    assert json.loads(json_bytes(AcceptedJob.of(job)))["startedAt"] is None


def test_empty_job_has_every_key_in_order() -> None:
    body = json_bytes(Job.of(content_pb2.Job(), SIGNER))
    assert body == (
        b'{"jobId":"","kind":"content_generate","status":null,"stage":null,"progress":0.0,"projectId":"",'
        b'"containerIds":[],"startedAt":null,"finishedAt":null,"result":null,"error":null}'
    )


def test_failed_job_without_error_detail_still_says_why() -> None:
    job = accepted_job()
    job.status = content_pb2.JOB_STATUS_FAILED
    assert Job.of(job, SIGNER).error == JobError(code="RENDER_FAILED", message="The render failed.")


def test_floats_are_written_as_json_dumps_writes_them() -> None:
    # pydantic's own writer would say 0.00001; the bytes (and so ETags) stay json.dumps'.
    job = accepted_job()
    job.progress = 1e-05
    assert b'"progress":1e-05,' in json_bytes(Job.of(job, SIGNER))


def test_an_accepted_cancel_has_no_reason_a_refused_one_has() -> None:
    assert json_bytes(CancelResult.of(True, "ignored")) == b'{"accepted":true}'
    assert json_bytes(CancelResult.of(False, "")) == b'{"accepted":false,"reason":"ALREADY_COMPLETED"}'


def test_json_bytes_keeps_unicode_and_is_compact() -> None:
    body = JobError(code="a\n😀", message="“x”")
    assert json_bytes(body) == '{"code":"a\\n😀","message":"“x”"}'.encode()


def test_a_service_answer_outside_the_schema_is_logged_and_passed_on(caplog: pytest.LogCaptureFixture) -> None:
    endpoint = webhooks_pb2.Endpoint(endpoint_id="whe_1", url="https://example.com/h", events=["job.completed"])
    responses._REPORTED.clear()
    with caplog.at_level(logging.ERROR, logger="layers.gateway"):
        body = json.loads(json_bytes(WebhookEndpoint.of(endpoint)))
        again = json.loads(json_bytes(WebhookEndpoint.of(endpoint)))
    assert body == again and body["status"] is None  # ENDPOINT_STATUS_UNSPECIFIED: the schema allows no null
    assert list(body) == ["endpointId", "url", "events", "description", "projectId", "status", "createdAt", "updatedAt"]
    assert caplog.text.count("WebhookEndpoint body does not match its schema") == 1  # once, not per response
