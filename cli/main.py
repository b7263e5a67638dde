"""Entry point of the `layers` command."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import grpc
from pydantic import ValidationError

from common.errors import unpack
from common.grpc_server import READINESS_SERVICE
from common.settings import ConfigError, Settings, describe_invalid, refusal
from common.tls import GrpcTls

SERVICES = ("content", "media", "billing", "webhooks", "gateway", "renderer")


def build_parser() -> argparse.ArgumentParser:
    from cli import admin

    parser = argparse.ArgumentParser(
        prog="layers",
        description="Partner content API: UGC-style influencer reaction videos.",
        epilog="Services read LAYERS_* environment variables (see README).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    dev = sub.add_parser("dev", help="run every part in one process on embedded defaults (SQLite, local blobs)")
    dev.add_argument("--data-dir", type=Path, help="where SQLite files and blobs live (default .layers-data)")
    dev.add_argument("--port", type=int, help="REST gateway port (default 8080, or LAYERS_HTTP_PORT)")

    serve = sub.add_parser("serve", help="run one service on its own, configured by environment variables")
    serve.add_argument("service", choices=SERVICES)

    health = sub.add_parser("health", help="exit 0 when a service is healthy")
    target = health.add_mutually_exclusive_group(required=True)
    target.add_argument("addr", nargs="?", help="host:port of a gRPC service that must report SERVING")
    target.add_argument("--heartbeat", type=Path, help="a file the renderer touches while it is connected")
    health.add_argument("--max-age", type=float, default=60.0, help="seconds a heartbeat may be old (default 60)")
    health.add_argument(
        "--service",
        default="",
        help=f"the health service name to ask (gRPC only): empty for liveness (default), {READINESS_SERVICE} for "
        "readiness",
    )
    health.add_argument(
        "--plaintext",
        action="store_true",
        help="no TLS even with LAYERS_GRPC_TLS_* set (for a LAYERS_GRPC_HEALTH_PORT, which is plaintext)",
    )

    admin.add_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings()  # every command reads them: a bad LAYERS_* variable is named before anything starts
    except ValidationError as exc:
        print(refusal(describe_invalid(exc)), file=sys.stderr)
        return 2
    try:
        if args.command == "dev":
            return run_dev(args.data_dir, args.port)
        if args.command == "serve":
            return serve(args.service, settings)
    except ConfigError as exc:  # found by the start-up checks, or by a service starting
        print(refusal(str(exc)), file=sys.stderr)
        return 2
    if args.command == "health":
        if args.heartbeat:
            return heartbeat_check(args.heartbeat, args.max_age)
        return health_check(args.addr, args.service, None if args.plaintext else GrpcTls.from_settings(settings))
    return run_admin(args)


def run_dev(data_dir: Path | None, port: int | None) -> int:
    from cli import dev
    from common import tracing

    tracing.configure("dev")
    try:
        dev.run(data_dir, port)
    except RuntimeError as exc:  # e.g. a port already taken by another instance
        print(f"layers dev: {exc}", file=sys.stderr)
        return 1
    return 0


def serve(service: str, settings: Settings) -> int:
    import importlib

    from common import preflight, tracing

    preflight.check(service, settings)
    tracing.configure(service)
    module = {"gateway": "gateway.main", "renderer": "services.renderer.worker"}.get(
        service, f"services.{service}.server"
    )
    importlib.import_module(module).main()
    return 0


def health_check(addr: str, service: str = "", tls: GrpcTls | None = None) -> int:
    """With `tls` (LAYERS_GRPC_TLS_*), the probe shows this process's certificate like any other caller."""
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from common.clients import channel

    with channel(addr, tls=tls) as ch:
        try:
            request = health_pb2.HealthCheckRequest(service=service)
            response = health_pb2_grpc.HealthStub(ch).Check(request, timeout=3)
        except grpc.RpcError as exc:
            print(f"{addr}: {exc.code().name}", file=sys.stderr)  # type: ignore[attr-defined]
            return 1
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)
    print(f"{addr}{f' {service}' if service else ''}: {status}")
    return 0 if response.status == health_pb2.HealthCheckResponse.SERVING else 1


def heartbeat_check(path: Path, max_age: float) -> int:
    import time

    try:
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        print(f"{path}: missing", file=sys.stderr)
        return 1
    print(f"{path}: {age:.0f}s old")
    return 0 if age <= max_age else 1


def run_admin(args: argparse.Namespace) -> int:
    from common.clients import Clients

    clients = Clients.connect(Settings())
    try:
        result = args.run(clients, args)
    except grpc.RpcError as exc:
        error = unpack(exc)
        if error.code == grpc.StatusCode.UNAVAILABLE:
            print(f"error: a service is not reachable ({error.message}); is `layers dev` running?", file=sys.stderr)
        else:
            print(f"error: {error.reason}: {error.message}", file=sys.stderr)
        return 1
    finally:
        clients.close()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
