"""The request id and trace context across gRPC: clients send the bound `requestId` as `x-request-id`
metadata and the active span as W3C `traceparent`, and servers bind the id for the handler's thread and run
the handler in a server span that continues the caller's trace, so every service's lines and spans of one
request carry its ids."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import grpc
from opentelemetry import trace

from common import logs, tracing

_tracer = trace.get_tracer("layers.grpc")


def _outgoing() -> list[tuple[str, str]]:
    """The metadata a call adds: the request id and the trace context, each only when there is one."""
    request_id = logs.fields().get("requestId")
    extra = list(tracing.inject({}).items())
    return [(logs.REQUEST_ID, request_id), *extra] if request_id is not None else extra


def _with_request_id(metadata: Any) -> Any:
    extra = _outgoing()
    if not extra:
        return metadata
    return (*(tuple(metadata) if metadata else ()), *extra)


class ClientContextInterceptor(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """Blocking channels (renderer, CLI, content's own calls)."""

    def _details(self, details: Any) -> Any:
        return details._replace(metadata=_with_request_id(details.metadata))

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._details(details), request)

    def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._details(details), request)

    def intercept_stream_unary(self, continuation: Any, details: Any, requests: Any) -> Any:
        return continuation(self._details(details), requests)

    def intercept_stream_stream(self, continuation: Any, details: Any, requests: Any) -> Any:
        return continuation(self._details(details), requests)


def _aio_details(details: Any) -> Any:
    extra = _outgoing()
    if not extra:
        return details
    metadata = grpc.aio.Metadata(*(details.metadata or ()), *extra)
    return details._replace(metadata=metadata)


class AioUnaryUnaryContext(grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(_aio_details(details), request)


class AioUnaryStreamContext(grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(_aio_details(details), request)


class AioStreamUnaryContext(grpc.aio.StreamUnaryClientInterceptor):
    async def intercept_stream_unary(self, continuation: Any, details: Any, requests: Any) -> Any:
        return await continuation(_aio_details(details), requests)


def aio_interceptors() -> list[Any]:
    """One per call kind the gateway makes (grpc.aio takes an interceptor per kind)."""
    return [AioUnaryUnaryContext(), AioUnaryStreamContext(), AioStreamUnaryContext()]


def _incoming(context: grpc.ServicerContext) -> dict[str, str]:
    return {
        key: value if isinstance(value, str) else value.decode("ascii", "replace")
        for key, value in context.invocation_metadata() or ()
    }


@contextmanager
def _serving(method: str, context: grpc.ServicerContext) -> Iterator[None]:
    """The caller's request id bound, and a server span continuing the caller's trace, around a handler."""
    with logs.continued(_tracer, method, _incoming(context), trace.SpanKind.SERVER):
        yield


def _bind(method: str) -> tuple[Callable[..., Any], Callable[..., Any]]:
    def unary(fn: Callable[..., Any]) -> Callable[..., Any]:
        def handler(request: Any, context: grpc.ServicerContext) -> Any:
            with _serving(method, context):
                return fn(request, context)

        return handler

    def stream(fn: Callable[..., Any]) -> Callable[..., Any]:
        def handler(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            with _serving(method, context):
                yield from fn(request, context)

        return handler

    return unary, stream


class ServerContextInterceptor(grpc.ServerInterceptor):
    """Binds the caller's request id while the handler runs (in its worker thread: intercept_service
    itself runs on the server's polling thread)."""

    def __init__(self) -> None:
        self._bound: dict[str, Any] = {}  # each method's wrapped handler, built once

    def intercept_service(self, continuation: Callable[..., Any], handler_call_details: Any) -> Any:
        return cached_wrap(self._bound, continuation, handler_call_details, _bind)


Wrapper = Callable[[Callable[..., Any]], Callable[..., Any]]


def cached_wrap(
    cache: dict[str, Any],
    continuation: Callable[..., Any],
    handler_call_details: Any,
    wrappers: Callable[[str], tuple[Wrapper, Wrapper]],
) -> Any:
    """A server interceptor's body: the method's handler with its behaviour wrapped (a unary and a
    streaming-response wrapper for the method), built on the method's first call only."""
    method = handler_call_details.method
    wrapped = cache.get(method)
    if wrapped is None:
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        wrapped = cache[method] = _wrap(handler, *wrappers(method))
    return wrapped


def _wrap(handler: Any, unary: Wrapper, stream: Wrapper) -> Any:
    kinds = {
        "unary_unary": (grpc.unary_unary_rpc_method_handler, unary),
        "unary_stream": (grpc.unary_stream_rpc_method_handler, stream),
        "stream_unary": (grpc.stream_unary_rpc_method_handler, unary),
        "stream_stream": (grpc.stream_stream_rpc_method_handler, stream),
    }
    for attribute, (make, wrap) in kinds.items():
        fn = getattr(handler, attribute)
        if fn:
            return make(
                wrap(fn),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
    return handler
