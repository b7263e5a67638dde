"""The one logging setup of every process, and the context every line of a request or a job carries.

`configure(default_format)`: JSON lines (production, `layers serve ...`) or readable lines (`layers dev`);
LAYERS_LOG_FORMAT=json|text overrides either. Every line gets the fields bound in the current context
(`requestId`, `jobId`, `organizationId`), and every line is redacted of API keys, webhook signing secrets and
signatures before it is written, whatever logged it (tracebacks included).

The request id crosses processes as the `x-request-id` gRPC metadata entry (common.grpc_context) and AMQP
header (`PROPAGATED`), so a renderer's and the webhooks service's lines of a job carry the request that
started it.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar

from opentelemetry import trace
from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

from common.tracing import current_trace_id, extract, inject

REQUEST_ID = "x-request-id"
# The headers a message keeps from the context that wrote it (outbox row -> AMQP headers).
PROPAGATED = (REQUEST_ID,)

_EMPTY: Mapping[str, str] = {}
_fields: ContextVar[Mapping[str, str]] = ContextVar("layers_log_fields", default=_EMPTY)

_SECRETS = re.compile(
    r"(?P<key>lp_(?:live|test)_[0-9A-Za-z]+_)[0-9A-Za-z_-]+"  # API keys: the key id stays, the secret goes
    r"|(?P<whsec>whsec_)[0-9A-Za-z_-]+"  # webhook signing secrets
    r"|(?P<sig>(?:signature|sig|v1)(?:=|%3[Dd]))[0-9A-Fa-f]{16,}"  # signed URLs (also URL-encoded), signatures
    r"|(?P<cred>://[^:/@\s]*:)[^@\s]+(?=@)"  # passwords in database, broker and Redis URLs
    r"|(?P<bearer>\bBearer\s+)[0-9A-Za-z._~+/=-]+",
)


def _mask(match: re.Match[str]) -> str:
    prefix = next(group for group in match.groups() if group is not None)
    return f"{prefix}[REDACTED]"


def redact(text: str) -> str:
    return _SECRETS.sub(_mask, text)


def fields() -> Mapping[str, str]:
    """The fields bound in the current context."""
    return _fields.get()


@contextmanager
def bound(**values: str | None) -> Iterator[None]:
    """Bind fields (requestId=..., jobId=...) for every line logged inside; empty values are left out."""
    token = _fields.set({**_fields.get(), **{k: v for k, v in values.items() if v}})
    try:
        yield
    finally:
        _fields.reset(token)


def headers() -> dict[str, str]:
    """The current context as message headers, for what leaves this process by the broker: the request id
    and the active span's W3C trace context."""
    request_id = _fields.get().get("requestId")
    return inject({REQUEST_ID: request_id} if request_id else {})


def headers_json() -> str | None:
    """`headers()` as an outbox row keeps them, None when there are none."""
    current = headers()
    return json.dumps(current) if current else None


def parse_headers(stored: str | None) -> dict[str, str]:
    """Headers a row kept (headers_json, carried_json); anything that is not a JSON object reads as none."""
    try:
        parsed = json.loads(stored) if stored else {}
    except ValueError:
        return {}
    return {k: v for k, v in parsed.items() if isinstance(v, str)} if isinstance(parsed, dict) else {}


# What a message's headers may carry into a row kept for later work, each bounded (W3C: a traceparent is
# 55 characters, a tracestate at most 512).
_CARRIED = {REQUEST_ID: 64, "traceparent": 64, "tracestate": 512}


def carried_json(received: Mapping[str, object] | None) -> str | None:
    """The request id and trace context of headers another process sent, as a row keeps them for work done
    later (None when there are none): only those keys, text, within their bounds."""
    kept = {}
    for key, limit in _CARRIED.items():
        value = (received or {}).get(key)
        if isinstance(value, bytes):
            value = value.decode("ascii", "replace")
        if isinstance(value, str) and 0 < len(value) <= limit and value.isprintable():
            kept[key] = value
    return json.dumps(kept) if kept else None


@contextmanager
def continued(
    tracer: trace.Tracer, span_name: str, carrier: Mapping[str, object] | None, kind: trace.SpanKind
) -> Iterator[trace.Span]:
    """Work another process started (a gRPC call, a broker message, a stored event): its request id bound
    and a span continuing its trace around it."""
    with (
        bound(requestId=request_id_from(carrier)),
        tracer.start_as_current_span(span_name, context=extract(carrier), kind=kind) as span,
    ):
        yield span


_REQUEST_ID_SHAPE = re.compile(r"[0-9A-Za-z_-]{1,64}")


def valid_request_id(value: object) -> str | None:
    """A request id from another process (gRPC metadata, AMQP headers), if it has the shape ours have: anything
    else (long, control characters, forged log text) is dropped, not logged or passed on."""
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    return value if isinstance(value, str) and _REQUEST_ID_SHAPE.fullmatch(value) else None


def request_id_from(headers: Mapping[str, object] | None) -> str | None:
    return valid_request_id((headers or {}).get(REQUEST_ID))


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        context = _fields.get()
        trace_id = current_trace_id()
        if trace_id is not None:
            context = {**context, "traceId": trace_id}
        for name, value in context.items():
            setattr(record, name, value)
        record.context = context
        return True


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = getattr(record, "context", _EMPTY)
        if context:
            line += " [" + " ".join(f"{k}={v}" for k, v in context.items()) + "]"
        return redact(line)


class _JsonFormatter(JsonFormatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def configure(default_format: str = "json", level: int = logging.INFO) -> None:
    """Replace the root logger's handlers with one stderr handler in the chosen format. Idempotent."""
    chosen = os.environ.get("LAYERS_LOG_FORMAT", default_format)
    if chosen not in ("json", "text"):
        raise SystemExit(f"LAYERS_LOG_FORMAT must be json or text, not {chosen!r}")
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_ContextFilter())
    formatter: logging.Formatter
    if chosen == "json":
        formatter = _JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            reserved_attrs=[*RESERVED_ATTRS, "context"],
        )
    else:
        formatter = _TextFormatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
