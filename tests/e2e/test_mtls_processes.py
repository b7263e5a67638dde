"""The production shape under mutual TLS: billing, media, webhooks, content, the gateway and a renderer as separate
`layers serve` processes, each with its own certificate (made by trustme) in LAYERS_GRPC_TLS_*, on
RabbitMQ. The operator's `layers admin` seeds the catalog and a tenant with the admin certificate; one
ugc-remix through the gateway is accepted (202), rendered and downloaded, every hop on the caller map; and a renderer
certificate calling CreateUgcRemix on the content process is refused."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import httpx
import pytest

from common.clients import channel
from common.errors import unpack
from layers.content.v1 import content_pb2 as pb
from layers.content.v1.content_pb2_grpc import PartnerServiceStub
from services.media import seed_clips
from tests.e2e.test_crash_recovery import delete_events
from tests.e2e.test_outbox_rabbitmq import delete_topology
from tests.support.certs import Certificates
from tests.support.processes import (
    LAYERS,
    ROOT,
    ServiceProcess,
    admin,
    clean_environment,
    free_port,
    grpc_serving,
    http_healthy,
    started_at_once,
)

pytestmark = pytest.mark.rabbitmq


def health(env: dict[str, str], address: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*LAYERS, "health", address], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


@pytest.fixture
def shape(amqp_url: str, tmp_path: Path) -> Iterator[tuple[dict[str, str], Certificates, str]]:
    """The running processes: yields the environment they share (without certificates), the certificates
    and the gateway's base URL."""
    tag = uuid.uuid4().hex[:8]
    queue, events_exchange, events_queue = f"layers.render.mtls.{tag}", f"layers.events.mtls.{tag}", f"mtls.{tag}"
    http_port = free_port()
    env = clean_environment(
        **{
            "LAYERS_DATA_DIR": str(tmp_path / "data"),
            **{
                f"LAYERS_{name}_ADDR": f"127.0.0.1:{free_port()}"
                for name in ("CONTENT", "MEDIA", "BILLING", "WEBHOOKS")
            },
            "LAYERS_HTTP_HOST": "127.0.0.1",
            "LAYERS_HTTP_PORT": str(http_port),
            "LAYERS_AMQP_URL": amqp_url,
            "LAYERS_RENDER_QUEUE": queue,
            "LAYERS_EVENTS_EXCHANGE": events_exchange,
            "LAYERS_WEBHOOKS_QUEUE": events_queue,
            "LAYERS_SIGNING_SECRET": "test-signing-secret",
            "LAYERS_WEBHOOK_SECRET_KEY": "test-webhook-secret-key",
        }
    )
    (tmp_path / "certs").mkdir()
    certs = Certificates(tmp_path / "certs")
    probe = certs.issue("admin").tls
    started: list[ServiceProcess] = []

    base_url = f"http://127.0.0.1:{http_port}"

    def launch(name: str, ready: Callable[[], bool] | None = None) -> ServiceProcess:
        ready = ready or grpc_serving(env[f"LAYERS_{name.upper()}_ADDR"], probe)
        process = ServiceProcess(name, {**env, **certs.issue(name).env}, tmp_path / f"{name}.log", ready)
        started.append(process)
        return process.launch()

    try:
        for name in ("billing", "media", "webhooks"):
            launch(name)
        for process in started:
            process.wait(90)
        launch("content").wait(90)
        launch("renderer", started_at_once)
        launch("gateway", http_healthy(base_url)).wait(90)
        yield env, certs, base_url
    finally:
        for process in reversed(started):
            process.stop()
        delete_topology(amqp_url, queue)
        delete_events(amqp_url, events_exchange, events_queue)


def test_a_ugc_remix_through_every_hop_under_mtls(
    shape: tuple[dict[str, str], Certificates, str], tmp_path: Path
) -> None:
    env, certs, base_url = shape
    operator = {**env, **certs.issue("admin").env}
    clip = seed_clips.make_reaction_clip(tmp_path / "reaction.mp4")
    track = seed_clips.make_music_track(tmp_path / "track.m4a")
    admin(operator, "reaction", "add", "--file", str(clip))
    admin(operator, "music", "add", "--file", str(track), "--title", "Tune")
    tenant = admin(operator, "demo", "--credits", "1200")

    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {tenant['apiKey']}"}, timeout=60) as http:
        accepted = http.post(
            f"/v1/projects/{tenant['projectId']}/content/ugc-remix",
            json={"influencerId": tenant["influencerId"], "hook": "Wait for it"},
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        assert accepted.status_code == 202, accepted.text
        job_id = accepted.json()["jobId"]
        # The renderer reads its inputs from media and reports to content, on its own certificate.
        deadline = time.monotonic() + 240
        while (job := http.get(f"/v1/jobs/{job_id}").json())["status"] == "running":
            assert time.monotonic() < deadline, job
            time.sleep(0.5)
        assert job["status"] == "completed", job
        # The gateway's reads of the result (content, media) and of webhooks, on its certificate.
        video = http.get(job["result"]["assets"][0]["url"])
        assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
        assert http.get("/v1/webhook-endpoints").status_code == 200

    # The containers' probe: `layers health` shows the process's own certificate, and without one is refused.
    assert health(operator, env["LAYERS_BILLING_ADDR"]).returncode == 0
    assert health(env, env["LAYERS_BILLING_ADDR"]).returncode == 1

    renderer = certs.issue("renderer").tls
    with (
        channel(env["LAYERS_CONTENT_ADDR"], timeout_seconds=10, tls=renderer) as ch,
        pytest.raises(grpc.RpcError) as refused,
    ):
        PartnerServiceStub(ch).CreateUgcRemix(pb.CreateUgcRemixRequest())
    assert unpack(refused.value).code == grpc.StatusCode.PERMISSION_DENIED
