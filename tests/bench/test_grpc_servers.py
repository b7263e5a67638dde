"""The gRPC server comparison, small: each of the three servers answers, and the figures are written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.bench.conftest import BENCH, ROOT

pytestmark = pytest.mark.bench


def test_a_short_run_measures_each_server(tmp_path: Path) -> None:
    out = tmp_path / "servers.json"
    cmd = [sys.executable, str(BENCH / "grpc_servers.py"), "--duration", "0.5", "--warmup", "0.2"]
    cmd += ["--in-flight", "4", "--json", str(out)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(out.read_text())
    assert set(figures) == {"sync", "aio+pool", "aio"}
    for kind, row in figures.items():
        assert row["calls"] > 50 and row["server_cpu_ms_per_call"] > 0, (kind, row)
        assert f"\n{kind} " in "\n" + done.stdout, done.stdout
    assert figures["sync"]["cpu_vs_sync"] == 1.0


def test_bad_arguments_are_refused() -> None:
    cmd = [sys.executable, str(BENCH / "grpc_servers.py"), "--duration", "0"]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2 and "--duration must be positive" in done.stderr
