"""The job's rules on plain objects, no database: which transitions happen, and what each changes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from services.content import lifecycle

T0 = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
LATER = T0 + timedelta(seconds=30)


@dataclass
class FakeJob:
    status: str = "running"
    stage: str = "queued"
    progress: float = 0.0
    stage_progress: float = 0.0
    eta_seconds: int | None = None
    render_attempts: int = 0
    error_code: str | None = None
    error_message: str | None = None
    finished_at: datetime | None = None
    updated_at: datetime = T0


@dataclass
class FakeContainer:
    status: str = "queued"
    completed_at: datetime | None = None
    failed_at: datetime | None = None
    last_error_code: str | None = None
    last_error_message: str | None = None


def test_a_render_starts_from_fetching_its_inputs_and_counts_its_attempts() -> None:
    job, container = FakeJob(), FakeContainer()
    assert lifecycle.start_render(job, container, LATER)
    assert (job.stage, job.render_attempts, job.updated_at, container.status) == (
        "fetching_inputs",
        1,
        LATER,
        "processing",
    )
    job.stage, job.stage_progress = "compositing", 0.4
    assert lifecycle.start_render(job, container, LATER)  # a redelivery keeps the stage it reached
    assert (job.stage, job.stage_progress, job.render_attempts) == ("compositing", 0.4, 2)


def test_progress_never_goes_back() -> None:
    job = FakeJob(stage="fetching_inputs")
    assert lifecycle.record_progress(job, "compositing", 0.5, 12, LATER) is False
    assert (job.stage, job.stage_progress, job.progress, job.eta_seconds) == ("compositing", 0.5, 0.5, 12)
    lifecycle.record_progress(job, "fetching_inputs", 1.0, 3, LATER)  # a late report of an earlier stage
    assert (job.stage, job.progress, job.eta_seconds) == ("compositing", 0.5, 12)
    lifecycle.record_progress(job, "compositing", 0.0, 20, LATER)  # a redelivered render restarting the stage
    assert (job.stage_progress, job.progress, job.eta_seconds) == (0.5, 0.5, 20)
    lifecycle.record_progress(job, "uploading", 7.0, 0, LATER)  # out-of-range fractions are clamped
    assert (job.stage_progress, job.progress) == (1.0, 1.0)


def test_overall_progress_spans_the_stages() -> None:
    assert lifecycle.overall_progress("queued", 0.7) == 0.0
    assert lifecycle.overall_progress("fetching_inputs", 1.0) == pytest.approx(0.1)
    assert lifecycle.overall_progress("compositing", 0.5) == pytest.approx(0.5)
    assert lifecycle.overall_progress("uploading", -1.0) == pytest.approx(0.9)


def test_completion_fills_in_the_end() -> None:
    job, container = FakeJob(stage="uploading", progress=0.95, eta_seconds=2), FakeContainer(status="processing")
    assert lifecycle.complete(job, container, LATER)
    assert (job.status, job.progress, job.stage_progress, job.eta_seconds, job.finished_at) == (
        "completed",
        1.0,
        1.0,
        0,
        LATER,
    )
    assert (container.status, container.completed_at) == ("completed", LATER)


def test_failure_records_its_reason_on_job_and_container() -> None:
    job, container = FakeJob(eta_seconds=9), FakeContainer()
    assert lifecycle.fail(job, container, "RENDER_FAILED", "ffmpeg exited 1", LATER)
    assert (job.status, job.error_code, job.error_message, job.eta_seconds, job.finished_at) == (
        "failed",
        "RENDER_FAILED",
        "ffmpeg exited 1",
        None,
        LATER,
    )
    assert (container.status, container.failed_at, container.last_error_code) == ("failed", LATER, "RENDER_FAILED")


@pytest.mark.parametrize("ended", ["completed", "failed", "canceled"])
def test_nothing_happens_after_a_terminal_state(ended: str) -> None:
    job, container = FakeJob(status=ended, stage="uploading", progress=0.9), FakeContainer(status=ended)
    before = (FakeJob(**vars(job)), FakeContainer(**vars(container)))
    assert not lifecycle.start_render(job, container, LATER)
    assert lifecycle.record_progress(job, "uploading", 1.0, 0, LATER) is True  # the renderer should stop
    assert not lifecycle.complete(job, container, LATER)
    assert not lifecycle.fail(job, container, "RENDER_FAILED", "late", LATER)
    assert not lifecycle.cancel(job, container, LATER)
    assert (job, container) == before


def test_a_cancel_ends_a_running_job() -> None:
    job, container = FakeJob(eta_seconds=40), FakeContainer(status="processing")
    assert lifecycle.cancel(job, container, LATER)
    assert (job.status, job.finished_at, job.eta_seconds, container.status) == ("canceled", LATER, None, "canceled")
