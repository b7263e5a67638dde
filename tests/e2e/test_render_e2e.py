"""A partner's POST ends in a real MP4: through REST, RabbitMQ, the renderer and back, with failures,
cancels and a renderer killed mid-render."""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pika
import pytest
from pika.adapters.blocking_connection import BlockingChannel
from PIL import Image

from common import ffmpeg
from common.ffmpeg import probe
from common.render_queue import RabbitPublisher, dead_queue, retry_queue
from layers.billing.v1 import billing_pb2
from layers.media.v1 import media_pb2
from services.media import seed_clips
from tests.e2e.stack import Stack, running_stack
from tests.renderer.media_checks import frame_at, mean_abs_diff, top_level_boxes

pytestmark = pytest.mark.rabbitmq

HOOK = "Wait for it…\nthis app 😂🔥 مرحبا"


@pytest.fixture
def queue_name(amqp_url: str) -> Iterator[str]:
    name = f"test.render.{uuid.uuid4().hex[:8]}"
    yield name
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        channel = connection.channel()
        for queue in (name, retry_queue(name), dead_queue(name)):
            channel.queue_delete(queue)
    finally:
        connection.close()


def rabbit_stack(tmp_path: Path, amqp_url: str, queue: str, renderer: bool = True, **overrides: Any):
    return running_stack(
        tmp_path,
        publisher=RabbitPublisher(amqp_url, queue),
        renderer=renderer,
        catalog=(1, 1),  # one template and one track, so two renders share their inputs
        amqp_url=amqp_url,
        render_queue=queue,
        **overrides,
    )


