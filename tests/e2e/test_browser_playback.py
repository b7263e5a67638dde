"""A partner's rendered video plays in a real browser: headless Chromium opens the signed download URL,
plays it (currentTime advances), seeks to the middle (served by Range requests) and sees a 1080×1920 video.

Chromium is Debian's (`apt-get install chromium`; .ci/run installs it), driven by playwright. Without it
the test skips and says why, except under CI (CI=true), where it fails.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.stack import running_stack

HOOK = "POV: you finally found the app that does your taxes 😭🙌\nwait for the ending…"
CHROMIUM_NAMES = ("chromium", "chromium-browser")


def chromium_or_skip() -> str:
    found = next((path for path in map(shutil.which, CHROMIUM_NAMES) if path), None)
    reason = None
    if found is None:
        reason = "Debian's chromium is not installed (apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            reason = "playwright is not installed (pip install -e '.[dev]')"
    if reason is None:
        assert found is not None
        return found
    if os.environ.get("CI") == "true":
        pytest.fail(f"under CI the browser test must run: {reason}")
    pytest.skip(reason)


def render_one(stack: Any) -> str:
    """Start a ugc-remix, wait for it, and answer the asset's signed download URL (absolute)."""
    tenant = stack.tenant(credits=120)
    with stack.http(tenant["apiKey"]) as client:
        started = client.post(
            f"/v1/projects/{tenant['projectId']}/content/ugc-remix",
            json={"influencerId": tenant["influencerId"], "hook": HOOK},
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        assert started.status_code == 202, started.text
        job_id = started.json()["jobId"]
        deadline = time.monotonic() + 180
        while (job := client.get(f"/v1/jobs/{job_id}").json())["status"] == "running":
            assert time.monotonic() < deadline, f"timed out; job is {job}"
            time.sleep(0.3)
    assert job["status"] == "completed", job
    url = job["result"]["assets"][0]["url"]
    return url if url.startswith("http") else f"{stack.base_url}{url}"


def test_the_signed_url_plays_seeks_and_is_1080x1920_in_chromium(tmp_path: Path) -> None:
    chromium = chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with running_stack(tmp_path / "stack", renderer=True, catalog=(1, 1), demo_cap_seconds=4.0) as stack:
        url = render_one(stack)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=chromium,
                headless=True,
                args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required", "--mute-audio"],
            )
            try:
                page = browser.new_page()
                statuses: list[int] = []
                page.on("response", lambda r: statuses.append(r.status) if r.url == url else None)
                page.goto(url)  # Chromium shows a video file in its own <video> element
                page.wait_for_function(
                    "() => { const v = document.querySelector('video'); return v && v.readyState >= 1 }",
                    timeout=30_000,
                )
                size = page.evaluate(
                    "() => { const v = document.querySelector('video'); return [v.videoWidth, v.videoHeight] }"
                )
                assert size == [1080, 1920]
                page.evaluate("() => { const v = document.querySelector('video'); v.muted = true; return v.play() }")
                page.wait_for_function("() => document.querySelector('video').currentTime > 0.5", timeout=30_000)
                duration = page.evaluate("() => document.querySelector('video').duration")
                assert 4.0 < duration < 12.0
                seeked = page.evaluate(
                    """() => new Promise((resolve, reject) => {
                        const v = document.querySelector('video');
                        v.pause();
                        v.addEventListener('seeked', () => resolve([v.currentTime, v.readyState]), {once: true});
                        const fail = () => reject(new Error('media error ' + (v.error && v.error.code)));
                        v.addEventListener('error', fail, {once: true});
                        v.currentTime = v.duration / 2;
                    })"""
                )
                assert abs(seeked[0] - duration / 2) < 0.5 and seeked[1] >= 2  # a frame at the middle is there
                assert page.evaluate("() => document.querySelector('video').error") is None
            finally:
                browser.close()
        # The media stack fetched the file in byte ranges: the signed URL answers them.
        assert 206 in statuses, statuses
