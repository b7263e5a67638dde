"""The scaled-out shape on one machine, as deploy/k8s runs it across many: two gateways, two content
processes and three renderers, each a real `layers serve` process, on one PostgreSQL, RabbitMQ and Redis
(billing and media are real gRPC servers in this process). 60 ugc-remixes go through the gateways in turn;
one renderer is SIGKILLed mid-render. Every job is rendered exactly once and captured once, every renderer
does some of the work, and nothing is lost.

The content processes listen on ports of their own (as pods do on addresses of their own): each gateway
dials one of them, and the renderers are spread over both, so both outbox relays publish."""

from __future__ import annotations

import re
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from cli.admin import create_demo_tenant
from common.clients import Clients
from common.settings import Settings
from layers.billing.v1 import billing_pb2
from layers.media.v1 import media_pb2
from services.billing import server as billing_server
from services.content.ugc_remix import reservation_id_for
from services.media import seed_clips
from services.media import server as media_server
from tests.e2e.conftest import fresh_pg_databases
from tests.e2e.test_crash_recovery import delete_events
from tests.e2e.test_outbox_rabbitmq import delete_topology
from tests.support.processes import (
    ServiceProcess,
    clean_environment,
    file_exists,
    free_port,
    grpc_serving,
    http_healthy,
)

pytestmark = [pytest.mark.postgres, pytest.mark.rabbitmq, pytest.mark.redis]

JOBS = 60
PRICE = 120
# Short renders: a 1 s reaction clip and at most 1 s of app demo (the render e2e tests cap theirs too).
REACTION_SECONDS = 1.0
DEMO_CAP_SECONDS = "1"
COMPLETED = re.compile(r"job (\S+) completed:")


@dataclass
class ScaledOut:
    settings: Settings  # for this test's own stubs: dials content A
    gateways: list[str]
    contents: list[ServiceProcess]
    renderers: list[ServiceProcess]

    def rendered_by(self) -> dict[int, list[str]]:
        """The jobs each renderer's log says it completed (a render's last step), by renderer."""
        return {i: COMPLETED.findall(r.log.read_text()) for i, r in enumerate(self.renderers)}


@contextmanager
def scaled_out(tmp_path: Path, amqp_url: str, redis_url: str) -> Iterator[ScaledOut]:
    tag = uuid.uuid4().hex[:8]
    queue, events_exchange, events_queue = f"test.render.scale.{tag}", f"test.events.scale.{tag}", f"scale.{tag}"
    with ExitStack() as stack:
        urls = stack.enter_context(fresh_pg_databases())
        settings = Settings(
            data_dir=tmp_path / "in-process",
            media_db_url=urls["media"],
            billing_db_url=urls["billing"],
            amqp_url=amqp_url,
            render_queue=queue,
        )
        billing = billing_server.start(settings, "127.0.0.1:0")
        stack.callback(billing.stop, grace_seconds=1)
        media = media_server.start(settings, "127.0.0.1:0")
        stack.callback(media.stop, grace_seconds=1)
        stack.callback(delete_topology, amqp_url, queue)
        stack.callback(delete_events, amqp_url, events_exchange, events_queue)
        shared = {
            "LAYERS_MEDIA_ADDR": media.address,
            "LAYERS_BILLING_ADDR": billing.address,
            "LAYERS_AMQP_URL": amqp_url,
            "LAYERS_REDIS_URL": redis_url,
            "LAYERS_RENDER_QUEUE": queue,
            "LAYERS_EVENTS_EXCHANGE": events_exchange,
            "LAYERS_WEBHOOKS_QUEUE": events_queue,
        }

        def started(name: str, service: str, ready: Any, **env: str) -> ServiceProcess:
            data = tmp_path / name
            data.mkdir()
            process = ServiceProcess(
                service, clean_environment(**shared, LAYERS_DATA_DIR=str(data), **env), tmp_path / f"{name}.log", ready
            )
            stack.callback(process.stop)
            return process.start(timeout=180)

        content_addrs = [f"127.0.0.1:{free_port()}" for _ in range(2)]
        contents = [
            started(
                f"content-{i}",
                "content",
                grpc_serving(addr),
                LAYERS_CONTENT_ADDR=addr,
                LAYERS_CONTENT_DB_URL=urls["content"],
                LAYERS_MAX_CONCURRENT_JOBS_PER_KEY=str(JOBS),
            )
            for i, addr in enumerate(content_addrs)
        ]
        gateways = []
        for i, addr in enumerate(content_addrs):
            port = free_port()
            base_url = f"http://127.0.0.1:{port}"
            started(
                f"gateway-{i}",
                "gateway",
                http_healthy(base_url),
                LAYERS_HTTP_PORT=str(port),
                LAYERS_HTTP_WORKERS="1",
                LAYERS_CONTENT_ADDR=addr,
                LAYERS_SIGNING_SECRET="test-signing-secret",
                LAYERS_RATE_LIMIT_READS_PER_MINUTE=str(10**6),
                LAYERS_RATE_LIMIT_GENERATIONS_PER_MINUTE=str(10**6),
            )
            gateways.append(base_url)
        renderers = [
            started(
                f"renderer-{i}",
                "renderer",
                file_exists(tmp_path / f"renderer-{i}" / "renderer-heartbeat"),  # touched once it consumes
                LAYERS_CONTENT_ADDR=content_addrs[i % 2],
                LAYERS_DEMO_CAP_SECONDS=DEMO_CAP_SECONDS,
            )
            for i in range(3)
        ]
        addresses = {"content_addr": content_addrs[0], "media_addr": media.address, "billing_addr": billing.address}
        yield ScaledOut(settings.model_copy(update=addresses), gateways, contents, renderers)


