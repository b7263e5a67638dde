"""Assertions shared by the gateway tests."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.gateway.fakes import PROJECT

REQUEST_ID = re.compile(r"req_[0-9A-HJKMNP-TV-Z]{26}")
UGC_REMIX = f"/v1/projects/{PROJECT}/content/ugc-remix"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def request_id(response: httpx.Response) -> str:
    value = response.headers.get("x-request-id", "")
    assert REQUEST_ID.fullmatch(value), f"bad X-Request-Id {value!r}"
    assert len(response.headers.get_list("x-request-id")) == 1
    return value


ERROR_KEYS = {"code", "message", "requestId", "details"}


def error_of(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Check the envelope is exactly {"error": {code, message, requestId, details}} and return it."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert list(body) == ["error"]
    error = body["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    assert error["requestId"] == request_id(response)
    assert set(error) == ERROR_KEYS, f"envelope keys {sorted(error)}"
    assert isinstance(error["details"], dict)
    return dict(error)


def fields_of(error: dict[str, Any]) -> list[str]:
    return [f["field"] for f in error["details"]["fields"]]