def start_job(stack: Stack, tenant: dict[str, Any], **body: Any) -> dict[str, Any]:
    with stack.http(tenant["apiKey"]) as client:
        response = client.post(
            f"/v1/projects/{tenant['projectId']}/content/ugc-remix",
            json={"influencerId": tenant["influencerId"], **body},
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
    assert response.status_code == 202, response.text
    return dict(response.json())


def wait_for(stack: Stack, tenant: dict[str, Any], job_id: str, done, timeout: float = 120) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    with stack.http(tenant["apiKey"]) as client:
        while True:
            job = client.get(f"/v1/jobs/{job_id}").json()
            if done(job):
                return dict(job)
            assert time.monotonic() < deadline, f"timed out waiting; job is {job}"
            time.sleep(0.2)


def is_terminal(job: dict[str, Any]) -> bool:
    return job["status"] != "running"


def credits(stack: Stack, tenant: dict[str, Any]) -> dict[str, Any]:
    with stack.http(tenant["apiKey"]) as client:
        return dict(client.get("/v1/credits").json())


def encoders_running(under: Path) -> list[str]:
    """ffmpeg processes writing a render output under this folder right now (found through /proc); the
    folder tells this test's encoders from those of anything else running on the machine."""
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if b".video.partial.mp4" in cmdline and str(under).encode() in cmdline:
                found.append(pid)
    return found


def test_completed_render_is_a_real_vertical_mp4(tmp_path: Path, amqp_url: str, queue_name: str) -> None:
    with rabbit_stack(tmp_path / "stack", amqp_url, queue_name, demo_cap_seconds=4.0) as stack:
        tenant = stack.tenant(credits=120 * 3)
        with_hook = start_job(stack, tenant, hook=HOOK)
        without_hook = start_job(stack, tenant)
        done = wait_for(stack, tenant, with_hook["jobId"], is_terminal)
        plain = wait_for(stack, tenant, without_hook["jobId"], is_terminal)
        assert done["status"] == plain["status"] == "completed", (done, plain)
        assert done["progress"] == 1.0 and done["finishedAt"]
        asset = done["result"]["assets"][0]

        with stack.http() as anonymous:  # the signature is the authority, not an API key
            video = anonymous.get(asset["url"])
            assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
            partial = anonymous.get(asset["url"], headers={"Range": "bytes=0-99"})
            assert partial.status_code == 206 and partial.content == video.content[:100]
            thumbnail = anonymous.get(asset["thumbnailUrl"])
            plain_video = anonymous.get(plain["result"]["assets"][0]["url"]).content
        out, plain_out, thumb = tmp_path / "hook.mp4", tmp_path / "plain.mp4", tmp_path / "thumb.jpg"
        out.write_bytes(video.content)
        plain_out.write_bytes(plain_video)
        thumb.write_bytes(thumbnail.content)

        with stack.http(tenant["apiKey"]) as client:
            container = client.get(f"/v1/content/{with_hook['containerIds'][0]}").json()
        template = stack.stubs.media.GetReactionTemplate(
            media_pb2.GetReactionTemplateRequest(reaction_template_id=container["reactionTemplateId"])
        ).reaction_template
        demo = stack.stubs.media.GetMedia(
            media_pb2.GetMediaRequest(
                organization_id=tenant["organizationId"], project_id=tenant["projectId"], media_id=tenant["mediaId"]
            )
        ).media
        wallet = credits(stack, tenant)

    measured = probe(out)
    assert (measured.width, measured.height) == (1080, 1920)
    assert measured.video_codec == "h264" and measured.pix_fmt == "yuv420p" and measured.frame_rate == 30
    assert measured.audio_codec == "aac" and measured.sample_rate == 48000 and measured.channels == 2
    boxes = top_level_boxes(out)
    assert boxes.index("moov") < boxes.index("mdat")  # +faststart
    expected_ms = template.probe.duration_ms + min(demo.probe.duration_ms, 4000)
    assert abs(measured.duration_ms - expected_ms) <= 100, (measured.duration_ms, expected_ms)

    # What the container says was measured from the file.
    assert container["status"] == "completed" and container["assets"][0]["sizeBytes"] == len(video.content)
    assert container["assets"][0]["checksumSha256"] == hashlib.sha256(video.content).hexdigest()
    assert container["preview"]["durationMs"] == measured.duration_ms
    assert Image.open(thumb).size == (540, 960)

    # The hook is drawn: hook frames differ from the same render without it, and the emoji are in colour.
    hook_frame, plain_frame = frame_at(out, 0.5), frame_at(plain_out, 0.5)
    assert mean_abs_diff(hook_frame, plain_frame) > 1.0
    emoji_yellow = sum(
        1
        for (r, g, b), (pr, pg, pb) in zip(
            hook_frame.get_flattened_data(), plain_frame.get_flattened_data(), strict=True
        )
        if r > 200 and g > 150 and b < 90 and abs(r - pr) + abs(g - pg) + abs(b - pb) > 120
    )
    assert emoji_yellow > 200, emoji_yellow
    assert mean_abs_diff(frame_at(out, 5.0), frame_at(plain_out, 5.0)) < 1.0  # the demo segment has no hook

    # Two renders captured, nothing held.
    assert wallet["balance"] == 120 and wallet["reservedCredits"] == 0


def test_corrupt_app_demo_fails_the_job_and_returns_the_credits(tmp_path: Path, amqp_url: str, queue_name: str) -> None:
    with rabbit_stack(tmp_path / "stack", amqp_url, queue_name) as stack:
        tenant = stack.tenant(credits=120)
        demo = stack.stubs.media.GetMedia(
            media_pb2.GetMediaRequest(
                organization_id=tenant["organizationId"], project_id=tenant["projectId"], media_id=tenant["mediaId"]
            )
        ).media
        blob_file = stack.settings.blobs / demo.blob.blob_id[-2:].lower() / demo.blob.blob_id
        assert blob_file.is_file()
        blob_file.write_bytes(os.urandom(demo.blob.size_bytes))  # the stored clip rots on disk
        job = start_job(stack, tenant)
        assert credits(stack, tenant)["available"] == 0
        failed = wait_for(stack, tenant, job["jobId"], is_terminal)
        with stack.http(tenant["apiKey"]) as client:
            container = client.get(f"/v1/content/{job['containerIds'][0]}").json()
        wallet = credits(stack, tenant)
    assert failed["status"] == "failed" and failed["error"]["code"] == "INPUT_UNDECODABLE", failed
    assert container["status"] == "failed" and container["lastError"]["code"] == "INPUT_UNDECODABLE"
    assert container["failedAt"] and container["assets"] == []
    assert wallet["balance"] == 120 and wallet["available"] == 120 and wallet["reservedCredits"] == 0


def test_cancel_during_compositing_stops_ffmpeg_and_releases_credits(
    tmp_path: Path, amqp_url: str, queue_name: str
) -> None:
    with rabbit_stack(tmp_path / "stack", amqp_url, queue_name, demo_cap_seconds=20.0) as stack:
        tenant = stack.tenant(credits=120)
        long_demo = seed_clips.make_app_demo(tmp_path / "long.mp4", seconds=30)
        media_id = _add_app_demo(stack, tenant, long_demo)
        job = start_job(stack, tenant, mediaId=media_id, hook="cancel me")
        wait_for(stack, tenant, job["jobId"], lambda j: j["stage"] == "compositing" and j["progress"] > 0.15)
        assert encoders_running(tmp_path)
        cancel_key = {"Idempotency-Key": str(uuid.uuid4())}
        with stack.http(tenant["apiKey"]) as client:
            canceled_at = time.monotonic()
            response = client.post(f"/v1/jobs/{job['jobId']}/cancel", headers=cancel_key)
            assert response.status_code == 202 and response.json() == {"accepted": True}
            while encoders_running(tmp_path):
                assert time.monotonic() - canceled_at < 2.0, "ffmpeg still running 2 s after the cancel"
                time.sleep(0.05)
            stopped_after = time.monotonic() - canceled_at
            time.sleep(1.0)
            final = client.get(f"/v1/jobs/{job['jobId']}").json()
            retried = client.post(f"/v1/jobs/{job['jobId']}/cancel", headers=cancel_key)
            again = client.post(f"/v1/jobs/{job['jobId']}/cancel")
            container = client.get(f"/v1/content/{job['containerIds'][0]}").json()
        wallet = credits(stack, tenant)
    assert stopped_after < 2.0
    assert final["status"] == "canceled" and final["result"] is None
    assert retried.status_code == 202 and retried.content == response.content  # same key: the first answer
    assert retried.headers["Idempotent-Replayed"] == "true"
    assert again.status_code == 200 and again.json() == {"accepted": False, "reason": "ALREADY_COMPLETED"}
    assert container["status"] == "canceled" and container["assets"] == []
    assert wallet == {**wallet, "balance": 120, "available": 120, "reservedCredits": 0}


def _add_app_demo(stack: Stack, tenant: dict[str, Any], clip: Path) -> str:
    from cli.admin import add_media

    return add_media(stack.stubs, tenant["organizationId"], tenant["projectId"], "app-demo", clip)


def _renderer(stack: Stack, amqp_url: str, queue: str, data_dir: Path, tmp: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "LAYERS_CONTENT_ADDR": stack.settings.content_addr,
        "LAYERS_MEDIA_ADDR": stack.settings.media_addr,
        "LAYERS_AMQP_URL": amqp_url,
        "LAYERS_RENDER_QUEUE": queue,
        "LAYERS_DATA_DIR": str(data_dir),
        "LAYERS_DEMO_CAP_SECONDS": "20",
        "TMPDIR": str(tmp),  # the system temp folder, watched: nothing of a render may land there
    }
    return subprocess.Popen(
        [sys.executable, "-m", "services.renderer"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def wait_until(condition, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.1)


def test_renderer_killed_mid_render_completes_the_job_once_and_leaves_no_files(
    tmp_path: Path, amqp_url: str, queue_name: str
) -> None:
    data, tmp = tmp_path / "renderer", tmp_path / "tmp"
    work = data / "render-work"  # the default: under the data dir
    tmp.mkdir()
    demo = seed_clips.make_app_demo(tmp_path / "long.mp4", seconds=20)
    with rabbit_stack(tmp_path / "stack", amqp_url, queue_name, renderer=False) as stack:
        tenant = stack.tenant(credits=120 * 2)
        media_id = _add_app_demo(stack, tenant, demo)
        job = start_job(stack, tenant, mediaId=media_id)
        first = _renderer(stack, amqp_url, queue_name, data, tmp)
        try:
            wait_for(stack, tenant, job["jobId"], lambda j: j["stage"] == "compositing" and j["progress"] > 0.2)
            (job_dir,) = work.glob(f"renderer-*/{job['jobId']}-*")
            assert (job_dir / "demo").read_bytes() == demo.read_bytes()  # the tenant's own clip
            assert (job_dir / "music").is_file() and (job_dir / "template").is_file()
            assert (job_dir / "out" / ".video.partial.mp4").stat().st_size > 0 and encoders_running(tmp_path)
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
        finally:
            first.kill()
        deadline = time.monotonic() + 3
        while encoders_running(tmp_path) and time.monotonic() < deadline:  # the encoder dies with its renderer
            time.sleep(0.05)
        assert not encoders_running(tmp_path)
        with stack.http(tenant["apiKey"]) as client:
            assert client.get(f"/v1/jobs/{job['jobId']}").json()["status"] == "running"
        assert (job_dir / "demo").is_file()  # a killed renderer removes nothing: the next one must

        second = _renderer(stack, amqp_url, queue_name, data, tmp)
        try:
            wait_until(lambda: not job_dir.parent.exists(), 30, "the dead renderer's folder is swept")
            done = wait_for(stack, tenant, job["jobId"], is_terminal)
            time.sleep(1.0)  # a second delivery, if any, would land now
            wait_until(lambda: not list(work.glob("renderer-*/*")), 10, "the finished render's folder is removed")
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(timeout=20) == 0
        with stack.http(tenant["apiKey"]) as client:
            container = client.get(f"/v1/content/{job['containerIds'][0]}").json()
        ledger = stack.stubs.billing.ListLedgerEntries(
            billing_pb2.ListLedgerEntriesRequest(organization_id=tenant["organizationId"])
        ).entries
    assert done["status"] == "completed" and len(done["result"]["assets"]) == 1
    assert len(container["assets"]) == 1
    captures = [e for e in ledger if e.kind == "capture"]
    assert len(captures) == 1 and captures[0].delta == -120
    assert [p.name for p in work.iterdir()] == [".lock"]  # a renderer that stops removes its folder
    assert list(tmp.iterdir()) == []


def test_unreachable_dependency_retries_then_fails_the_job_and_dead_letters(
    tmp_path: Path, amqp_url: str, queue_name: str
) -> None:
    from services.renderer import worker

    with rabbit_stack(
        tmp_path / "stack", amqp_url, queue_name, renderer=False, render_max_attempts=3, render_retry_base_seconds=0.3
    ) as stack:
        tenant = stack.tenant(credits=120)
        job = start_job(stack, tenant)
        stack.services["media"].stop(grace_seconds=0)  # the renderer cannot fetch its inputs
        renderer = worker.start(stack.settings)
        try:
            failed = wait_for(stack, tenant, job["jobId"], is_terminal, timeout=60)
        finally:
            renderer.close()
        wallet = credits(stack, tenant)
    assert_failed_and_refunded(failed, wallet, "RENDER_UNAVAILABLE")
    with broker_channel(amqp_url) as channel:
        method, properties, _ = channel.basic_get(dead_queue(queue_name), auto_ack=True)
        assert method is not None and properties.message_id == job["jobId"]
        assert properties.headers["x-render-attempt"] == 3
        assert channel.queue_declare(queue_name, passive=True).method.message_count == 0


def test_a_renderer_without_ffmpeg_fails_the_job_at_once_and_nothing_is_retried(
    tmp_path: Path, amqp_url: str, queue_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A missing binary is the machine's fault and no retry fixes it: one attempt, a clear code, credits
    back, and the message acked (neither parked for a retry nor dead-lettered)."""
    from services.renderer import worker

    with rabbit_stack(
        tmp_path / "stack", amqp_url, queue_name, renderer=False, render_max_attempts=5, render_retry_base_seconds=0.3
    ) as stack:
        tenant = stack.tenant(credits=120)
        job = start_job(stack, tenant)
        monkeypatch.setenv("LAYERS_FFMPEG", str(tmp_path / "no-ffmpeg"))
        ffmpeg.ffmpeg_path.cache_clear()
        renderer = worker.start(stack.settings)
        try:
            failed = wait_for(stack, tenant, job["jobId"], is_terminal, timeout=60)
            time.sleep(1.0)  # a retry, had one been scheduled, would be back in the queue by now
        finally:
            renderer.close()
            monkeypatch.delenv("LAYERS_FFMPEG")
            ffmpeg.ffmpeg_path.cache_clear()
        wallet = credits(stack, tenant)
    assert_failed_and_refunded(failed, wallet, "RENDERER_MISCONFIGURED")
    with broker_channel(amqp_url) as channel:
        for queue in (queue_name, retry_queue(queue_name), dead_queue(queue_name)):
            assert channel.queue_declare(queue, passive=True).method.message_count == 0, queue


def assert_failed_and_refunded(job: dict[str, Any], wallet: dict[str, Any], code: str) -> None:
    """A 120-credit tenant's one job failed with `code` and every credit is back."""
    assert job["status"] == "failed" and job["error"]["code"] == code, job
    assert wallet["available"] == 120 and wallet["reservedCredits"] == 0


@contextlib.contextmanager
def broker_channel(amqp_url: str) -> Iterator[BlockingChannel]:
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        yield connection.channel()
    finally:
        connection.close()


def test_embedded_default_renders_jobs_accepted_before_a_restart(tmp_path: Path) -> None:
    """The in-process queue keeps nothing across a stop; the outbox does, and the job still completes."""
    data = tmp_path / "data"
    with running_stack(data, renderer=False) as stack:
        tenant = stack.tenant(credits=120)
        job = start_job(stack, tenant)
        wait_for(stack, tenant, job["jobId"], lambda j: stack.queue is not None and len(stack.queue) == 1, 10)
    with running_stack(data, renderer=True) as stack:
        done = wait_for(stack, tenant, job["jobId"], is_terminal)
        wallet = credits(stack, tenant)
    assert done["status"] == "completed" and len(done["result"]["assets"]) == 1
    assert wallet["balance"] == 0 and wallet["reservedCredits"] == 0
