"""What a process checks before it starts: the databases, broker and Redis it is configured with answer,
and the fonts and ffmpeg it renders with are there. The first problem is a ConfigError naming the
variable to change, so a misconfigured process stops at once with one line instead of starting and then
failing every request or job. Each check is bounded by a few seconds.

Secret lengths and the shape of every value are checked earlier, by the Settings model itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from common.settings import ConfigError, Settings

CHECK_TIMEOUT_SECONDS = 3

# Each process's own database: (the variable that sets it, the URL it resolves to).
DATABASES: dict[str, Callable[[Settings], tuple[str, str]]] = {
    "content": lambda s: ("LAYERS_CONTENT_DB_URL", s.content_database),
    "media": lambda s: ("LAYERS_MEDIA_DB_URL", s.media_database),
    "billing": lambda s: ("LAYERS_BILLING_DB_URL", s.billing_database),
    "webhooks": lambda s: ("LAYERS_WEBHOOKS_DB_URL", s.webhooks_database),
}
# Processes that cannot run on their own without RabbitMQ (`layers dev` has its in-process queue).
NEEDS_BROKER = frozenset({"content", "webhooks", "renderer"})
# Processes that use Redis when it is configured (rate limits; the broadcasts of revoked keys, changed
# jobs and balances).
USES_REDIS = frozenset({"content", "billing", "gateway", "dev"})
# Processes that run ffmpeg and ffprobe (media probes uploads).
USES_FFMPEG = frozenset({"media", "renderer", "dev"})
DRAWS_HOOKS = frozenset({"renderer", "dev"})


def check(process: str, settings: Settings) -> None:
    """Raise ConfigError for the first thing `process` (a service name, or "dev") could not work with:
    what is on this machine first, then what must answer over the network."""
    if process in DRAWS_HOOKS:
        from services.renderer import fonts

        fonts.text_faces()
        fonts.emoji_face()  # warns here, once, when emoji will be monochrome
    if process in USES_FFMPEG:
        from common.ffmpeg import check_tools

        check_tools()
    if settings.grpc_tls_cert is not None and process != "dev":  # dev talks plain gRPC over loopback
        check_tls(settings)
    if process in NEEDS_BROKER and not settings.amqp_url:
        raise ConfigError("LAYERS_AMQP_URL", f"is required to run {process} on its own")
    if process == "webhooks" and not settings.webhook_secret_key:
        raise ConfigError("LAYERS_WEBHOOK_SECRET_KEY", "is required to run webhooks on its own")
    for name, database in DATABASES.items():
        if process in (name, "dev"):
            check_database(*database(settings))
    if settings.amqp_url and (process in NEEDS_BROKER or process == "dev"):
        check_broker(settings.amqp_url)
    if settings.redis_url and process in USES_REDIS:
        check_redis(settings.redis_url)


def check_tls(settings: Settings) -> None:
    """The LAYERS_GRPC_TLS_* files must be PEM a TLS stack takes: grpc would only fail later, as a bind
    error or as UNAVAILABLE on every call (which a client retries as if it were transient)."""
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        context.load_verify_locations(cafile=str(settings.grpc_tls_ca))
    except (ssl.SSLError, OSError, ValueError) as exc:
        raise ConfigError("LAYERS_GRPC_TLS_CA", f"is not a PEM CA certificate: {_first_line(exc)}") from None
    try:
        context.load_cert_chain(str(settings.grpc_tls_cert), str(settings.grpc_tls_key))
    except (ssl.SSLError, OSError, ValueError) as exc:
        raise ConfigError(
            "LAYERS_GRPC_TLS_CERT",
            f"and LAYERS_GRPC_TLS_KEY are not a matching PEM certificate and key: {_first_line(exc)}",
        ) from None


def check_database(variable: str, url: str) -> None:
    from sqlalchemy import create_engine, make_url, text
    from sqlalchemy.pool import NullPool

    from common.db import make_sqlite_folder

    try:
        parsed = make_url(url)
    except Exception:
        raise ConfigError(variable, "is not a database URL") from None
    where = parsed.render_as_string(hide_password=True)
    connect_args = {"connect_timeout": CHECK_TIMEOUT_SECONDS} if parsed.get_backend_name() == "postgresql" else {}
    try:
        make_sqlite_folder(url)
        engine = create_engine(parsed, poolclass=NullPool, connect_args=connect_args)
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # refused, unknown host, bad credentials, no such driver: all say why
        reason = _first_line(getattr(exc, "orig", None) or exc)
        raise ConfigError(variable, f"cannot connect to {where}: {reason}") from None


def check_broker(url: str) -> None:
    import pika
    import pika.exceptions

    from common.render_queue import connection_parameters

    try:
        params = connection_parameters(url)
    except Exception as exc:
        raise ConfigError("LAYERS_AMQP_URL", f"is not an AMQP URL ({_first_line(exc)})") from None
    params.socket_timeout = params.stack_timeout = CHECK_TIMEOUT_SECONDS
    where = f"RabbitMQ at {params.host}:{params.port}"
    pika_log = logging.getLogger("pika")
    level = pika_log.level
    pika_log.setLevel(logging.CRITICAL)  # pika tells a refused connection as a traceback; one line is ours
    try:
        pika.BlockingConnection(params).close()
    except (pika.exceptions.ProbableAuthenticationError, pika.exceptions.AuthenticationError):
        raise ConfigError("LAYERS_AMQP_URL", f"{where} refused the user name or password") from None
    except pika.exceptions.ProbableAccessDeniedError:
        raise ConfigError("LAYERS_AMQP_URL", f"{where} denies access to virtual host {params.virtual_host!r}") from None
    except (pika.exceptions.AMQPError, OSError) as exc:
        raise ConfigError("LAYERS_AMQP_URL", f"{where} is not reachable ({_broker_reason(exc)})") from None
    finally:
        pika_log.setLevel(level)


def check_redis(url: str) -> None:
    import redis

    try:
        client = redis.Redis.from_url(
            url, socket_connect_timeout=CHECK_TIMEOUT_SECONDS, socket_timeout=CHECK_TIMEOUT_SECONDS
        )
    except ValueError as exc:
        raise ConfigError("LAYERS_REDIS_URL", f"is not a Redis URL ({_first_line(exc)})") from None
    try:
        client.ping()
    except redis.RedisError as exc:
        raise ConfigError("LAYERS_REDIS_URL", f"Redis does not answer: {_first_line(exc)}") from None
    finally:
        client.close()


def _broker_reason(exc: BaseException) -> str:
    """pika nests the socket error that says why (refused, unknown host) inside its own exceptions."""
    while True:
        inner = exc.args[0] if exc.args else getattr(exc, "exception", None)
        if not isinstance(inner, BaseException):
            break
        exc = inner
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return _first_line(exc)


def _first_line(exc: object) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0].strip() if lines else type(exc).__name__
