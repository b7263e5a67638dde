"""Benchmark of the request path: the production shape on this machine, measured in one run.

It creates one fresh PostgreSQL database per service, starts content, media, billing and the gateway as
separate `layers serve …` processes (RabbitMQ with a queue of its own that nothing consumes, Redis, rate
limits and the per-key job cap lifted, no renderer), seeds a tenant with `layers admin demo`, and measures:

- REST with wrk: POST /v1/projects/:projectId/content/ugc-remix (a fresh Idempotency-Key per request),
  GET /v1/jobs/:id and GET /v1/whoami, against the ceiling of a trivial FastAPI app served by uvicorn with
  the same number of worker processes;
- gRPC with bench/ghz_runner.py (the configs in bench/ghz/): PartnerService CreateUgcRemix and GetJob,
  against the ceiling of grpc.health.v1.Health/Check on the content server;
- the CPU each request costs: utime+stime of content, media, billing and the gateway, worker processes
  included, over each measured window (and, apart, of the PostgreSQL backends serving the bench databases).

It prints one table and, with --json, writes the figures. Everything it made (databases, queues, the Redis
database, processes, temporary files) is removed at the end, also after a failure or Ctrl-C.

    .venv/bin/python bench/request_path.py
    .venv/bin/python bench/request_path.py --duration 20 --http-workers 2 --grpc-workers 2 --json out.json
    .venv/bin/python bench/request_path.py --flat-jobs 10,10000      # is ugc-remix flat in running jobs?
    .venv/bin/python bench/request_path.py --only rest --profile prof/   # where each service spends its CPU
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime as dt
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "bench"
GHZ_DIR = BENCH / "ghz"
WRK_SCRIPT = BENCH / "wrk" / "request_path.lua"
# Run as a script from anywhere: the repository root holds `services`, `common` and `cli`.
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(BENCH))

import ghz_runner  # noqa: E402  (bench/ is on the path only now)

SERVICES = ("billing", "media", "content", "gateway")  # start order; stopped in reverse
LIFTED = "1000000000"
UGC_REMIX_PATH = "/v1/projects/{project_id}/content/ugc-remix"
CLK_TCK = os.sysconf("SC_CLK_TCK")
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
DEFAULT_REDIS = "127.0.0.1:6379"
PHASES = ("rest", "grpc", "flat")
PROJECT_FRAME = re.compile(r"[(/](gateway|services|common|layers)/")


LOG_PREFIX = "[request-path]"  # bench/soak.py, which reuses this set-up, says its own name


def log(message: str) -> None:
    print(f"{LOG_PREFIX} {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------------------
# CPU accounting from /proc
# ---------------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ProcStat:
    pid: int
    ppid: int
    cpu_seconds: float  # utime + stime of the process itself
    children_seconds: float  # cutime + cstime: children it has waited for
    start_ticks: int  # field 22, to tell a reused pid apart


def parse_stat(text: str) -> ProcStat:
    """One /proc/<pid>/stat line. The command name may hold spaces and parentheses: split after the last ')'."""
    pid = int(text[: text.index(" ")])
    fields = text[text.rindex(")") + 2 :].split()
    # fields[0] is field 3 (state): ppid is field 4, utime..cstime fields 14-17, starttime field 22.
    utime, stime, cutime, cstime = (int(f) for f in fields[11:15])
    return ProcStat(
        pid=pid,
        ppid=int(fields[1]),
        cpu_seconds=(utime + stime) / CLK_TCK,
        children_seconds=(cutime + cstime) / CLK_TCK,
        start_ticks=int(fields[19]),
    )


def read_stat(pid: int) -> ProcStat | None:
    try:
        return parse_stat(Path(f"/proc/{pid}/stat").read_text())
    except (OSError, ValueError, IndexError):
        return None  # gone meanwhile


def process_table() -> dict[int, ProcStat]:
    table = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = read_stat(int(entry))
            if stat is not None:
                table[stat.pid] = stat
    return table


def descendants(root: int, table: Mapping[int, ProcStat]) -> list[int]:
    """root and every process below it."""
    children: dict[int, list[int]] = {}
    for stat in table.values():
        children.setdefault(stat.ppid, []).append(stat.pid)
    found, stack = [], [root]
    while stack:
        pid = stack.pop()
        if pid in table:
            found.append(pid)
            stack.extend(children.get(pid, ()))
    return found


def tree_cpu_seconds(root: int, table: Mapping[int, ProcStat]) -> float:
    """CPU of a process tree: each live process's own time plus what its reaped children used."""
    return sum(table[p].cpu_seconds + table[p].children_seconds for p in descendants(root, table))


class PostgresBackends:
    """The PostgreSQL server processes serving the bench databases (found through pg_stat_activity)."""

    def __init__(self, admin_url: str, databases: Sequence[str]) -> None:
        import psycopg

        self._conn = psycopg.connect(libpq_url(admin_url), autocommit=True)
        self._databases = list(databases)
        # Our own backend tells whether the server's processes are in this machine's /proc at all.
        row = self._conn.execute("SELECT pg_backend_pid()").fetchone()
        self.visible = row is not None and read_stat(int(row[0])) is not None

    def cpu(self) -> dict[int, float]:
        """CPU seconds of each backend connected to the bench databases now."""
        if not self.visible:
            return {}
        rows = self._conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = ANY(%s)", (self._databases,)
        ).fetchall()
        result = {}
        for (pid,) in rows:
            stat = read_stat(int(pid))
            if stat is not None:  # else it ended between the query and the read
                result[stat.pid] = stat.cpu_seconds
        return result

    def close(self) -> None:
        self._conn.close()


@dataclasses.dataclass
class CpuSample:
    services: dict[str, float]
    postgres: dict[int, float]


