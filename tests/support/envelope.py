"""The error envelope and request id every HTTP answer carries, checked the same way in every test."""

from __future__ import annotations

import re
from typing import Any

import httpx

REQUEST_ID = re.compile(r"req_[0-9A-HJKMNP-TV-Z]{26}")


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
