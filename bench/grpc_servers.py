"""Which gRPC server the services run: the sync server on its thread pool, or grpc.aio. Measured here.

Every service handler is blocking (SQLAlchemy, pika), so grpc.aio would have to run them on a thread pool
too (`migration_thread_pool`); a handler written for asyncio would mean an async database layer throughout.
This serves `grpc.health.v1` Check from a process of its own in each of the three ways and loads it from
this process with grpc.aio (several calls in flight), then prints each way's calls per second and the
server's CPU per call (utime+stime from /proc), and the ratio of that CPU to the sync server's.

    .venv/bin/python bench/grpc_servers.py
    .venv/bin/python bench/grpc_servers.py --duration 10 --in-flight 64 --json out.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

# bench/ is this script's folder, so on the path: the request-path bench's /proc and port helpers.
from request_path import free_ports, read_stat

KINDS = {
    "sync": "grpc.server on a thread pool (what the services run)",
    "aio+pool": "grpc.aio server, the same blocking handler on a thread pool",
    "aio": "grpc.aio server, a handler written for asyncio",
}
POOL_THREADS = 16  # as common.grpc_server gives each service


class BlockingCheck(health_pb2_grpc.HealthServicer):
    def Check(self, request: Any, context: Any) -> Any:
        return health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)


class AsyncCheck(health_pb2_grpc.HealthServicer):
    async def Check(self, request: Any, context: Any) -> Any:  # type: ignore[override]
        return health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)


def serve(kind: str, port: int) -> None:
    """Run one server until killed; prints "ready" once it listens."""
    address = f"127.0.0.1:{port}"
    if kind == "sync":
        server = grpc.server(futures.ThreadPoolExecutor(POOL_THREADS))
        health_pb2_grpc.add_HealthServicer_to_server(BlockingCheck(), server)
        server.add_insecure_port(address)
        server.start()
        print("ready", flush=True)
        server.wait_for_termination()
        return

    async def run() -> None:
        pool = futures.ThreadPoolExecutor(POOL_THREADS) if kind == "aio+pool" else None
        server = grpc.aio.server(migration_thread_pool=pool)
        health_pb2_grpc.add_HealthServicer_to_server(BlockingCheck() if pool else AsyncCheck(), server)
        server.add_insecure_port(address)
        await server.start()
        print("ready", flush=True)
        await server.wait_for_termination()

    asyncio.run(run())


def cpu_seconds(pid: int) -> float:
    stat = read_stat(pid)
    if stat is None:
        raise SystemExit(f"the server process {pid} is gone")
    return stat.cpu_seconds


async def load(port: int, pid: int, in_flight: int, warmup: float, duration: float) -> dict[str, float]:
    """Calls for `duration` seconds after `warmup`; calls per second and the server's CPU ms per call."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        request = health_pb2.HealthCheckRequest()

        async def calls(until: float) -> int:
            done = 0
            while time.monotonic() < until:
                await stub.Check(request, timeout=10)
                done += 1
            return done

        until = time.monotonic() + warmup
        await asyncio.gather(*(calls(until) for _ in range(in_flight)))
        cpu_before, began = cpu_seconds(pid), time.monotonic()
        counts = await asyncio.gather(*(calls(began + duration) for _ in range(in_flight)))
        seconds, cpu = time.monotonic() - began, cpu_seconds(pid) - cpu_before
    total = sum(counts)
    return {"calls_per_second": total / seconds, "server_cpu_ms_per_call": cpu * 1000 / total, "calls": total}


def measure(kind: str, in_flight: int, warmup: float, duration: float) -> dict[str, float]:
    (port,) = free_ports(1)
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", kind, "--port", str(port)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        if server.stdout.readline().strip() != "ready":
            raise SystemExit(f"the {kind} server did not start (exit status {server.poll()})")
        return asyncio.run(load(port, server.pid, in_flight, warmup, duration))
    finally:
        server.kill()
        server.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds measured per server (default 5)")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds of warm-up before each (default 1)")
    parser.add_argument("--in-flight", type=int, default=32, help="calls in flight (default 32)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the figures to FILE as JSON")
    parser.add_argument("--serve", choices=sorted(KINDS), help=argparse.SUPPRESS)  # the server process
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve, args.port)
        return 0
    if args.duration <= 0 or args.warmup < 0 or args.in_flight < 1:
        parser.error("--duration must be positive, --warmup not negative and --in-flight at least 1")
    results = {kind: measure(kind, args.in_flight, args.warmup, args.duration) for kind in KINDS}
    baseline = results["sync"]["server_cpu_ms_per_call"]
    print(f"{'server':<10} {'calls/s':>8} {'server CPU ms/call':>19} {'CPU vs sync':>12}  what")
    for kind, figures in results.items():
        figures["cpu_vs_sync"] = figures["server_cpu_ms_per_call"] / baseline
        print(
            f"{kind:<10} {figures['calls_per_second']:>8.0f} {figures['server_cpu_ms_per_call']:>19.3f} "
            f"{figures['cpu_vs_sync']:>11.2f}x  {KINDS[kind]}"
        )
    print(f"{args.in_flight} calls in flight from one grpc.aio client process on the same cores, not counted.")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
