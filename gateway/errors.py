"""The error envelope, and the one table that turns a gRPC status into an HTTP answer.

Every 4xx/5xx body is `{"error": {"code", "message", "requestId", "details"}}` (`details` is `{}` when the
code carries no structure). Routes raise ApiError
for what the gateway decides itself and let grpc.RpcError escape for what a service decided; the
handlers installed here render both (plus Starlette's 404/405 and FastAPI's validation errors) at the
edge, so no route builds an error body by hand.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope

from common.errors import ServiceError, unpack
from common.ids import new_id

log = logging.getLogger("layers.gateway")

INTERNAL_MESSAGE = "Internal error."
UNAVAILABLE_MESSAGE = "A backing service is unavailable; safe to retry with the same Idempotency-Key."

# Metadata values arrive as strings; these keys are numbers in the public contract.
_INTEGER_KEYS = frozenset({"required", "available", "limit", "limitBytes", "retryAfterSeconds", "sizeBytes"})


class ApiError(Exception):
    """An HTTP error the gateway answers with the envelope."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = dict(details or {})
        self.headers = dict(headers or {})


@dataclass(frozen=True)
class FieldProblem:
    field: str
    problem: str


def validation_error(problems: Sequence[FieldProblem], message: str = "Request is invalid.") -> ApiError:
    fields = [{"field": p.field, "problem": p.problem} for p in problems]
    return ApiError(422, "VALIDATION", message, {"fields": fields})


def not_found(message: str = "Not found.") -> ApiError:
    return ApiError(404, "NOT_FOUND", message)


UNKNOWN_ASSET = "assetId is not an asset of this container."
# A path id that cannot be one of ours names nothing: it answers what an unknown id answers, word for word.
UNKNOWN_PATH_IDS = {"jobId": "Job not found.", "containerId": "Container not found.", "assetId": UNKNOWN_ASSET}


def payload_too_large(message: str, limit: int) -> ApiError:
    return ApiError(
        413,
        "PAYLOAD_TOO_LARGE",
        message,
        {"limitBytes": limit},
        # The rest of the body is never read, so this connection cannot carry another request.
        headers={"Connection": "close"},
    )


def forbidden_signature(message: str = "The download link is invalid or has expired.") -> ApiError:
    return ApiError(403, "FORBIDDEN_SIGNATURE", message)


def range_not_satisfiable(size_bytes: int) -> ApiError:
    # RFC 9110: a 416 names the current length so the client can ask again.
    return ApiError(
        416,
        "RANGE_NOT_SATISFIABLE",
        f"The requested range is not within the {size_bytes}-byte file.",
        {"sizeBytes": size_bytes},
        headers={"Content-Range": f"bytes */{size_bytes}"},
    )


# --- gRPC status -> HTTP ---------------------------------------------------------------------------

Details = Callable[[ServiceError], dict[str, Any]]


def _none(_: ServiceError) -> dict[str, Any]:
    return {}


def _metadata(err: ServiceError) -> dict[str, Any]:
    return dict(err.metadata)


def _field_problem(err: ServiceError) -> dict[str, Any]:
    """A refused argument in the contract's shape: the field it names goes into `fields` with the service's
    message as the problem; the rest of the metadata (e.g. a refused file's `reason`) stays beside it."""
    rest = dict(err.metadata)
    field = rest.pop("field", None)
    if not field:
        return rest
    rest.pop("problem", None)  # a service's terse tag for the same thing; the message says it for people
    return {"fields": [{"field": field, "problem": err.message}], **rest}


def _reason_as_code(err: ServiceError) -> dict[str, Any]:
    # The seed: error.code stays the generic VALIDATION, the specific failure is details.code.
    return {**err.metadata, "code": err.reason}


def _reason_as_subcode(err: ServiceError) -> dict[str, Any]:
    return {**err.metadata, "subcode": err.reason}


@dataclass(frozen=True)
class Rule:
    status: int
    code: str
    details: Details = _none
    # When set, replaces the service's message (which may name internals) with a public one.
    message: str | None = None


# THE table. Keys are either an ErrorInfo reason (most specific, checked first, whatever the status
# code) or a gRPC status code. Anything not listed is a bug somewhere: 500 INTERNAL.
RULES: dict[str | grpc.StatusCode, Rule] = {
    "BILLING_EXHAUSTED": Rule(402, "BILLING_EXHAUSTED", _metadata),
    "IDEMPOTENCY_CONFLICT": Rule(409, "IDEMPOTENCY_CONFLICT", _metadata),
    "PAYLOAD_TOO_LARGE": Rule(413, "PAYLOAD_TOO_LARGE", _metadata),
    "RANGE_NOT_SATISFIABLE": Rule(416, "RANGE_NOT_SATISFIABLE", _metadata),
    # A state of the organization, not a malformed request: retrying the same body cannot succeed.
    "ENDPOINT_LIMIT_REACHED": Rule(409, "CONFLICT", _reason_as_subcode),
    grpc.StatusCode.INVALID_ARGUMENT: Rule(422, "VALIDATION", _field_problem),
    grpc.StatusCode.FAILED_PRECONDITION: Rule(422, "VALIDATION", _reason_as_code),
    grpc.StatusCode.NOT_FOUND: Rule(404, "NOT_FOUND"),
    grpc.StatusCode.ALREADY_EXISTS: Rule(409, "CONFLICT", _reason_as_subcode),
    grpc.StatusCode.ABORTED: Rule(409, "CONFLICT", _reason_as_subcode),
    grpc.StatusCode.RESOURCE_EXHAUSTED: Rule(429, "RATE_LIMITED", _metadata),
    grpc.StatusCode.UNAUTHENTICATED: Rule(401, "UNAUTHENTICATED"),
    grpc.StatusCode.PERMISSION_DENIED: Rule(403, "FORBIDDEN_SCOPE", _metadata),
    grpc.StatusCode.UNAVAILABLE: Rule(503, "UNAVAILABLE", message=UNAVAILABLE_MESSAGE),
    grpc.StatusCode.DEADLINE_EXCEEDED: Rule(503, "UNAVAILABLE", message=UNAVAILABLE_MESSAGE),
}
_FALLBACK = Rule(500, "INTERNAL", message=INTERNAL_MESSAGE)


