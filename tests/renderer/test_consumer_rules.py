"""The retry rule every consumer applies to a render message (pure logic, with a stand-in pipeline)."""

from __future__ import annotations

import pytest

from common.settings import ConfigError
from layers.render.v1 import render_pb2
from services.renderer.consumers import RetriesExhausted, backoff_seconds, run_once
from services.renderer.pipeline import Outcome, TransientError

BODY = render_pb2.RenderJob(job_id="job_1").SerializeToString()


class StandInPipeline:
    def __init__(self, error: Exception | None = None, fail_error: Exception | None = None) -> None:
        self.error = error
        self.fail_error = fail_error
        self.failed: list[tuple[str, str]] = []
        self.ran: list[str] = []

    def run(self, job: render_pb2.RenderJob) -> Outcome:
        self.ran.append(job.job_id)
        if self.error is not None:
            raise self.error
        return Outcome.COMPLETED

    def fail(self, job_id: str, code: str, message: str) -> None:
        if self.fail_error is not None:
            raise self.fail_error
        self.failed.append((job_id, code))


def test_success_is_acked() -> None:
    assert run_once(StandInPipeline(), BODY, attempt=1, max_attempts=3) is True  # type: ignore[arg-type]


def test_transient_failure_is_retried_until_the_last_attempt() -> None:
    pipeline = StandInPipeline(TransientError("media unreachable"))
    assert run_once(pipeline, BODY, attempt=2, max_attempts=3) is False  # type: ignore[arg-type]
    assert pipeline.failed == []
    with pytest.raises(RetriesExhausted):
        run_once(pipeline, BODY, attempt=3, max_attempts=3)  # type: ignore[arg-type]
    assert pipeline.failed == [("job_1", "RENDER_UNAVAILABLE")]


def test_unexpected_error_fails_the_job_at_once() -> None:
    pipeline = StandInPipeline(ValueError("a bug"))
    assert run_once(pipeline, BODY, attempt=1, max_attempts=3) is True  # type: ignore[arg-type]
    assert pipeline.failed == [("job_1", "RENDER_FAILED")]


def test_a_misconfigured_renderer_fails_the_job_at_the_first_attempt() -> None:
    pipeline = StandInPipeline(ConfigError("LAYERS_FFMPEG", "cannot run /nowhere/ffmpeg: no such executable"))
    assert run_once(pipeline, BODY, attempt=1, max_attempts=5) is True  # type: ignore[arg-type]
    assert pipeline.failed == [("job_1", "RENDERER_MISCONFIGURED")]


def test_failure_that_cannot_be_recorded_is_retried_then_dead_lettered() -> None:
    pipeline = StandInPipeline(ValueError("a bug"), fail_error=ConnectionError("content down"))
    assert run_once(pipeline, BODY, attempt=1, max_attempts=2) is False  # type: ignore[arg-type]
    with pytest.raises(ConnectionError):
        run_once(pipeline, BODY, attempt=2, max_attempts=2)  # type: ignore[arg-type]


def test_garbage_message_is_dropped() -> None:
    pipeline = StandInPipeline()
    assert run_once(pipeline, b"\xff\xff not a protobuf", attempt=1, max_attempts=3) is True  # type: ignore[arg-type]
    assert pipeline.ran == [] and pipeline.failed == []


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff_seconds(a, 2.0) for a in (1, 2, 3, 4)] == [2.0, 4.0, 8.0, 16.0]
    assert backoff_seconds(20, 2.0) == 300.0
