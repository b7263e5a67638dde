"""The request id across gRPC: clients send the bound `requestId` as `x-request-id` metadata, and servers
bind it for the handler's thread, so every service's lines of one request carry its id."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import grpc

from common import logs


def _with_request_id(metadata: Any) -> Any:
    request_id = logs.fields().get("requestId")
    if request_id is None:
        return metadata
    return (*(tuple(metadata) if metadata else ()), (logs.REQUEST_ID, request_id))


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
    request_id = logs.fields().get("requestId")
    if request_id is None:
        return details
    metadata = grpc.aio.Metadata(*(details.metadata or ()), (logs.REQUEST_ID, request_id))
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


def _request_id(context: grpc.ServicerContext) -> str | None:
    for key, value in context.invocation_metadata() or ():
        if key == logs.REQUEST_ID:
            return logs.valid_request_id(value)
    return None


def _bind_unary(fn: Callable[..., Any]) -> Callable[..., Any]:
    def handler(request: Any, context: grpc.ServicerContext) -> Any:
        with logs.bound(requestId=_request_id(context)):
            return fn(request, context)

    return handler


def _bind_stream(fn: Callable[..., Any]) -> Callable[..., Any]:
    def handler(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        with logs.bound(requestId=_request_id(context)):
            yield from fn(request, context)

    return handler


class ServerContextInterceptor(grpc.ServerInterceptor):
    """Binds the caller's request id while the handler runs (in its worker thread: intercept_service
    itself runs on the server's polling thread)."""

    def __init__(self) -> None:
        self._bound: dict[str, Any] = {}  # each method's wrapped handler, built once

    def intercept_service(self, continuation: Callable[..., Any], handler_call_details: Any) -> Any:
        return cached_wrap(self._bound, continuation, handler_call_details, lambda _method: (_bind_unary, _bind_stream))


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