def _typed(details: Mapping[str, Any]) -> dict[str, Any]:
    return {
        key: int(value) if key in _INTEGER_KEYS and isinstance(value, str) and value.isdigit() else value
        for key, value in details.items()
    }


def from_service_error(err: ServiceError) -> ApiError:
    rule = RULES.get(err.reason) or RULES.get(err.code) or _FALLBACK
    if rule.status >= 500:
        # The real cause goes to the log, never to the partner.
        log.log(logging.WARNING if rule.status == 503 else logging.ERROR, "service call failed: %r", err)
    details = _typed(rule.details(err))
    retry_after = details.get("retryAfterSeconds")
    headers = {"Retry-After": str(retry_after)} if isinstance(retry_after, int) else {}
    size = details.get("sizeBytes")
    if rule.status == 416 and isinstance(size, int):
        headers["Content-Range"] = f"bytes */{size}"
    return ApiError(rule.status, rule.code, rule.message or err.message, details, headers=headers)


def from_rpc_error(exc: grpc.RpcError) -> ApiError:
    return from_service_error(unpack(exc))


# --- rendering ---------------------------------------------------------------------------------------


def request_id_of(scope: Scope) -> str:
    """The id RequestIdMiddleware gave this request (a fresh one if it somehow did not run)."""
    state = scope.setdefault("state", {})
    if "request_id" not in state:
        state["request_id"] = new_id("req")
    return str(state["request_id"])


def envelope(code: str, message: str, request_id: str, details: Mapping[str, Any] | None = None) -> dict:
    return {"error": {"code": code, "message": message, "requestId": request_id, "details": dict(details or {})}}


def error_response(err: ApiError, request_id: str) -> JSONResponse:
    return JSONResponse(
        envelope(err.code, err.message, request_id, err.details), status_code=err.status, headers=err.headers
    )


def internal_error_response(request_id: str) -> JSONResponse:
    return JSONResponse(envelope("INTERNAL", INTERNAL_MESSAGE, request_id), status_code=500)


# Codes for errors Starlette/FastAPI raise themselves (unknown route, wrong method, ...).
_HTTP_CODES = {
    401: "UNAUTHENTICATED",
    403: "FORBIDDEN_SCOPE",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    422: "VALIDATION",
    429: "RATE_LIMITED",
    503: "UNAVAILABLE",
}
_HTTP_MESSAGES = {404: "Not found.", 405: "Method not allowed."}


def _http_exception_to_api_error(exc: StarletteHTTPException) -> ApiError:
    status = exc.status_code
    if status >= 500:
        return ApiError(500, "INTERNAL", INTERNAL_MESSAGE)
    code = _HTTP_CODES.get(status, "BAD_REQUEST")
    message = _HTTP_MESSAGES.get(status) or (exc.detail if isinstance(exc.detail, str) else code)
    return ApiError(status, code, message, headers=exc.headers)


_LOCATIONS = frozenset({"body", "query", "header", "path", "cookie"})


def _field_name(loc: Sequence[Any]) -> str:
    # Drop FastAPI's location prefix: partners know fields by their own names.
    parts = [str(p) for p in loc]
    if len(parts) > 1 and parts[0] in _LOCATIONS:
        parts = parts[1:]
    return ".".join(parts) or "body"


def problems_from_errors(errors: Sequence[Mapping[str, Any]]) -> list[FieldProblem]:
    """Turn pydantic/FastAPI error dicts into the contract's [{field, problem}]."""
    problems = []
    for e in errors:
        if e.get("type") == "json_invalid":
            problems.append(FieldProblem("body", "Malformed JSON."))
        else:
            problems.append(FieldProblem(_field_name(e.get("loc", ())), str(e.get("msg", "invalid"))))
    return problems


def path_not_found(errors: Sequence[Mapping[str, Any]]) -> ApiError | None:
    """The one place a path parameter's failed shape is decided: it names no resource, so it answers the
    404 an unknown id answers (never 422, which would tell a malformed id from an unknown one)."""
    for e in errors:
        loc = e.get("loc", ())
        if len(loc) > 1 and loc[0] == "path":
            return not_found(UNKNOWN_PATH_IDS.get(str(loc[1]), "Not found."))
    return None


def install_error_handlers(app: FastAPI) -> None:
    async def on_api_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return error_response(exc, request_id_of(request.scope))

    async def on_rpc_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, grpc.RpcError)
        return error_response(from_rpc_error(exc), request_id_of(request.scope))

    async def on_http_exception(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        return error_response(_http_exception_to_api_error(exc), request_id_of(request.scope))

    async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = exc.errors()
        err = path_not_found(errors) or validation_error(problems_from_errors(errors))
        return error_response(err, request_id_of(request.scope))

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(grpc.RpcError, on_rpc_error)
    app.add_exception_handler(StarletteHTTPException, on_http_exception)
    app.add_exception_handler(RequestValidationError, on_validation_error)
