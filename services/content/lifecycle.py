"""A job's rules, apart from how it is stored: running → completed | failed | canceled, nothing after a
terminal state, progress that never goes back. Each transition changes the job (and its container) in place
and says whether it happened; `services/content/jobs.py` loads and locks the rows, applies one, and writes
what follows from it (assets, events, the key's running-job slot, billing).
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

STAGES = ("queued", "fetching_inputs", "compositing", "uploading")
# Share of overall progress each stage covers; compositing dominates the wall time.
STAGE_SPAN = {"queued": (0.0, 0.0), "fetching_inputs": (0.0, 0.1), "compositing": (0.1, 0.9), "uploading": (0.9, 1.0)}
RUNNING = "running"


class JobState(Protocol):
    status: str
    stage: str
    progress: float
    stage_progress: float
    eta_seconds: int | None
    render_attempts: int
    error_code: str | None
    error_message: str | None
    finished_at: datetime | None
    updated_at: datetime


class ContainerState(Protocol):
    status: str
    completed_at: datetime | None
    failed_at: datetime | None
    last_error_code: str | None
    last_error_message: str | None


def overall_progress(stage: str, stage_progress: float) -> float:
    low, high = STAGE_SPAN[stage]
    return low + (high - low) * _clamp(stage_progress)


def start_render(job: JobState, container: ContainerState, now: datetime) -> bool:
    """A renderer takes the job up (again, after a redelivery): False when the job has ended."""
    if job.status != RUNNING:
        return False
    job.render_attempts += 1
    if job.stage == "queued":
        job.stage, job.stage_progress = "fetching_inputs", 0.0
    job.updated_at = now
    container.status = "processing"
    return True


def record_progress(job: JobState, stage: str, stage_progress: float, eta_seconds: int | None, now: datetime) -> bool:
    """A renderer's progress report; True when it should stop (the job has ended). A late report from an
    earlier stage changes nothing; a redelivered render restarting its stage at 0 keeps what the partner saw."""
    if job.status != RUNNING:
        return True
    if STAGES.index(stage) < STAGES.index(job.stage):
        return False
    fraction = _clamp(stage_progress)
    job.stage_progress = max(job.stage_progress, fraction) if stage == job.stage else fraction
    job.stage = stage
    job.progress = max(job.progress, overall_progress(stage, stage_progress))
    job.eta_seconds = eta_seconds
    job.updated_at = now
    return False


def complete(job: JobState, container: ContainerState, now: datetime) -> bool:
    """The render's output is in: False when the job had already ended (the output is not to be recorded)."""
    if job.status != RUNNING:
        return False
    job.status, job.progress, job.stage_progress, job.eta_seconds = "completed", 1.0, 1.0, 0
    job.finished_at = job.updated_at = now
    container.status, container.completed_at = "completed", now
    return True


def fail(job: JobState, container: ContainerState, code: str, message: str, now: datetime) -> bool:
    if job.status != RUNNING:
        return False
    job.status, job.error_code, job.error_message = "failed", code, message
    job.finished_at = job.updated_at = now
    job.eta_seconds = None
    container.status, container.failed_at = "failed", now
    container.last_error_code, container.last_error_message = code, message
    return True


def cancel(job: JobState, container: ContainerState, now: datetime) -> bool:
    """The partner's cancel: False when the job had already ended (the contract's ALREADY_COMPLETED)."""
    if job.status != RUNNING:
        return False
    job.status, job.finished_at, job.updated_at, job.eta_seconds = "canceled", now, now, None
    container.status = "canceled"
    return True


def _clamp(fraction: float) -> float:
    return min(max(fraction, 0.0), 1.0)