def short_catalog(clients: Clients, workdir: Path) -> None:
    """One short reaction template and one music track."""
    workdir.mkdir()
    clip = seed_clips.make_reaction_clip(workdir / "reaction.mp4", seconds=REACTION_SECONDS)
    blob = seed_clips.upload_file(clients.media, clip, "video/mp4")
    clients.media.CreateReactionTemplate(media_pb2.CreateReactionTemplateRequest(name="Short", blob_id=blob.blob_id))
    seed_clips.seed_catalog(clients.media, workdir, reaction_count=0, track_count=1)


def jobs_in(rendered: dict[int, list[str]]) -> Counter[str]:
    return Counter(job for jobs in rendered.values() for job in jobs)


@pytest.mark.timeout(1800)
def test_two_gateways_two_contents_three_renderers_render_60_jobs_once_each_through_a_renderer_kill(
    tmp_path: Path, amqp_url: str, redis_url: str
) -> None:
    began = time.monotonic()
    with scaled_out(tmp_path, amqp_url, redis_url) as system:
        clients = Clients.connect(system.settings)
        try:
            short_catalog(clients, tmp_path / "catalog")
            tenant = create_demo_tenant(clients, credits=PRICE * JOBS)
            started_at = time.monotonic()
            auth = {"Authorization": f"Bearer {tenant['apiKey']}"}
            https = [httpx.Client(base_url=url, headers=auth, timeout=60) for url in system.gateways]
            jobs: list[str] = []
            for i in range(JOBS):
                response = https[i % 2].post(
                    f"/v1/projects/{tenant['projectId']}/content/ugc-remix",
                    json={"influencerId": tenant["influencerId"]},
                    headers={"Idempotency-Key": f"scale-{i}"},
                )
                assert response.status_code == 202, response.text
                jobs.append(response.json()["jobId"])
            assert len(set(jobs)) == JOBS

            # A third of the way through, once every renderer has finished a render, kill one in the middle
            # of another.
            victim = system.renderers[2]
            victim_work = Path(victim.env["LAYERS_DATA_DIR"]) / "render-work"
            deadline = time.monotonic() + 900
            while True:
                rendered = system.rendered_by()
                in_flight = [p.name.split("-")[0] for p in victim_work.glob("renderer-*/*")]
                done = set(jobs_in(rendered))
                if len(done) >= JOBS // 3 and all(rendered.values()) and in_flight and in_flight[0] not in done:
                    break
                assert len(done) < JOBS, "every job rendered before the kill could land"
                assert time.monotonic() < deadline, f"renderers stuck: {rendered}"
                time.sleep(0.1)
            victim.kill()
            killed_mid = in_flight[0]
            killed_at = time.monotonic() - started_at
            before_kill = len(rendered[2])

            # Everything completes: the killed renderer's message goes back to the queue for another.
            deadline = time.monotonic() + 1200
            pending = set(jobs)
            while pending:
                for job in sorted(pending):
                    status = https[0].get(f"/v1/jobs/{job}").json()["status"]
                    assert status in ("running", "completed"), (job, status)
                    if status == "completed":
                        pending.discard(job)
                assert time.monotonic() < deadline, f"{len(pending)} jobs still running"
                time.sleep(1.0)
            finished_after = time.monotonic() - started_at
            time.sleep(2.0)  # a second delivery of any message, if any, would land now

            finished = [https[i % 2].get(f"/v1/jobs/{job}").json() for i, job in enumerate(jobs)]
            rendered = system.rendered_by()
            ledger = clients.billing.ListLedgerEntries(
                billing_pb2.ListLedgerEntriesRequest(organization_id=tenant["organizationId"])
            ).entries
            wallet = https[1].get("/v1/credits").json()
            for http in https:
                http.close()
        finally:
            clients.close()

    print(
        f"\n{JOBS} jobs rendered in {finished_after:.0f} s ({time.monotonic() - began:.0f} s with start-up); "
        f"renders per renderer {[len(r) for r in rendered.values()]}; renderer 2 killed at {killed_at:.0f} s "
        f"after {before_kill} renders, mid-way through {killed_mid}"
    )
    assert all(job["status"] == "completed" and len(job["result"]["assets"]) == 1 for job in finished)
    assert jobs_in(rendered) == Counter({job: 1 for job in jobs})  # each rendered exactly once
    assert killed_mid not in rendered[2] and killed_mid in rendered[0] + rendered[1]
    assert all(rendered.values()), rendered  # every renderer did some of the work
    captures = Counter(entry.reservation_id for entry in ledger if entry.kind == "capture")
    assert captures == Counter({reservation_id_for(job): 1 for job in jobs}), captures
    assert all(entry.delta == -PRICE for entry in ledger if entry.kind == "capture")
    assert wallet["balance"] == 0 and wallet["reservedCredits"] == 0
