"""`layers dev` with JSON logs through a ugc-remix to completion, its signed download and a webhook
endpoint's creation: the renderer's lines carry the request id of the POST that started the job, and no
line anywhere holds the API key, the webhook signing secret or a URL signature."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.e2e.test_dev_crash import job_of, layers_dev, wait_until


def test_a_job_logs_its_request_id_everywhere_and_no_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAYERS_LOG_FORMAT", "json")
    monkeypatch.setenv("LAYERS_FETCH_ALLOWED_HOSTS", "localhost")  # the endpoint below, on loopback
    data, tmp, log = tmp_path / "data", tmp_path / "tmp", tmp_path / "layers-dev.log"
    tmp.mkdir()
    with layers_dev(data, tmp, log) as (process, client, demo):
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
        endpoint = client.post(
            "/v1/webhook-endpoints", json={"url": "https://localhost:9/layers", "events": ["job.completed"]}
        )
        assert endpoint.status_code == 201, endpoint.text
        secret = endpoint.json()["signingSecret"]
        process.terminate()
        process.wait(timeout=30)

    text = log.read_text()
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    assert lines and all({"time", "level", "logger", "message"} <= line.keys() for line in lines)
    renderer = [line for line in lines if line["logger"] == "layers.renderer" and line.get("jobId") == job_id]
    assert renderer, "the renderer logged nothing of the job"
    assert all(line["requestId"] == request_id and line["organizationId"] for line in renderer), renderer
    # The start banner shows the demo key to its developer on purpose; nothing else may.
    output = "\n".join(line for line in text.splitlines() if not line.strip().startswith("export LAYERS_API_KEY="))
    key_secret = demo["apiKey"].rsplit("_", 1)[1]
    for leaked in (key_secret, secret.removeprefix("whsec_"), signature):
        assert leaked not in output
