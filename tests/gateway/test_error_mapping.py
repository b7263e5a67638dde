"""Each row of the gRPC -> HTTP error table, driven through a real gRPC failure and real HTTP."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import grpc
import httpx
import pytest

from common.errors import FieldViolation, ServiceError, idempotency_body_mismatch, invalid
from gateway.errors import RULES, from_service_error
from tests.gateway.conftest import LiveGateway
from tests.gateway.fakes import ALL, FakeContent
from tests.gateway.helpers import UGC_REMIX, bearer, error_of

C = grpc.StatusCode
BODY = {"influencerId": "inf_1"}

ROWS: list[tuple[ServiceError, int, str, dict[str, Any]]] = [
    # A refused file or URL: the contract's details.fields, and the specific reason beside it.
    *[
        (
            invalid("mediaId is not usable.", field="mediaId", reason=reason),
            422,
            "VALIDATION",
            {"fields": [{"field": "mediaId", "problem": "mediaId is not usable."}], "reason": reason},
        )
        for reason in (
            "EMPTY_FILE",
            "NOT_A_VIDEO",
            "NOT_AN_IMAGE",
            "NOT_AUDIO",
            "UNDECODABLE",
            "UNSUPPORTED_CONTAINER",
            "URL_INVALID",
            "URL_NOT_HTTPS",
            "URL_FORBIDDEN",
            "HOST_UNRESOLVABLE",
            "URL_FETCH_FAILED",
            "TOO_MANY_REDIRECTS",
        )
    ],
    (
        invalid("hook must not contain NUL characters.", field="hook"),
        422,
        "VALIDATION",
        {"fields": [{"field": "hook", "problem": "hook must not contain NUL characters."}]},
    ),
    (
        # Metadata no rule names stays inside, whatever a service puts there; so does a reason no rule names.
        ServiceError(
            C.INVALID_ARGUMENT,
            "SOMETHING_NEW",
            "kind is required.",
            {"problem": "required", "internal": "x"},
            fields=[FieldViolation("kind", "kind is required.")],
        ),
        422,
        "VALIDATION",
        {"fields": [{"field": "kind", "problem": "kind is required."}]},
    ),
    (ServiceError(C.INVALID_ARGUMENT, "VALIDATION", "Bad request."), 422, "VALIDATION", {}),
    *[
        (
            ServiceError(C.FAILED_PRECONDITION, reason, f"{reason}: explained.", {"format": "ugc-remix"}),
            422,
            "VALIDATION",
            {"format": "ugc-remix", "code": reason},
        )
        for reason in (
            "INFLUENCER_REQUIRED",
            "MISSING_APP_DEMO",
            "ACCOUNT_NOT_WIRED",
            "NO_CONTENT_LAYER_WIRED",
            "INFLUENCER_NOT_WIRED",
        )
    ],
    (
        ServiceError(
            C.FAILED_PRECONDITION, "BILLING_EXHAUSTED", "Not enough credits.", {"required": "120", "available": "40"}
        ),
        402,
        "BILLING_EXHAUSTED",
        {"required": 120, "available": 40},
    ),
    (
        idempotency_body_mismatch(),
        409,
        "IDEMPOTENCY_CONFLICT",
        {"reason": "BODY_MISMATCH"},
    ),
    (
        ServiceError(C.ABORTED, "IDEMPOTENCY_IN_PROGRESS", "Still running.", retry_after_seconds=30),
        409,
        "IDEMPOTENCY_CONFLICT",
        {"reason": "IN_PROGRESS", "retryAfterSeconds": 30},
    ),
    (ServiceError(C.NOT_FOUND, "NOT_FOUND", "mediaId is not on this project."), 404, "NOT_FOUND", {}),
    (
        ServiceError(C.FAILED_PRECONDITION, "ENDPOINT_LIMIT_REACHED", "At most 20.", {"limit": "20"}),
        409,
        "CONFLICT",
        {"limit": 20, "subcode": "ENDPOINT_LIMIT_REACHED"},
    ),
    (
        ServiceError(C.ALREADY_EXISTS, "RESERVATION_CONFLICT", "Already there.", {"reservation_id": "rsv_1"}),
        409,
        "CONFLICT",
        {"subcode": "RESERVATION_CONFLICT"},
    ),
    (
        ServiceError(C.ABORTED, "NOT_CANCELLABLE", "Past its cancellable stage."),
        409,
        "CONFLICT",
        {"subcode": "NOT_CANCELLABLE"},
    ),
    (
        ServiceError(C.OUT_OF_RANGE, "PAYLOAD_TOO_LARGE", "Too big.", {"limitBytes": "200000000"}),
        413,
        "PAYLOAD_TOO_LARGE",
        {"limitBytes": 200000000},
    ),
    (
        ServiceError(C.OUT_OF_RANGE, "RANGE_NOT_SATISFIABLE", "offset past the end.", {"sizeBytes": "1234"}),
        416,
        "RANGE_NOT_SATISFIABLE",
        {"sizeBytes": 1234},
    ),
    (
        ServiceError(C.RESOURCE_EXHAUSTED, "CONCURRENT_JOBS", "Three running.", retry_after_seconds=30),
        429,
        "RATE_LIMITED",
        {"retryAfterSeconds": 30, "reason": "CONCURRENT_JOBS"},
    ),
    (
        ServiceError(C.RESOURCE_EXHAUSTED, "TOO_MANY_JOBS", "Slow down.", retry_after_seconds=30),
        429,
        "RATE_LIMITED",
        {"retryAfterSeconds": 30},
    ),
    (ServiceError(C.UNAUTHENTICATED, "UNAUTHENTICATED", "Key revoked."), 401, "UNAUTHENTICATED", {}),
    (
        ServiceError(C.PERMISSION_DENIED, "PERMISSION_DENIED", "No.", {"caller": "renderer"}),
        403,
        "FORBIDDEN_SCOPE",
        {},
    ),
    (ServiceError(C.UNAVAILABLE, "UNAVAILABLE", "media down at 10.0.0.7"), 503, "UNAVAILABLE", {}),
    (ServiceError(C.DEADLINE_EXCEEDED, "DEADLINE_EXCEEDED", "slow db"), 503, "UNAVAILABLE", {}),
    (ServiceError(C.INTERNAL, "INTERNAL", "psycopg: relation jobs missing"), 500, "INTERNAL", {}),
    (ServiceError(C.UNKNOWN, "WHATEVER", "boom at line 3"), 500, "INTERNAL", {}),
    (ServiceError(C.DATA_LOSS, "DATA_LOSS", "disk"), 500, "INTERNAL", {}),
    (ServiceError(C.UNIMPLEMENTED, "UNIMPLEMENTED", "Method not found!"), 500, "INTERNAL", {}),
]


@pytest.mark.parametrize(("service_error", "status", "code", "details"), ROWS, ids=lambda v: getattr(v, "reason", None))
def test_service_error_maps_to_http(
    http: httpx.Client,
    fake_content: FakeContent,
    service_error: ServiceError,
    status: int,
    code: str,
    details: dict[str, Any],
) -> None:
    fake_content.fail("CreateUgcRemix", service_error)
    response = http.post(UGC_REMIX, json=BODY, headers=bearer(ALL))
    error = error_of(response, status, code)
    assert error["details"] == details
    assert list(error["details"]) == list(details)  # in the contract's order: the bytes are part of it
    if status < 500:
        assert error["message"] == service_error.message
    else:
        # Internals (addresses, SQL, stack text) stay in the log.
        assert service_error.message not in response.text
    if status == 503:
        assert "safe to retry with the same Idempotency-Key" in error["message"]
    if status == 500:
        assert error["message"] == "Internal error."
    if "retryAfterSeconds" in details:
        assert response.headers["retry-after"] == str(details["retryAfterSeconds"])
    else:
        assert "retry-after" not in response.headers
    if status == 416:
        assert response.headers["content-range"] == "bytes */1234"
    else:
        assert "content-range" not in response.headers


def test_every_table_rule_is_exercised() -> None:
    covered = set()
    for service_error, *_ in ROWS:
        covered.add(service_error.reason if service_error.reason in RULES else service_error.code)
    assert set(RULES) <= covered


def test_non_digit_numbers_are_left_as_sent() -> None:
    err = from_service_error(
        ServiceError(C.FAILED_PRECONDITION, "BILLING_EXHAUSTED", "x", {"required": "lots", "available": "0"})
    )
    assert err.details == {"required": "lots", "available": 0}


def test_real_deadline_is_503(start_gateway: Callable[..., LiveGateway], fake_content: FakeContent) -> None:
    live = start_gateway(rpc_timeout_seconds=0.3)
    fake_content.delays["CreateUgcRemix"] = 1.0
    response = httpx.post(live.base_url + UGC_REMIX, json=BODY, headers=bearer(ALL), timeout=10)
    error_of(response, 503, "UNAVAILABLE")


def test_unreachable_service_is_503(start_gateway: Callable[..., LiveGateway]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{s.getsockname()[1]}"  # nothing listens once this closes
    live = start_gateway(content_addr=dead, rpc_timeout_seconds=2)
    response = httpx.get(live.base_url + "/v1/whoami", headers=bearer(ALL), timeout=10)
    error_of(response, 503, "UNAVAILABLE")


def _through_grpc(
    metadata: dict[str, str], reason: str, code: grpc.StatusCode, seconds: float | None = None
) -> ServiceError:
    """What a caller unpacks from a status an earlier release's service (or another client) sent."""
    from google.protobuf import duration_pb2
    from google.rpc import error_details_pb2

    from common.errors import rich_status, unpack

    details: list[Any] = [error_details_pb2.ErrorInfo(reason=reason, domain="layers.partner-api", metadata=metadata)]
    if seconds is not None:
        delay = duration_pb2.Duration()
        delay.FromNanoseconds(int(seconds * 1e9))
        details.append(error_details_pb2.RetryInfo(retry_delay=delay))
    status = rich_status(code, "said so", details)

    class Failed(grpc.RpcError):
        def code(self) -> grpc.StatusCode:
            return status.code

        def details(self) -> str:
            return status.details

        def trailing_metadata(self) -> tuple[tuple[str, bytes], ...]:
            return tuple(status.trailing_metadata)

    return unpack(Failed())