class CpuMeter:
    """Samples the CPU time of our process trees (by name) and of the PostgreSQL backends."""

    def __init__(self, postgres: PostgresBackends | None) -> None:
        self.roots: dict[str, int] = {}
        self.postgres = postgres
        self.seen: dict[int, int] = {}  # pid -> start ticks of every process of ours seen, for clean-up

    def sample(self) -> CpuSample:
        table = process_table()
        services = {}
        for name, root in self.roots.items():
            services[name] = tree_cpu_seconds(root, table)
            for pid in descendants(root, table):
                self.seen[pid] = table[pid].start_ticks
        return CpuSample(services, self.postgres.cpu() if self.postgres else {})

    @staticmethod
    def delta(before: CpuSample, after: CpuSample) -> tuple[dict[str, float], float | None]:
        services = {name: after.services[name] - before.services.get(name, 0.0) for name in after.services}
        if not after.postgres and not before.postgres:
            return services, None
        # A backend that started during the window counts whole; one that ended is lost (rare: pools persist).
        postgres = sum(cpu - before.postgres.get(pid, 0.0) for pid, cpu in after.postgres.items())
        return services, postgres


class Profiler:
    """py-spy sampling every service process (workers included) during a measured window.

    Each window leaves one collapsed-stack file per service (`<row>.<service>.txt`, flamegraph.pl's input)
    in the folder, and the log gets each service's heaviest functions by their own samples."""

    def __init__(self, py_spy: str, folder: Path) -> None:
        self.py_spy = py_spy
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    @staticmethod
    def find(folder: Path) -> Profiler:
        found = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
        if found is None:
            raise SystemExit("--profile needs py-spy: .venv/bin/pip install py-spy")
        return Profiler(found, folder)

    def start(
        self, row: str, roots: Mapping[str, int], seconds: float
    ) -> list[tuple[str, Path, subprocess.Popen[bytes]]]:
        slug = re.sub(r"[^a-z0-9]+", "-", row.lower()).strip("-")[:60]
        running = []
        for name, pid in roots.items():
            out = self.folder / f"{slug}.{name}.txt"
            command = [self.py_spy, "record", "--pid", str(pid), "--subprocesses", "--nonblocking", "--function"]
            # --gil: only the thread holding the GIL is sampled, so a share is a share of CPU, not of waiting.
            command += ["--gil", "--format", "raw"]
            command += ["--rate", "250", "--duration", str(max(1, int(seconds))), "--output", str(out)]
            process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            running.append((name, out, process))
        return running

    def finish(self, running: Sequence[tuple[str, Path, subprocess.Popen[bytes]]], top: int = 12) -> None:
        for name, out, process in running:
            _, err = process.communicate(timeout=120)
            if process.returncode != 0 or not out.exists():
                log(f"profile of {name}: py-spy failed: {err.decode(errors='replace').strip()[-300:]}")
                continue
            own: dict[str, int] = {}
            ours: dict[str, int] = {}  # the project's own functions, with what they call
            total = 0
            for line in out.read_text(errors="replace").splitlines():
                stack, _, count = line.rpartition(" ")
                if not count.isdigit():
                    continue
                frames = stack.split(";")
                own[frames[-1]] = own.get(frames[-1], 0) + int(count)
                for frame in set(frames):
                    if PROJECT_FRAME.search(frame) and "site-packages" not in frame:
                        ours[frame] = ours.get(frame, 0) + int(count)
                total += int(count)
            if not total:
                log(f"profile of {name}: no samples")
                continue
            lines = [f"profile of {name} ({total} samples, {out.name}); own time:"]
            lines += [f"  {100 * n / total:5.1f}%  {f}" for f, n in sorted(own.items(), key=lambda i: -i[1])[:top]]
            lines.append("  the project's functions, with what they call:")
            lines += [f"  {100 * n / total:5.1f}%  {f}" for f, n in sorted(ours.items(), key=lambda i: -i[1])[:top]]
            log("\n".join(lines))


# ---------------------------------------------------------------------------------------------------------
# Small clients: PostgreSQL, RabbitMQ, Redis
# ---------------------------------------------------------------------------------------------------------


def libpq_url(sqlalchemy_url: str) -> str:
    return re.sub(r"^postgresql\+\w+://", "postgresql://", sqlalchemy_url)


def database_url(admin_url: str, name: str) -> str:
    base, _, _ = admin_url.rpartition("/")
    return f"{base}/{name}"


def create_databases(admin_url: str, names: Sequence[str]) -> None:
    import psycopg

    with psycopg.connect(libpq_url(admin_url), autocommit=True) as conn:
        for name in names:
            conn.execute(f'CREATE DATABASE "{name}"')


def drop_databases(admin_url: str, names: Sequence[str]) -> None:
    import psycopg

    with psycopg.connect(libpq_url(admin_url), autocommit=True) as conn:
        for name in names:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def postgres_version(admin_url: str) -> str:
    import psycopg

    with psycopg.connect(libpq_url(admin_url), autocommit=True) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]).split()[0] if row else "?"


def delete_queues(
    amqp_url: str, queue: str, events_exchange: str | None = None, events_queue: str | None = None
) -> None:
    """The render queue (with its retry and dead queues) and, when named, the events exchange and queue
    (with its dead queue)."""
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        channel = connection.channel()
        events = [events_queue, f"{events_queue}.dead"] if events_queue else []
        for name in (queue, f"{queue}.retry", f"{queue}.dead", *events):
            channel.queue_delete(queue=name)
        if events_exchange:
            channel.exchange_delete(exchange=events_exchange)
    finally:
        connection.close()


def queue_depth(amqp_url: str, queue: str) -> int | None:
    import pika

    try:
        connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    except Exception:
        return None
    try:
        return int(connection.channel().queue_declare(queue=queue, passive=True).method.message_count)
    except Exception:
        return None
    finally:
        with contextlib.suppress(Exception):
            connection.close()


def redis_call(address: str, *commands: Sequence[str], timeout: float = 3.0) -> list[Any]:
    """Send commands (each a list of words) over one connection; return their replies (RESP2)."""
    host, _, port = address.rpartition(":")
    payload = b""
    for words in commands:
        payload += f"*{len(words)}\r\n".encode()
        for word in words:
            data = word.encode()
            payload += b"$%d\r\n%s\r\n" % (len(data), data)
    with socket.create_connection((host, int(port)), timeout=timeout) as sock, sock.makefile("rb") as reader:
        sock.sendall(payload)
        return [_redis_reply(reader) for _ in commands]


def _redis_reply(reader: Any) -> Any:
    line = reader.readline().rstrip(b"\r\n")
    kind, rest = line[:1], line[1:]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        raise RuntimeError(f"redis: {rest.decode()}")
    if kind == b":":
        return int(rest)
    if kind == b"$":
        size = int(rest)
        return None if size < 0 else reader.read(size + 2)[:-2].decode()
    if kind == b"*":
        return [_redis_reply(reader) for _ in range(int(rest))]
    raise RuntimeError(f"redis: unexpected reply {line!r}")


