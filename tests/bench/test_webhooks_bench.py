"""The webhook benchmark, small: a few jobs × endpoints through PostgreSQL, RabbitMQ, the webhooks process
and the https receiver, every delivery arriving once, with the figures it reports; and its helpers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import webhook_receiver
import webhooks as bench

from tests.bench.conftest import ROOT
from tests.conftest import AMQP_URL, PG_ADMIN_URL

pytestmark = pytest.mark.bench


def test_percentiles_and_lag() -> None:
    assert bench.percentile([5.0, 1.0, 3.0, 2.0, 4.0], 0.5) == 3.0
    assert bench.percentile([1.0, 2.0], 0.99) == 2.0
    assert 999 < webhook_receiver.lag_ms("2026-01-01T00:00:00.000Z", 1767225601.0) < 1001


@pytest.mark.postgres
@pytest.mark.rabbitmq
def test_a_small_run_delivers_every_event_once(tmp_path: Path, pg_url: str, amqp_url: str) -> None:
    out = tmp_path / "figures.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "webhooks.py"), "--jobs", "6", "--endpoints", "2",
         "--pg-url", PG_ADMIN_URL, "--amqp-url", AMQP_URL, "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(out.read_text())
    assert figures["expected"] == figures["unique"] == figures["delivered"] == 12
    assert figures["deliveriesPerSecond"] > 0 and 0 < figures["lagP50Ms"] <= figures["lagP99Ms"]
    assert "deliveries/s" in done.stdout and "lag p99" in done.stdout
