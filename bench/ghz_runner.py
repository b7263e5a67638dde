"""A small grpc.aio load runner that reads ghz config files and prints ghz's summary.

It exists so the gRPC half of `bench/request_path.py` runs without the ghz binary: the same JSON files
(`bench/ghz/*.json`) drive both. The method is resolved by server reflection (no .proto needed), each
call's request is built from the config's "data" after ghz-style template expansion, and `concurrency`
workers send unary calls until `total` calls were made or `duration` has passed.

    .venv/bin/python bench/ghz_runner.py --config bench/ghz/health_check.json --host 127.0.0.1:50051
    .venv/bin/python bench/ghz_runner.py --config bench/ghz/get_job.json \\
        --set ORGANIZATION_ID=org_... --set JOB_ID=job_... -z 10s -c 32 --json result.json

Placeholders: string values may hold `$NAME` or `${NAME}` (upper-case names); `--set NAME=VALUE` fills
them, then the environment. ghz itself does not know them: substitute them before handing a file to ghz
(`envsubst < bench/ghz/get_job.json > /tmp/get_job.json`).

Templates (evaluated per call, as ghz does): {{.RequestNumber}} (0-based), {{.WorkerID}}, {{.UUID}},
{{newUUID}}, {{randomString N}}, {{.Timestamp}}, {{.TimestampUnix}}, {{.TimestampUnixMilli}},
{{.TimestampUnixNano}}, {{.FullyQualifiedName}}, {{.MethodName}}, {{.ServiceName}}, {{.InputName}},
{{.OutputName}}.

Differences from ghz: unary calls only, plaintext only ("insecure": true), no "qps" pacing; in duration
mode no call starts after the deadline and calls in flight then are waited for and counted (ghz's
"duration-stop": "wait"); responses are not decoded.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import json
import math
import os
import random
import re
import resource
import string
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
from google.protobuf import descriptor_pool, json_format, message_factory
from google.protobuf.descriptor import MethodDescriptor
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

# ghz's defaults (runner/config.go).
DEFAULT_TOTAL = 200
DEFAULT_CONCURRENCY = 50
DEFAULT_CONNECTIONS = 1
DEFAULT_TIMEOUT = "20s"
PERCENTILES = (10, 25, 50, 75, 90, 95, 99)
HISTOGRAM_BUCKETS = 10

# Keys of ghz's JSON config this runner reads; the others are reported and ignored.
SUPPORTED_KEYS = {
    "call",
    "host",
    "insecure",
    "total",
    "concurrency",
    "connections",
    "duration",
    "duration-stop",
    "max-duration",
    "timeout",
    "data",
    "metadata",
    "name",
    "tags",
}
# Keys that only say how ghz finds descriptors or formats output: harmless to ignore.
IGNORED_KEYS = {"proto", "protoset", "import-paths", "format", "output", "debug", "cpus", "connect-timeout"}


class ConfigError(ValueError):
    """A config file, placeholder or template this runner cannot use."""


# ---------------------------------------------------------------------------------------------------------
# Durations, placeholders and templates
# ---------------------------------------------------------------------------------------------------------

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(value: str | int | float) -> float:
    """A Go duration ("10s", "1m30s", "250ms", "0") in seconds. Bare numbers are seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    text = str(value).strip()
    if text in ("", "0"):
        return 0.0
    try:
        return float(text)
    except ValueError:
        pass
    position, seconds = 0, 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != position:
            break
        seconds += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        position = match.end()
    if position != len(text) or position == 0:
        raise ConfigError(f"not a duration: {value!r} (use e.g. 10s, 1m30s, 500ms)")
    return seconds


_PLACEHOLDER = re.compile(r"\$(?:\{([A-Z_][A-Z0-9_]*)\}|([A-Z_][A-Z0-9_]*))")


def placeholders_in(value: Any) -> set[str]:
    """Names of the $NAME / ${NAME} placeholders in every string of a JSON value."""
    found: set[str] = set()
    if isinstance(value, str):
        found.update(a or b for a, b in _PLACEHOLDER.findall(value))
    elif isinstance(value, Mapping):
        for item in value.values():
            found |= placeholders_in(item)
    elif isinstance(value, list):
        for item in value:
            found |= placeholders_in(item)
    return found