def pick_empty_redis_db(address: str) -> int | None:
    """The highest-numbered empty Redis database (so the run can flush it afterwards), or None."""
    try:
        count = int(redis_call(address, ["CONFIG", "GET", "databases"])[0][1])
    except Exception:
        count = 16
    for db in range(count - 1, 0, -1):
        try:
            _, size = redis_call(address, ["SELECT", str(db)], ["DBSIZE"])
        except (OSError, RuntimeError):
            return None
        if size == 0:
            return db
    return None


# ---------------------------------------------------------------------------------------------------------
# The stack: `layers serve …` processes
# ---------------------------------------------------------------------------------------------------------


def free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for sock in sockets:
            sock.close()


def layers_command() -> list[str]:
    script = Path(sys.executable).parent / "layers"
    return [str(script)] if script.exists() else [sys.executable, "-m", "cli.main"]


@dataclasses.dataclass
class Service:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class Stack:
    """The four services as separate processes, configured through LAYERS_* environment variables."""

    def __init__(self, env: dict[str, str], workdir: Path, meter: CpuMeter) -> None:
        self.env = env
        self.workdir = workdir
        self.meter = meter
        self.services: dict[str, Service] = {}

    def start(self, name: str, command: Sequence[str] | None = None) -> Service:
        log_path = self.workdir / f"{name}.log"
        with log_path.open("wb") as out:
            process = subprocess.Popen(
                list(command or [*layers_command(), "serve", name]),
                cwd=REPO,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches only this script, which stops them in order
            )
        service = Service(name, process, log_path)
        self.services[name] = service
        self.meter.roots[name] = process.pid
        return service

    def fail(self, service: Service, why: str) -> RuntimeError:
        return RuntimeError(f"{service.name} {why}; last lines of {service.log_path.name}:\n{service.log_tail()}")

    def wait_grpc(self, service: Service, address: str, timeout: float = 90.0) -> None:
        import grpc
        from grpc_health.v1 import health_pb2, health_pb2_grpc

        deadline = time.monotonic() + timeout
        with grpc.insecure_channel(address) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            while True:
                if service.process.poll() is not None:
                    raise self.fail(service, f"exited with status {service.process.returncode}")
                try:
                    reply = stub.Check(health_pb2.HealthCheckRequest(), timeout=1.0)
                    if reply.status == health_pb2.HealthCheckResponse.SERVING:
                        return
                except grpc.RpcError:
                    pass
                if time.monotonic() > deadline:
                    raise self.fail(service, f"did not report SERVING on {address} within {timeout:g} s")
                time.sleep(0.2)

    def wait_http(self, service: Service, url: str, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if service.process.poll() is not None:
                raise self.fail(service, f"exited with status {service.process.returncode}")
            try:
                with urllib.request.urlopen(url, timeout=1.0) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise self.fail(service, f"did not answer {url} within {timeout:g} s")
            time.sleep(0.2)

    def stop(self, name: str, grace: float = 20.0) -> None:
        service = self.services.pop(name, None)
        self.meter.roots.pop(name, None)
        if service is None or service.process.poll() is not None:
            return
        service.process.send_signal(signal.SIGTERM)
        try:
            service.process.wait(grace)
        except subprocess.TimeoutExpired:
            log(f"{name} did not stop within {grace:g} s: killing it")
            service.process.kill()
            service.process.wait(5)

    def stop_all(self) -> None:
        for name in reversed(list(self.services)):
            try:
                self.stop(name)
            except Exception as exc:  # keep stopping the others
                log(f"could not stop {name}: {exc}")
        # Worker processes whose supervisor died without stopping them: only those we saw, same start time.
        for pid, start in self.meter.seen.items():
            stat = read_stat(pid)
            if stat is not None and stat.start_ticks == start:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

    def admin(self, *args: str) -> dict[str, Any]:
        """`layers admin …` against the stack; its one JSON object."""
        result = subprocess.run(
            [*layers_command(), "admin", *args], cwd=REPO, env=self.env, capture_output=True, text=True, timeout=120
        )
        if result.returncode != 0:
            raise RuntimeError(f"layers admin {' '.join(args)} failed: {result.stderr.strip() or result.stdout}")
        output: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
        return output


# ---------------------------------------------------------------------------------------------------------
# Load generators
# ---------------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class LoadResult:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    detail: dict[str, Any]
    error_sample: str | None = None

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0


def ensure_wrk(path: str | None) -> str:
    """wrk's path; installs Debian's wrk package with apt-get when it is missing and this runs as root."""
    found = path or shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        log("wrk is missing: installing Debian's package `wrk` with apt-get")
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        if subprocess.run(["apt-get", "install", "-y", "wrk"], check=False, **quiet).returncode != 0:  # type: ignore[call-overload]
            subprocess.run(["apt-get", "update"], check=False, **quiet)  # type: ignore[call-overload]
            subprocess.run(["apt-get", "install", "-y", "wrk"], check=False, **quiet)  # type: ignore[call-overload]
        found = shutil.which("wrk")
        if found:
            return found
    raise SystemExit("wrk is not installed: `apt-get install wrk` (Debian's package), or pass --wrk PATH")


def wrk_version(wrk: str) -> str:
    result = subprocess.run([wrk, "-v"], capture_output=True, text=True, check=False)
    match = re.search(r"wrk (\S+)", result.stdout + result.stderr)
    return match.group(1) if match else "?"


def parse_wrk_output(stdout: str) -> dict[str, Any]:
    for line in stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            parsed: dict[str, Any] = json.loads(line.removeprefix("BENCH_JSON "))
            return parsed
    raise RuntimeError(f"wrk printed no BENCH_JSON line:\n{stdout[-2000:]}")


def wrk_result(figures: Mapping[str, Any]) -> LoadResult:
    sockets = figures["socket_errors"]
    socket_errors = sum(int(sockets[k]) for k in ("connect", "read", "write", "timeout"))
    latency = figures["latency_us"]
    return LoadResult(
        requests=int(figures["requests"]),
        seconds=int(figures["duration_us"]) / 1e6,
        p50_ms=latency["p50"] / 1000,
        p99_ms=latency["p99"] / 1000,
        errors=int(figures["non2xx"]) + socket_errors,
        detail=dict(figures),
        error_sample=figures.get("first_error"),
    )


@dataclasses.dataclass
class WrkPlan:
    wrk: str
    threads: int
    connections: int
    timeout_seconds: float = 10.0

    def run(
        self,
        url: str,
        seconds: float,
        api_key: str | None = None,
        method: str = "GET",
        body: str | None = None,
        fresh_key: str | None = None,
    ) -> LoadResult:
        command = [
            self.wrk,
            f"-t{self.threads}",
            f"-c{self.connections}",
            f"-d{max(1, round(seconds))}s",
            f"--timeout={self.timeout_seconds:g}s",
            "-s",
            str(WRK_SCRIPT),
        ]
        if api_key:
            command += ["-H", f"Authorization: Bearer {api_key}"]
        command.append(url)
        env = {**os.environ, "BENCH_METHOD": method, "BENCH_BODY": body or "", "BENCH_FRESH_KEY": fresh_key or ""}
        result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"wrk failed ({result.returncode}): {result.stderr.strip() or result.stdout}")
        return wrk_result(parse_wrk_output(result.stdout))


