"""The Python SDK against a live `layers dev`, through a real HTTP proxy that can fail requests on cue: typed
answers, waiting with ETags, resumable checked downloads, retries that create one job, typed errors,
cursor iteration, webhook endpoints and signatures."""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
import uuid
from pathlib import Path

import pytest

import layers_partner as lp
from layers_partner import webhooks
from services.media import seed_clips
from tests.sdk.conftest import Dev
from tests.support.http_fault_proxy import (
    CORRUPT,
    CUT_BODY,
    DROP,
    FORWARD_THEN_503,
    REFUSE_429,
    REFUSE_503,
    FaultProxy,
)
from tests.support.receiver import receiver

FAST = lp.RetryPolicy(initial_backoff_seconds=0.05, max_backoff_seconds=0.5, deadline_seconds=30)

pytestmark = pytest.mark.sdk


def client(dev: Dev, proxy: FaultProxy | None = None, retry: lp.RetryPolicy = FAST) -> lp.Client:
    return lp.Client(dev.api_key, base_url=proxy.url if proxy else dev.base_url, retry=retry)


def remix(layers: lp.Client, dev: Dev, **fields: str) -> lp.models.AcceptedJob:
    return layers.ugc_remix(dev.demo["projectId"], influencer_id=dev.demo["influencerId"], **fields)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_identity_and_wallet_are_typed(dev: Dev) -> None:
    with client(dev) as layers:
        me = layers.whoami()
        wallet = layers.credits()
    assert me.organization_id == dev.demo["organizationId"] and "*" in me.scopes
    assert wallet.estimated_credits_per_format["ugc_remix"] == 120
    assert wallet.available == wallet.balance - wallet.reserved_credits


def test_remix_wait_and_download_polls_with_etags_and_checks_the_file(
    dev: Dev, proxy: FaultProxy, tmp_path: Path
) -> None:
    with client(dev, proxy) as layers:
        accepted = remix(layers, dev, hook="Wait for it")
        assert accepted.status == "running" and len(accepted.container_ids) == 1
        job = layers.jobs.wait(accepted.job_id, interval=0.2, max_interval=0.5, raise_on_failure=True)
        assert job.status == "completed" and job.result is not None
        [asset] = job.result.assets
        container = layers.content.get(accepted.container_ids[0])
        progress = layers.content.progress(accepted.container_ids[0])
        fresh = layers.content.asset(accepted.container_ids[0], asset.asset_id)
        path = layers.content.download(fresh, tmp_path / "remix.mp4")
    polls = proxy.requests("GET", f"/v1/jobs/{accepted.job_id}")
    assert any("if-none-match" in p.headers for p in polls), "polls send the ETag they were given"
    assert any(p.upstream_status == 304 for p in polls), "an unchanged job is not sent again"
    assert container.status == "completed" and container.hook == "Wait for it"
    assert progress.status == "completed"
    assert fresh.url.startswith(proxy.url + "/v1/content/"), "links are absolute, on the address called"
    assert path.stat().st_size == fresh.size_bytes and sha256(path) == fresh.checksum_sha256
    [download] = proxy.requests("GET", f"/assets/{asset.asset_id}/file")
    assert "authorization" not in download.headers, "a signed link needs no API key"


def test_a_503_after_the_gateway_did_the_work_still_creates_exactly_one_job(dev: Dev, proxy: FaultProxy) -> None:
    with client(dev, proxy) as layers:
        before = layers.credits().available
        proxy.on("POST", "/content/ugc-remix", FORWARD_THEN_503)
        accepted = remix(layers, dev)
        layers.jobs.wait(accepted.job_id, interval=0.2, max_interval=0.5)
        after = layers.credits().available
    first, second = proxy.requests("POST", "/content/ugc-remix")
    assert first.action == FORWARD_THEN_503 and first.upstream_status == 202
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"]
    assert second.upstream_headers.get("idempotent-replayed") == "true"
    assert before - after == 120, "one job reserved (and captured) one job's credits"


def test_a_503_before_the_gateway_saw_it_is_retried_with_the_same_key(dev: Dev, proxy: FaultProxy) -> None:
    with client(dev, proxy) as layers:
        proxy.on("POST", "/content/ugc-remix", REFUSE_503)
        accepted = remix(layers, dev, idempotency_key=f"sdk-{uuid.uuid4()}")
        layers.jobs.wait(accepted.job_id, interval=0.2, max_interval=0.5)
    refused, forwarded = proxy.requests("POST", "/content/ugc-remix")
    assert refused.upstream_status is None and forwarded.upstream_status == 202
    assert refused.headers["idempotency-key"] == forwarded.headers["idempotency-key"]


