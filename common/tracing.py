"""Traces: OpenTelemetry spans with the W3C `traceparent` carried across every hop (gRPC metadata, outbox
row headers, AMQP headers), exported over OTLP only when the standard variables ask for it.

Off by default: without OTEL_TRACES_EXPORTER=otlp (or an OTEL_EXPORTER_OTLP_ENDPOINT with no exporter named)
no SDK is loaded and the API's no-op tracer costs one context lookup per span. `inject`/`extract` move the
current trace context in and out of any str->str mapping.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace

from common.settings import ConfigError

SUPPORTED_EXPORTERS = ("otlp", "none")


def exporter_from_environment(environ: Mapping[str, str] = os.environ) -> str:
    """Which exporter the OTEL_* variables choose: "otlp" or "none" (the default here, unlike the SDK's)."""
    named = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if not named:
        return "otlp" if environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") else "none"
    if named not in SUPPORTED_EXPORTERS:
        raise ConfigError("OTEL_TRACES_EXPORTER", f"{named!r} is not one of {', '.join(SUPPORTED_EXPORTERS)}")
    return named


def configure(service_name: str, environ: Mapping[str, str] = os.environ) -> bool:
    """Install a batching OTLP exporter for this process when the environment asks; return whether it did."""
    if exporter_from_environment(environ) == "none":
        return False
    # Imported here so a process with tracing off never loads the SDK.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    # OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES and the exporter's endpoint/headers come from the environment.
    resource = Resource.create({SERVICE_NAME: environ.get("OTEL_SERVICE_NAME") or f"layers-{service_name}"})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return True


def inject(carrier: dict[str, str]) -> dict[str, str]:
    """Add the current trace context (`traceparent`, `tracestate`) to carrier; nothing when no span is active."""
    propagate.inject(carrier)
    return carrier


def extract(carrier: Mapping[str, object] | None) -> otel_context.Context:
    """The trace context a carrier holds (an empty one when it holds none), to start child spans in; AMQP
    headers may hold bytes."""
    text = {k: v.decode("ascii", "replace") if isinstance(v, bytes) else v for k, v in (carrier or {}).items()}
    return propagate.extract({k: v for k, v in text.items() if isinstance(v, str)})


def current_trace_id() -> str | None:
    """The active span's trace id as 32 hex digits, for log lines; None outside a recorded span."""
    span_context = trace.get_current_span().get_span_context()
    return format(span_context.trace_id, "032x") if span_context.is_valid else None
