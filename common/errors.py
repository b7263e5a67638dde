"""Domain errors carried over gRPC as google.rpc.Status (AIP-193): one ErrorInfo whose reason names the
cause itself (URL_FORBIDDEN, IDEMPOTENCY_IN_PROGRESS; never a generic reason with the cause in metadata),
a BadRequest naming the refused fields, and a RetryInfo when the caller should come back later.

A handler raises ServiceError; the server interceptor turns it into a rich status. A client calls
`unpack(rpc_error)` to get the same ServiceError back.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from common.grpc_context import Wrapper, cached_wrap

ERROR_DOMAIN = "layers.partner-api"


@dataclass(frozen=True)
class FieldViolation:
    """One refused request field (google.rpc.BadRequest.FieldViolation): its name and what is wrong."""

    field: str
    description: str


class ServiceError(Exception):
    """A failure a caller can act on: a gRPC status code, an UPPER_SNAKE reason naming the cause, metadata
    (facts about it, e.g. the credits required), refused fields and how long to wait before a retry."""

    def __init__(
        self,
        code: grpc.StatusCode,
        reason: str,
        message: str,
        metadata: Mapping[str, str] | None = None,
        *,
        fields: Sequence[FieldViolation] = (),
        retry_after_seconds: int | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.metadata = dict(metadata or {})
        self.fields = tuple(fields)
        self.retry_after_seconds = retry_after_seconds

    def __repr__(self) -> str:
        extra = f", fields={list(self.fields)!r}" if self.fields else ""
        if self.retry_after_seconds is not None:
            extra += f", retry_after_seconds={self.retry_after_seconds}"
        return f"ServiceError({self.code.name}, {self.reason!r}, {self.message!r}, {self.metadata!r}{extra})"

    def to_status(self) -> grpc.Status:
        messages: list[Any] = [
            error_details_pb2.ErrorInfo(reason=self.reason, domain=ERROR_DOMAIN, metadata=self.metadata)
        ]
        if self.fields:
            violations = [
                error_details_pb2.BadRequest.FieldViolation(field=f.field, description=f.description)
                for f in self.fields
            ]
            messages.append(error_details_pb2.BadRequest(field_violations=violations))
        if self.retry_after_seconds is not None:
            delay = duration_pb2.Duration(seconds=self.retry_after_seconds)
            messages.append(error_details_pb2.RetryInfo(retry_delay=delay))
        return rich_status(self.code, self.message, messages)


def rich_status(code: grpc.StatusCode, message: str, details: Sequence[Any]) -> grpc.Status:
    """A google.rpc.Status carrying the given detail messages, as gRPC sends it."""
    packed = []
    for detail in details:
        one = any_pb2.Any()
        one.Pack(detail)
        packed.append(one)
    return rpc_status.to_status(status_pb2.Status(code=code.value[0], message=message, details=packed))


def not_found(what: str, message: str | None = None) -> ServiceError:
    return ServiceError(grpc.StatusCode.NOT_FOUND, "NOT_FOUND", message or f"{what} was not found.")


def invalid(message: str, field: str, reason: str = "VALIDATION") -> ServiceError:
    """A refused field; `reason` names a cause the caller can act on beyond "this field is wrong"."""
    return ServiceError(grpc.StatusCode.INVALID_ARGUMENT, reason, message, fields=[FieldViolation(field, message)])


def idempotency_body_mismatch() -> ServiceError:
    """An Idempotency-Key used again with a different request (content and webhooks both keep keys)."""
    return ServiceError(
        grpc.StatusCode.ABORTED,
        "IDEMPOTENCY_BODY_MISMATCH",
        "This Idempotency-Key was already used with a different request.",
    )


def precondition(reason: str, message: str, **metadata: str) -> ServiceError:
    return ServiceError(grpc.StatusCode.FAILED_PRECONDITION, reason, message, metadata)


_CODES_BY_VALUE = {c.value[0]: c for c in grpc.StatusCode}


def unpack(error: grpc.RpcError) -> ServiceError:
    """Read the rich status of a failed call; a bare status becomes a ServiceError named after its code."""
    code: grpc.StatusCode = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN  # type: ignore[attr-defined]
    status = rpc_status.from_call(error) if hasattr(error, "trailing_metadata") else None  # type: ignore[arg-type]
    if status is not None:
        info, bad_request, retry = (
            error_details_pb2.ErrorInfo(),
            error_details_pb2.BadRequest(),
            error_details_pb2.RetryInfo(),
        )
        found = {type(m): False for m in (info, bad_request, retry)}
        for detail in status.details:
            for message in (info, bad_request, retry):
                if detail.Is(message.DESCRIPTOR):
                    found[type(message)] = detail.Unpack(message)
        if found[type(info)]:
            delay = retry.retry_delay
            # A delay that is not whole seconds waits the next whole second: never a retry "in 0 s".
            retry_after = max(1, math.ceil(delay.seconds + delay.nanos / 1e9)) if found[type(retry)] else None
            return _from_earlier_release(
                ServiceError(
                    _CODES_BY_VALUE.get(status.code, code),
                    info.reason,
                    status.message,
                    dict(info.metadata),
                    fields=[FieldViolation(v.field, v.description) for v in bad_request.field_violations],
                    retry_after_seconds=retry_after,
                )
            )
    details = error.details() if hasattr(error, "details") else str(error)  # type: ignore[attr-defined]
    return ServiceError(code, code.name, details or code.name)


# The previous release spelled some causes as a generic reason plus metadata. During a rolling upgrade a
# caller of this release may hear from a service of that one: read those as this release names them.
_EARLIER_REASONS = {
    ("IDEMPOTENCY_CONFLICT", "IN_PROGRESS"): "IDEMPOTENCY_IN_PROGRESS",
    ("IDEMPOTENCY_CONFLICT", "BODY_MISMATCH"): "IDEMPOTENCY_BODY_MISMATCH",
    ("RATE_LIMITED", "CONCURRENT_JOBS"): "CONCURRENT_JOBS",
}


def _from_earlier_release(err: ServiceError) -> ServiceError:
    if err.reason not in ("IDEMPOTENCY_CONFLICT", "RATE_LIMITED", "VALIDATION"):
        return err
    metadata = dict(err.metadata)
    cause = metadata.pop("reason", "")
    # A refusal's cause was VALIDATION's metadata.reason (URL_FORBIDDEN); the others are in the table.
    refusal = cause if err.reason == "VALIDATION" else ""
    reason = _EARLIER_REASONS.get((err.reason, cause)) or refusal or err.reason
    field = metadata.pop("field", "")
    metadata.pop("problem", None)
    fields = err.fields or ((FieldViolation(field, err.message),) if field else ())
    waited = metadata.pop("retryAfterSeconds", "")
    retry_after = err.retry_after_seconds
    if retry_after is None and waited.isdigit():
        retry_after = int(waited)
    return ServiceError(err.code, reason, err.message, metadata, fields=fields, retry_after_seconds=retry_after)


class ErrorInterceptor(grpc.ServerInterceptor):
    """Turns ServiceError raised by any handler into a rich status, and hides other exceptions' text."""

    def __init__(self) -> None:
        self._guarded: dict[str, Any] = {}  # each method's guarded handler, built once

    def intercept_service(self, continuation: Callable[..., Any], handler_call_details: Any) -> Any:
        return cached_wrap(self._guarded, continuation, handler_call_details, _guards)