@dataclasses.dataclass
class GrpcPlan:
    host: str
    concurrency: int
    connections: int

    def prepare(self, config_name: str, variables: Mapping[str, str]) -> Callable[..., LoadResult]:
        """Load and resolve a ghz config now (outside any measured window); return a function that runs it."""
        config = ghz_runner.load_config(GHZ_DIR / config_name, variables)
        config.host = self.host
        config.concurrency = self.concurrency
        config.connections = self.connections
        method, message_class = ghz_runner.resolve_method(self.host, config.method_name)

        def run(seconds: float = 0.0, total: int | None = None) -> LoadResult:
            planned = dataclasses.replace(config, duration=0.0 if total else seconds, total=total or config.total)
            report = asyncio.run(ghz_runner.run_load(planned, method, message_class))
            return grpc_result(report)

        return run


def grpc_result(report: ghz_runner.Report) -> LoadResult:
    summary = report.to_json()
    return LoadResult(
        requests=report.count,
        seconds=report.total_seconds,
        p50_ms=report.percentile_ns(50) / 1e6,
        p99_ms=report.percentile_ns(99) / 1e6,
        errors=report.count - report.ok,
        detail={k: summary[k] for k in ("statusCodeDistribution", "errorDistribution", "clientCpuSeconds")},
        error_sample=next(iter(report.errors), None),
    )


# ---------------------------------------------------------------------------------------------------------
# Phases and the table
# ---------------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Row:
    call: str
    kind: str  # "http" | "grpc"
    ceiling: bool = False
    result: LoadResult | None = None
    cpu_seconds: dict[str, float] = dataclasses.field(default_factory=dict)
    postgres_seconds: float | None = None
    ratio: float | None = None
    note: str = ""

    @property
    def cpu_ms_per_request(self) -> float | None:
        if self.result is None or not self.result.requests:
            return None
        return sum(self.cpu_seconds.values()) * 1000 / self.result.requests

    @property
    def cores_busy(self) -> float | None:
        """Cores the counted processes kept busy over the window: well under the machine's means waiting."""
        if self.result is None or not self.result.seconds or not self.cpu_seconds:
            return None
        return sum(self.cpu_seconds.values()) / self.result.seconds

    @property
    def postgres_ms_per_request(self) -> float | None:
        if self.result is None or not self.result.requests or self.postgres_seconds is None:
            return None
        return self.postgres_seconds * 1000 / self.result.requests

    def to_json(self) -> dict[str, Any]:
        r = self.result
        return {
            "call": self.call,
            "kind": self.kind,
            "ceiling": self.ceiling,
            "note": self.note,
            "requests": r.requests if r else None,
            "seconds": r.seconds if r else None,
            "rps": r.rps if r else None,
            "p50_ms": r.p50_ms if r else None,
            "p99_ms": r.p99_ms if r else None,
            "errors": r.errors if r else None,
            "error_sample": r.error_sample if r else None,
            "ratio_to_ceiling": self.ratio,
            "cpu_ms_per_request": self.cpu_ms_per_request,
            "cpu_seconds_by_process": self.cpu_seconds,
            "cores_busy": self.cores_busy,
            "postgres_cpu_ms_per_request": self.postgres_ms_per_request,
            "detail": r.detail if r else None,
        }


def _fmt(value: float | None, spec: str, suffix: str = "") -> str:
    return "-" if value is None else f"{value:{spec}}{suffix}"


TABLE_HEADER = ["call", "req/s", "p50", "p99", "errors", "ratio to ceiling", "CPU ms/req", "PG ms/req", "busy cores"]


def format_table(rows: Sequence[Row]) -> str:
    """One line per call; a row's note (why it was not measured, the flat check's verdict) goes last."""
    columns = len(TABLE_HEADER)
    body = []
    for row in rows:
        r = row.result
        if r is None:
            body.append([row.call, *["-"] * (columns - 1), row.note])
            continue
        body.append(
            [
                row.call,
                f"{r.rps:.0f}",
                f"{r.p50_ms:.1f} ms",
                f"{r.p99_ms:.1f} ms",
                str(r.errors),
                "ceiling" if row.ceiling else _fmt(row.ratio, ".2f"),
                _fmt(row.cpu_ms_per_request, ".2f"),
                _fmt(row.postgres_ms_per_request, ".2f"),
                _fmt(row.cores_busy, ".2f"),
                row.note,
            ]
        )
    widths = [max(len(TABLE_HEADER[i]), *(len(b[i]) for b in body)) for i in range(columns)]
    lines = []
    for cells in [TABLE_HEADER, *body]:
        numbers = "  ".join(c.rjust(w) for c, w in zip(cells[1:columns], widths[1:], strict=True))
        text = f"{cells[0].ljust(widths[0])}  {numbers}"
        if len(cells) > columns and cells[columns]:
            text += "  " + cells[columns]
        lines.append(text.rstrip())
    lines.insert(1, "-" * (sum(widths) + 2 * (columns - 1)))
    return "\n".join(lines)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def git_revision() -> str:
    try:
        rev = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{rev} + uncommitted changes" if dirty else rev


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


