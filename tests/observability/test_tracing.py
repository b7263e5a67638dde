"""common.tracing: the OTEL_* variables choose the exporter (off by default, a bad name refused in one line),
the W3C traceparent round-trips through a headers mapping, and log lines carry the active span's traceId."""

from __future__ import annotations

import io
import json
import logging

import pytest
from opentelemetry.sdk.trace import TracerProvider

from common import logs, tracing
from common.settings import ConfigError


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