def _abort(context: grpc.ServicerContext, exc: Exception) -> None:
    if isinstance(exc, ServiceError):
        context.abort_with_status(exc.to_status())
    if _is_database_outage(exc):
        # The pool has thrown the dead connections away; a retry gets a fresh one. Idempotent reads are
        # retried by the clients' service config, and partners are told a retry is safe.
        logging.getLogger("layers.rpc").warning("database unavailable: %s", exc.__class__.__name__)
        unavailable = ServiceError(grpc.StatusCode.UNAVAILABLE, "UNAVAILABLE", "The database is unavailable.")
        context.abort_with_status(unavailable.to_status())
    logging.getLogger("layers.rpc").exception("unhandled error in RPC")
    internal = ServiceError(grpc.StatusCode.INTERNAL, "INTERNAL", "Internal error.")
    context.abort_with_status(internal.to_status())


def _guard_unary(fn: Callable[..., Any]) -> Callable[..., Any]:
    def guarded(request: Any, context: grpc.ServicerContext) -> Any:
        try:
            return fn(request, context)
        except Exception as exc:
            if _is_abort(exc):
                raise
            _abort(context, exc)

    return guarded


def _guard_stream(fn: Callable[..., Any]) -> Callable[..., Any]:
    def guarded(request: Any, context: grpc.ServicerContext) -> Any:
        try:
            yield from fn(request, context)
        except Exception as exc:
            if _is_abort(exc):
                raise
            _abort(context, exc)

    return guarded


def _guards(_method: str) -> tuple[Wrapper, Wrapper]:
    return _guard_unary, _guard_stream


def _is_database_outage(exc: Exception) -> bool:
    """A lost or refused database connection (SQLAlchemy marks the disconnects it detects)."""
    try:
        from sqlalchemy.exc import DBAPIError, OperationalError
    except ImportError:  # pragma: no cover - every service has SQLAlchemy
        return False
    return (isinstance(exc, DBAPIError) and exc.connection_invalidated) or isinstance(exc, OperationalError)


def _is_abort(exc: Exception) -> bool:
    # context.abort() raises a plain Exception after setting the status; let it through untouched.
    return type(exc) is Exception and not exc.args


__all__ = [
    "ErrorInterceptor",
    "FieldViolation",
    "ServiceError",
    "idempotency_body_mismatch",
    "invalid",
    "not_found",
    "precondition",
    "rich_status",
    "unpack",
]
