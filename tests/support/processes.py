"""`layers serve …` and `layers admin …` as separate processes, configured by environment variables only,
as a deployment runs them."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from common.clients import channel
from common.tls import GrpcTls

ROOT = Path(__file__).resolve().parents[2]
LAYERS = [sys.executable, "-m", "cli.main"]


class ServiceProcess:
    """One `layers serve NAME`; its output goes to NAME.log in `folder`."""

    def __init__(self, name: str, env: dict[str, str], folder: Path) -> None:
        self.name = name
        self.log = folder / f"{name}.log"
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [*LAYERS, "serve", name], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
            )

    def _check_alive(self) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited ({self.proc.returncode}): {self.log.read_text()[-3000:]}")

    def wait_grpc(self, address: str, tls: GrpcTls | None, timeout: float = 90.0) -> None:
        """Until its health service reports SERVING (asked with `tls`, as any caller would)."""
        deadline = time.monotonic() + timeout
        with channel(address, timeout_seconds=2, tls=tls) as ch:
            health = health_pb2_grpc.HealthStub(ch)
            while True:
                self._check_alive()
                try:
                    if health.Check(health_pb2.HealthCheckRequest()).status == health_pb2.HealthCheckResponse.SERVING:
                        return
                except grpc.RpcError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{self.name} not SERVING on {address}: {self.log.read_text()[-3000:]}")
                time.sleep(0.2)

    def wait_http(self, url: str, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            self._check_alive()
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not answer {url}: {self.log.read_text()[-3000:]}")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def admin(env: dict[str, str], *args: str) -> dict[str, Any]:
    """`layers admin …` and the JSON object it prints."""
    done = subprocess.run([*LAYERS, "admin", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"layers admin {' '.join(args)}: {done.stderr or done.stdout}"
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))
