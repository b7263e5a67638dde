"""The render benchmark, small: one run of compose() against the plain encode, with every figure it prints."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.bench.conftest import BENCH, ROOT

pytestmark = [pytest.mark.bench, pytest.mark.render]


def test_a_small_run_prints_the_ratio_and_the_demo_s_quality(tmp_path: Path) -> None:
    cmd = [sys.executable, str(BENCH / "render.py"), "--runs", "1", "--preset", "ultrafast"]
    cmd += ["--template-seconds", "1", "--demo-seconds", "2", "--music-seconds", "2", "--keep", str(tmp_path)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    ratio = re.search(r"^ratio\s+: ([\d.]+)x", out, re.M)
    quality = re.search(r"SSIM ([\d.]+), PSNR ([\d.]+) dB", out)
    assert ratio is not None and float(ratio.group(1)) > 0, out
    assert quality is not None and float(quality.group(1)) > 0.9 and float(quality.group(2)) > 30, out
    assert re.search(r"^loudness passes\s+: [\d.]+ s", out, re.M), out
    assert "video length      : 3.0 s" in out, out
