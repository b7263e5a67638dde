"""The examples, run as a partner runs them, against a live `layers dev`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

import layers_partner as lp
from tests.sdk.conftest import Dev
from tests.support.processes import free_port

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def python_example(name: str, *args: str) -> list[str]:
    return [sys.executable, str(EXAMPLES / name), *args]


def test_remix_and_download_py_prints_the_ffprobe_summary(dev: Dev, tmp_path: Path) -> None:
    out = tmp_path / "remix.mp4"
    args = ["--base-url", dev.base_url, "--demo", str(dev.data / "demo.json"), "--out", str(out)]
    done = subprocess.run(
        python_example("remix_and_download.py", *args),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "started job_" in done.stdout and f"downloaded {out}" in done.stdout
    assert "video: h264 1080x1920" in done.stdout, done.stdout
    assert out.stat().st_size > 0 and not out.with_name("remix.mp4.part").exists()


def test_remix_and_download_py_says_why_it_was_refused(dev: Dev, tmp_path: Path) -> None:
    demo = str(dev.data / "demo.json")
    args = ["--base-url", dev.base_url, "--demo", demo, "--media-id", "med_00000000000000000000000000"]
    done = subprocess.run(python_example("remix_and_download.py", *args), capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "NOT_FOUND" in done.stderr, done.stderr
    usage = subprocess.run(python_example("remix_and_download.py", "--timeout", "0"), capture_output=True, text=True)
    assert usage.returncode == 2 and "error:" in usage.stderr


def test_webhook_receiver_py_checks_what_layers_dev_sends(dev: Dev) -> None:
    port = free_port()
    receiver = subprocess.Popen(
        python_example(
            "webhook_receiver.py",
            *("--register", "--send-test", "--port", str(port), "--max-events", "2"),
            *("--events", "test.ping,job.completed", "--base-url", dev.base_url, "--api-key", dev.api_key),
        ),
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
