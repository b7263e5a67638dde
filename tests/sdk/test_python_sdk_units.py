"""The SDK's pure rules: backoff, what is retried, error classes, webhook signatures, idempotency keys."""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

import layers_partner as lp
from layers_partner import _core, errors, models, webhooks


def test_backoff_is_full_jitter_capped_and_never_sooner_than_retry_after() -> None:
    policy = lp.RetryPolicy(initial_backoff_seconds=0.5, max_backoff_seconds=4)
    assert [policy.backoff(n, None, rng=lambda: 1.0) for n in (1, 2, 3, 4, 5)] == [0.5, 1.0, 2.0, 4.0, 4.0]
    assert policy.backoff(3, None, rng=lambda: 0.25) == 0.5
    assert policy.backoff(1, 7.0, rng=lambda: 1.0) == 7.0


@pytest.mark.parametrize(
    ("status", "code", "details", "retried"),
    [
        (503, "UNAVAILABLE", {}, True),
        (429, "RATE_LIMITED", {}, True),
        (408, "REQUEST_TIMEOUT", {}, True),
        (409, "IDEMPOTENCY_CONFLICT", {"reason": "IN_PROGRESS"}, True),
        (409, "IDEMPOTENCY_CONFLICT", {"reason": "BODY_MISMATCH"}, False),
        (409, "CONFLICT", {"subcode": "NOT_CANCELLABLE"}, False),
        (400, "BAD_REQUEST", {}, False),
        (402, "BILLING_EXHAUSTED", {}, False),
        (404, "NOT_FOUND", {}, False),
        (422, "VALIDATION", {}, False),
        (500, "INTERNAL", {}, False),
    ],
)
def test_what_is_retried(status: int, code: str, details: dict[str, str], retried: bool) -> None:
    body = json.dumps({"error": {"code": code, "message": "m", "requestId": "req_1", "details": details}})
    assert _core.retryable(errors.from_response(status, body.encode(), httpx.Headers())) is retried


def test_an_error_carries_the_envelope() -> None:
    body = {
        "error": {
            "code": "BILLING_EXHAUSTED",
            "message": "Not enough credits.",
            "requestId": "req_9",
            "details": {"required": 120, "available": 3},
        }
    }
    error = errors.from_response(402, json.dumps(body).encode(), httpx.Headers({"X-Request-Id": "req_9"}))
    assert isinstance(error, lp.BillingExhausted) and isinstance(error, lp.LayersError)
    assert (error.status, error.request_id, error.required, error.available) == (402, "req_9", 120, 3)
    fields = {"fields": [{"field": "hook", "problem": "Too long."}]}
    invalid = errors.from_response(
        422, json.dumps({"error": {"code": "VALIDATION", "message": "m", "details": fields}}).encode(), None
    )
    assert isinstance(invalid, lp.ValidationError) and invalid.fields == fields["fields"]
    odd = errors.from_response(502, b"<html>bad gateway</html>", httpx.Headers({"x-request-id": "req_2"}))
    assert type(odd) is lp.ApiError and odd.status == 502 and odd.request_id == "req_2"