# ---------------------------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="request_path.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "Needs PostgreSQL, RabbitMQ and Redis on this machine (see --pg-url, --amqp-url, --redis) and wrk\n"
            "(Debian's package `wrk`; installed with apt-get when missing and this runs as root).\n\n"
            "CPU ms/req: utime+stime of content, media, billing and the gateway, worker processes included,\n"
            "over the measured window, divided by the requests completed in it (the load generators are not\n"
            "counted, but they share the cores). PG ms/req: the same for the PostgreSQL backends serving the\n"
            "bench databases. Ratio to ceiling: req/s over the ceiling's req/s (REST rows against the trivial\n"
            "FastAPI app, gRPC rows against Health/Check)."
        ),
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured per call (default 10)")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up before each (default 2)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections / gRPC workers (default 32)")
    parser.add_argument("--wrk-threads", type=int, default=os.cpu_count() or 2, help="wrk threads (default: cores)")
    parser.add_argument("--http-workers", type=int, default=2, help="gateway processes, LAYERS_HTTP_WORKERS (2)")
    parser.add_argument(
        "--grpc-workers", type=int, default=1, help="processes per gRPC service, LAYERS_GRPC_WORKERS (1)"
    )
    parser.add_argument(
        "--grpc-connections",
        type=int,
        help="connections the gRPC runner opens (default: --grpc-workers, so each server process gets traffic)",
    )
    parser.add_argument(
        "--only",
        default=",".join(PHASES),
        help="comma-separated phases to run: rest, grpc, flat (default: rest,grpc; flat runs with --flat-jobs)",
    )
    parser.add_argument(
        "--flat-jobs",
        help="check that ugc-remix costs the same whatever the key already runs: e.g. 10,10000 seeds a fresh "
        "key with that many running jobs (through CreateUgcRemix) before measuring REST ugc-remix with it",
    )
    parser.add_argument(
        "--flat-duration", type=float, help="seconds measured per --flat-jobs level (default: --duration)"
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write every figure to FILE as JSON")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("LAYERS_TEST_PG_URL", DEFAULT_PG_URL),
        help="an existing PostgreSQL database to connect to; the bench databases are made beside it "
        f"(default LAYERS_TEST_PG_URL or {DEFAULT_PG_URL})",
    )
    parser.add_argument(
        "--amqp-url",
        default=os.environ.get("LAYERS_TEST_AMQP_URL", DEFAULT_AMQP_URL),
        help=f"RabbitMQ (default LAYERS_TEST_AMQP_URL or {DEFAULT_AMQP_URL.replace('%', '%%')})",
    )
    parser.add_argument(
        "--redis",
        default=DEFAULT_REDIS,
        help="Redis host:port; the run uses its highest-numbered empty database and flushes it at the end "
        f"(default {DEFAULT_REDIS})",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="sample every process with py-spy during each measured window; collapsed stacks go to DIR and "
        "each service's heaviest functions to the log (needs py-spy; it costs CPU, so figures drop)",
    )
    parser.add_argument("--wrk", help="path of wrk (default: from PATH)")
    parser.add_argument("--keep", type=Path, help="keep the services' logs and data in this folder")
    args = parser.parse_args(argv)
    phases = {p.strip() for p in args.only.split(",") if p.strip()}
    unknown = phases - set(PHASES)
    if unknown:
        parser.error(f"--only: unknown phase(s) {', '.join(sorted(unknown))}; choose from {', '.join(PHASES)}")
    if not args.flat_jobs:
        phases.discard("flat")
    args.phases = phases
    try:
        args.flat_levels = [int(n) for n in args.flat_jobs.split(",")] if args.flat_jobs else []
    except ValueError:
        parser.error("--flat-jobs takes comma-separated numbers, e.g. 10,10000")
    if any(n < 0 for n in args.flat_levels):
        parser.error("--flat-jobs: numbers must not be negative")
    for name in ("duration", "warmup"):
        if getattr(args, name) < (1 if name == "duration" else 0):
            parser.error(f"--{name} is too small")
    if args.grpc_connections is None:
        args.grpc_connections = max(1, args.grpc_workers)
    return args


@dataclasses.dataclass
class Tenant:
    organization_id: str
    project_id: str
    key_id: str
    api_key: str
    influencer_id: str
    job_id: str = ""

    def variables(self, key_id: str | None = None) -> dict[str, str]:
        return {
            "ORGANIZATION_ID": self.organization_id,
            "PROJECT_ID": self.project_id,
            "INFLUENCER_ID": self.influencer_id,
            "API_KEY_ID": key_id or self.key_id,
            "JOB_ID": self.job_id,
        }