def substitute(value: Any, variables: Mapping[str, str]) -> Any:
    """Replace $NAME / ${NAME} in every string of a JSON value; unknown names raise ConfigError."""
    if isinstance(value, str):

        def replace(match: re.Match[str]) -> str:
            name = match.group(1) or match.group(2)
            if name not in variables:
                raise ConfigError(f"no value for placeholder ${name} (pass --set {name}=VALUE)")
            return variables[name]

        return _PLACEHOLDER.sub(replace, value)
    if isinstance(value, Mapping):
        return {key: substitute(item, variables) for key, item in value.items()}
    if isinstance(value, list):
        return [substitute(item, variables) for item in value]
    return value


@dataclasses.dataclass(frozen=True)
class CallContext:
    """What a template sees for one call (ghz's callTemplateData)."""

    request_number: int
    worker_id: str
    method: MethodInfo
    now_ns: int = dataclasses.field(default_factory=time.time_ns)

    def field(self, name: str) -> str:
        if name == "RequestNumber":
            return str(self.request_number)
        if name == "WorkerID":
            return self.worker_id
        if name == "UUID":
            return str(uuid.uuid4())
        if name == "TimestampUnixNano":
            return str(self.now_ns)
        if name == "TimestampUnixMilli":
            return str(self.now_ns // 1_000_000)
        if name == "TimestampUnix":
            return str(self.now_ns // 1_000_000_000)
        if name == "Timestamp":
            moment = dt.datetime.fromtimestamp(self.now_ns / 1e9, tz=dt.UTC).astimezone()
            return moment.isoformat(timespec="seconds")
        return self.method.template_field(name)


@dataclasses.dataclass(frozen=True)
class MethodInfo:
    """The names ghz exposes about the called method."""

    full_name: str  # "pkg.Service.Method"
    input_name: str = ""
    output_name: str = ""
    client_streaming: bool = False
    server_streaming: bool = False

    @property
    def service_name(self) -> str:
        return self.full_name.rsplit(".", 1)[0].rsplit(".", 1)[-1]

    @property
    def method_name(self) -> str:
        return self.full_name.rsplit(".", 1)[-1]

    @property
    def path(self) -> str:
        service, _, method = self.full_name.rpartition(".")
        return f"/{service}/{method}"

    def template_field(self, name: str) -> str:
        values = {
            "FullyQualifiedName": self.full_name,
            "MethodName": self.method_name,
            "ServiceName": self.service_name,
            "InputName": self.input_name,
            "OutputName": self.output_name,
            "IsClientStreaming": str(self.client_streaming).lower(),
            "IsServerStreaming": str(self.server_streaming).lower(),
        }
        return values[name]


TEMPLATE_FIELDS = {
    "RequestNumber",
    "WorkerID",
    "UUID",
    "Timestamp",
    "TimestampUnix",
    "TimestampUnixMilli",
    "TimestampUnixNano",
    "FullyQualifiedName",
    "MethodName",
    "ServiceName",
    "InputName",
    "OutputName",
    "IsClientStreaming",
    "IsServerStreaming",
}
_ACTION = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}", re.S)
_RANDOM_CHARS = string.ascii_letters + string.digits


def _random_string(length: int) -> str:
    if length <= 0:
        length = random.randint(2, 16)  # ghz: a random length of 2..16
    return "".join(random.choices(_RANDOM_CHARS, k=length))


Part = str | Callable[[CallContext], str]


def _compile_action(action: str, source: str) -> Callable[[CallContext], str]:
    if action.startswith("."):
        name = action[1:]
        if name not in TEMPLATE_FIELDS:
            raise ConfigError(f"unknown template field {{{{{action}}}}} in {source!r}")
        return lambda ctx: ctx.field(name)
    words = action.split()
    if words == ["newUUID"]:
        return lambda ctx: str(uuid.uuid4())
    if words and words[0] == "randomString" and len(words) <= 2:
        try:
            length = int(words[1]) if len(words) == 2 else 0
        except ValueError:
            raise ConfigError(f"randomString takes a number, not {words[1]!r} in {source!r}") from None
        return lambda ctx: _random_string(length)
    raise ConfigError(f"unsupported template action {{{{{action}}}}} in {source!r}")


@dataclasses.dataclass(frozen=True)
class Template:
    """One string of the config with its {{…}} actions compiled."""

    source: str
    parts: tuple[Part, ...]

    @classmethod
    def compile(cls, source: str) -> Template:
        parts: list[Part] = []
        position = 0
        for match in _ACTION.finditer(source):
            if match.start() > position:
                parts.append(source[position : match.start()])
            parts.append(_compile_action(match.group(1), source))
            position = match.end()
        if position < len(source):
            parts.append(source[position:])
        if "{{" in "".join(p for p in parts if isinstance(p, str)):
            raise ConfigError(f"unterminated template action in {source!r}")
        return cls(source, tuple(parts))

    @property
    def is_constant(self) -> bool:
        return all(isinstance(p, str) for p in self.parts)

    def render(self, ctx: CallContext) -> str:
        return "".join(p if isinstance(p, str) else p(ctx) for p in self.parts)


def compile_value(value: Any) -> Any:
    """A JSON value with every string replaced by its Template."""
    if isinstance(value, str):
        return Template.compile(value)
    if isinstance(value, Mapping):
        return {key: compile_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [compile_value(item) for item in value]
    return value


def is_constant(compiled: Any) -> bool:
    if isinstance(compiled, Template):
        return compiled.is_constant
    if isinstance(compiled, Mapping):
        return all(is_constant(item) for item in compiled.values())
    if isinstance(compiled, list):
        return all(is_constant(item) for item in compiled)
    return True


def render_value(compiled: Any, ctx: CallContext) -> Any:
    if isinstance(compiled, Template):
        return compiled.render(ctx)
    if isinstance(compiled, Mapping):
        return {key: render_value(item, ctx) for key, item in compiled.items()}
    if isinstance(compiled, list):
        return [render_value(item, ctx) for item in compiled]
    return compiled


def expand(value: Any, ctx: CallContext) -> Any:
    """Evaluate the templates of a JSON value for one call."""
    return render_value(compile_value(value), ctx)


# ---------------------------------------------------------------------------------------------------------
# Config
# ---------------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class RunConfig:
    call: str
    host: str
    total: int = DEFAULT_TOTAL
    concurrency: int = DEFAULT_CONCURRENCY
    connections: int = DEFAULT_CONNECTIONS
    duration: float = 0.0  # seconds; when set, total is ignored (as in ghz)
    max_duration: float = 0.0
    timeout: float = 20.0
    data: list[dict[str, Any]] = dataclasses.field(default_factory=lambda: [{}])
    metadata: dict[str, str] = dataclasses.field(default_factory=dict)
    name: str = ""
    warnings: list[str] = dataclasses.field(default_factory=list)

    @property
    def method_name(self) -> str:
        """The "pkg.Service.Method" form, whether the config wrote "pkg.Service/Method" or "pkg.Service.Method"."""
        return normalize_call(self.call)


def normalize_call(call: str) -> str:
    name = call.strip().lstrip("/")
    if "/" in name:
        service, _, method = name.rpartition("/")
        name = f"{service}.{method}"
    if name.count(".") < 1 or not all(name.split(".")):
        raise ConfigError(f'"call" must be "package.Service.Method" or "package.Service/Method", not {call!r}')
    return name


def _positive_int(raw: Any, key: str) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise ConfigError(f'"{key}" must be a number, not {raw!r}')
    try:
        number = int(raw)
    except ValueError:
        raise ConfigError(f'"{key}" must be a number, not {raw!r}') from None
    if number < 1:
        raise ConfigError(f'"{key}" must be at least 1, not {raw!r}')
    return number


def parse_config(raw: Mapping[str, Any], variables: Mapping[str, str] | None = None) -> RunConfig:
    """A ghz JSON config (already loaded) as a RunConfig, with placeholders substituted."""
    if not isinstance(raw, Mapping):
        raise ConfigError("a ghz config is a JSON object")
    config = dict(substitute(dict(raw), variables or {}))
    warnings = []
    for key in sorted(config):
        if key in IGNORED_KEYS:
            warnings.append(f'ignoring "{key}": the method is resolved by server reflection')
        elif key not in SUPPORTED_KEYS:
            warnings.append(f'ignoring unsupported ghz option "{key}"')
    if not config.get("call"):
        raise ConfigError('the config has no "call"')
    if config.get("insecure") is not True:
        raise ConfigError('only plaintext is supported: set "insecure": true')

    data = config.get("data", {})
    if isinstance(data, Mapping):
        items = [dict(data)]
    elif isinstance(data, list) and data and all(isinstance(d, Mapping) for d in data):
        items = [dict(d) for d in data]  # unary calls take them round-robin, as ghz does
    else:
        raise ConfigError('"data" must be an object or a non-empty array of objects')

    metadata = config.get("metadata") or {}
    if not isinstance(metadata, Mapping) or not all(isinstance(v, str) for v in metadata.values()):
        raise ConfigError('"metadata" must be an object of strings')

    run = RunConfig(
        call=str(config["call"]),
        host=str(config.get("host") or ""),
        data=items,
        metadata={str(k).lower(): v for k, v in metadata.items()},
        name=str(config.get("name") or ""),
        warnings=warnings,
    )
    normalize_call(run.call)
    if "total" in config:
        run.total = _positive_int(config["total"], "total")
    if "concurrency" in config:
        run.concurrency = _positive_int(config["concurrency"], "concurrency")
    if "connections" in config:
        run.connections = _positive_int(config["connections"], "connections")
    run.duration = parse_duration(config.get("duration") or 0)
    run.max_duration = parse_duration(config.get("max-duration") or 0)
    run.timeout = parse_duration(config.get("timeout") or DEFAULT_TIMEOUT)
    stop = str(config.get("duration-stop") or "wait").lower()
    if stop != "wait":
        warnings.append(f'"duration-stop": "{stop}" is run as "wait": calls in flight at the deadline are counted')
    return run


def load_config(path: Path, variables: Mapping[str, str] | None = None) -> RunConfig:
    try:
        raw = json.loads(Path(path).read_text())
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not JSON ({exc})") from None
    return parse_config(raw, variables)


def parse_assignments(pairs: Sequence[str]) -> dict[str, str]:
    values = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not re.fullmatch(r"[A-Z_][A-Z0-9_]*", name):
            raise ConfigError(f"--set takes NAME=VALUE with an upper-case NAME, not {pair!r}")
        values[name] = value
    return values


# ---------------------------------------------------------------------------------------------------------
# Reflection and requests
# ---------------------------------------------------------------------------------------------------------


def resolve_method(host: str, full_name: str, timeout: float = 10.0) -> tuple[MethodInfo, type[Any]]:
    """Find a method by server reflection; return its names and the request message class."""
    with grpc.insecure_channel(host) as channel:
        try:
            grpc.channel_ready_future(channel).result(timeout=timeout)
        except grpc.FutureTimeoutError:
            raise ConfigError(f"{host}: no gRPC server answered within {timeout:g} s") from None
        pool = descriptor_pool.DescriptorPool(ProtoReflectionDescriptorDatabase(channel))
        service_name, _, method_name = full_name.rpartition(".")
        try:
            service = pool.FindServiceByName(service_name)
        except KeyError:
            raise ConfigError(f"{host} does not list the service {service_name} by reflection") from None
        method: MethodDescriptor | None = service.methods_by_name.get(method_name)
        if method is None:
            names = ", ".join(m.name for m in service.methods)
            raise ConfigError(f"no method {full_name}: {service_name} has {names}")
        info = MethodInfo(
            full_name=method.full_name,
            input_name=method.input_type.name,
            output_name=method.output_type.name,
            client_streaming=bool(getattr(method, "client_streaming", False)),
            server_streaming=bool(getattr(method, "server_streaming", False)),
        )
        if info.client_streaming or info.server_streaming:
            raise ConfigError(f"{full_name} is a streaming method; this runner makes unary calls only")
        return info, message_factory.GetMessageClass(method.input_type)


class RequestFactory:
    """Serialized requests and metadata for call n, templates expanded (built once when constant)."""

    def __init__(self, config: RunConfig, method: MethodInfo, message_class: type[Any]) -> None:
        self.method = method
        self.message_class = message_class
        self.data = [compile_value(item) for item in config.data]
        self.metadata = compile_value(config.metadata)
        self._constant_data: list[bytes | None] = [
            self._serialize(render_value(d, CallContext(0, "", method))) if is_constant(d) else None for d in self.data
        ]
        self._constant_metadata = (
            tuple(render_value(self.metadata, CallContext(0, "", method)).items())
            if is_constant(self.metadata)
            else None
        )

    def _serialize(self, data: dict[str, Any]) -> bytes:
        try:
            message = json_format.ParseDict(data, self.message_class())
        except json_format.ParseError as exc:
            raise ConfigError(f"data does not fit {self.method.input_name}: {exc}") from None
        return bytes(message.SerializeToString())

    def build(self, request_number: int, worker_id: str) -> tuple[bytes, tuple[tuple[str, str], ...]]:
        index = request_number % len(self.data)
        ctx = CallContext(request_number, worker_id, self.method)
        body = self._constant_data[index]
        if body is None:
            body = self._serialize(render_value(self.data[index], ctx))
        metadata = self._constant_metadata
        if metadata is None:
            metadata = tuple(render_value(self.metadata, ctx).items())
        return body, metadata


# ---------------------------------------------------------------------------------------------------------
# Running and reporting
# ---------------------------------------------------------------------------------------------------------


def status_name(code: grpc.StatusCode) -> str:
    """Go's spelling of a status code, as ghz prints it (CANCELLED -> Canceled, NOT_FOUND -> NotFound)."""
    if code == grpc.StatusCode.CANCELLED:
        return "Canceled"
    return "".join(word.capitalize() for word in code.name.split("_")) if code != grpc.StatusCode.OK else "OK"


@dataclasses.dataclass
class Report:
    name: str
    call: str
    host: str
    date: str
    end_reason: str
    total_seconds: float
    latencies_ns: list[int]
    statuses: Counter[str]
    errors: Counter[str]
    options: dict[str, Any]
    client_cpu_seconds: float = 0.0
    _sorted_cache: list[int] | None = dataclasses.field(default=None, repr=False, compare=False)

    @property
    def count(self) -> int:
        return len(self.latencies_ns)

    @property
    def ok(self) -> int:
        return self.statuses.get("OK", 0)

    @property
    def rps(self) -> float:
        return self.count / self.total_seconds if self.total_seconds > 0 else 0.0

    def percentile_ns(self, p: float) -> int:
        """Nearest-rank percentile of all calls' latencies."""
        ordered = self._sorted()
        if not ordered:
            return 0
        rank = max(1, math.ceil(p / 100 * len(ordered)))
        return ordered[min(rank, len(ordered)) - 1]

    def _sorted(self) -> list[int]:
        cached = self._sorted_cache
        if cached is None or len(cached) != len(self.latencies_ns):
            cached = sorted(self.latencies_ns)
            self._sorted_cache = cached
        return cached

    def histogram(self) -> list[tuple[int, int]]:
        """(upper mark ns, count) for HISTOGRAM_BUCKETS+1 marks from fastest to slowest, as ghz buckets."""
        ordered = self._sorted()
        if not ordered:
            return []
        fastest, slowest = ordered[0], ordered[-1]
        size = (slowest - fastest) / HISTOGRAM_BUCKETS
        marks = [fastest + round(size * i) for i in range(HISTOGRAM_BUCKETS + 1)]
        counts = [0] * len(marks)
        bucket = 0
        for latency in ordered:
            while bucket < len(marks) - 1 and latency > marks[bucket]:
                bucket += 1
            counts[bucket] += 1
        return list(zip(marks, counts, strict=True))

    def to_json(self) -> dict[str, Any]:
        """ghz's JSON report shape (durations in nanoseconds), plus the runner's own CPU time."""
        ordered = self._sorted()
        count = len(ordered)
        return {
            "name": self.name,
            "endReason": self.end_reason,
            "options": self.options,
            "date": self.date,
            "count": count,
            "total": int(self.total_seconds * 1e9),
            "average": int(sum(ordered) / count) if count else 0,
            "fastest": ordered[0] if ordered else 0,
            "slowest": ordered[-1] if ordered else 0,
            "rps": self.rps,
            "histogram": [
                {"mark": mark / 1e9, "count": n, "frequency": n / count if count else 0.0}
                for mark, n in self.histogram()
            ],
            "latencyDistribution": [{"percentage": p, "latency": self.percentile_ns(p)} for p in PERCENTILES],
            "statusCodeDistribution": dict(self.statuses),
            "errorDistribution": dict(self.errors),
            "clientCpuSeconds": self.client_cpu_seconds,
        }


def format_duration(ns: float) -> str:
    """ghz's formatNanoUnit: two decimals in the largest unit below the value."""
    if ns >= 1e9:
        return f"{ns / 1e9:.2f} s"
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.2f} μs"
    return f"{ns:.0f} ns"


def format_summary(report: Report) -> str:
    """The text ghz prints by default (-O summary)."""
    ordered = report._sorted()
    count = len(ordered)
    lines = ["", "Summary:"]
    if report.name:
        lines.append(f"  Name:\t\t{report.name}")
    lines += [
        f"  Count:\t{count}",
        f"  Total:\t{format_duration(report.total_seconds * 1e9)}",
        f"  Slowest:\t{format_duration(ordered[-1] if ordered else 0)}",
        f"  Fastest:\t{format_duration(ordered[0] if ordered else 0)}",
        f"  Average:\t{format_duration(sum(ordered) / count if count else 0)}",
        f"  Requests/sec:\t{report.rps:.2f}",
        "",
        "Response time histogram:",
    ]
    buckets = report.histogram()
    top = max((n for _, n in buckets), default=0)
    for mark, n in buckets:
        bar = "∎" * (round(40 * n / top) if top else 0)
        lines.append(f"  {mark / 1e6:.3f} [{n}]\t|{bar}")
    lines += ["", "Latency distribution:"]
    lines += [f"  {p} % in {format_duration(report.percentile_ns(p))} " for p in PERCENTILES if count]
    lines += ["", "Status code distribution:"]
    lines += [f"  [{code}]\t{n} responses" for code, n in report.statuses.most_common()]
    if report.errors:
        lines += ["", "Error distribution:"]
        lines += [f"  [{n}]\t{message}" for message, n in report.errors.most_common()]
    return "\n".join(lines) + "\n"


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def run_load(
    config: RunConfig, method: MethodInfo | None = None, message_class: type[Any] | None = None
) -> Report:
    """Send the calls and collect each one's latency and status."""
    if method is None or message_class is None:
        info, message_type = await asyncio.to_thread(resolve_method, config.host, config.method_name)
    else:
        info, message_type = method, message_class
    factory = RequestFactory(config, info, message_type)
    # A local subchannel pool each, so that N channels are N TCP connections (as ghz's "connections" are);
    # channels with the same arguments would otherwise share one.
    options = [("grpc.use_local_subchannel_pool", 1)]
    channels = [grpc.aio.insecure_channel(config.host, options=options) for _ in range(config.connections)]
    # Bytes in, bytes out: requests are serialized by the factory and responses are not decoded.
    calls = [ch.unary_unary(info.path, request_serializer=None, response_deserializer=None) for ch in channels]
    latencies: list[int] = []
    statuses: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    counter = iter(range(sys.maxsize))
    total = None if config.duration else config.total
    started = time.monotonic()
    deadline = started + config.duration if config.duration else None
    hard_stop = started + config.max_duration if config.max_duration else None
    end_reason = "normal"

    async def worker(index: int) -> None:
        nonlocal end_reason
        connection = index % len(channels)
        call = calls[connection]
        worker_id = f"g{connection}c{index}"
        while True:
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                end_reason = "timeout"
                return
            if hard_stop is not None and now >= hard_stop:
                end_reason = "max-duration"
                return
            number = next(counter)
            if total is not None and number >= total:
                return
            body, metadata = factory.build(number, worker_id)
            begin = time.perf_counter_ns()
            try:
                await call(body, timeout=config.timeout, metadata=metadata or None)
                code = "OK"
            except grpc.aio.AioRpcError as exc:
                code = status_name(exc.code())
                errors[f"rpc error: code = {code} desc = {exc.details()}"] += 1
            latencies.append(time.perf_counter_ns() - begin)
            statuses[code] += 1

    cpu_before = _cpu_seconds()
    try:
        for ch in channels:
            await asyncio.wait_for(ch.channel_ready(), timeout=10)
        started = time.monotonic()
        if deadline is not None:
            deadline = started + config.duration
        if hard_stop is not None:
            hard_stop = started + config.max_duration
        await asyncio.gather(*(worker(i) for i in range(config.concurrency)))
        elapsed = time.monotonic() - started
    finally:
        for ch in channels:
            await ch.close(None)
    return Report(
        name=config.name,
        call=info.full_name,
        host=config.host,
        date=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        end_reason=end_reason,
        total_seconds=elapsed,
        latencies_ns=latencies,
        statuses=statuses,
        errors=errors,
        options={
            "call": info.full_name,
            "host": config.host,
            "total": config.total,
            "concurrency": config.concurrency,
            "connections": config.connections,
            "duration": config.duration,
            "timeout": config.timeout,
        },
        client_cpu_seconds=_cpu_seconds() - cpu_before,
    )


# ---------------------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ghz_runner.py",
        description=(
            "Load-test one unary gRPC method from a ghz JSON config (the method is resolved by server\n"
            "reflection) and print ghz's summary: count, total, slowest/fastest/average, requests/sec,\n"
            "a response-time histogram, latency percentiles and the status-code distribution."
        ),
        epilog=(
            "Options given here override the config file, as ghz's flags do.\n"
            "Placeholders $NAME / ${NAME} in the config's strings are filled from --set, then the environment.\n"
            "Templates, evaluated per call: {{.RequestNumber}} (0-based), {{.WorkerID}}, {{.UUID}}, {{newUUID}},\n"
            "{{randomString N}}, {{.TimestampUnixNano}} and the other fields of ghz's call template data.\n\n"
            "  ghz_runner.py --config bench/ghz/health_check.json --host 127.0.0.1:50051 -n 2000 -c 8\n"
            "  ghz_runner.py --config bench/ghz/get_job.json --set ORGANIZATION_ID=org_... --set JOB_ID=job_... -z 10s"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", type=Path, required=True, help="a ghz JSON config, e.g. bench/ghz/get_job.json")
    parser.add_argument("--host", help='server host:port (overrides the config\'s "host")')
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="fill a placeholder")
    parser.add_argument(
        "-n", "--total", type=int, help="number of calls (replaces the config's duration unless -z is given)"
    )
    parser.add_argument("-c", "--concurrency", type=int, help="concurrent workers")
    parser.add_argument("--connections", type=int, help="gRPC connections the workers share (default 1)")
    parser.add_argument("-z", "--duration", help='run for this long, e.g. "10s" (then --total is ignored)')
    parser.add_argument("--timeout", help='deadline of each call, e.g. "20s"')
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write ghz's JSON report here ('-': stdout)")
    parser.add_argument("-q", "--quiet", action="store_true", help="do not print the summary")
    return parser


def config_from_args(args: argparse.Namespace) -> RunConfig:
    variables = {**os.environ, **parse_assignments(args.set)}
    config = load_config(args.config, variables)
    if args.host:
        config.host = args.host
    if not config.host:
        raise ConfigError('no host: set "host" in the config or pass --host')
    if args.total is not None:
        config.total = _positive_int(args.total, "--total")
        config.duration = 0.0 if args.duration is None else config.duration
    if args.concurrency is not None:
        config.concurrency = _positive_int(args.concurrency, "--concurrency")
    if args.connections is not None:
        config.connections = _positive_int(args.connections, "--connections")
    if args.duration is not None:
        config.duration = parse_duration(args.duration)
    if args.timeout is not None:
        config.timeout = parse_duration(args.timeout)
    return config


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = config_from_args(args)
        for warning in config.warnings:
            print(f"ghz_runner: {warning}", file=sys.stderr)
        report = asyncio.run(run_load(config))
    except ConfigError as exc:
        print(f"ghz_runner: {exc}", file=sys.stderr)
        return 2
    if not args.quiet and str(args.json) != "-":
        sys.stdout.write(format_summary(report))
    if args.json is not None:
        text = json.dumps(report.to_json(), indent=2) + "\n"
        if str(args.json) == "-":
            sys.stdout.write(text)
        else:
            args.json.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
