"""Tests of the benchmark tooling under bench/ (not a package: its folder goes on sys.path here)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from tests.conftest import IN_CI

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))


@pytest.fixture
def wrk() -> str:
    """wrk's path. Missing, it fails under CI=true and skips elsewhere (Debian's package `wrk`)."""
    path = shutil.which("wrk")
    if path:
        return path
    message = "wrk is not installed (apt-get install wrk)"
    if IN_CI:
        pytest.fail(f"{message}; CI needs it")
    pytest.skip(message)
