"""A content process SIGKILLed in the middle of a ugc-remix, after billing held the credits and before the
job was committed, leaves nothing stuck: retries meanwhile answer 409 IN_PROGRESS with Retry-After, the
held credits are released once the dead request's lease ends (whether or not the partner retries), and a
retry then starts exactly one job holding credits once.

Real processes and servers: content runs as `layers serve content` on PostgreSQL with RabbitMQ;
billing and media are real gRPC servers; the gateway is real HTTP. A TCP proxy in front of billing swallows
billing's answer to the hold, so the kill lands exactly between the hold and the commit."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pika
import pytest

from cli.admin import create_demo_tenant
from common.clients import Clients
from common.render_queue import dead_queue
from common.settings import Settings
from gateway.app import create_app
from layers.billing.v1 import billing_pb2
from services.billing import server as billing_server
from services.content.ugc_remix import reservation_id_for
from services.media import seed_clips
from services.media import server as media_server
from tests.e2e.test_outbox_rabbitmq import delete_topology
from tests.gateway.conftest import LiveGateway
from tests.support.processes import ServiceProcess, clean_environment, free_port, grpc_serving
from tests.support.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.postgres, pytest.mark.rabbitmq]

RPC_TIMEOUT = 3.0  # the kill must land before content gives up on billing's (swallowed) answer
FETCH_TIMEOUT = 1.0
LEASE = 20.0  # more than 4 RPC timeouts and a fetch, as settings require, and than content's restart
PRICE = 120


@contextmanager
def killable_content(pg_url: str, amqp_url: str, tmp_path: Path) -> Iterator[tuple[Settings, ServiceProcess, TcpProxy]]:
    tag = uuid.uuid4().hex[:8]
    queue, events_exchange, events_queue = f"layers.render.crash.{tag}", f"layers.events.crash.{tag}", f"crash.{tag}"
    settings = Settings(
        data_dir=tmp_path,
        content_db_url=pg_url,
        billing_db_url=pg_url,  # each service keeps its own tables and migration history
        signing_secret="test-signing-secret",
        amqp_url=amqp_url,
        render_queue=queue,
        rpc_timeout_seconds=RPC_TIMEOUT,
        fetch_timeout_seconds=FETCH_TIMEOUT,
        idempotency_lease_seconds=LEASE,
        rate_limit_generations_per_minute=10**6,
    )
    billing = billing_server.start(settings, "127.0.0.1:0")
    media = media_server.start(settings, "127.0.0.1:0")
    proxy = TcpProxy("127.0.0.1", billing.port)
    proxy.start()
    content_addr = f"127.0.0.1:{free_port()}"
    settings = settings.model_copy(
        update={"billing_addr": billing.address, "media_addr": media.address, "content_addr": content_addr}
    )
    env = clean_environment(
        **{
            "LAYERS_DATA_DIR": str(tmp_path),
            "LAYERS_CONTENT_ADDR": content_addr,
            "LAYERS_CONTENT_DB_URL": pg_url,
            "LAYERS_MEDIA_ADDR": media.address,
            "LAYERS_BILLING_ADDR": f"127.0.0.1:{proxy.port}",  # content reaches billing only through the proxy
            "LAYERS_AMQP_URL": amqp_url,
            "LAYERS_RENDER_QUEUE": queue,
            "LAYERS_EVENTS_EXCHANGE": events_exchange,  # the job events this content publishes stay here
            "LAYERS_WEBHOOKS_QUEUE": events_queue,
            "LAYERS_RPC_TIMEOUT_SECONDS": str(RPC_TIMEOUT),
            "LAYERS_FETCH_TIMEOUT_SECONDS": str(FETCH_TIMEOUT),
            "LAYERS_IDEMPOTENCY_LEASE_SECONDS": str(LEASE),
        }
    )
    content = ServiceProcess("content", env, tmp_path / "content.log", grpc_serving(content_addr))
    try:
        yield settings, content, proxy
    finally:
        content.stop()
        proxy.stop()
        media.stop(grace_seconds=1)
        billing.stop(grace_seconds=1)
        delete_topology(amqp_url, queue)
        delete_events(amqp_url, events_exchange, events_queue)


def delete_events(amqp_url: str, exchange: str, queue: str) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        channel = connection.channel()
        channel.queue_delete(queue=queue)
        channel.queue_delete(queue=dead_queue(queue))
        channel.exchange_delete(exchange=exchange)
    finally:
        connection.close()


def reservation_state(clients: Clients, reservation_id: str) -> int:
    reply = clients.billing.GetReservation(billing_pb2.GetReservationRequest(reservation_id=reservation_id))
    return int(reply.reservation.state)


def wallet(clients: Clients, organization_id: str) -> billing_pb2.Wallet:
    return clients.billing.GetWallet(billing_pb2.GetWalletRequest(organization_id=organization_id)).wallet


def test_a_request_killed_between_hold_and_commit_is_released_and_retries_start_one_job(
    pg_url: str, amqp_url: str, tmp_path: Path
) -> None:
    with killable_content(pg_url, amqp_url, tmp_path) as (settings, content, proxy):
        clients = Clients.connect(settings)
        content.start()
        gateway = LiveGateway(create_app(settings)).start()
        try:
            with httpx.Client(base_url=gateway.base_url, timeout=30) as http:
                seed_clips.seed_catalog(clients.media, tmp_path / "catalog", reaction_count=1, track_count=1)
                tenant = create_demo_tenant(clients, credits=PRICE * 10)
                org = tenant["organizationId"]
                path = f"/v1/projects/{tenant['projectId']}/content/ugc-remix"
                auth = {"Authorization": f"Bearer {tenant['apiKey']}"}

                def post(key: str) -> httpx.Response:
                    body = {"influencerId": tenant["influencerId"]}
                    return http.post(path, json=body, headers={**auth, "Idempotency-Key": key})

                assert post("warm-up").status_code == 202  # content's channel to billing is up
                assert wallet(clients, org).reserved_credits == PRICE

                # The doomed request: billing holds its credits, content never hears so, and is killed.
                proxy.swallowing_replies.set()
                with httpx.Client(base_url=gateway.base_url, timeout=30) as doomed_http:
                    answers: list[int] = []
                    doomed = threading.Thread(
                        target=lambda: answers.append(
                            doomed_http.post(
                                path,
                                json={"influencerId": tenant["influencerId"]},
                                headers={**auth, "Idempotency-Key": "doomed"},
                            ).status_code
                        )
                    )
                    claimed_by = time.monotonic()  # the claim's lease starts once the POST reaches content
                    doomed.start()
                    deadline = time.monotonic() + RPC_TIMEOUT - 0.5
                    while wallet(clients, org).reserved_credits < 2 * PRICE:
                        assert time.monotonic() < deadline, "billing never held the doomed request's credits"
                        time.sleep(0.02)
                    content.kill()
                    doomed.join(30)
                assert answers == [503]  # content went away mid-call: safe to retry
                proxy.swallowing_replies.clear()
                assert wallet(clients, org).reserved_credits == 2 * PRICE  # held, and no job

                content.start()
                retry = post("doomed")
                assert retry.status_code == 409, retry.text
                assert retry.json()["error"]["details"]["reason"] == "IN_PROGRESS"
                assert 1 <= int(retry.headers["Retry-After"]) <= 5

                # No retry needed: once the lease ends the dead request's hold is given back.
                released_after = None
                while time.monotonic() - claimed_by < LEASE + 20:
                    if wallet(clients, org).reserved_credits == PRICE:
                        released_after = time.monotonic() - claimed_by
                        break
                    time.sleep(0.2)
                assert released_after is not None, (tmp_path / "content.log").read_text()[-3000:]
                assert released_after >= LEASE  # not before the dead request's lease ran out

                # A retry now starts exactly one job, and holds its credits once.
                fresh = post("doomed")
                assert fresh.status_code == 202, fresh.text
                assert fresh.headers.get("Idempotent-Replayed") is None
                replay = post("doomed")
                assert replay.status_code == 202 and replay.json()["jobId"] == fresh.json()["jobId"]
                assert replay.headers["Idempotent-Replayed"] == "true"
                assert wallet(clients, org).reserved_credits == 2 * PRICE  # warm-up + the one fresh job
                assert reservation_state(clients, reservation_id_for(fresh.json()["jobId"])) == (
                    billing_pb2.RESERVATION_STATE_HELD
                )
        finally:
            gateway.stop()
            clients.close()
