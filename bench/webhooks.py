"""Webhook delivery under load, in the production shape: N completed jobs × M endpoints.

Billing, media and content run in this process on fresh PostgreSQL databases, content's relay publishing to
RabbitMQ; `python -m services.webhooks` runs as its own process (its own database, consuming
`layers.events`); the receiver is uvicorn over https in a third process (a throwaway CA, allowed to the
SSRF guard as a test host). Jobs are created first (not measured), then completed as fast as the render
callback takes them; every endpoint subscribes to job.completed. Figures: deliveries/s from the first
completion to the last arrival, and the lag from each state change (the event's createdAt) to its arrival.

    .venv/bin/python bench/webhooks.py                       # 1000 jobs × 3 endpoints
    .venv/bin/python bench/webhooks.py --jobs 200 --endpoints 2 --json out.json
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import grpc  # noqa: E402

from cli.admin import create_demo_tenant  # noqa: E402
from common.amqp import scratch_broker_names  # noqa: E402
from common.clients import Clients, channel  # noqa: E402
from common.db import scratch_databases  # noqa: E402
from common.render_queue import RabbitPublisher  # noqa: E402
from common.settings import Settings  # noqa: E402
from layers.content.v1 import content_pb2  # noqa: E402
from layers.webhooks.v1 import webhooks_pb2, webhooks_pb2_grpc  # noqa: E402
from services.billing import server as billing_server  # noqa: E402
from services.content import server as content_server  # noqa: E402
from services.media import server as media_server  # noqa: E402

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"


def log(message: str) -> None:
    print(f"[webhooks-bench] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))]


@contextlib.contextmanager
def process(args: list[str], env: dict[str, str], log_file: Path) -> Iterator[subprocess.Popen[bytes]]:
    out = log_file.open("ab")
    proc = subprocess.Popen(args, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        out.close()


def wait_until(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except Exception:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.1)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of one process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def receiver_stats(port: int, ca: Any) -> dict[str, Any]:
    import ssl

    context = ssl.create_default_context(cafile=str(ca))
    with urllib.request.urlopen(f"https://localhost:{port}/stats", context=context, timeout=10) as answer:
        return dict(json.loads(answer.read()))


def run(
    jobs: int, endpoints: int, pg_url: str, amqp_url: str, concurrency: int, logs: Path | None = None
) -> dict[str, Any]:
    import trustme

    with (
        tempfile.TemporaryDirectory() as tmp,
        scratch_broker_names(amqp_url, "bench") as names,
        scratch_databases(pg_url, "layers_bench_wh", ["content", "media", "billing", "webhooks"]) as urls,
    ):
        work = Path(tmp)
        ca = trustme.CA()
        ca_file, cert_file, key_file = work / "ca.pem", work / "cert.pem", work / "key.pem"
        ca.cert_pem.write_to_path(str(ca_file))
        issued = ca.issue_cert("localhost")
        issued.private_key_pem.write_to_path(str(key_file))
        issued.cert_chain_pems[0].write_to_path(str(cert_file))
        hook_port, webhooks_port = free_port(), free_port()
        env = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "LAYERS_DATA_DIR": str(work),
            "LAYERS_WEBHOOKS_ADDR": f"127.0.0.1:{webhooks_port}",
            "LAYERS_WEBHOOKS_DB_URL": urls["webhooks"],
            "LAYERS_AMQP_URL": amqp_url,
            "LAYERS_EVENTS_EXCHANGE": names["events_exchange"],
            "LAYERS_WEBHOOKS_QUEUE": names["webhooks_queue"],
            "LAYERS_WEBHOOK_SECRET_KEY": "bench-webhook-secret-key",
            "LAYERS_WEBHOOK_CONCURRENCY": str(concurrency),
            "LAYERS_FETCH_ALLOWED_HOSTS": "localhost",
            "LAYERS_FETCH_CA_FILE": str(ca_file),
        }
        receiver_args = [
            sys.executable, "-m", "uvicorn", "webhook_receiver:app", "--app-dir", str(REPO / "bench"),
            "--host", "127.0.0.1", "--port", str(hook_port), "--log-level", "warning",
            "--ssl-certfile", str(cert_file), "--ssl-keyfile", str(key_file),
        ]  # fmt: skip
        settings = Settings(
            data_dir=work,
            content_db_url=urls["content"],
            media_db_url=urls["media"],
            billing_db_url=urls["billing"],
            amqp_url=amqp_url,
            max_concurrent_jobs_per_key=jobs + 10,
            rate_limit_generations_per_minute=100_000,
            render_queue=names["render_queue"],
            events_exchange=names["events_exchange"],
            webhooks_queue=names["webhooks_queue"],
        )
        started: list[Any] = []
        with (
            process(receiver_args, env, work / "receiver.log"),
            process([sys.executable, "-m", "services.webhooks"], env, work / "webhooks.log") as webhooks_proc,
        ):
            try:
                billing = billing_server.start(settings, "127.0.0.1:0")
                started.append(billing)
                media = media_server.start(settings, "127.0.0.1:0")
                started.append(media)
                settings = settings.model_copy(update={"billing_addr": billing.address, "media_addr": media.address})
                content = content_server.start(
                    settings, "127.0.0.1:0", publisher=RabbitPublisher(amqp_url, names["render_queue"])
                )
                started.append(content)
                settings = settings.model_copy(update={"content_addr": content.address})
                clients = Clients.connect(settings)
                started.append(clients)
                from services.media import seed_clips

                seed_clips.seed_catalog(clients.media, work, reaction_count=2, track_count=1)
                tenant = create_demo_tenant(clients, credits=120 * (jobs + 10))
                wait_until(lambda: receiver_stats(hook_port, ca_file) is not None, 30, "the receiver")
                hooks = webhooks_pb2_grpc.WebhookServiceStub(channel(env["LAYERS_WEBHOOKS_ADDR"]))
                wait_until(
                    lambda: (
                        hooks.ListEndpoints(
                            webhooks_pb2.ListEndpointsRequest(organization_id=tenant["organizationId"]), timeout=2
                        )
                        is not None
                    ),
                    60,
                    "the webhooks service",
                )
                for n in range(endpoints):
                    hooks.CreateEndpoint(
                        webhooks_pb2.CreateEndpointRequest(
                            organization_id=tenant["organizationId"],
                            url=f"https://localhost:{hook_port}/hooks/{n}",
                            events=["job.completed"],
                        )
                    )
                log(f"creating {jobs} jobs")
                job_ids = []
                for _ in range(jobs):
                    answer = clients.partner.CreateUgcRemix(
                        content_pb2.CreateUgcRemixRequest(
                            organization_id=tenant["organizationId"],
                            project_id=tenant["projectId"],
                            influencer_id=tenant["influencerId"],
                        )
                    )
                    job_ids.append(answer.job.job_id)
                asset = content_pb2.Asset(
                    kind="video", blob_id="blb_bench", thumbnail_blob_id="blb_bench_t", duration_ms=10_000,
                    width=1080, height=1920, mime_type="video/mp4", size_bytes=1_000_000, checksum_sha256="0" * 64,
                )  # fmt: skip

                def complete(job_id: str) -> None:
                    for attempt in range(5):
                        try:
                            clients.render.CompleteRender(
                                content_pb2.CompleteRenderRequest(job_id=job_id, assets=[asset])
                            )
                            return
                        except grpc.RpcError:
                            if attempt == 4:
                                raise
                            time.sleep(0.2)

                expected = jobs * endpoints
                log(f"completing {jobs} jobs; {expected} deliveries expected")
                began, cpu_before = time.time(), cpu_seconds(webhooks_proc.pid)
                with concurrent.futures.ThreadPoolExecutor(8) as pool:
                    list(pool.map(complete, job_ids))
                completed_in = time.time() - began
                deadline = time.monotonic() + 300
                while True:
                    stats = receiver_stats(hook_port, ca_file)
                    if stats["unique"] >= expected or time.monotonic() > deadline:
                        break
                    time.sleep(0.2)
                elapsed = time.time() - began
                webhooks_cpu = cpu_seconds(webhooks_proc.pid) - cpu_before
                lags = [float(x) for x in stats["lagsMs"]]
            finally:
                for part in reversed(started):
                    if isinstance(part, Clients):
                        part.close()
                    else:
                        part.stop(grace_seconds=1)
        if logs is not None:
            logs.mkdir(parents=True, exist_ok=True)
            for name in ("receiver.log", "webhooks.log"):
                (logs / name).write_bytes((work / name).read_bytes())
    # The time to the last arrival, measured by the receiver's lags: began + lag of the latest.
    return {
        "jobs": jobs,
        "endpoints": endpoints,
        "expected": expected,
        "delivered": stats["count"],
        "unique": stats["unique"],
        "completionSeconds": round(completed_in, 2),
        "elapsedSeconds": round(elapsed, 2),
        "deliveriesPerSecond": round(stats["unique"] / elapsed, 1) if elapsed else None,
        "lagP50Ms": round(percentile(lags, 0.50), 1),
        "lagP99Ms": round(percentile(lags, 0.99), 1),
        "lagMaxMs": round(max(lags), 1) if lags else None,
        "webhooksCpuMsPerDelivery": round(webhooks_cpu * 1000 / max(1, stats["unique"]), 2),
        "loadAverage": os.getloadavg()[0],
        "concurrency": concurrency,
    }


def format_row(result: dict[str, Any]) -> str:
    head = (
        f"{'jobs × endpoints':>18} {'deliveries':>11} {'seconds':>8} {'deliveries/s':>13} {'lag p50':>10}"
        f" {'lag p99':>10} {'lag max':>10} {'webhooks CPU ms/delivery':>25}"
    )
    row = (
        f"{result['jobs']:>9} × {result['endpoints']:<6} {result['unique']:>11} {result['elapsedSeconds']:>8}"
        f" {result['deliveriesPerSecond']:>13} {result['lagP50Ms']:>8}ms {result['lagP99Ms']:>8}ms"
        f" {result['lagMaxMs']:>8}ms {result['webhooksCpuMsPerDelivery']:>25}"
    )
    return f"{head}\n{'-' * len(head)}\n{row}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--endpoints", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=64, help="LAYERS_WEBHOOK_CONCURRENCY of the service")
    parser.add_argument("--pg-url", default=os.environ.get("LAYERS_TEST_PG_URL", DEFAULT_PG_URL))
    parser.add_argument("--amqp-url", default=os.environ.get("LAYERS_TEST_AMQP_URL", DEFAULT_AMQP_URL))
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--logs", type=Path, help="keep the webhooks service's and the receiver's logs here")
    args = parser.parse_args(argv)
    result = run(args.jobs, args.endpoints, args.pg_url, args.amqp_url, args.concurrency, args.logs)
    print(format_row(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0 if result["unique"] == result["expected"] else 1


if __name__ == "__main__":
    sys.exit(main())
