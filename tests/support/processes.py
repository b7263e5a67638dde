"""Services run as real processes (`layers serve <service>`, `layers admin …`), configured by environment
variables only, as a deployment runs them: started, waited for until ready, killed, started again, stopped."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import httpx
from grpc_health.v1 import health_pb2, health_pb2_grpc

from common.clients import channel
from common.tls import GrpcTls

ROOT = Path(__file__).resolve().parents[2]
LAYERS = [str(Path(sys.executable).parent / "layers")]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_environment(**layers: str) -> dict[str, str]:
    """This process's environment without its LAYERS_* variables, plus the given ones."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAYERS_")}
    env.update(layers)
    return env


def grpc_serving(address: str, tls: GrpcTls | None = None) -> Callable[[], bool]:
    """Whether the gRPC server at `address` reports SERVING (asked with `tls`, as any caller would)."""

    def check() -> bool:
        with channel(address, tls=tls) as ch:
            try:
                reply = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=1)
            except grpc.RpcError:
                return False
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)

    return check


def http_healthy(base_url: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            return httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    return check


def file_exists(path: Path) -> Callable[[], bool]:
    return path.exists


def started_at_once() -> bool:
    """For a process nothing can ask (the renderer without a heartbeat file to watch)."""
    return True


class ServiceProcess:
    """`layers serve <service>` with the given environment, its output appended to `log`."""

    def __init__(self, service: str, env: dict[str, str], log: Path, ready: Callable[[], bool]) -> None:
        self.service = service
        self.env = env
        self.log = log
        self.ready = ready
        self.proc: subprocess.Popen[bytes] | None = None

    def launch(self) -> ServiceProcess:
        """Start it without waiting (to bring several up side by side, then `wait` for each)."""
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen([*LAYERS, "serve", self.service], env=self.env, stdout=out, stderr=out)
        return self

    def wait(self, timeout: float = 60) -> ServiceProcess:
        """Return once `ready` says so, failing with the log's tail if it exits first."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while not self.ready():
            assert self.proc.poll() is None, f"{self.service} exited: {self.log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"{self.service} did not come up in {timeout:g} s (see {self.log})"
            time.sleep(0.2)
        return self

    def start(self, timeout: float = 60) -> ServiceProcess:
        return self.launch().wait(timeout)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


def admin(env: dict[str, str], *args: str) -> dict[str, Any]:
    """`layers admin …` and the JSON object it prints."""
    done = subprocess.run([*LAYERS, "admin", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"layers admin {' '.join(args)}: {done.stderr or done.stdout}"
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))
