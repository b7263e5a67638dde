"""The OpenAPI document beyond what FastAPI derives from the routes and their response models
(gateway.responses): the error envelope on every error status, scopes, headers, seed examples.

`install(app)` post-processes the generated document once, uniformly for every route: the error statuses an
operation can answer (derived from its security, parameters and body), its required scope (read off its
RequireScope dependency), the rate-limit and request-id headers, and the seed's examples.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from pydantic.json_schema import models_json_schema

from gateway.auth import BEARER_FORMAT, RequireScope, authenticate
from gateway.schemas import AppMediaUpload, AppMediaUrlBody

REF = "#/components/schemas/{model}"
SECURITY_SCHEME = "HTTPBearer"

ErrorCode = Literal[
    "UNAUTHENTICATED",
    "FORBIDDEN_SCOPE",
    "NOT_FOUND",
    "VALIDATION",
    "BILLING_EXHAUSTED",
    "IDEMPOTENCY_CONFLICT",
    "CONFLICT",
    "PAYLOAD_TOO_LARGE",
    "RATE_LIMITED",
    "FORBIDDEN_SIGNATURE",
    "RANGE_NOT_SATISFIABLE",
    "METHOD_NOT_ALLOWED",
    "BAD_REQUEST",
    "HEADERS_TOO_LARGE",
    "REQUEST_TIMEOUT",
    "INTERNAL",
    "UNAVAILABLE",
]
DetailCode = Literal[
    "INFLUENCER_REQUIRED", "ACCOUNT_NOT_WIRED", "NO_CONTENT_LAYER_WIRED", "INFLUENCER_NOT_WIRED", "MISSING_APP_DEMO"
]


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


# --- the error envelope --------------------------------------------------------------------------------


class FieldProblem(_Model):
    field: str
    problem: str


class ErrorDetails(_Model):
    """Structure for the codes that carry it; other keys may appear (e.g. `reason` of a refused file)."""

    model_config = ConfigDict(extra="allow")

    code: DetailCode | None = Field(default=None, description="The specific VALIDATION failure of ugc-remix.")
    format: str | None = None
    fields: list[FieldProblem] | None = None
    required_scope: str | None = None
    reason: str | None = Field(
        default=None,
        description="IDEMPOTENCY_CONFLICT: BODY_MISMATCH or IN_PROGRESS; a refused file or URL: why "
        "(EMPTY_FILE, NOT_A_VIDEO, UNDECODABLE, URL_FORBIDDEN, ...); RATE_LIMITED: CONCURRENT_JOBS.",
    )
    subcode: str | None = None
    required: int | None = None
    available: int | None = None
    limit_bytes: int | None = None
    retry_after_seconds: int | None = None
    size_bytes: int | None = None


class ErrorBody(_Model):
    code: ErrorCode
    message: str
    request_id: str
    details: ErrorDetails = Field(description="Structure for the codes that carry it; `{}` for the others.")


class ErrorEnvelope(_Model):
    """Every 4xx and 5xx body."""

    error: ErrorBody


# What no route names as its response model: the error envelope (answered by the error handlers) and the
# request bodies that routes parse themselves.
DOC_MODELS: list[type[BaseModel]] = [ErrorEnvelope, AppMediaUpload, AppMediaUrlBody]

# The signed download links answer bytes (HEAD: headers only), by route name.
BINARY_ROUTES: dict[str, str | None] = {
    "download_asset_file": "video/mp4",
    "download_asset_thumbnail": "image/jpeg",
    "head_asset_file": None,
    "head_asset_thumbnail": None,
}
# Error statuses some operations answer beyond what their shape implies.
EXTRA_ERRORS: dict[str, set[int]] = {
    "create_ugc_remix": {402},
    "cancel_job": {409},
    "create_webhook_endpoint": {404},  # a projectId that is not the organization's
}

# --- examples (the seed page's, where it has them) ------------------------------------------------------

_SEED_REQUEST = {"influencerId": "inf_4a8e1bc2..."}
_SEED_202 = {
    "jobId": "job_01HZX3...",
    "kind": "content_generate",
    "status": "running",
    "containerIds": ["cnt_7d18b9a1..."],
    "locationUrl": "/v1/jobs/job_01HZX3...",
}
_MISSING_APP_DEMO = (
    "MISSING_APP_DEMO: ugc-remix requires an app-demo asset on the project. Upload one via "
    "POST /v1/projects/:id/app-media with kind='demo-video' before retrying."
)


def _error_example(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    body = {"code": code, "message": message, "requestId": "req_...", "details": details or {}}
    return {"value": {"error": body}}


_ERRORS: dict[int, tuple[str, dict[str, dict[str, Any]]]] = {
    401: (
        "UNAUTHENTICATED: missing, malformed, unknown or revoked API key.",
        {"unauthenticated": _error_example("UNAUTHENTICATED", "Invalid or revoked API key.")},
    ),
    402: (
        "BILLING_EXHAUSTED: the organization's available credits cannot cover the reservation.",
        {
            "billingExhausted": _error_example(
                "BILLING_EXHAUSTED", "Not enough credits.", {"required": 120, "available": 100}
            )
        },
    ),
    403: (
        "FORBIDDEN_SCOPE: the key is valid but lacks the scope (`details.requiredScope` names it); "
        "FORBIDDEN_SIGNATURE: a download link's signature is wrong or expired.",
        {
            "forbiddenScope": _error_example(
                "FORBIDDEN_SCOPE", "This API key lacks the content:write scope.", {"requiredScope": "content:write"}
            )
        },
    ),
    404: (
        "NOT_FOUND: the path resource, or an id named in the body, is not visible to this key's organization.",
        {"notFound": _error_example("NOT_FOUND", "mediaId is not on this project.")},
    ),
    409: (
        "IDEMPOTENCY_CONFLICT: the Idempotency-Key was used with another body (`details.reason` BODY_MISMATCH) "
        "or its first request is still running (IN_PROGRESS); CONFLICT: a state conflict (`details.subcode`).",
        {
            "bodyMismatch": _error_example(
                "IDEMPOTENCY_CONFLICT",
                "This Idempotency-Key was already used with a different request.",
                {"reason": "BODY_MISMATCH"},
            )
        },
    ),
    413: (
        "PAYLOAD_TOO_LARGE: JSON bodies over 64 KiB, uploads over the upload limit; `details.limitBytes`.",
        {
            "payloadTooLarge": _error_example(
                "PAYLOAD_TOO_LARGE", "Request body is larger than 65536 bytes.", {"limitBytes": 65536}
            )
        },
    ),
    416: (
        "RANGE_NOT_SATISFIABLE: the Range is not within the file; `details.sizeBytes` and Content-Range say "
        "its length.",
        {},
    ),
    422: (
        "VALIDATION: the body, a parameter or a header is malformed (`details.fields` lists each problem), a "
        "file is not what its kind says (`details.reason`), or, for ugc-remix, `details.code` is one of "
        "INFLUENCER_REQUIRED, ACCOUNT_NOT_WIRED, NO_CONTENT_LAYER_WIRED, INFLUENCER_NOT_WIRED, MISSING_APP_DEMO.",
        {
            "fields": _error_example(
                "VALIDATION",
                "Request is invalid.",
                {"fields": [{"field": "hook", "problem": "String should have at most 2000 characters"}]},
            )
        },
    ),
    429: (
        "RATE_LIMITED: the key's per-minute budget for this endpoint class is spent, or (on a generation start) "
        "it already runs its cap of concurrent jobs; wait `Retry-After` seconds.",
        {
            "rateLimited": _error_example(
                "RATE_LIMITED", "Too many requests this minute; retry in 12 s.", {"retryAfterSeconds": 12}
            )
        },
    ),
    500: ("INTERNAL: a bug on our side; no details are given.", {}),
    503: ("UNAVAILABLE: a backing service is down; safe to retry with the same Idempotency-Key.", {}),
}

_UGC_REMIX_422 = {
    "missingAppDemo": _error_example(
        "VALIDATION", _MISSING_APP_DEMO, {"code": "MISSING_APP_DEMO", "format": "ugc-remix"}
    ),
    "influencerRequired": _error_example(
        "VALIDATION",
        "INFLUENCER_REQUIRED: one of socialAccountId (with a wired influencer) or influencerId is required.",
        {"code": "INFLUENCER_REQUIRED", "format": "ugc-remix"},
    ),
}

_HEADERS: dict[str, dict[str, Any]] = {
    "X-Request-Id": {"description": "Our id for this request (`req_…`).", "schema": {"type": "string"}},
    "X-RateLimit-Limit": {"description": "Requests per minute for this endpoint class.", "schema": {"type": "integer"}},
    "X-RateLimit-Remaining": {"description": "Requests left in this minute.", "schema": {"type": "integer"}},
    "X-RateLimit-Reset": {"description": "Unix time when the minute resets.", "schema": {"type": "integer"}},
    "Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}},
}


def app_media_request_body() -> dict[str, Any]:
    """The two bodies of POST /v1/projects/:projectId/app-media, for the route's openapi_extra."""
    return {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {"$ref": REF.format(model="AppMediaUpload")},
                "encoding": {"file": {"contentType": "video/mp4, video/quicktime, video/webm, image/*"}},
            },
            "application/json": {
                "schema": {"$ref": REF.format(model="AppMediaUrlBody")},
                "example": {"kind": "demo-video", "url": "https://cdn.example.com/app-demo.mp4"},
            },
        },
    }


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def build(app: FastAPI) -> dict[str, Any]:
    document = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    _, definitions = models_json_schema([(m, "serialization") for m in DOC_MODELS], ref_template=REF)
    schemas.update(definitions["$defs"])
    # Errors use the envelope, not FastAPI's own validation-error shape.
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    scheme = components.setdefault("securitySchemes", {}).setdefault(
        SECURITY_SCHEME, {"type": "http", "scheme": "bearer", "bearerFormat": BEARER_FORMAT}
    )
    scheme["description"] = (
        "`Authorization: Bearer lp_live_<keyId>_<secret>` (test keys `lp_test_…`). Each operation lists the "
        "scope it needs (`x-required-scope`): content:write, content:read, jobs:read, jobs:cancel, "
        "projects:read, projects:write, credits:read, webhooks:read, webhooks:write; `*` grants all."
    )
    # Included routers keep their routes nested; their contexts carry the full path.
    routes = {
        (context.path_format, method.lower()): context.original_route
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute)
        for method in context.methods or ()
    }
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            route = routes.get((path, method))
            if route is not None:
                _document(operation, route, method)
    return document