def _signed(body: bytes, secrets: list[str], t: int) -> str:
    sigs = [hmac.new(s.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest() for s in secrets]
    return ",".join([f"t={t}", *(f"v1={sig}" for sig in sigs)])


def test_verify_takes_any_live_secret_and_refuses_the_rest() -> None:
    body = b'{"id":"evt_1","type":"job.completed","createdAt":"2026-01-01T00:00:00.000Z","data":{"jobId":"job_1"}}'
    now = int(time.time())
    header = _signed(body, ["whsec_old", "whsec_new"], now)
    assert webhooks.verify(body, header, ["whsec_new"]).job_id == "job_1"
    assert webhooks.verify(body, header, "whsec_old").type == "job.completed"
    with pytest.raises(lp.WebhookVerificationError, match="more than 300 s"):
        webhooks.verify(body, _signed(body, ["whsec_new"], now - 301), "whsec_new")
    assert webhooks.verify(body, _signed(body, ["whsec_new"], now - 50), "whsec_new", tolerance=60)
    for header in ("", "t=abc,v1=00", f"t={now}", f"t={now},t={now},v1=00", "x" * 5000):
        with pytest.raises(lp.WebhookVerificationError):
            webhooks.verify(body, header, "whsec_new")
    with pytest.raises(lp.WebhookVerificationError, match="not an event"):
        webhooks.verify(b"[]", _signed(b"[]", ["k"], now), "k")


def test_a_post_keeps_one_idempotency_key_for_every_try() -> None:
    call = _core.ugc_remix("p", "inf_1", None, "hi", None, None)
    first = _core.request_arguments(call, "http://h", "k", 5)
    again = _core.request_arguments(call, "http://h", "k", 5)
    assert first["headers"]["Idempotency-Key"] == again["headers"]["Idempotency-Key"]
    assert first["json"] == {"influencerId": "inf_1", "hook": "hi"}
    assert (
        "Idempotency-Key"
        not in _core.request_arguments(_core.Call("GET", "/v1/credits"), "http://h", "k", 5)["headers"]
    )


def test_bad_arguments_are_refused_before_any_request(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="influencer_id"):
        _core.ugc_remix("p", None, None, None, None, None)
    with pytest.raises(ValueError, match="hook"):
        _core.ugc_remix("p", "inf_1", None, "x" * 2001, None, None)
    with pytest.raises(ValueError, match="limit"):
        _core.page("/v1/webhook-endpoints", None, 500)
    with pytest.raises(ValueError, match="kind"):
        _core.upload("p", "https://example.com/a.mp4", "movie", None)
    with pytest.raises(ValueError, match="deadline"):
        lp.RetryPolicy(deadline_seconds=0)
    monkeypatch.delenv("LAYERS_API_KEY", raising=False)
    with pytest.raises(ValueError, match="API key"):
        lp.Client(base_url="http://127.0.0.1:1")
    with pytest.raises(ValueError, match="base_url"):
        lp.Client("k", base_url="127.0.0.1:8080")


def test_an_empty_secret_or_an_odd_timestamp_is_refused_not_trusted() -> None:
    body = b'{"id":"evt_1","type":"job.completed","createdAt":"2026-01-01T00:00:00.000Z","data":{"jobId":"job_1"}}'
    now = int(time.time())
    forged = _signed(body, [""], now)  # anyone can sign with an empty key
    for secrets in ("", ["whsec_real", ""]):
        with pytest.raises(lp.WebhookVerificationError, match="no signing secret"):
            webhooks.verify(body, forged, secrets)
    with pytest.raises(lp.WebhookVerificationError, match="no valid t="):
        webhooks.verify(body, "t=\u00b2,v1=00", "whsec_real")  # a digit to str.isdigit, not to int()


def test_retry_after_as_seconds_or_as_an_http_date() -> None:
    assert errors.retry_after(httpx.Headers({"Retry-After": "7"})) == 7.0
    later = email.utils.format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 < (errors.retry_after(httpx.Headers({"Retry-After": later})) or 0) <= 30
    past = email.utils.format_datetime(datetime.now(UTC) - timedelta(hours=1), usegmt=True)
    assert errors.retry_after(httpx.Headers({"Retry-After": past})) == 0.0
    assert errors.retry_after(httpx.Headers({"Retry-After": "soon"})) is None


def test_a_left_over_part_resumes_only_as_a_part_of_the_same_file(tmp_path: Path) -> None:
    target = tmp_path / "remix.mp4"
    (tmp_path / "remix.mp4.part").write_bytes(b"x" * 10)
    checked = _core.Download("https://h/f", target, "AB" * 32, 100)
    assert checked.headers() == {"Range": "bytes=10-", "If-Range": f'"{"ab" * 32}"'}
    unchecked = _core.Download("https://h/f", target, None, None)  # nothing could tell its bytes apart
    assert unchecked.headers() == {} and not (tmp_path / "remix.mp4.part").exists()


def _error(status: int, code: str, headers: dict[str, str] | None = None) -> errors.ApiError:
    body = json.dumps({"error": {"code": code, "message": "m", "requestId": "req_1"}}).encode()
    return errors.from_response(status, body, httpx.Headers(headers or {}))


def test_what_a_try_ended_in_decides_the_wait_before_the_next() -> None:
    policy = lp.RetryPolicy(max_attempts=3, initial_backoff_seconds=0.5, max_backoff_seconds=1, deadline_seconds=60)
    attempts = _core.Attempts(policy)
    attempts.start()
    assert attempts.delay_before_retry(_error(503, "UNAVAILABLE", {"Retry-After": "2"}), "GET /v1/credits") == 2.0
    assert 0 <= attempts.delay_before_retry(httpx.ConnectError("refused"), "GET /v1/credits") <= 0.5
    assert isinstance(attempts.last, lp.TransportError) and "GET /v1/credits: ConnectError" in str(attempts.last)
    with pytest.raises(lp.NotFound):
        attempts.delay_before_retry(_error(404, "NOT_FOUND"), "GET /v1/jobs/job_1")
    attempts.start()
    attempts.start()  # the last try allowed
    resumed_wrong = lp.TransportError("the server resumed at byte 5, not 10")
    with pytest.raises(lp.TransportError, match="resumed"):
        attempts.delay_before_retry(resumed_wrong, "download https://h/f")


def test_a_download_try_asks_from_where_the_part_ends_without_the_api_key(tmp_path: Path) -> None:
    (tmp_path / "remix.mp4.part").write_bytes(b"x" * 10)
    download = _core.Download("https://h/f", tmp_path / "remix.mp4", "ab" * 32, 100)
    assert download.request_arguments(5.0) == {
        "method": "GET",
        "url": "https://h/f",
        "headers": {"User-Agent": _core.USER_AGENT, "Range": "bytes=10-", "If-Range": f'"{"ab" * 32}"'},
        "timeout": 5.0,
    }


def test_the_files_of_a_multipart_try_are_closed_after_it(tmp_path: Path) -> None:
    clip = tmp_path / "demo.mp4"
    clip.write_bytes(b"\0" * 16)
    arguments = _core.request_arguments(_core.upload("p", clip, "demo-video", None), "http://h", "k", 5)
    [(_, handle, _)] = arguments["files"].values()
    assert not handle.closed
    _core.close_files(arguments)
    assert handle.closed
    _core.close_files(_core.request_arguments(_core.Call("GET", "/v1/credits"), "http://h", "k", 5))  # no files


def _job(status: str) -> models.Job:
    return models.Job.model_validate(
        {
            "jobId": "job_1",
            "kind": "ugc-remix",
            "status": status,
            "stage": "compositing",
            "progress": 0.5,
            "projectId": "prj_1",
            "containerIds": [],
            "startedAt": None,
            "finishedAt": None,
            "result": None,
            "error": None,
        }
    )


def test_a_wait_past_its_deadline_says_how_far_the_job_got() -> None:
    poll = _core.Poll("job_1", 0.2, 1.0, 30.0)
    assert 29 < poll.time_left(_job("running")) <= 30
    poll.deadline = time.monotonic() - 1
    with pytest.raises(lp.DeadlineExceeded, match=r"job job_1 still running \(compositing\) after 30 s"):
        poll.time_left(_job("running"))


def test_a_terminal_event_wakes_every_wait_for_its_job_or_is_kept_for_the_next() -> None:
    waits: _core.Waits[_core.Wake] = _core.Waits()
    first, second = _core.Wake(), _core.Wake()

    def event(kind: str, job_id: str) -> webhooks.WebhookEvent:
        data = {"id": "evt_1", "type": kind, "createdAt": "2026-01-01T00:00:00.000Z", "data": {"jobId": job_id}}
        return webhooks.WebhookEvent.model_validate(data)

    with waits.waiting("job_1", first):
        with waits.waiting("job_1", second):
            assert set(waits.ended(event("job.completed", "job_1"))) == {first, second}
        # The second wait ending leaves the first one's registration in place.
        assert waits.ended(event("job.completed", "job_1")) == [first]
        assert waits.ended(event("content.generated", "job_1")) == []  # not an end
        assert waits.take_ended("job_1") and not waits.take_ended("job_1")
    assert waits.ended(event("job.failed", "job_1")) == []  # nobody waits any more: kept
    assert waits.take_ended("job_1")


def test_an_async_wake_set_after_its_loop_closed_is_a_no_op() -> None:
    async def make() -> _core.AsyncWake:
        return _core.AsyncWake()

    wake = asyncio.run(make())
    wake.set()  # a webhook thread handing an event over after asyncio.run returned