class Bench:
    """One run: its databases, queue, Redis database and processes, the rows it measured."""

    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.workdir = workdir
        self.run_id = uuid.uuid4().hex[:10]
        self.databases = {name: f"layers_bench_{self.run_id}_{name}" for name in ("content", "media", "billing")}
        self.queue = f"layers.render.bench.{self.run_id}"
        # Content publishes job events too; a run's own exchange and queue keep them out of anyone else's.
        self.events_exchange = f"layers.events.bench.{self.run_id}"
        self.events_queue = f"layers.webhooks.bench.{self.run_id}"
        self.redis_db: int | None = None
        self.postgres: PostgresBackends | None = None
        self.meter = CpuMeter(None)
        self.stack: Stack | None = None
        self.created_databases = False
        self.rows: list[Row] = []
        self.flat: list[dict[str, Any]] = []
        self.info: dict[str, Any] = {}
        self.tenant: Tenant | None = None
        self.profiler = Profiler.find(args.profile) if args.profile else None

    # -- setting up and tearing down -------------------------------------------------------------------

    def environment(self, ports: dict[str, int]) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LAYERS_")}
        env.update(
            {
                "LAYERS_DATA_DIR": str(self.workdir / "data"),
                "LAYERS_BLOB_DIR": str(self.workdir / "blobs"),
                "LAYERS_CONTENT_ADDR": f"127.0.0.1:{ports['content']}",
                "LAYERS_MEDIA_ADDR": f"127.0.0.1:{ports['media']}",
                "LAYERS_BILLING_ADDR": f"127.0.0.1:{ports['billing']}",
                "LAYERS_HTTP_HOST": "127.0.0.1",
                "LAYERS_HTTP_PORT": str(ports["http"]),
                "LAYERS_AMQP_URL": self.args.amqp_url,
                "LAYERS_RENDER_QUEUE": self.queue,
                "LAYERS_EVENTS_EXCHANGE": self.events_exchange,
                "LAYERS_WEBHOOKS_QUEUE": self.events_queue,
                "LAYERS_SIGNING_SECRET": f"bench-{uuid.uuid4().hex}",
                "LAYERS_RATE_LIMIT_READS_PER_MINUTE": LIFTED,
                "LAYERS_RATE_LIMIT_WRITES_PER_MINUTE": LIFTED,
                "LAYERS_RATE_LIMIT_GENERATIONS_PER_MINUTE": LIFTED,
                "LAYERS_MAX_CONCURRENT_JOBS_PER_KEY": LIFTED,
                "LAYERS_HTTP_WORKERS": str(self.args.http_workers),
                "LAYERS_GRPC_WORKERS": str(self.args.grpc_workers),
                "PYTHONUNBUFFERED": "1",
            }
        )
        for name, db in self.databases.items():
            env[f"LAYERS_{name.upper()}_DB_URL"] = database_url(self.args.pg_url, db)
        if self.redis_db is not None:
            env["LAYERS_REDIS_URL"] = f"redis://{self.args.redis}/{self.redis_db}"
        return env

    def set_up(self) -> None:
        log(f"creating databases {', '.join(self.databases.values())}")
        create_databases(self.args.pg_url, list(self.databases.values()))
        self.created_databases = True
        self.postgres = PostgresBackends(self.args.pg_url, list(self.databases.values()))
        self.meter.postgres = self.postgres
        self.redis_db = pick_empty_redis_db(self.args.redis)
        if self.redis_db is None:
            log(f"Redis on {self.args.redis} has no empty database (or is not reachable): LAYERS_REDIS_URL unset")
        (self.workdir / "data").mkdir(parents=True, exist_ok=True)
        ports = dict(zip(("content", "media", "billing", "http"), free_ports(4), strict=True))
        self.stack = Stack(self.environment(ports), self.workdir, self.meter)
        env = self.stack.env
        for name in SERVICES:
            log(f"starting `layers serve {name}`")
            service = self.stack.start(name)
            if name == "gateway":
                self.stack.wait_http(service, f"http://127.0.0.1:{env['LAYERS_HTTP_PORT']}/healthz")
            else:
                self.stack.wait_grpc(service, env[f"LAYERS_{name.upper()}_ADDR"])

    def tear_down(self) -> None:
        steps: list[tuple[str, Callable[[], None]]] = []
        if self.stack is not None:
            steps.append(("stop the services", self.stack.stop_all))
        if self.postgres is not None:
            steps.append(("close the PostgreSQL connection", self.postgres.close))
        if self.created_databases:
            steps.append(
                ("drop the databases", lambda: drop_databases(self.args.pg_url, list(self.databases.values())))
            )
        steps.append(
            (
                "delete the queues",
                lambda: delete_queues(self.args.amqp_url, self.queue, self.events_exchange, self.events_queue),
            )
        )
        if self.redis_db is not None:
            steps.append(("flush the Redis database", self.flush_redis))
        for what, step in steps:
            try:
                step()
            except KeyboardInterrupt:
                log(f"interrupted while trying to {what}; going on with the clean-up")
            except Exception as exc:
                log(f"could not {what}: {exc}")

    def flush_redis(self) -> None:
        redis_call(self.args.redis, ["SELECT", str(self.redis_db)], ["FLUSHDB"])

    @property
    def base_url(self) -> str:
        assert self.stack is not None
        return f"http://127.0.0.1:{self.stack.env['LAYERS_HTTP_PORT']}"

    def seed(self) -> Tenant:
        import httpx

        from services.media import seed_clips

        assert self.stack is not None
        clips = self.workdir / "clips"
        clips.mkdir(exist_ok=True)
        log("seeding a reaction template and a music track, then `layers admin demo`")
        reaction = seed_clips.make_reaction_clip(clips / "reaction.mp4", seconds=2.0)
        track = seed_clips.make_music_track(clips / "track.m4a", seconds=4.0)
        self.stack.admin("reaction", "add", "--file", str(reaction), "--name", "bench reaction")
        self.stack.admin("music", "add", "--file", str(track), "--title", "bench tune")
        demo = self.stack.admin("demo")
        self.info["demo"] = {k: v for k, v in demo.items() if k != "apiKey"}
        tenant = Tenant(
            organization_id=demo["organizationId"],
            project_id=demo["projectId"],
            key_id=demo["keyId"],
            api_key=demo["apiKey"],
            influencer_id=demo["influencerId"],
        )
        credits = self.credits_needed()
        self.stack.admin("credits", "grant", "--org", tenant.organization_id, "--credits", str(credits))
        self.info["credits_granted"] = credits
        response = httpx.post(
            self.base_url + UGC_REMIX_PATH.format(project_id=tenant.project_id),
            json={"influencerId": tenant.influencer_id},
            headers={"Authorization": f"Bearer {tenant.api_key}", "Idempotency-Key": f"bench-seed-{self.run_id}"},
            timeout=30,
        )
        if response.status_code != 202:
            raise RuntimeError(f"the first ugc-remix answered {response.status_code}: {response.text[:500]}")
        tenant.job_id = response.json()["jobId"]
        return tenant

    def credits_needed(self) -> int:
        """Enough for every ugc-remix the run can make: 20,000/s is far above what two cores serve."""
        from common.settings import Settings

        # The services run on defaults (no LAYERS_* of the caller's reaches them): the default price.
        field = Settings.model_fields.get("ugc_remix_credits")
        per_request = int(field.default) if field is not None and isinstance(field.default, int) else 120
        seconds = 2 * (self.args.duration + self.args.warmup)  # REST and gRPC
        flat_seconds = self.args.flat_duration or self.args.duration
        seconds += len(self.args.flat_levels) * (flat_seconds + self.args.warmup)
        return per_request * (int(seconds * 20_000) + sum(self.args.flat_levels) + 1000)

    # -- measuring --------------------------------------------------------------------------------------

    def measure(self, row: Row, run: Callable[[float], LoadResult], seconds: float | None = None) -> Row:
        seconds = seconds or self.args.duration
        try:
            if self.args.warmup > 0:
                log(f"{row.call}: warm-up {self.args.warmup:g} s")
                run(self.args.warmup)
            log(f"{row.call}: measuring {seconds:g} s")
            profiling = self.profiler.start(row.call, self.meter.roots, seconds) if self.profiler else []
            before = self.meter.sample()
            row.result = run(seconds)
            after = self.meter.sample()
            if self.profiler:
                self.profiler.finish(profiling)
            row.cpu_seconds, postgres_seconds = CpuMeter.delta(before, after)
            row.postgres_seconds = None if row.ceiling else postgres_seconds  # a ceiling touches no database
        except (ghz_runner.ConfigError, RuntimeError) as exc:
            row.note = f"not measured: {exc}"
            log(f"{row.call}: {row.note}")
        self.rows.append(row)
        return row

    def ceiling_http(self, wrk: WrkPlan) -> Row:
        assert self.stack is not None
        port = free_ports(1)[0]
        workers = self.args.http_workers
        command = [
            sys.executable,
            *("-m", "uvicorn", "--app-dir", str(BENCH), "ceiling_app:app"),
            *("--host", "127.0.0.1", "--port", str(port), "--workers", str(workers), "--no-access-log"),
        ]
        service = self.stack.start("ceiling", command)
        try:
            self.stack.wait_http(service, f"http://127.0.0.1:{port}/v1/ping", timeout=30)
            # Only the ceiling's processes count for its row.
            roots, self.meter.roots = self.meter.roots, {"ceiling": service.process.pid}
            try:
                row = Row(f"ceiling: FastAPI GET /v1/ping ({workers} uvicorn workers)", "http", ceiling=True)
                return self.measure(row, lambda s: wrk.run(f"http://127.0.0.1:{port}/v1/ping", s))
            finally:
                self.meter.roots = roots
        finally:
            self.stack.stop("ceiling")

    def rest(self, wrk: WrkPlan, tenant: Tenant) -> None:
        ugc_url = self.base_url + UGC_REMIX_PATH.format(project_id=tenant.project_id)
        body = json.dumps({"influencerId": tenant.influencer_id})
        counter = iter(range(1_000_000))

        def ugc_remix(seconds: float) -> LoadResult:
            fresh = f"bench-{self.run_id}-{next(counter)}"
            return wrk.run(ugc_url, seconds, tenant.api_key, "POST", body, fresh_key=fresh)

        ceiling = self.ceiling_http(wrk)
        rows = [
            self.measure(Row("REST POST /v1/projects/:projectId/content/ugc-remix", "http"), ugc_remix),
            self.measure(
                Row("REST GET /v1/jobs/:id", "http"),
                lambda s: wrk.run(f"{self.base_url}/v1/jobs/{tenant.job_id}", s, tenant.api_key),
            ),
            self.measure(
                Row("REST GET /v1/whoami", "http"), lambda s: wrk.run(f"{self.base_url}/v1/whoami", s, tenant.api_key)
            ),
        ]
        set_ratios(ceiling, rows)

    def grpc(self, plan: GrpcPlan, tenant: Tenant) -> None:
        variables = tenant.variables()
        ceiling = Row("ceiling: gRPC grpc.health.v1.Health/Check (content)", "grpc", ceiling=True)
        rows = [
            Row("gRPC PartnerService/CreateUgcRemix", "grpc"),
            Row("gRPC PartnerService/GetJob", "grpc"),
        ]
        configs = ["health_check.json", "create_ugc_remix.json", "get_job.json"]
        for row, config in zip([ceiling, *rows], configs, strict=True):
            try:
                run = plan.prepare(config, variables)
            except ghz_runner.ConfigError as exc:
                row.note = f"not measured: {exc}"
                log(f"{row.call}: {row.note}")
                self.rows.append(row)
                continue
            self.measure(row, duration_runner(run))
        set_ratios(ceiling, rows)

    def flat_check(self, wrk: WrkPlan, plan: GrpcPlan, tenant: Tenant) -> None:
        assert self.stack is not None
        seconds = self.args.flat_duration or self.args.duration
        ugc_url = self.base_url + UGC_REMIX_PATH.format(project_id=tenant.project_id)
        body = json.dumps({"influencerId": tenant.influencer_id})
        for level in sorted(self.args.flat_levels):
            key = self.stack.admin("key", "create", "--org", tenant.organization_id, "--scopes", "*")
            row = Row(f"REST ugc-remix, key already running {level} jobs", "http")
            seeded = 0
            if level:
                log(f"seeding {level} running jobs for a fresh key through CreateUgcRemix")
                try:
                    run = plan.prepare("create_ugc_remix.json", tenant.variables(key_id=key["keyId"]))
                    started = time.monotonic()
                    seeding = run(total=level)
                    seeded = seeding.requests - seeding.errors
                    log(f"seeded {seeded} jobs in {time.monotonic() - started:.1f} s ({seeding.errors} errors)")
                except (ghz_runner.ConfigError, RuntimeError) as exc:
                    row.note = f"not measured: could not seed jobs: {exc}"
                    self.rows.append(row)
                    continue
            counter = iter(range(1_000_000))

            def ugc_remix(
                s: float, api_key: str = key["apiKey"], level: int = level, counter: Iterator[int] = counter
            ) -> LoadResult:
                fresh = f"flat-{self.run_id}-{level}-{next(counter)}"
                return wrk.run(ugc_url, s, api_key, "POST", body, fresh_key=fresh)

            self.measure(row, ugc_remix, seconds)
            if row.result is not None:
                row.note = f"{seeded} seeded before the warm-up, +{row.result.requests} in the window"
            self.flat.append({"level": level, "seeded": seeded, "row": row})
        measured = [f for f in self.flat if f["row"].cpu_ms_per_request]
        if len(measured) >= 2:
            low, high = measured[0]["row"], measured[-1]["row"]
            ratio = high.cpu_ms_per_request / low.cpu_ms_per_request
            self.info["flat_cpu_ratio"] = ratio
            high.note += f"; CPU/req {ratio:.2f}x"
            if low.postgres_ms_per_request and high.postgres_ms_per_request:
                pg_ratio = high.postgres_ms_per_request / low.postgres_ms_per_request
                self.info["flat_postgres_ratio"] = pg_ratio
                high.note += f", PG/req {pg_ratio:.2f}x"
            high.note += f" those at {measured[0]['level']} jobs"

    def run(self) -> int:
        args = self.args
        wrk = WrkPlan(ensure_wrk(args.wrk), args.wrk_threads, args.connections)
        self.info.update(self.machine(wrk.wrk))
        print(self.header(), flush=True)
        self.set_up()
        tenant = self.tenant = self.seed()
        assert self.stack is not None
        plan = GrpcPlan(self.stack.env["LAYERS_CONTENT_ADDR"], args.connections, args.grpc_connections)
        if "rest" in args.phases:
            self.rest(wrk, tenant)
        if "grpc" in args.phases:
            self.grpc(plan, tenant)
        if "flat" in args.phases:
            self.flat_check(wrk, plan, tenant)
        self.info["render_queue_depth"] = queue_depth(args.amqp_url, self.queue)
        self.info["load_average_end"] = load_average()
        print()
        print(format_table(self.rows))
        print(self.footer())
        if args.json:
            args.json.write_text(json.dumps(self.to_json(), indent=2) + "\n")
            log(f"wrote {args.json}")
        return 0

    # -- describing ---------------------------------------------------------------------------------------

    def machine(self, wrk: str) -> dict[str, Any]:
        return {
            "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "cores": os.cpu_count(),
            "cpu": cpu_model(),
            "kernel": platform.release(),
            "python": platform.python_version(),
            "load_average": load_average(),
            "postgres": postgres_version(self.args.pg_url),
            "wrk": wrk_version(wrk),
            "git": git_revision(),
        }

    def header(self) -> str:
        a, m = self.args, self.info
        return "\n".join(
            [
                f"request-path benchmark, {m['date']}",
                f"machine : {m['cores']} cores, {m['cpu']}, Linux {m['kernel']}, load average {m['load_average']}",
                f"code    : git {m['git']}, Python {m['python']}",
                "stack   : layers serve content|media|billing|gateway, PostgreSQL "
                f"{m['postgres']} (one database each), RabbitMQ (queue nobody consumes), Redis, no renderer",
                f"settings: {a.http_workers} gateway process(es), {a.grpc_workers} process(es) per gRPC service; "
                "rate limits and the job cap lifted",
                f"load    : {a.connections} connections, {a.warmup:g} s warm-up + {a.duration:g} s measured per call; "
                f"wrk {m['wrk']} ({a.wrk_threads} threads); gRPC: bench/ghz_runner.py (grpc.aio, "
                f"{a.grpc_connections} connection(s))",
            ]
        )

    def footer(self) -> str:
        lines = [
            "",
            "CPU ms/req: utime+stime of content, media, billing and gateway (worker processes included) over the "
            "measured window / requests; ceilings: their own server's processes.",
            "PG ms/req: the same for the PostgreSQL backends of the bench databases"
            + (" (not visible from here)" if self.postgres and not self.postgres.visible else "")
            + ".",
            f"busy cores: that CPU / the window's length, of {os.cpu_count()}: well under it, the call waits rather "
            "than computes. The load generators are not counted but share the cores.",
            f"load average at the end: {self.info.get('load_average_end') or load_average()} (other work on the "
            "machine skews the figures)",
        ]
        for row in self.rows:
            if row.result and row.result.errors and row.result.error_sample:
                lines.append(f"first error of {row.call}: {row.result.error_sample[:300]}")
        if self.info.get("render_queue_depth") is not None:
            lines.append(f"render messages published (queue depth at the end): {self.info['render_queue_depth']}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        a = self.args
        return {
            "machine": {
                k: v
                for k, v in self.info.items()
                if k in ("date", "cores", "cpu", "kernel", "load_average", "load_average_end")
            },
            "versions": {k: self.info.get(k) for k in ("git", "python", "postgres", "wrk")},
            "settings": {
                "http_workers": a.http_workers,
                "grpc_workers": a.grpc_workers,
                "connections": a.connections,
                "grpc_connections": a.grpc_connections,
                "wrk_threads": a.wrk_threads,
                "duration_seconds": a.duration,
                "warmup_seconds": a.warmup,
                "redis_db": self.redis_db,
                "phases": sorted(a.phases),
            },
            "seed": self.info.get("demo"),
            "credits_granted": self.info.get("credits_granted"),
            "results": [row.to_json() for row in self.rows],
            "flat": {
                "levels": [{"level": f["level"], "seeded": f["seeded"], "call": f["row"].call} for f in self.flat],
                "cpu_ratio_high_to_low": self.info.get("flat_cpu_ratio"),
                "postgres_ratio_high_to_low": self.info.get("flat_postgres_ratio"),
            },
            "render_queue_depth": self.info.get("render_queue_depth"),
        }


def duration_runner(run: Callable[..., LoadResult]) -> Callable[[float], LoadResult]:
    return lambda seconds: run(seconds=seconds)


def set_ratios(ceiling: Row, rows: Sequence[Row]) -> None:
    if ceiling.result is None or not ceiling.result.rps:
        return
    for row in rows:
        if row.result is not None:
            row.ratio = row.result.rps / ceiling.result.rps


B = TypeVar("B", bound=Bench)


@contextlib.contextmanager
def workdir(keep: Path | None) -> Iterator[Path]:
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        yield keep
        return
    with tempfile.TemporaryDirectory(prefix="bench-request-path-") as tmp:
        yield Path(tmp)


def _interrupt(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_and_clean_up(args.keep, lambda folder: Bench(args, folder), Bench.run)


def run_and_clean_up(keep: Path | None, make: Callable[[Path], B], run: Callable[[B], int]) -> int:
    """Run a bench in its work folder; whatever happens (a failure, Ctrl-C, SIGTERM) tear it down."""
    signal.signal(signal.SIGTERM, _interrupt)
    with workdir(keep) as folder:
        bench = make(folder)
        try:
            return run(bench)
        except KeyboardInterrupt:
            log("interrupted: cleaning up")
            return 130
        except (RuntimeError, OSError) as exc:
            log(f"failed: {exc}")
            return 1
        except Exception:
            log("failed:\n" + traceback.format_exc())
            return 1
        finally:
            bench.tear_down()


if __name__ == "__main__":
    sys.exit(main())
