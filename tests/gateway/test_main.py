"""The process: create_app wires the app, `python -m gateway` serves (in one process or several) and stops
cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from gateway.app import create_app
from tests.gateway.conftest import LiveGateway, gateway_settings
from tests.gateway.fakes import ALL, FakeBilling
from tests.gateway.helpers import bearer

ROOT = Path(__file__).resolve().parents[2]


def test_app_connects_its_clients_while_it_serves(services_addr: str, tmp_path: Path) -> None:
    app = create_app(gateway_settings(services_addr, tmp_path))
    paths = app.openapi()["paths"]
    assert "/v1/projects/{projectId}/content/ugc-remix" in paths
    assert {"/v1/jobs/{jobId}", "/v1/content/{containerId}", "/v1/credits", "/v1/whoami"} <= set(paths)
    assert not hasattr(app.state, "clients")  # built on the serving loop, not at import
    live = LiveGateway(app).start()
    try:
        assert httpx.get(f"{live.base_url}/v1/whoami", headers=bearer(ALL), timeout=5).status_code == 200
        assert app.state.clients.partner is not None
    finally:
        live.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("workers", [1, 2])
def test_python_m_gateway_serves_and_drains_on_sigterm(
    services_addr: str, tmp_path: Path, fake_billing: FakeBilling, workers: int
) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "LAYERS_HTTP_HOST": "127.0.0.1",
        "LAYERS_HTTP_PORT": str(port),
        "LAYERS_CONTENT_ADDR": services_addr,
        "LAYERS_MEDIA_ADDR": services_addr,
        "LAYERS_BILLING_ADDR": services_addr,
        "LAYERS_DATA_DIR": str(tmp_path),
        "LAYERS_HTTP_WORKERS": str(workers),
        "LAYERS_BALANCE_CACHE_SECONDS": "0",  # every whoami asks billing, so one can be held in flight
    }
    env.pop("LAYERS_SIGNING_SECRET", None)
    url = f"http://127.0.0.1:{port}/v1/whoami"
    with (tmp_path / "gateway.log").open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "gateway"], cwd=ROOT, env=env, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                response = httpx.get(url, headers=bearer(ALL), timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None, (tmp_path / "gateway.log").read_text()
                assert time.monotonic() < deadline, "gateway did not come up"
                time.sleep(0.1)
        assert response.status_code == 200
        assert response.json()["keyId"] == "keyall"

        # A request still running when SIGTERM arrives is allowed to finish.
        fake_billing.delays["GetWallet"] = 1.0
        with ThreadPoolExecutor(1) as pool:
            in_flight = pool.submit(httpx.get, url, headers=bearer(ALL), timeout=10)
            deadline = time.monotonic() + 10
            while len(fake_billing.requests("GetWallet")) < 2:
                assert time.monotonic() < deadline, "the second whoami never reached billing"
                time.sleep(0.01)
            proc.send_signal(signal.SIGTERM)
            assert in_flight.result().status_code == 200
        assert proc.wait(timeout=15) == 0
        assert (tmp_path / "signing.key").exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
