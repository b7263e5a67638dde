"""The one settings class every process reads (environment variables prefixed LAYERS_).

Unset database URLs and folders fall back to files under LAYERS_DATA_DIR: the embedded default.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import Field, FilePath, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The shortest secret accepted for signing URLs and cursors or for sealing webhook secrets.
MIN_SECRET_LENGTH = 16
# The longest media may serve picks from its catalogue cache, and so content the pairs media drew ahead.
MAX_CATALOG_CACHE_SECONDS = 300


class ConfigError(Exception):
    """A setting (or what it points at) this process cannot work with. Retrying cannot help until an
    operator changes it, so it is never transient; it names the variable to change."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable


class RenderTools(BaseSettings):
    """What renders run and draw with; unset means what the project's packages bring. ffmpeg and ffprobe
    are a path or a command on PATH (common.ffmpeg runs them at start); the font folder is searched for
    the hook's text faces before the packages' own; the emoji font (CBDT colour bitmaps, or outlines)
    replaces Debian's colour emoji (services.renderer.fonts). Only the processes that render check that
    the paths are there (common.preflight), so a renderer's paths in a shared environment stop no other."""

    model_config = SettingsConfigDict(env_prefix="LAYERS_", extra="ignore")

    ffmpeg: str | None = None
    ffprobe: str | None = None
    font_dir: Path | None = None
    emoji_font: Path | None = None
    # One ffmpeg run's wall time at most (a render of the 20 s cap takes seconds): a hung one is killed and
    # the render fails as a transient fault, to be retried, instead of holding its worker for ever.
    ffmpeg_deadline_seconds: float = Field(default=600.0, ge=1, allow_inf_nan=False)

    @field_validator("ffmpeg", "ffprobe", "font_dir", "emoji_font", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value


class Settings(RenderTools):  # the same LAYERS_ prefix, inherited
    # Where the embedded default keeps SQLite files and blobs.
    data_dir: Path = Path(".layers-data")

    # gRPC addresses: what each server binds and what its clients dial.
    content_addr: str = "127.0.0.1:50051"
    media_addr: str = "127.0.0.1:50052"
    billing_addr: str = "127.0.0.1:50053"
    webhooks_addr: str = "127.0.0.1:50054"
    # Mutual TLS on every gRPC server and client (all three or none; unset means plain gRPC): this
    # process's certificate chain and key (PEM; its common name is its caller identity, common.callers)
    # and the CA that signed every process's certificate. `layers dev` ignores them: it talks on loopback.
    grpc_tls_cert: FilePath | None = None
    grpc_tls_key: FilePath | None = None
    grpc_tls_ca: FilePath | None = None
    # A second gRPC port of each service, plaintext and serving only the health service, for probes that
    # cannot show a client certificate (the kubelet's gRPC probes) once mTLS is on; unset means none.
    grpc_health_port: Annotated[int, Field(ge=1, le=65535)] | None = None
    # The REST gateway's port and bind host.
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    # The gateway's public origin (scheme, host, optional port and path prefix), the start of every download
    # link it hands out; empty means each link is built from the request's own scheme and host.
    public_base_url: str = ""
    # Peers (IP addresses or CIDR blocks, comma-separated) whose X-Forwarded-Proto and X-Forwarded-Host
    # say what the partner asked for: the gateway's reverse proxies. Empty trusts no peer's.
    trusted_proxies: str = ""

    # Each service's own database; unset means a SQLite file under data_dir.
    content_db_url: str | None = None
    media_db_url: str | None = None
    billing_db_url: str | None = None
    webhooks_db_url: str | None = None

    # Blob store folder; unset means data_dir/blobs.
    blob_dir: Path | None = None

    # The port of this process's Prometheus /metrics; unset means none.
    metrics_port: Annotated[int, Field(ge=1, le=65535)] | None = None

    # RabbitMQ; unset means the in-process queue (embedded default only).
    amqp_url: str | None = None
    render_queue: str = "layers.render.v1"
    # A render that fails transiently (a dependency unreachable) is retried after retry_base, 2×, 4×…
    # seconds, up to max_attempts in all; then the job fails and the message is dead-lettered.
    render_max_attempts: int = 5
    render_retry_base_seconds: float = 2.0
    # Where renders keep their inputs and partial outputs; unset means data_dir/render-work. Swept of
    # what dead renderers left each time a renderer starts.
    render_work_dir: Path | None = None
    # Domain events (job.completed, …): a topic exchange keyed by event type, and the webhooks service's
    # durable queue bound to it.
    events_exchange: str = "layers.events"
    webhooks_queue: str = "layers.webhooks.events"

    # Webhooks. The key that encrypts signing secrets at rest (any long random string); unset means one
    # generated and kept under data_dir (the embedded default only).
    webhook_secret_key: Annotated[str | None, Field(min_length=MIN_SECRET_LENGTH)] = None
    # Seconds before each attempt of a delivery: the first is immediate; after the last, abandoned.
    webhook_retry_delays: str = "0,30,60,300,900,3600,21600,86400"
    webhook_timeout_seconds: Annotated[float, Field(gt=0, le=60)] = 10.0
    # How long the previous secret keeps signing after a rotation.
    webhook_secret_overlap_seconds: Annotated[float, Field(ge=0)] = 24 * 3600.0
    # Deliveries one webhooks process sends at once.
    webhook_concurrency: Annotated[int, Field(ge=1, le=1000)] = 64

    # Billing.
    ugc_remix_credits: int = 120
    reservation_ttl_seconds: int = 2 * 60 * 60
    expiry_sweep_seconds: float = 30.0

    # Secret that signs download URLs; unset means one generated and kept under data_dir.
    signing_secret: Annotated[str | None, Field(min_length=MIN_SECRET_LENGTH)] = None
    download_url_ttl_seconds: int = 3600

    # Limits.
    # Slow clients: a request's head must arrive whole within the header timeout of its first byte, and
    # its body must bring at least 1 KiB in every body timeout (gateway.http_protocol).
    http_header_timeout_seconds: Annotated[float, Field(gt=0, le=300)] = 10.0
    http_body_timeout_seconds: Annotated[float, Field(gt=0, le=300)] = 10.0
    max_json_body_bytes: int = 64 * 1024
    max_upload_bytes: int = 200 * 1000 * 1000
    demo_cap_seconds: float = 20.0

    # Rate limits per API key and endpoint class, per minute, counted by the gateway (in Redis when
    # redis_url is set, so every replica shares one budget; in process memory otherwise); and running jobs
    # one key may have at once (counted by content).
    rate_limit_reads_per_minute: int = 600
    rate_limit_writes_per_minute: int = 120
    rate_limit_generations_per_minute: int = 60
    max_concurrent_jobs_per_key: int = 20

    # Hosts the URL importer may fetch from even though they resolve to loopback/private addresses.
    # Comma-separated; empty (the default) allows none. For tests only.
    fetch_allowed_hosts: str = ""
    fetch_timeout_seconds: float = 30.0
    # Extra CA certificates (PEM) the URL importer trusts besides the system's; for tests' own https servers.
    fetch_ca_file: Path | None = None

    # Default deadline of every unary gRPC call (set in the channels' service config).
    rpc_timeout_seconds: float = 30.0
    # How long an unanswered POST keeps its Idempotency-Key before its request is taken for dead: then a
    # retry takes the key over, and credits a dead ugc-remix held are released. It must outlast the
    # longest live request: four service calls of rpc_timeout each, and a URL import's fetch.
    idempotency_lease_seconds: Annotated[float, Field(gt=0, le=3600)] = 300.0

    # Redis: shared rate-limit counters and the broadcasts of revoked keys, changed jobs and balances
    # (common.broadcasts). Unset (the embedded default) keeps counters in process memory, and broadcasts
    # reach only the same process.
    redis_url: str | None = None
    # How long a gateway trusts a verified API key (and remembers a refused one) without asking content.
    # A revocation is broadcast (through Redis between processes) and bites within a second; this bounds
    # it when the broadcast is lost or there is no Redis.
    auth_cache_seconds: Annotated[float, Field(gt=0, le=30)] = 10.0
    auth_refusal_cache_seconds: Annotated[float, Field(ge=0, le=30)] = 2.0
    # How long a gateway answers /v1/whoami's creditBalance without asking billing (0: ask every time).
    # Billing broadcasts every grant and capture the same way; this bounds staleness when one is lost.
    balance_cache_seconds: Annotated[float, Field(ge=0, le=30, allow_inf_nan=False)] = 5.0
    # How long a gateway answers GET /v1/jobs/:id from the job content last sent, and content a GetJob from
    # the job it last read (0: every time afresh). Content broadcasts every change to a job; this bounds
    # staleness when one is lost.
    job_cache_seconds: Annotated[float, Field(ge=0, le=30, allow_inf_nan=False)] = 2.0
    # How long media serves reaction-template and music picks from its in-memory catalogue.
    catalog_cache_seconds: Annotated[float, Field(ge=0, le=MAX_CATALOG_CACHE_SECONDS, allow_inf_nan=False)] = 5.0

    # Processes: the gateway's HTTP workers (0 = one per core with Redis, one without) and each gRPC
    # service's servers sharing its port through SO_REUSEPORT (1 = one process, no port sharing).
    # `layers dev` always runs one of each.
    http_workers: Annotated[int, Field(ge=0, le=256)] = 0
    grpc_workers: Annotated[int, Field(ge=1, le=256)] = 1

    @field_validator("public_base_url")
    @classmethod
    def _absolute_base_url(cls, value: str) -> str:
        if not value:
            return value
        parts = urlsplit(value)
        try:
            port_ok = parts.port is None or parts.port > 0  # .port raises on a port that is not a number
        except ValueError:
            port_ok = False
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment or not port_ok:
            raise ValueError(
                f"must be an absolute http or https URL without query or fragment, e.g. https://api.example.com "
                f"(got {value!r})"
            )
        return value.rstrip("/")

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, value: str) -> str:
        for item in _list(value):
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address or CIDR block (e.g. 10.0.0.0/8)") from None
        return value

    @model_validator(mode="after")
    def _lease_outlasts_live_requests(self) -> Settings:
        longest = 4 * self.rpc_timeout_seconds + self.fetch_timeout_seconds
        if self.idempotency_lease_seconds <= longest:
            raise ValueError(
                f"LAYERS_IDEMPOTENCY_LEASE_SECONDS ({self.idempotency_lease_seconds:g}) must be more than "
                f"4 x LAYERS_RPC_TIMEOUT_SECONDS + LAYERS_FETCH_TIMEOUT_SECONDS ({longest:g}): a live request "
                "could outlast it"
            )
        return self

    @model_validator(mode="after")
    def _grpc_tls_all_or_none(self) -> Settings:
        files = {"CERT": self.grpc_tls_cert, "KEY": self.grpc_tls_key, "CA": self.grpc_tls_ca}
        missing = [f"LAYERS_GRPC_TLS_{name}" for name, path in files.items() if path is None]
        if 0 < len(missing) < len(files):
            raise ValueError(
                "LAYERS_GRPC_TLS_CERT, LAYERS_GRPC_TLS_KEY and LAYERS_GRPC_TLS_CA go together: "
                f"{', '.join(missing)} not set"
            )
        return self

    @model_validator(mode="after")
    def _health_port_is_its_own(self) -> Settings:
        if self.grpc_health_port is None:
            return self
        taken = {"LAYERS_METRICS_PORT": self.metrics_port, "LAYERS_HTTP_PORT": self.http_port}
        for name in ("content", "media", "billing", "webhooks"):
            port = getattr(self, f"{name}_addr").rpartition(":")[2]
            taken[f"LAYERS_{name.upper()}_ADDR"] = int(port) if port.isdigit() else None
        clash = [name for name, port in taken.items() if port == self.grpc_health_port]
        if clash:
            # With SO_REUSEPORT workers the kernel would share one port between the two servers.
            raise ValueError(f"LAYERS_GRPC_HEALTH_PORT ({self.grpc_health_port}) is the port of {clash[0]}")
        return self

    def sqlite_url(self, name: str) -> str:
        return f"sqlite:///{(self.data_dir / f'{name}.db').resolve()}"

    @property
    def content_database(self) -> str:
        return self.content_db_url or self.sqlite_url("content")

    @property
    def media_database(self) -> str:
        return self.media_db_url or self.sqlite_url("media")

    @property
    def billing_database(self) -> str:
        return self.billing_db_url or self.sqlite_url("billing")

    @property
    def webhooks_database(self) -> str:
        return self.webhooks_db_url or self.sqlite_url("webhooks")

    @property
    def trusted_proxy_networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        return [ipaddress.ip_network(item, strict=False) for item in _list(self.trusted_proxies)]

    @property
    def webhook_retry_ladder(self) -> list[float]:
        return [float(d) for d in self.webhook_retry_delays.split(",") if d.strip()]

    @property
    def blobs(self) -> Path:
        return self.blob_dir or self.data_dir / "blobs"

    @property
    def render_work(self) -> Path:
        return self.render_work_dir or self.data_dir / "render-work"


def _list(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def load_settings() -> Settings:
    """The settings from the environment; bad ones end the process with one line each, not a traceback."""
    try:
        return Settings()
    except ValidationError as exc:
        raise SystemExit(refusal(describe_invalid(exc))) from None


def render_tools() -> RenderTools:
    """The settings a render reads deep inside (ffmpeg, fonts), from the environment, for code that
    is handed no Settings; read alone, so nothing else in the environment can fail a render."""
    return RenderTools()


def refusal(problems: str) -> str:
    """What a process that will not start prints: one line per problem, each naming its variable."""
    return "\n".join(f"layers: {line}" for line in problems.splitlines())


def describe_invalid(error: ValidationError) -> str:
    """One line per bad setting, named as the environment variable an operator sets."""
    lines = []
    for problem in error.errors():
        names = ", ".join(f"LAYERS_{str(part).upper()}" for part in problem["loc"])
        message = problem["msg"].removeprefix("Value error, ")
        lines.append(f"{names}: {message}" if names else message)
    return "\n".join(lines)
