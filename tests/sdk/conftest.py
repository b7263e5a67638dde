"""One `layers dev` (a real process on free ports) for the SDKs' suites and the examples."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

import layers_partner as lp
from tests.e2e.test_dev_crash import layers_dev
from tests.support.http_fault_proxy import FaultProxy
from tests.support.processes import free_port

ROOT = Path(__file__).resolve().parents[2]
SDK = ROOT / "clients" / "typescript"
EXAMPLES = ROOT / "examples"


@dataclass(frozen=True)
class Dev:
    base_url: str
    demo: dict[str, Any]
    data: Path

    @property
    def api_key(self) -> str:
        return str(self.demo["apiKey"])


@pytest.fixture(scope="session")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dev]:
    root = tmp_path_factory.mktemp("sdk-dev")
    (root / "tmp").mkdir()
    with layers_dev(root / "data", root / "tmp", root / "layers-dev.log") as (_process, client, demo):
        yield Dev(str(client.base_url).rstrip("/"), demo, root / "data")


@pytest.fixture
def proxy(dev: Dev) -> Iterator[FaultProxy]:
    with FaultProxy(dev.base_url).running() as running:
        yield running


def check_webhook_receiver(dev: Dev, command: list[str], cwd: Path) -> None:
    """Run a receiver example that registers itself and asks for a test.ping: it answers a forged delivery
    400 and prints the ping and a job's completion, each checked, then stops after those two."""
    port = free_port()
    receiver = subprocess.Popen(
        [
            *command,
            *("--register", "--send-test", "--port", str(port), "--max-events", "2"),
            *("--events", "test.ping,job.completed", "--base-url", dev.base_url, "--api-key", dev.api_key),
        ],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert receiver.stdout is not None
        assert receiver.stdout.readline().startswith("listening on ")
        assert receiver.stdout.readline().startswith("registered whe_")
        forged = httpx.post(
            f"http://127.0.0.1:{port}/hooks", content=b'{"id":"evt_x"}', headers={"X-Layers-Signature": "t=1,v1=00"}
        )
        assert forged.status_code == 400
        with lp.Client(dev.api_key, base_url=dev.base_url) as layers:
            job = layers.ugc_remix(dev.demo["projectId"], influencer_id=dev.demo["influencerId"])
        out, err = receiver.communicate(timeout=180)
    finally:
        if receiver.poll() is None:
            receiver.kill()
            receiver.wait()
    assert receiver.returncode == 0, err
    lines = out.splitlines()
    assert any(" BAD SIGNATURE" in line for line in lines), out
    assert any(" test.ping signature ok " in line for line in lines), out
    assert any(" job.completed signature ok " in line and job.job_id in line for line in lines), out


def run(command: list[str], cwd: Path, timeout: float = 300, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=timeout, env={**os.environ, **env}, check=False
    )


def npm_install(folder: Path, npm: str) -> None:
    """`npm ci` when node_modules is missing or older than the lock file (npm keeps a copy of what it installed)."""
    installed = folder / "node_modules" / ".package-lock.json"
    lock = folder / "package-lock.json"
    if installed.exists() and installed.stat().st_mtime >= lock.stat().st_mtime:
        return
    done = run([npm, "ci", "--no-audit", "--no-fund"], folder)
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="session")
def node() -> Iterator[str]:
    node, npm = shutil.which("node"), shutil.which("npm")
    assert node and npm, "node and npm are needed to build and test the TypeScript SDK"
    npm_install(SDK, npm)
    built = run([node, "node_modules/typescript/bin/tsc", "-p", "."], SDK)
    assert built.returncode == 0, built.stdout + built.stderr
    npm_install(EXAMPLES, npm)
    examples = run([node, str(SDK / "node_modules/typescript/bin/tsc"), "-p", "."], EXAMPLES)
    assert examples.returncode == 0, examples.stdout + examples.stderr
    yield node
