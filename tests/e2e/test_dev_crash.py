"""`layers dev` killed mid-render, as a developer's laptop loses power: started again on the same data dir,
it removes what the dead render left and the job still completes (the in-process queue keeps nothing, the
outbox does)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from common.settings import Settings
from services.media import seed_clips
from tests.support.processes import free_port

LAYERS = str(Path(sys.executable).parent / "layers")
Dev = tuple[subprocess.Popen[bytes], httpx.Client, dict[str, Any]]


@contextmanager
def layers_dev(data: Path, tmp: Path, log: Path) -> Iterator[Dev]:
    """`layers dev` on fresh ports, once it answers; the demo tenant it seeded; SIGKILLed if still running."""
    env = {k: v for k, v in os.environ.items() if k not in ("LAYERS_AMQP_URL", "LAYERS_REDIS_URL")}
    addresses = [name for name in Settings.model_fields if name.endswith("_addr")]  # every gRPC server's
    env.update({f"LAYERS_{name.upper()}": f"127.0.0.1:{free_port()}" for name in addresses})
    env["LAYERS_DEMO_CAP_SECONDS"] = "20"
    env["TMPDIR"] = str(tmp)  # the system temp folder, watched: nothing of a render may land there
    port = free_port()
    with log.open("ab") as out:
        process = subprocess.Popen(
            [LAYERS, "dev", "--data-dir", str(data), "--port", str(port)], env=env, stdout=out, stderr=out
        )
    try:
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
        wait_until(lambda: _answers(client, process), 180, f"layers dev answers (see {log})")
        demo = json.loads((data / "demo.json").read_text())
        client.headers["Authorization"] = f"Bearer {demo['apiKey']}"
        yield process, client, demo
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def _answers(client: httpx.Client, process: subprocess.Popen[bytes]) -> bool:
    assert process.poll() is None, "layers dev exited"
    try:
        return client.get("/healthz").status_code == 200
    except httpx.TransportError:
        return False


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.1)


def job_of(client: httpx.Client, job_id: str) -> dict[str, Any]:
    return dict(client.get(f"/v1/jobs/{job_id}").json())


def test_layers_dev_killed_mid_render_sweeps_its_work_folder_and_completes_the_job(tmp_path: Path) -> None:
    data, tmp, log = tmp_path / "data", tmp_path / "tmp", tmp_path / "layers-dev.log"
    work = data / "render-work"
    tmp.mkdir()
    clip = seed_clips.make_app_demo(tmp_path / "long.mp4", seconds=20)
    with layers_dev(data, tmp, log) as (process, client, demo):
        with clip.open("rb") as f:
            media = client.post(
                f"/v1/projects/{demo['projectId']}/app-media",
                files={"file": (clip.name, f, "video/mp4")},
                data={"kind": "demo-video"},
            )
        assert media.status_code == 201, media.text
        started = client.post(
            f"/v1/projects/{demo['projectId']}/content/ugc-remix",
            json={"influencerId": demo["influencerId"], "mediaId": media.json()["mediaId"], "hook": "Wait for it"},
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        assert started.status_code == 202, started.text
        job_id = started.json()["jobId"]
        wait_until(
            lambda: (j := job_of(client, job_id))["stage"] == "compositing" and j["progress"] > 0.2,
            180,
            "the render is well into compositing",
        )
        (job_dir,) = work.glob(f"renderer-*/{job_id}-*")
        assert (job_dir / "demo").read_bytes() == clip.read_bytes()
        assert (job_dir / "out" / ".video.partial.mp4").stat().st_size > 0
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    assert (job_dir / "demo").is_file()  # nobody cleaned up: the next start must

    with layers_dev(data, tmp, log) as (process, client, demo):
        assert not job_dir.parent.exists()  # swept before it answered
        wait_until(lambda: job_of(client, job_id)["status"] != "running", 240, "the job ends")
        done = job_of(client, job_id)
        assert done["status"] == "completed" and len(done["result"]["assets"]) == 1, done
        wait_until(lambda: not list(work.glob("renderer-*/*")), 10, "the finished render's folder is removed")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    assert [p.name for p in work.iterdir()] == [".lock"]
    assert list(tmp.iterdir()) == []
