"""The SDK's pure rules: backoff, what is retried, error classes, webhook signatures, idempotency keys."""

from __future__ import annotations

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
from layers_partner import _core, errors, webhooks


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
