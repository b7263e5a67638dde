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
_INTEGER_KEYS = frozenset({"required", "available", "limit", "limitBytes", "sizeBytes"})


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
#
# A service names the cause in ErrorInfo.reason (AIP-193), refused fields in a BadRequest and when to come
# back in a RetryInfo. The public `details` of each error are built here, key by key, from what its rule
# lists: a metadata key a service adds reaches no partner until a rule names it.

# What an error contributes to its public details: a whole rule, or one part of it.
Details = Callable[[ServiceError], dict[str, Any]]


def shape(*parts: Details) -> Details:
    """The details of one kind of error: each part adds its keys, in order (the bytes and ETags depend on it)."""

    def details(err: ServiceError) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for part in parts:
            out.update(part(err))
        return out

    return details


def fact(key: str) -> Details:
    """A metadata value the contract publishes (e.g. `required`), a number where the contract says so."""

    def part(err: ServiceError) -> dict[str, Any]:
        if key not in err.metadata:
            return {}
        value = err.metadata[key]
        return {key: int(value) if key in _INTEGER_KEYS and value.isdigit() else value}

    return part


def reason_as(key: str) -> Details:
    """The service's reason under the contract's name for it (`code`, `subcode`, `reason`)."""
    return lambda err: {key: err.reason}


def tag(key: str, value: str) -> Details:
    """A fixed public value: the contract's name for a reason spelled otherwise inside."""
    return lambda err: {key: value}


def fields(err: ServiceError) -> dict[str, Any]:
    """The refused fields in the contract's shape, each with what the service said is wrong with it."""
    if not err.fields:
        return {}
    return {"fields": [{"field": f.field, "problem": f.description} for f in err.fields]}


def retry_after(err: ServiceError) -> dict[str, Any]:
    return {} if err.retry_after_seconds is None else {"retryAfterSeconds": err.retry_after_seconds}


def no_details(_: ServiceError) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class Rule:
    status: int
    code: str
    details: Details = no_details
    # When set, replaces the service's message (which may name internals) with a public one.
    message: str | None = None


# A refused file or URL: the field, and the reason beside it, so a partner can tell "not a video" from
# "truncated" without parsing the message.
_REFUSALS = (
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
# The seed: error.code stays the generic VALIDATION, the specific failure is details.code.
_UGC_REMIX_PRECONDITION = shape(fact("format"), reason_as("code"))

# THE table. Keys are either an ErrorInfo reason (most specific, checked first, whatever the status
# code) or a gRPC status code. Anything not listed is a bug somewhere: 500 INTERNAL.
RULES: dict[str | grpc.StatusCode, Rule] = {
    "BILLING_EXHAUSTED": Rule(402, "BILLING_EXHAUSTED", shape(fact("required"), fact("available"))),
    "IDEMPOTENCY_BODY_MISMATCH": Rule(409, "IDEMPOTENCY_CONFLICT", shape(tag("reason", "BODY_MISMATCH"))),
    "IDEMPOTENCY_IN_PROGRESS": Rule(409, "IDEMPOTENCY_CONFLICT", shape(tag("reason", "IN_PROGRESS"), retry_after)),
    "CONCURRENT_JOBS": Rule(429, "RATE_LIMITED", shape(retry_after, tag("reason", "CONCURRENT_JOBS"))),
    "PAYLOAD_TOO_LARGE": Rule(413, "PAYLOAD_TOO_LARGE", shape(fact("limitBytes"))),
    "RANGE_NOT_SATISFIABLE": Rule(416, "RANGE_NOT_SATISFIABLE", shape(fact("sizeBytes"))),
    # A state of the organization, not a malformed request: retrying the same body cannot succeed.
    "ENDPOINT_LIMIT_REACHED": Rule(409, "CONFLICT", shape(fact("limit"), reason_as("subcode"))),
    **{reason: Rule(422, "VALIDATION", shape(fields, reason_as("reason"))) for reason in _REFUSALS},
    grpc.StatusCode.INVALID_ARGUMENT: Rule(422, "VALIDATION", shape(fields)),
    grpc.StatusCode.FAILED_PRECONDITION: Rule(422, "VALIDATION", _UGC_REMIX_PRECONDITION),
    grpc.StatusCode.NOT_FOUND: Rule(404, "NOT_FOUND"),
    grpc.StatusCode.ALREADY_EXISTS: Rule(409, "CONFLICT", shape(reason_as("subcode"))),
    grpc.StatusCode.ABORTED: Rule(409, "CONFLICT", shape(reason_as("subcode"))),
    grpc.StatusCode.RESOURCE_EXHAUSTED: Rule(429, "RATE_LIMITED", shape(retry_after)),
    grpc.StatusCode.UNAUTHENTICATED: Rule(401, "UNAUTHENTICATED"),
    grpc.StatusCode.PERMISSION_DENIED: Rule(403, "FORBIDDEN_SCOPE"),
    grpc.StatusCode.UNAVAILABLE: Rule(503, "UNAVAILABLE", message=UNAVAILABLE_MESSAGE),
    grpc.StatusCode.DEADLINE_EXCEEDED: Rule(503, "UNAVAILABLE", message=UNAVAILABLE_MESSAGE),
}
_FALLBACK = Rule(500, "INTERNAL", message=INTERNAL_MESSAGE)


def from_service_error(err: ServiceError) -> ApiError:
    rule = RULES.get(err.reason) or RULES.get(err.code) or _FALLBACK
    if rule.status >= 500:
        # The real cause goes to the log, never to the partner.
        log.log(logging.WARNING if rule.status == 503 else logging.ERROR, "service call failed: %r", err)
    details = rule.details(err)
    retry = details.get("retryAfterSeconds")
    headers = {"Retry-After": str(retry)} if isinstance(retry, int) else {}
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
