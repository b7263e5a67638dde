"""PostgreSQL restarted under load and RabbitMQ restarted while renders run, on this machine's real servers.
Each test restores the server it touched, also when it fails."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import _reachable
from tests.e2e.stack import Stack, running_stack
from tests.e2e.test_infra_faults import require_root
from tests.e2e.test_render_e2e import credits, is_terminal, start_job, wait_for

# They stop servers other tests use: run them alone (CI runs the suite serially); -m "not faults" skips them.
pytestmark = pytest.mark.faults


def _postgres_cluster() -> str:
    """The newest installed cluster version (as numbers: 16 after 9.6)."""
    return max(os.listdir("/etc/postgresql"), key=lambda v: [int(p) for p in v.split(".") if p.isdigit()])


@contextlib.contextmanager
def restored(what: str, port: int, start: list[str]) -> Iterator[None]:
    """Whatever the test does to the server on `port`, it is running again afterwards (`start` if not)."""
    require_root(f"restarting {what}")
    try:
        yield
    finally:
        if not _reachable("127.0.0.1", port):
            subprocess.run(start, check=False, capture_output=True, timeout=120)
        deadline = time.monotonic() + 60
        while not _reachable("127.0.0.1", port) and time.monotonic() < deadline:
            time.sleep(0.5)


def postgres_restored() -> contextlib.AbstractContextManager[None]:
    start = ["pg_ctlcluster", "--skip-systemctl-redirect", _postgres_cluster(), "main", "start"]
    return restored("PostgreSQL", 5432, start)


def rabbitmq_restored() -> contextlib.AbstractContextManager[None]:
    return restored("RabbitMQ", 5672, ["rabbitmqctl", "start_app"])


class Load:
    """A few clients starting ugc-remixes (a fresh Idempotency-Key each) and polling a job, recording every
    answer with its time, until stopped."""

    def __init__(self, stack: Stack, tenant: dict[str, Any], workers: int = 6) -> None:
        self.stack, self.tenant, self.workers = stack, tenant, workers
        self.answers: list[tuple[float, str, int, str]] = []  # (monotonic time, call, status, job id or body)
        self.stopping = False
        self.pool = ThreadPoolExecutor(workers)
        self.futures: list[Any] = []

    def _run(self) -> None:
        path = f"/v1/projects/{self.tenant['projectId']}/content/ugc-remix"
        body = {"influencerId": self.tenant["influencerId"]}
        last_job = None
        with httpx.Client(
            base_url=self.stack.base_url, headers={"Authorization": f"Bearer {self.tenant['apiKey']}"}, timeout=30
        ) as http:
            while not self.stopping:
                response = http.post(path, json=body, headers={"Idempotency-Key": uuid.uuid4().hex})
                detail = response.json().get("jobId", "") if response.status_code == 202 else response.text[:300]
                self.answers.append((time.monotonic(), "start", response.status_code, detail))
                if response.status_code == 202:
                    last_job = detail
                if last_job:
                    poll = http.get(f"/v1/jobs/{last_job}")
                    self.answers.append((time.monotonic(), "poll", poll.status_code, poll.text[:300]))

    def start(self) -> Load:
        self.futures = [self.pool.submit(self._run) for _ in range(self.workers)]
        return self

    def stop(self) -> None:
        self.stopping = True
        for future in self.futures:
            future.result(60)
        self.pool.shutdown()


@pytest.mark.postgres
def test_postgresql_restarted_under_load_answers_503_recovers_and_loses_no_accepted_job(
    tmp_path: Path, pg_url: str
) -> None:
    from sqlalchemy import create_engine, text

    from layers.billing.v1 import billing_pb2
    from services.content.ugc_remix import reservation_id_for

    urls = {"content": pg_url, "media": pg_url, "billing": pg_url}
    with (
        postgres_restored(),
        running_stack(
            tmp_path, db_urls=urls, rate_limit_generations_per_minute=10**6, max_concurrent_jobs_per_key=10**6
        ) as stack,
    ):
        tenant = stack.tenant(credits=120 * 100_000)
        load = Load(stack, tenant).start()
        try:
            time.sleep(2)
            restart_began = time.monotonic()
            subprocess.run(
                ["pg_ctlcluster", "--skip-systemctl-redirect", _postgres_cluster(), "main", "restart"],
                check=True,
                timeout=120,
            )
            back = time.monotonic()
            # Load goes on until a few seconds of answers have come after PostgreSQL is back.
            deadline = back + 30
            while time.monotonic() < deadline:
                recent = [a for a in load.answers if a[0] > back + 1 and a[1] == "start"]
                if sum(1 for a in recent if a[2] == 202) >= 20:
                    break
                time.sleep(0.2)
        finally:
            load.stop()

        statuses = {status for _, _, status, _ in load.answers}
        assert statuses <= {200, 202, 503}, [a for a in load.answers if a[2] not in (200, 202, 503)][:3]
        first_ok_after = min(
            (t for t, call, status, _ in load.answers if call == "start" and status == 202 and t > back),
            default=None,
        )
        assert first_ok_after is not None, "no ugc-remix succeeded after PostgreSQL came back"
        recovery = first_ok_after - back
        print(f"PostgreSQL restart took {back - restart_began:.1f} s; first 202 {recovery:.2f} s after it was back")
        assert recovery < 10

        accepted = [detail for _, call, status, detail in load.answers if call == "start" and status == 202]
        assert len(accepted) == len(set(accepted)) > 0
        engine = create_engine(pg_url)
        try:
            with engine.connect() as conn:
                jobs = set(conn.scalars(text("SELECT job_id FROM jobs")))
                containers = set(conn.scalars(text("SELECT job_id FROM containers")))
                outbox = set(conn.scalars(text("SELECT message_id FROM outbox")))
        finally:
            engine.dispose()
        missing = [job for job in accepted if job not in jobs or job not in containers or job not in outbox]
        assert missing == []
        for job in accepted:
            reservation = stack.stubs.billing.GetReservation(
                billing_pb2.GetReservationRequest(reservation_id=reservation_id_for(job))
            ).reservation
            assert reservation.state == billing_pb2.RESERVATION_STATE_HELD and reservation.amount == 120


@pytest.mark.rabbitmq
def test_rabbitmq_restarted_while_renders_run_completes_every_job_exactly_once(tmp_path: Path, amqp_url: str) -> None:
    from common.render_queue import RabbitPublisher
    from tests.e2e.test_crash_recovery import delete_events
    from tests.e2e.test_outbox_rabbitmq import delete_topology

    tag = uuid.uuid4().hex[:8]
    queue, events_exchange, events_queue = f"test.render.restart.{tag}", f"test.events.{tag}", f"test.webhooks.{tag}"
    try:
        with (
            rabbitmq_restored(),
            running_stack(
                tmp_path,
                publisher=RabbitPublisher(amqp_url, queue),
                renderer=True,
                catalog=(1, 1),
                amqp_url=amqp_url,
                render_queue=queue,
                events_exchange=events_exchange,
                webhooks_queue=events_queue,
            ) as stack,
        ):
            tenant = stack.tenant(credits=120 * 10)
            jobs = [start_job(stack, tenant)["jobId"] for _ in range(3)]
            wait_for(stack, tenant, jobs[0], lambda job: job["progress"] > 0 or is_terminal(job), timeout=120)
            stopped = time.monotonic()
            subprocess.run(["rabbitmqctl", "stop_app"], check=True, capture_output=True, timeout=120)
            jobs.append(start_job(stack, tenant)["jobId"])  # accepted while the broker is away: the outbox keeps it
            time.sleep(3)
            subprocess.run(["rabbitmqctl", "start_app"], check=True, capture_output=True, timeout=120)
            print(f"RabbitMQ was away {time.monotonic() - stopped:.1f} s")
            finished = [wait_for(stack, tenant, job, is_terminal, timeout=180) for job in jobs]
            assert [job["status"] for job in finished] == ["completed"] * len(jobs), finished
            for job in finished:
                assert len(job["result"]["assets"]) == 1
            wallet = credits(stack, tenant)
            assert wallet["reservedCredits"] == 0 and wallet["balance"] == 120 * 10 - 120 * len(jobs)
    finally:
        with contextlib.suppress(Exception):
            delete_topology(amqp_url, queue)
            delete_events(amqp_url, events_exchange, events_queue)
