"""The TypeScript SDK and examples: its types are openapi-typescript's output for the committed openapi.json,
`tsc` builds it and the examples, and its node test suite and the examples pass against a live `layers dev`
(the retry test through a proxy that answers the first ugc-remix 503 after the gateway did the work)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.sdk.conftest import EXAMPLES, ROOT, SDK, Dev, check_webhook_receiver, run
from tests.support.http_fault_proxy import FORWARD_THEN_503, FaultProxy

UNIT_TESTS, LIVE_TESTS = 8, 8

pytestmark = pytest.mark.sdk


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
    check_webhook_receiver(dev, [node, "dist/webhook_receiver.js"], EXAMPLES)
