"""`layers dev` with JSON logs and metrics on, through a webhook endpoint's creation, a ugc-remix to
completion and its signed download:
- the renderer's and the webhook delivery's lines carry the request id of the POST that started the job, and
  no line anywhere holds the API key, the webhook signing secret or a URL signature;
- /metrics of the process names every hop of the job with bounded labels, and every metric the dashboard and
  alert rules in deploy/observability query."""

from __future__ import annotations

import json
import signal
import time
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.test_dev_crash import job_of, layers_dev, wait_until
from tests.observability.test_deploy_observability import alert_exprs, dashboard_exprs, referenced
from tests.support.processes import free_port

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(port: int) -> Samples:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels` (a missing metric fails)."""
    matching = [v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= ls]
    assert matching, f"no sample {name}{labels} in {[dict(ls) for n, ls in samples if n == name]}"
    return sum(matching)


def test_a_job_is_logged_with_its_request_id_and_no_secret_and_measured_at_every_hop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAYERS_LOG_FORMAT", "json")
    monkeypatch.setenv("LAYERS_FETCH_ALLOWED_HOSTS", "localhost")  # the endpoint below, on loopback
    metrics_port = free_port()
    monkeypatch.setenv("LAYERS_METRICS_PORT", str(metrics_port))
    data, tmp, log = tmp_path / "data", tmp_path / "tmp", tmp_path / "layers-dev.log"
    tmp.mkdir()
    with layers_dev(data, tmp, log) as (process, client, demo):
        endpoint = client.post(
            "/v1/webhook-endpoints", json={"url": "https://localhost:9/layers", "events": ["job.completed"]}
        )
        assert endpoint.status_code == 201, endpoint.text
        secret = endpoint.json()["signingSecret"]
        started = client.post(
            f"/v1/projects/{demo['projectId']}/content/ugc-remix",
            json={"influencerId": demo["influencerId"], "hook": "Wait for it"},
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        assert started.status_code == 202, started.text
        request_id, job_id = started.headers["X-Request-Id"], started.json()["jobId"]
        wait_until(lambda: job_of(client, job_id)["status"] != "running", 240, "the job ends")
        done = job_of(client, job_id)
        assert done["status"] == "completed", done
        url = done["result"]["assets"][0]["url"]
        signature = parse_qs(urlsplit(url).query)["signature"][0]
        assert client.get(url).status_code == 200
        assert client.get(url.replace(signature, "0" * len(signature))).status_code in (401, 403)
        # The delivery to the closed port is tried and fails: one attempt, to be retried.
        wait_until(
            lambda: value(scrape(metrics_port), "layers_webhook_deliveries_total", outcome="retrying") >= 1,
            30,
            "the webhook attempt is counted",
        )
        samples = scrape(metrics_port)
        # Ctrl-C, and again while it stops (a terminal's process group, a supervisor and its child): one clean stop.
        process.send_signal(signal.SIGINT)
        time.sleep(0.2)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0

    remix = "/v1/projects/{projectId}/content/ugc-remix"
    assert value(samples, "layers_http_requests_total", route=remix, method="POST", status="202") == 1
    assert value(samples, "layers_http_request_duration_seconds_count", route=remix, method="POST") == 1
    assert value(samples, "layers_http_requests_total", route="/v1/jobs/{jobId}", status="200") >= 1
    assert not [ls for (n, ls) in samples if n == "layers_http_requests_total" and ("route", url) in ls]
    create = {"grpc_service": "layers.content.v1.PartnerService", "grpc_method": "CreateUgcRemix"}
    assert value(samples, "layers_grpc_server_handled_total", **create, grpc_code="OK") == 1
    assert value(samples, "layers_grpc_server_handling_seconds_count", **create) == 1
    assert value(samples, "layers_grpc_server_handled_total", grpc_service="layers.billing.v1.BillingService") >= 2
    assert value(samples, "layers_jobs_accepted_total", kind="content_generate") == 1
    assert value(samples, "layers_jobs_finished_total", status="completed") == 1
    for stage in ("fetching_inputs", "compositing", "uploading"):
        assert value(samples, "layers_render_stage_seconds_count", stage=stage) == 1
    assert value(samples, "layers_billing_credits_total", operation="reserved") == 120
    assert value(samples, "layers_billing_credits_total", operation="captured") == 120
    assert value(samples, "layers_billing_credits_total", operation="released") == 0
    assert value(samples, "layers_rate_limit_refusals_total", endpoint_class="generations") == 0
    for gauge in ("layers_render_queue_depth", "layers_outbox_pending", "layers_webhook_deliveries_pending"):
        assert value(samples, gauge) >= 0
    # What deploy/observability queries, the running system exports (not only the code declares).
    queried = set().union(*(referenced(expr) for expr in [*alert_exprs().values(), *dashboard_exprs()]))
    assert queried - {name for name, _ in samples} == set()

    text = log.read_text()
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    assert lines and all({"time", "level", "logger", "message"} <= line.keys() for line in lines)
    # A stop is a clean one: no error, no traceback on the way out.
    assert [line for line in lines if line["level"] in ("ERROR", "CRITICAL")] == []
    assert "Traceback" not in text and "layers dev stopped" in text
    renderer = [line for line in lines if line["logger"] == "layers.renderer" and line.get("jobId") == job_id]
    assert renderer, "the renderer logged nothing of the job"
    assert all(line["requestId"] == request_id and line["organizationId"] for line in renderer), renderer
    # The job's event, through the outbox and the webhooks service's own table, still names the request.
    attempts = [line for line in lines if line["logger"] == "layers.webhooks.delivery"]
    assert attempts and all(line.get("requestId") == request_id for line in attempts), attempts
    # The start banner shows the demo key to its developer on purpose; nothing else may.
    output = "\n".join(line for line in text.splitlines() if not line.strip().startswith("export LAYERS_API_KEY="))
    key_secret = demo["apiKey"].rsplit("_", 1)[1]
    for leaked in (key_secret, secret.removeprefix("whsec_"), signature):
        assert leaked not in output
