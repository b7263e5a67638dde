"""Pure ASGI middleware: request ids (and the last-resort 500), and the streaming body-size limit.

Pure ASGI rather than BaseHTTPMiddleware so that `receive` can be wrapped (the body limit must count
bytes as they arrive) and exceptions are not wrapped in task groups.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping, Sequence

from opentelemetry import trace
from starlette.datastructures import Headers
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from common import logs, metrics, tracing
from common.ids import new_id
from gateway import rate_limit
from gateway.errors import error_response, internal_error_response, payload_too_large, request_id_of

log = logging.getLogger("layers.gateway")

_REQUEST_ID = b"x-request-id"
_TRACE_HEADERS = (b"traceparent", b"tracestate")  # a caller's W3C trace context: our span continues it
_tracer = trace.get_tracer("layers.gateway")


class RequestIdMiddleware:
    """Gives every request our own `req_<ULID>`, stamps it (and the rate-limit headers, once the request
    was counted) on every response, and answers the 500 envelope for anything nothing else handled. A
    caller's X-Request-Id is not ours and is dropped. A client that goes away before its request is read
    is noted in one line."""

    def __init__(self, app: ASGIApp, route_templates: Mapping[int, str] | None = None) -> None:
        self.app = app
        self.metrics = metrics.HttpMetrics()
        self.route_templates = route_templates or {}  # by id(): routes are not hashable, and live as long

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_id("req")
        # Request.state reads scope["state"], so routes and exception handlers see the same id.
        scope.setdefault("state", {})["request_id"] = request_id
        stamp = (_REQUEST_ID, request_id.encode("ascii"))
        started = False
        status = 500
        began = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal started, status
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != _REQUEST_ID]
                message = {**message, "headers": [*headers, stamp, *rate_limit.response_headers(scope)]}
            await send(message)

        caller_trace = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"] if k in _TRACE_HEADERS}
        with (
            logs.bound(requestId=request_id),  # every line of the request, here and in the services
            _tracer.start_as_current_span(
                scope["method"], context=tracing.extract(caller_trace), kind=trace.SpanKind.SERVER
            ) as span,
        ):
            try:
                await self.app(scope, receive, send_with_id)
            except ClientDisconnect:
                status = 499  # counted as what it is: the client left, nothing failed
                # Nobody is left to answer, and nothing is wrong here: one line, no traceback.
                log.info(
                    "client went away before request %s was read: %s %s", request_id, scope["method"], scope["path"]
                )
            except Exception:
                log.exception("unhandled error in request %s", request_id)
                if started:
                    raise  # too late for an envelope; let the server drop the connection
                await internal_error_response(request_id)(scope, receive, send_with_id)
            finally:
                # The route's template (/v1/jobs/{jobId}), never the path itself: a bounded label.
                # A route the map does not know (FastAPI versions that copy included routes give the copy the
                # full template) names itself; no route at all is "unmatched".
                matched = scope.get("route")
                route = self.route_templates.get(id(matched)) or getattr(matched, "path", None) or "unmatched"
                self.metrics.observe(route, scope["method"], status, time.perf_counter() - began)
                if span.is_recording():
                    span.update_name(f"{scope['method']} {route}")
                    span.set_attribute("http.response.status_code", status)


class _BodyTooLarge(Exception):
    """Raised from `receive` once a body passes its limit, to stop the app reading it."""


class BodySizeLimitMiddleware:
    """Refuses request bodies over a limit with 413 PAYLOAD_TOO_LARGE, counting the bytes actually
    received, so a missing or lying Content-Length does not get past it; a Content-Length already over
    the limit is refused before the app runs at all.

    `path_limits` lets a route take a different limit for multipart/form-data bodies (the upload route
    takes the upload size); a JSON body keeps the JSON limit on every path.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, path_limits: Sequence[tuple[re.Pattern[str], int]] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.path_limits = list(path_limits)

    def limit_for(self, scope: Scope) -> int:
        if not Headers(scope=scope).get("content-type", "").lower().startswith("multipart/form-data"):
            return self.max_bytes
        path = scope.get("path", "")
        return next((limit for pattern, limit in self.path_limits if pattern.match(path)), self.max_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _answer_413(scope, receive, send, limit)
            return

        received = 0
        app_started = False
        refused = False

        async def limited_receive() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Answer now: the app may turn the exception below into some other error,
                    # and whatever it sends after this is dropped.
                    if not app_started and not refused:
                        refused = True
                        await _answer_413(scope, receive, send, limit)
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal app_started
            if refused:
                return
            if message["type"] == "http.response.start":
                app_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except _BodyTooLarge:
            if not refused:
                raise


def _content_length(scope: Scope) -> int | None:
    value = Headers(scope=scope).get("content-length")
    return int(value) if value is not None and value.isdigit() else None


async def _answer_413(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    err = payload_too_large(f"Request body is larger than {limit} bytes.", limit)
    await error_response(err, request_id_of(scope))(scope, receive, send)