def test_a_4xx_is_raised_at_once_as_its_class(dev: Dev, proxy: FaultProxy) -> None:
    with client(dev, proxy) as layers, pytest.raises(lp.ValidationError) as refused:
        remix(layers, dev, media_id="not an id!")
    assert refused.value.status == 422 and refused.value.request_id.startswith("req_")
    assert [f["field"] for f in refused.value.fields] == ["mediaId"]
    assert len(proxy.requests("POST", "/content/ugc-remix")) == 1


def test_429_waits_for_retry_after_and_a_dropped_connection_is_tried_again(dev: Dev, proxy: FaultProxy) -> None:
    proxy.on("GET", "/v1/credits", REFUSE_429)
    proxy.on("GET", "/v1/whoami", DROP)
    with client(dev, proxy) as layers:
        started = time.monotonic()
        layers.credits()
        assert time.monotonic() - started >= 1.0, "Retry-After: 1 is honoured"
        layers.whoami()
    assert len(proxy.requests("GET", "/v1/credits")) == 2
    assert len(proxy.requests("GET", "/v1/whoami")) == 2


def test_retries_stop_at_the_deadline(dev: Dev, proxy: FaultProxy) -> None:
    proxy.on("GET", "/v1/credits", REFUSE_503, times=1000)
    retry = lp.RetryPolicy(max_attempts=100, initial_backoff_seconds=0.1, max_backoff_seconds=0.3, deadline_seconds=2)
    started = time.monotonic()
    with client(dev, proxy, retry) as layers, pytest.raises(lp.Unavailable) as gave_up:
        layers.credits()
    assert time.monotonic() - started < 3
    assert gave_up.value.status == 503
    # Retry-After: 1 from each 503: a try at 0 s and at 1 s (fewer on a slow machine); a third would start
    # past the deadline.
    assert 1 <= len(proxy.requests("GET", "/v1/credits")) <= 2


def test_each_error_code_is_its_own_class(dev: Dev) -> None:
    with client(dev) as layers:
        with pytest.raises(lp.NotFound) as missing:
            layers.jobs.get("job_00000000000000000000000000")
        assert missing.value.status == 404 and missing.value.code == "NOT_FOUND"
        key = f"sdk-{uuid.uuid4()}"
        accepted = remix(layers, dev, hook="one", idempotency_key=key)
        with pytest.raises(lp.IdempotencyConflict) as conflict:
            remix(layers, dev, hook="another", idempotency_key=key)
        assert conflict.value.reason == "BODY_MISMATCH"
        layers.jobs.wait(accepted.job_id, interval=0.2, max_interval=0.5)
    with lp.Client("lp_live_nope_nope", base_url=dev.base_url) as stranger, pytest.raises(lp.Unauthenticated):
        stranger.whoami()


def test_cancel_answers_typed(dev: Dev) -> None:
    with client(dev) as layers:
        accepted = remix(layers, dev)
        result = layers.jobs.cancel(accepted.job_id)
        job = layers.jobs.wait(accepted.job_id, interval=0.2, max_interval=0.5)
    assert result.accepted or result.reason == "ALREADY_COMPLETED"
    assert job.status == ("canceled" if result.accepted else "completed")


def test_a_cut_download_resumes_with_range(dev: Dev, proxy: FaultProxy, tmp_path: Path) -> None:
    with client(dev, proxy) as layers:
        job = layers.jobs.wait(remix(layers, dev).job_id, interval=0.2, max_interval=0.5, raise_on_failure=True)
        assert job.result is not None
        [asset] = job.result.assets
        proxy.on("GET", f"/assets/{asset.asset_id}/file", CUT_BODY)
        path = layers.content.download(asset, tmp_path / "cut.mp4")
    cut, resumed = proxy.requests("GET", f"/assets/{asset.asset_id}/file")
    assert "range" not in cut.headers
    # It asks for the rest from what it kept (at most the half the proxy sent), and gets a 206.
    start = int(resumed.headers["range"].removeprefix("bytes=").removesuffix("-"))
    assert 0 < start <= asset.size_bytes // 2 and resumed.upstream_status == 206
    assert sha256(path) == asset.checksum_sha256
    assert not (tmp_path / "cut.mp4.part").exists()


def test_a_corrupted_download_is_refused_and_removed(dev: Dev, proxy: FaultProxy, tmp_path: Path) -> None:
    with client(dev, proxy) as layers:
        job = layers.jobs.wait(remix(layers, dev).job_id, interval=0.2, max_interval=0.5, raise_on_failure=True)
        assert job.result is not None
        [asset] = job.result.assets
        proxy.on("GET", f"/assets/{asset.asset_id}/file", CORRUPT, times=10)
        with pytest.raises(lp.ChecksumMismatch):
            layers.content.download(asset, tmp_path / "bad.mp4")
    assert list(tmp_path.iterdir()) == []


