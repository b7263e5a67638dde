"""common.tracing: the OTEL_* variables choose the exporter (off by default, a bad name refused in one line),
the W3C traceparent round-trips through a headers mapping, and log lines carry the active span's traceId."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from pathlib import Path
from typing import cast

import grpc
import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from common import clients, logs, tracing
from common.grpc_server import create_server
from common.settings import ConfigError
from gateway.app import create_app
from services.renderer.consumers import run_once
from services.renderer.pipeline import RenderPipeline
from tests.gateway.conftest import LiveGateway, gateway_settings


@pytest.mark.parametrize(
    ("environ", "chosen"),
    [
        ({}, "none"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, "otlp"),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, "otlp"),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, "none"),
    ],
)
def test_exporter_chosen_by_the_standard_variables(environ: dict[str, str], chosen: str) -> None:
    assert tracing.exporter_from_environment(environ) == chosen


def test_an_unknown_exporter_is_refused() -> None:
    with pytest.raises(ConfigError, match="OTEL_TRACES_EXPORTER: 'zipkin' is not one of otlp, none"):
        tracing.exporter_from_environment({"OTEL_TRACES_EXPORTER": "zipkin"})


def test_off_by_default_installs_nothing() -> None:
    assert tracing.configure("content", {}) is False


def test_traceparent_round_trips_and_logs_carry_the_trace_id() -> None:
    tracer = TracerProvider().get_tracer("test")  # a recording tracer, without touching the global one
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logs.configure("json")
    root = logging.getLogger()
    handler.setFormatter(root.handlers[0].formatter)
    for existing_filter in root.handlers[0].filters:
        handler.addFilter(existing_filter)
    log = logging.getLogger("layers.test.tracing")
    log.addHandler(handler)
    try:
        assert tracing.inject({}) == {}  # no active span: nothing to carry
        with tracer.start_as_current_span("gateway") as span:
            headers = tracing.inject({})
            log.warning("inside")
        trace_id = format(span.get_span_context().trace_id, "032x")
        assert headers["traceparent"].split("-")[1] == trace_id
        with tracer.start_as_current_span("renderer", context=tracing.extract(headers)) as child:
            assert format(child.get_span_context().trace_id, "032x") == trace_id
        log.warning("outside")
    finally:
        log.removeHandler(handler)
    inside, outside = (json.loads(line) for line in stream.getvalue().splitlines())
    assert inside["traceId"] == trace_id
    assert "traceId" not in outside


def test_a_grpc_call_continues_the_callers_trace(spans: InMemorySpanExporter) -> None:
    def unary(request: bytes, context: grpc.ServicerContext) -> bytes:
        return (tracing.current_trace_id() or "").encode()

    handler = grpc.method_handlers_generic_handler("test.Trace", {"Unary": grpc.unary_unary_rpc_method_handler(unary)})
    server, port = create_server(lambda s: s.add_generic_rpc_handlers((handler,)), [], "127.0.0.1:0")
    channel = clients.channel(f"127.0.0.1:{port}", timeout_seconds=5)
    try:
        call = channel.unary_unary("/test.Trace/Unary", None, None)
        with trace.get_tracer("test").start_as_current_span("caller") as caller:
            seen = call(b"").decode()
        trace_id = format(caller.get_span_context().trace_id, "032x")
        assert seen == trace_id

        async def gateway_side() -> str:
            aio = clients.aio_channel(f"127.0.0.1:{port}", timeout_seconds=5)
            try:
                with trace.get_tracer("test").start_as_current_span("gateway"):
                    return (await aio.unary_unary("/test.Trace/Unary", None, None)(b"")).decode()
            finally:
                await aio.close(None)

        aio_seen = asyncio.run(gateway_side())
        assert aio_seen and aio_seen != trace_id  # its own trace, carried the same way over grpc.aio
        served = [s for s in spans.get_finished_spans() if s.name == "/test.Trace/Unary"]
        assert [s.kind for s in served] == [trace.SpanKind.SERVER] * 2
        assert served[0].parent is not None and served[0].parent.span_id == caller.get_span_context().span_id
        root = call(b"").decode()  # no caller span: the server's span starts a trace of its own
        assert len(root) == 32 and root not in (trace_id, aio_seen)
    finally:
        channel.close()
        server.stop(0).wait()


def test_broker_headers_carry_the_trace_to_the_renderers_span(spans: InMemorySpanExporter) -> None:
    with trace.get_tracer("test").start_as_current_span("content"), logs.bound(requestId="req_1"):
        headers = logs.headers()  # what an outbox row keeps and the relay publishes
    assert headers["x-request-id"] == "req_1" and "traceparent" in headers
    # AMQP hands headers back as bytes or str; a message that is not a RenderJob is dropped, inside the span.
    amqp_headers = {k: v.encode() for k, v in headers.items()}
    assert run_once(cast(RenderPipeline, None), b"\xff", attempt=1, max_attempts=1, headers=amqp_headers)
    render = next(s for s in spans.get_finished_spans() if s.name == "render")
    assert render.kind == trace.SpanKind.CONSUMER
    assert format(render.context.trace_id, "032x") == headers["traceparent"].split("-")[1]


def test_an_http_request_is_one_trace_through_the_gateway_and_its_grpc_calls(
    spans: InMemorySpanExporter, tmp_path: Path
) -> None:
    server, port = create_server(lambda _s: None, [], "127.0.0.1:0")
    gateway = LiveGateway(create_app(gateway_settings(f"127.0.0.1:{port}", tmp_path))).start()
    try:
        caller_trace = "0af7651916cd43dd8448eb211c80319c"
        traceparent = f"00-{caller_trace}-b7ad6b7169203331-01"
        reply = httpx.get(f"{gateway.base_url}/readyz", headers={"traceparent": traceparent}, timeout=5)
        assert reply.status_code == 200
    finally:
        gateway.stop()
        server.stop(0).wait()
    in_trace = {s.name: s for s in spans.get_finished_spans() if format(s.context.trace_id, "032x") == caller_trace}
    http, grpc_check = in_trace["GET /readyz"], in_trace["/grpc.health.v1.Health/Check"]
    assert http.kind == trace.SpanKind.SERVER and http.attributes == {"http.response.status_code": 200}
    assert grpc_check.parent is not None and grpc_check.parent.span_id == http.context.span_id
