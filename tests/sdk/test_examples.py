"""The examples, run as a partner runs them, against a live `layers dev`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.sdk.conftest import ROOT, Dev, check_webhook_receiver

EXAMPLES = ROOT / "examples"

pytestmark = pytest.mark.sdk


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
    check_webhook_receiver(dev, python_example("webhook_receiver.py"), ROOT)
