"""The pure proto -> JSON functions."""

from __future__ import annotations

import pytest

from gateway.serializers import (
    accepted_job_json,
    container_status,
    job_json,
    job_stage,
    job_status,
    json_bytes,
    optional_time,
    rfc3339,
)
from gateway.signing import UrlSigner
from layers.content.v1 import content_pb2
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
    assert job_status(content_pb2.JOB_STATUS_CANCELED) == "canceled"
    assert job_stage(content_pb2.JOB_STAGE_FETCHING_INPUTS) == "fetching_inputs"
    assert container_status(content_pb2.CONTAINER_STATUS_PROCESSING) == "processing"
    assert job_status(content_pb2.JOB_STATUS_UNSPECIFIED) is None
    assert job_stage(99) is None  # a value newer than this code


def test_accepted_json_is_a_function_of_the_job_only() -> None:
    job = accepted_job()
    first = json_bytes(accepted_job_json(job))
    job.progress = 0.9
    job.stage = content_pb2.JOB_STAGE_UPLOADING
    job.updated_at.CopyFrom(ts(2_000_000_000))
    assert json_bytes(accepted_job_json(job)) == first


def test_accepted_json_without_started_at_is_null() -> None:
    job = accepted_job()
    job.ClearField("started_at")
    assert accepted_job_json(job)["startedAt"] is None


def test_empty_job_has_every_key() -> None:
    body = job_json(content_pb2.Job(), SIGNER)
    assert body == {
        "jobId": "",
        "kind": "content_generate",
        "status": None,
        "stage": None,
        "progress": 0.0,
        "projectId": "",
        "containerIds": [],
        "startedAt": None,
        "finishedAt": None,
        "result": None,
        "error": None,
    }


def test_failed_job_without_error_detail_still_says_why() -> None:
    job = accepted_job()
    job.status = content_pb2.JOB_STATUS_FAILED
    assert job_json(job, SIGNER)["error"] == {"code": "RENDER_FAILED", "message": "The render failed."}


def test_json_bytes_keeps_unicode_and_is_compact() -> None:
    assert json_bytes({"hook": "a\n😀", "n": None}) == '{"hook":"a\\n😀","n":null}'.encode()
