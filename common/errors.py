"""Domain errors carried over gRPC as google.rpc.Status with exactly one ErrorInfo (AIP-193).

A handler raises ServiceError; the server interceptor turns it into a rich status. A client calls
`unpack(rpc_error)` to get the same ServiceError back (code, reason, message, metadata).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

ERROR_DOMAIN = "layers.partner-api"


class ServiceError(Exception):
    """A failure a caller can act on: a gRPC status code, an UPPER_SNAKE reason and metadata."""

    def __init__(
        self,
        code: grpc.StatusCode,
        reason: str,
        message: str,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.metadata = dict(metadata or {})

    def __repr__(self) -> str:
        return f"ServiceError({self.code.name}, {self.reason!r}, {self.message!r}, {self.metadata!r})"

    def to_status(self) -> grpc.Status:
        info = error_details_pb2.ErrorInfo(reason=self.reason, domain=ERROR_DOMAIN, metadata=self.metadata)
        detail = any_pb2.Any()
        detail.Pack(info)
        status = status_pb2.Status(code=self.code.value[0], message=self.message, details=[detail])
        return rpc_status.to_status(status)


def not_found(what: str, message: str | None = None) -> ServiceError:
    return ServiceError(grpc.StatusCode.NOT_FOUND, "NOT_FOUND", message or f"{what} was not found.")


def invalid(message: str, **metadata: str) -> ServiceError:
    return ServiceError(grpc.StatusCode.INVALID_ARGUMENT, "VALIDATION", message, metadata)


def precondition(reason: str, message: str, **metadata: str) -> ServiceError:
    return ServiceError(grpc.StatusCode.FAILED_PRECONDITION, reason, message, metadata)


_CODES_BY_VALUE = {c.value[0]: c for c in grpc.StatusCode}


def unpack(error: grpc.RpcError) -> ServiceError:
    """Read the rich status of a failed call; a bare status becomes a ServiceError named after its code."""
    code: grpc.StatusCode = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN  # type: ignore[attr-defined]
    status = rpc_status.from_call(error) if hasattr(error, "trailing_metadata") else None  # type: ignore[arg-type]
    if status is not None:
        for detail in status.details:
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                return ServiceError(
                    _CODES_BY_VALUE.get(status.code, code), info.reason, status.message, dict(info.metadata)
                )
    details = error.details() if hasattr(error, "details") else str(error)  # type: ignore[attr-defined]
    return ServiceError(code, code.name, details or code.name)


class ErrorInterceptor(grpc.ServerInterceptor):
    """Turns ServiceError raised by any handler into a rich status, and hides other exceptions' text."""

    def __init__(self) -> None:
        # The guarded handler of each method, built on its first call rather than on every call.
        self._guarded: dict[str, Any] = {}

    def intercept_service(self, continuation: Callable[..., Any], handler_call_details: Any) -> Any:
        method = handler_call_details.method
        guarded = self._guarded.get(method)
        if guarded is None:
            guarded = self._guard(continuation(handler_call_details))
            if guarded is not None:
                self._guarded[method] = guarded
        return guarded

    @staticmethod
    def _guard(handler: Any) -> Any:
        if handler is None:
            return None
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                _guard_unary(handler.unary_unary),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                _guard_stream(handler.unary_stream),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(
                _guard_unary(handler.stream_unary),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler


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


__all__ = ["ErrorInterceptor", "ServiceError", "invalid", "not_found", "precondition", "unpack"]