def test_upload_and_lists_turn_every_page(dev: Dev, proxy: FaultProxy, tmp_path: Path) -> None:
    clip = seed_clips.make_app_demo(tmp_path / "demo.mp4", seconds=2)
    project = dev.demo["projectId"]
    with client(dev, proxy) as layers:
        uploaded = layers.media.upload(project, clip)
        items = list(layers.media.list(project, role="app-demo", limit=1))
        influencers = list(layers.influencers(project, limit=1))
        accounts = list(layers.social_accounts(project))
    assert uploaded.kind == "demo-video" and uploaded.media_role == "app-demo" and uploaded.size_bytes > 0
    ids = [m.media_id for m in items]
    assert uploaded.media_id in ids and len(ids) == len(set(ids)) >= 2
    assert any("cursor=" in s.path for s in proxy.requests("GET", "/media")), "later pages follow nextCursor"
    assert [i.influencer_id for i in influencers] == [dev.demo["influencerId"]]
    assert [a.social_account_id for a in accounts] == [dev.demo["socialAccountId"]]


def test_webhook_endpoints_and_signatures(dev: Dev) -> None:
    with client(dev) as layers, receiver() as hook:
        created = layers.webhooks.create(hook.url, ["test.ping"], description="sdk test")
        endpoint_id = created.endpoint.endpoint_id
        sent = layers.webhooks.test(endpoint_id)
        [delivery] = hook.wait_for(1)
        header = delivery.headers["x-layers-signature"]
        event = webhooks.verify(delivery.body, header, created.signing_secret)
        assert event.id == sent.event_id and event.type == "test.ping"
        for bad in (
            lambda: webhooks.verify(delivery.body, header, "whsec_other"),
            lambda: webhooks.verify(delivery.body + b" ", header, created.signing_secret),
            lambda: webhooks.verify(delivery.body, header, created.signing_secret, now=time.time() + 301),
            lambda: webhooks.verify(delivery.body, None, created.signing_secret),
        ):
            with pytest.raises(lp.WebhookVerificationError):
                bad()
        assert endpoint_id in [e.endpoint_id for e in layers.webhooks.list(limit=1)]
        assert layers.webhooks.update(endpoint_id, status="paused").status == "paused"
        assert layers.webhooks.update(endpoint_id, status="active").status == "active"
        rotated = layers.webhooks.rotate_secret(endpoint_id)
        layers.webhooks.test(endpoint_id)
        [_, during_overlap] = hook.wait_for(2)
        for secret in (created.signing_secret, rotated.signing_secret):  # one v1= per live secret
            webhooks.verify(during_overlap.body, during_overlap.headers["x-layers-signature"], secret)
        deliveries = list(layers.webhooks.deliveries(endpoint_id))
        assert {d.event_id for d in deliveries} >= {sent.event_id}
        replayed = layers.webhooks.replay(deliveries[-1].delivery_id)
        assert replayed.delivery_id != deliveries[-1].delivery_id
        layers.webhooks.delete(endpoint_id)
        with pytest.raises(lp.NotFound):
            layers.webhooks.get(endpoint_id)


def test_wait_returns_as_soon_as_a_webhook_event_is_handed_to_it(dev: Dev) -> None:
    with client(dev) as layers, receiver() as hook:
        created = layers.webhooks.create(hook.url, ["job.completed", "job.failed", "job.canceled"])
        accepted = remix(layers, dev)

        def hand_over() -> None:
            for delivery in hook.wait_for(1, timeout=120):
                layers.jobs.notify(
                    webhooks.verify(delivery.body, delivery.headers["x-layers-signature"], [created.signing_secret])
                )

        threading.Thread(target=hand_over, daemon=True).start()
        started = time.monotonic()
        job = layers.jobs.wait(accepted.job_id, interval=60, max_interval=60)
        waited = time.monotonic() - started
        layers.webhooks.delete(created.endpoint.endpoint_id)
    assert job.status == "completed"
    assert waited < 45, f"woken by the event, not by the 60 s poll ({waited:.1f} s)"


def test_the_async_client_has_the_same_surface(dev: Dev, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with lp.AsyncClient(dev.api_key, base_url=dev.base_url, retry=FAST) as layers:
            assert (await layers.whoami()).organization_id == dev.demo["organizationId"]
            accepted = await layers.ugc_remix(dev.demo["projectId"], social_account_id=dev.demo["socialAccountId"])
            job = await layers.jobs.wait(accepted.job_id, interval=0.2, max_interval=0.5, raise_on_failure=True)
            assert job.result is not None
            [asset] = job.result.assets
            path = await layers.content.download(asset, tmp_path / "async.mp4")
            assert sha256(path) == asset.checksum_sha256
            assert [i.influencer_id async for i in layers.influencers(dev.demo["projectId"], limit=1)] == [
                dev.demo["influencerId"]
            ]
            assert (await layers.content.get(accepted.container_ids[0])).social_account_id == dev.demo[
                "socialAccountId"
            ]
            with pytest.raises(lp.NotFound):
                await layers.jobs.get("job_00000000000000000000000000")

    asyncio.run(scenario())
