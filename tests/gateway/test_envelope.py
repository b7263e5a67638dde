"""The error envelope and request ids on everything the gateway answers, over real HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import grpc
import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict

from common.errors import ServiceError
from tests.gateway.conftest import PUBLIC_BASE_URL, LiveGateway
from tests.gateway.fakes import ALL, ASSET_ID, CONTAINER_ID, ORG, READ_ONLY, FakeContent
from tests.gateway.helpers import ERROR_KEYS, UGC_REMIX, bearer, error_of, fields_of, request_id

AUTH = bearer(ALL)
BODY = {"influencerId": "inf_1"}


def test_unknown_route_is_enveloped_404(http: httpx.Client) -> None:
    error = error_of(http.get("/v1/nope"), 404, "NOT_FOUND")
    assert error["details"] == {}


def test_wrong_method_is_enveloped_405_with_allow(http: httpx.Client) -> None:
    response = http.get(UGC_REMIX, headers=AUTH)
    error_of(response, 405, "METHOD_NOT_ALLOWED")
    assert response.headers["allow"] == "POST"


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/v1/whoami/"), ("GET", "/v1/credits/"), ("POST", UGC_REMIX + "/"), ("GET", "/v1/jobs/job_1/")],
)
def test_a_trailing_slash_is_404_never_a_redirect_built_from_host(http: httpx.Client, method: str, path: str) -> None:
    response = http.request(method, path, headers={**AUTH, "Host": "evil.example.com"}, json={})
    error_of(response, 404, "NOT_FOUND")
    assert "location" not in response.headers


def test_caller_request_id_is_replaced_by_ours(http: httpx.Client) -> None:
    response = http.get("/v1/whoami", headers={**AUTH, "X-Request-Id": "req_mine"})
    assert response.status_code == 200
    assert request_id(response) != "req_mine"


def test_every_response_gets_a_fresh_request_id(http: httpx.Client) -> None:
    ids = {request_id(http.get("/v1/whoami", headers=AUTH)) for _ in range(5)}
    assert len(ids) == 5


@pytest.mark.parametrize(
    ("body", "problem_field"),
    [
        (b'{"influencerId": "inf_1"', "body"),  # malformed
        (b"", "body"),
        (b"\xff\xfe", "body"),  # not UTF-8
        (b'{"hook": NaN, "influencerId": "inf_1"}', "body"),
        (b'["influencerId"]', "body"),  # JSON, but not an object
        (b'"inf_1"', "body"),
        (b"42", "body"),
        (b"null", "body"),
        (b'{"influencerId": "inf_1", "variants": 3}', "variants"),  # unknown field
        (b'{"influencer_id": "inf_1"}', "influencer_id"),  # snake_case is not our spelling
        (b'{"influencerId": 42}', "influencerId"),  # strict: a number is not a string
        (b'{"influencerId": "inf_1", "hook": ["a"]}', "hook"),
        (b'{"influencerId": "inf_1", "hook": ""}', "hook"),
        (b'{"influencerId": "", "hook": "hi"}', "influencerId"),
        (b'{"influencerId": "inf_1", "hook": "\\ud800"}', "hook"),  # lone surrogate
    ],
)
def test_body_shape_is_422_validation_naming_the_field(
    http: httpx.Client, fake_content: FakeContent, body: bytes, problem_field: str
) -> None:
    response = http.post(UGC_REMIX, content=body, headers={**AUTH, "Content-Type": "application/json"})
    error = error_of(response, 422, "VALIDATION")
    assert problem_field in fields_of(error)
    assert all(isinstance(f["problem"], str) and f["problem"] for f in error["details"]["fields"])
    assert fake_content.requests("CreateUgcRemix") == []


def test_hook_over_2000_code_points_is_422(http: httpx.Client) -> None:
    response = http.post(UGC_REMIX, json={"influencerId": "inf_1", "hook": "😀" * 2001}, headers=AUTH)
    assert fields_of(error_of(response, 422, "VALIDATION")) == ["hook"]


def test_several_problems_are_reported_together(http: httpx.Client) -> None:
    response = http.post(UGC_REMIX, json={"hook": 1, "extra": True}, headers={**AUTH, "Idempotency-Key": "x" * 256})
    assert sorted(fields_of(error_of(response, 422, "VALIDATION"))) == ["Idempotency-Key", "extra", "hook"]


@pytest.mark.parametrize("key", ["", "x" * 256, "tab\tinside", "caf\u00e9"])
def test_bad_idempotency_key_is_422(http: httpx.Client, fake_content: FakeContent, key: str) -> None:
    headers = [(b"Authorization", f"Bearer {ALL}".encode()), (b"Idempotency-Key", key.encode("latin-1"))]
    response = http.post(UGC_REMIX, json={"influencerId": "inf_1"}, headers=headers)
    assert fields_of(error_of(response, 422, "VALIDATION")) == ["Idempotency-Key"]
    assert fake_content.requests("CreateUgcRemix") == []


def test_non_uuid_project_is_404_without_asking_content(http: httpx.Client, fake_content: FakeContent) -> None:
    response = http.post("/v1/projects/not-a-uuid/content/ugc-remix", json={"hook": 1}, headers=AUTH)
    error_of(response, 404, "NOT_FOUND")
    assert fake_content.requests("GetProject") == []


def test_unknown_project_is_404_even_with_a_bad_body(http: httpx.Client) -> None:
    path = "/v1/projects/00000000-0000-4000-8000-000000000000/content/ugc-remix"
    response = http.post(path, content=b"{not json", headers=AUTH)
    assert error_of(response, 404, "NOT_FOUND")["message"] == "Project not found."


# --- body size ------------------------------------------------------------------------------------


def _chunks(total: int, size: int = 4096) -> Iterator[bytes]:
    yield b'{"influencerId": "inf_1", "hook": "'
    sent = 0
    while sent < total:
        yield b"a" * min(size, total - sent)
        sent += size
    yield b'"}'


def test_chunked_body_over_limit_is_413_while_streaming(http: httpx.Client, fake_content: FakeContent) -> None:
    request = http.build_request("POST", UGC_REMIX, content=_chunks(70 * 1024), headers=AUTH)
    assert "content-length" not in request.headers
    assert request.headers["transfer-encoding"] == "chunked"
    response = http.send(request)
    error = error_of(response, 413, "PAYLOAD_TOO_LARGE")
    assert error["details"] == {"limitBytes": 65536}
    assert fake_content.requests("CreateUgcRemix") == []


def test_declared_content_length_over_limit_is_refused_before_auth(
    http: httpx.Client, fake_content: FakeContent
) -> None:
    response = http.post(UGC_REMIX, content=b"x" * (70 * 1024))  # no key at all
    assert error_of(response, 413, "PAYLOAD_TOO_LARGE")["details"] == {"limitBytes": 65536}
    assert fake_content.calls == []


def test_body_exactly_at_limit_is_accepted(http: httpx.Client) -> None:
    head, tail = b'{"influencerId": "inf_1"', b"}"
    body = head + b" " * (65536 - len(head) - len(tail)) + tail
    assert len(body) == 65536
    response = http.post(UGC_REMIX, content=body, headers=AUTH)
    assert response.status_code == 202, response.text


# --- unhandled exceptions ---------------------------------------------------------------------------


@pytest.fixture
def boom_gateway(start_gateway: Callable[..., LiveGateway]) -> LiveGateway:
    live = start_gateway()
    app: FastAPI = live.app

    def sync_boom() -> None:
        raise RuntimeError("secret detail: db password is hunter2")

    async def async_boom() -> None:
        raise KeyError("another secret")

    app.add_api_route("/v1/_test/sync-boom", sync_boom)
    app.add_api_route("/v1/_test/async-boom", async_boom)
    return live


@pytest.mark.parametrize("path", ["/v1/_test/sync-boom", "/v1/_test/async-boom"])
def test_unhandled_exception_is_500_internal_without_a_trace(boom_gateway: LiveGateway, path: str) -> None:
    response = httpx.get(boom_gateway.base_url + path)
    error = error_of(response, 500, "INTERNAL")
    assert error["message"] == "Internal error."
    assert "secret" not in response.text and "Traceback" not in response.text


# --- FastAPI's own validation, for routes that declare typed parameters and body models ------------


class _Thing(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    name: str


@pytest.fixture
def typed_gateway(start_gateway: Callable[..., LiveGateway]) -> LiveGateway:
    live = start_gateway()

    def typed(thing: _Thing, limit: int = 50) -> dict[str, object]:
        return {"name": thing.name, "limit": limit}

    live.app.add_api_route("/v1/_test/typed", typed, methods=["POST"])
    return live


@pytest.mark.parametrize(
    ("query", "body", "fields"),
    [
        ("?limit=many", b'{"name": "a"}', ["limit"]),
        ("", b'{"name": 1, "colour": "red"}', ["name", "colour"]),
        ("", b'{"name": "a"', ["body"]),
    ],
)
def test_request_validation_error_is_enveloped(
    typed_gateway: LiveGateway, query: str, body: bytes, fields: list[str]
) -> None:
    response = httpx.post(
        f"{typed_gateway.base_url}/v1/_test/typed{query}",
        content=body,
        headers={"Content-Type": "application/json"},
    )
    assert sorted(fields_of(error_of(response, 422, "VALIDATION"))) == sorted(fields)


# --- one shape for every error ------------------------------------------------------------------------


def test_every_kind_of_error_has_exactly_code_message_request_id_and_details(
    start_gateway: Callable[..., LiveGateway], fake_content: FakeContent
) -> None:
    live, frugal = start_gateway(), start_gateway(rate_limit_reads_per_minute=1)

    async def boom() -> None:
        raise RuntimeError("unhandled")

    live.app.add_api_route("/v1/_test/boom", boom)
    signed = live.signer.asset_file_url(ORG, CONTAINER_ID, ASSET_ID).removeprefix(PUBLIC_BASE_URL)
    kinds: list[tuple[str, Callable[[httpx.Client], httpx.Response], int, str]] = [
        ("no key", lambda c: c.post(UGC_REMIX, json=BODY), 401, "UNAUTHENTICATED"),
        ("unknown key", lambda c: c.post(UGC_REMIX, headers=bearer("lp_live_nope_x")), 401, "UNAUTHENTICATED"),
        ("scope", lambda c: c.post(UGC_REMIX, json=BODY, headers=bearer(READ_ONLY)), 403, "FORBIDDEN_SCOPE"),
        ("route", lambda c: c.get("/v1/nope", headers=AUTH), 404, "NOT_FOUND"),
        ("trailing slash", lambda c: c.post(UGC_REMIX + "/", json=BODY, headers=AUTH), 404, "NOT_FOUND"),
        ("unknown job", lambda c: c.get("/v1/jobs/job_01HZX3ZZZZZZZZZZZZZZZZZZZZ", headers=AUTH), 404, "NOT_FOUND"),
        ("malformed job id", lambda c: c.get("/v1/jobs/nope", headers=AUTH), 404, "NOT_FOUND"),
        ("method", lambda c: c.get(UGC_REMIX, headers=AUTH), 405, "METHOD_NOT_ALLOWED"),
        ("body size", lambda c: c.post(UGC_REMIX, content=b"x" * 70_000, headers=AUTH), 413, "PAYLOAD_TOO_LARGE"),
        ("body shape", lambda c: c.post(UGC_REMIX, json={"hook": 1}, headers=AUTH), 422, "VALIDATION"),
        ("signature", lambda c: c.get(signed.replace("signature=", "signature=0")), 403, "FORBIDDEN_SIGNATURE"),
        ("unsigned", lambda c: c.get(signed.partition("?")[0]), 403, "FORBIDDEN_SIGNATURE"),
        ("unhandled", lambda c: c.get("/v1/_test/boom"), 500, "INTERNAL"),
        ("service bug", lambda c: c.post(UGC_REMIX, json=BODY, headers=AUTH), 500, "INTERNAL"),
    ]
    fake_content.fail("CreateUgcRemix", ServiceError(grpc.StatusCode.INTERNAL, "INTERNAL", "psycopg exploded"))
    with httpx.Client(base_url=live.base_url, timeout=10) as client:
        for name, send, status, code in kinds:
            response = send(client)
            assert response.status_code == status, (name, response.text)
            error = error_of(response, status, code)
            assert set(error) == ERROR_KEYS, name
    with httpx.Client(base_url=frugal.base_url, headers=AUTH, timeout=10) as client:
        client.get("/v1/whoami")
        assert set(error_of(client.get("/v1/whoami"), 429, "RATE_LIMITED")) == ERROR_KEYS