def _authenticates(dependant: Dependant) -> bool:
    """Whether the operation needs an API key: the auth dependency (read from the request, so FastAPI does
    not see the bearer scheme itself), directly or through a scope check."""
    return any(
        dependency.call is authenticate or isinstance(dependency.call, RequireScope) or _authenticates(dependency)
        for dependency in dependant.dependencies
    )


def _required_scope(dependant: Dependant) -> str | None:
    for dependency in dependant.dependencies:
        if isinstance(dependency.call, RequireScope):
            return dependency.call.scope
        found = _required_scope(dependency)
        if found:
            return found
    return None


def _json(schema: dict[str, Any], examples: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    content: dict[str, Any] = {"schema": schema}
    if examples:
        content["examples"] = examples
    return {"application/json": content}


def _document(operation: dict[str, Any], route: APIRoute, method: str) -> None:
    secured = _authenticates(route.dependant)
    scope = _required_scope(route.dependant)
    if secured:
        operation["security"] = [{SECURITY_SCHEME: []}]
    if scope:
        operation["security"] = [{SECURITY_SCHEME: [scope]}]
        operation["x-required-scope"] = scope
        operation["description"] = f"{operation.get('description', '')}\n\nScope: `{scope}`.".strip()
    headers = {"X-Request-Id": {**_HEADERS["X-Request-Id"], "required": True}}
    if secured:  # every authenticated answer carries its rate-limit state
        headers.update(
            {name: _HEADERS[name] for name in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")}
        )

    responses: dict[str, Any] = operation.setdefault("responses", {})
    parameters = operation.get("parameters", [])
    header_names = {p["name"].lower() for p in parameters if p.get("in") == "header"}
    if route.name in BINARY_ROUTES:
        mime = BINARY_ROUTES[route.name]
        body = {mime: {"schema": {"type": "string", "format": "binary"}}} if mime else None
        for code, description in (("200", "The bytes."), ("206", "The requested byte range (Range).")):
            responses[code] = {"description": description, **({"content": body} if body else {})}
    # A status the route answers with a body model of its own (readyz's 503) is not the error envelope.
    own_models = {str(status) for status, response in route.responses.items() if "model" in response}
    for code, response in responses.items():
        if code.startswith("2") or code in own_models:
            response["headers"] = dict(headers)

    query_names = {p["name"] for p in parameters if p.get("in") == "query"}
    statuses = {500, 503, *EXTRA_ERRORS.get(route.name, set())}
    if secured:
        statuses |= {401, 429}
    if scope:
        statuses.add(403)
    if any(p.get("in") == "path" for p in parameters):
        statuses.add(404)
    if "requestBody" in operation:
        statuses |= {413, 422}
    if "422" in responses:
        statuses.add(422)
    if "idempotency-key" in header_names:
        statuses.add(409)
    if "signature" in query_names:
        statuses.add(403)
    if "range" in header_names:
        statuses.add(416)
    if "if-none-match" in header_names:
        responses["304"] = {"description": "Not modified: the ETag sent in If-None-Match is still current."}
    for status in sorted(statuses - {int(code) for code in own_models}):
        description, examples = _ERRORS[status]
        if status == 422 and route.name == "create_ugc_remix":
            examples = {**_UGC_REMIX_422, **examples}
        error_headers = dict(headers)
        if status == 401:
            error_headers = {"X-Request-Id": headers["X-Request-Id"]}
        if status == 429:
            error_headers["Retry-After"] = {**_HEADERS["Retry-After"], "required": True}
        if status == 409 and "idempotency-key" in header_names:
            error_headers["Retry-After"] = {
                **_HEADERS["Retry-After"],
                "description": "With reason IN_PROGRESS: seconds after which a retry may find the first answer.",
            }
        responses[str(status)] = {"description": description, "headers": error_headers}
        if method != "head":  # a HEAD answer has no body to describe
            responses[str(status)]["content"] = _json({"$ref": REF.format(model="ErrorEnvelope")}, examples)

    if route.name == "create_ugc_remix":
        body = operation.get("requestBody", {}).get("content", {}).get("application/json")
        if body is not None:
            body["example"] = _SEED_REQUEST
        accepted = responses.get("202", {})
        accepted.setdefault("content", {}).setdefault("application/json", {})["example"] = _SEED_202
        accepted.setdefault("headers", {})["Location"] = {
            "description": "The job's URL, the same as locationUrl.",
            "schema": {"type": "string"},
        }