@pytest.mark.parametrize(
    ("reason", "metadata", "code", "status", "public_code", "details"),
    [
        (
            "IDEMPOTENCY_CONFLICT",
            {"reason": "IN_PROGRESS", "retryAfterSeconds": "3"},
            C.ABORTED,
            409,
            "IDEMPOTENCY_CONFLICT",
            {"reason": "IN_PROGRESS", "retryAfterSeconds": 3},
        ),
        (
            "IDEMPOTENCY_CONFLICT",
            {"reason": "BODY_MISMATCH"},
            C.ABORTED,
            409,
            "IDEMPOTENCY_CONFLICT",
            {"reason": "BODY_MISMATCH"},
        ),
        (
            "RATE_LIMITED",
            {"retryAfterSeconds": "10", "reason": "CONCURRENT_JOBS"},
            C.RESOURCE_EXHAUSTED,
            429,
            "RATE_LIMITED",
            {"retryAfterSeconds": 10, "reason": "CONCURRENT_JOBS"},
        ),
        (
            "VALIDATION",
            {"reason": "URL_FORBIDDEN", "field": "url"},
            C.INVALID_ARGUMENT,
            422,
            "VALIDATION",
            {"fields": [{"field": "url", "problem": "said so"}], "reason": "URL_FORBIDDEN"},
        ),
        (
            "VALIDATION",
            {"field": "title", "problem": "required"},
            C.INVALID_ARGUMENT,
            422,
            "VALIDATION",
            {"fields": [{"field": "title", "problem": "said so"}]},
        ),
    ],
)
def test_an_earlier_releases_errors_answer_as_they_did(
    reason: str, metadata: dict[str, str], code: grpc.StatusCode, status: int, public_code: str, details: dict[str, Any]
) -> None:
    """During a rolling upgrade the gateway may hear a service of the release before, which spelled these
    causes as a generic reason plus metadata: partners get the same answer either way."""
    answer = from_service_error(_through_grpc(metadata, reason, code))
    assert (answer.status, answer.code, answer.details) == (status, public_code, details)
    assert list(answer.details) == list(details)


@pytest.mark.parametrize(("seconds", "header"), [(0.5, "1"), (2.9, "3"), (30, "30")])
def test_a_retry_delay_that_is_not_whole_seconds_waits_the_next_whole_second(seconds: float, header: str) -> None:
    answer = from_service_error(_through_grpc({}, "IDEMPOTENCY_IN_PROGRESS", C.ABORTED, seconds))
    assert answer.headers["Retry-After"] == header and answer.details["retryAfterSeconds"] == int(header)
