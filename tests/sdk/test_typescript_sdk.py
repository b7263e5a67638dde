"""The TypeScript SDK and examples: its types are openapi-typescript's output for the committed openapi.json,
`tsc` builds it and the examples, and its node test suite and the examples pass against a live `layers dev`
(the retry test through a proxy that answers the first ugc-remix 503 after the gateway did the work)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import layers_partner as lp
from tests.sdk.conftest import Dev
from tests.support.http_fault_proxy import FORWARD_THEN_503, FaultProxy
from tests.support.processes import free_port

ROOT = Path(__file__).resolve().parents[2]
SDK = ROOT / "clients" / "typescript"
EXAMPLES = ROOT / "examples"
UNIT_TESTS, LIVE_TESTS = 6, 8


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


def test_the_types_are_generated_from_the_committed_openapi_json(node: str, tmp_path: Path) -> None:
    fresh = tmp_path / "schema.ts"
    cli = "node_modules/openapi-typescript/bin/cli.js"
    done = run([node, cli, str(ROOT / "openapi.json"), "--output", str(fresh)], SDK)
    assert done.returncode == 0, done.stderr
    assert fresh.read_text() == (SDK / "src" / "schema.ts").read_text(), "stale: run npm run generate"


def test_the_typescript_suite_passes_against_layers_dev(node: str, dev: Dev, proxy: FaultProxy) -> None:
    proxy.on("POST", "/content/ugc-remix", FORWARD_THEN_503)
    tests = ["dist/test/unit.test.js", "dist/test/live.test.js"]
    done = run(
        [node, "--test", *tests],
        SDK,
        timeout=600,
        LAYERS_BASE_URL=dev.base_url,
        LAYERS_DEMO=str(dev.data / "demo.json"),
        LAYERS_PROXY_URL=proxy.url,
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert f"# pass {UNIT_TESTS + LIVE_TESTS}\n" in done.stdout and "# skipped 0\n" in done.stdout, done.stdout[-2000:]
    first, second = proxy.requests("POST", "/content/ugc-remix")
    assert first.action == FORWARD_THEN_503 and first.upstream_status == 202
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"]
    assert second.upstream_headers.get("idempotent-replayed") == "true"


def test_remix_and_download_ts_prints_the_ffprobe_summary(node: str, dev: Dev, tmp_path: Path) -> None:
    out = tmp_path / "remix.mp4"
    args = ["--base-url", dev.base_url, "--demo", str(dev.data / "demo.json"), "--out", str(out)]
    done = run([node, "dist/remix_and_download.js", *args], EXAMPLES)
    assert done.returncode == 0, done.stderr
    assert "started job_" in done.stdout and "video: h264 1080x1920" in done.stdout, done.stdout
    assert out.stat().st_size > 0
    refused = run([node, "dist/remix_and_download.js", *args, "--media-id", "med_00000000000000000000000000"], EXAMPLES)
    assert refused.returncode == 1 and "NotFound" in refused.stderr, refused.stderr
    usage = run([node, "dist/remix_and_download.js", "--timeout", "0", "--api-key", "k"], EXAMPLES)
    assert usage.returncode == 2 and "usage:" in usage.stderr


def test_webhook_receiver_ts_checks_what_layers_dev_sends(node: str, dev: Dev) -> None:
    port = free_port()
    receiver = subprocess.Popen(
        [
            node,
            "dist/webhook_receiver.js",
            *("--register", "--send-test", "--port", str(port), "--max-events", "2"),
            *("--events", "test.ping,job.completed", "--base-url", dev.base_url, "--api-key", dev.api_key),
        ],
        cwd=EXAMPLES,
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
