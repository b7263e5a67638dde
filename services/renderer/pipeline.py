"""One render message, start to finish: claim the job, fetch inputs, compose, upload, complete.

The pipeline is what every consumer (RabbitMQ, in-process) runs. It decides nothing about queues: it
returns an Outcome, or raises TransientError when a dependency was unreachable and a retry may help.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from pathlib import Path

import grpc
from opentelemetry import trace

from common import metrics
from common.errors import ServiceError, unpack
from layers.content.v1 import content_pb2 as cpb
from layers.content.v1 import content_pb2_grpc
from layers.media.v1 import media_pb2 as mpb
from layers.media.v1 import media_pb2_grpc
from layers.render.v1 import render_pb2
from services.media import client as media_client
from services.renderer.compose import ComposeCanceled, ComposeFailure, ComposeInputs, ComposeResult, compose
from services.renderer.workspace import WorkArea

log = logging.getLogger("layers.renderer")
_tracer = trace.get_tracer("layers.renderer")
_FETCHING, _COMPOSITING, _UPLOADING = (
    metrics.RENDER_STAGE.labels(stage) for stage in ("fetching_inputs", "compositing", "uploading")
)

TRANSIENT_CODES = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.RESOURCE_EXHAUSTED}
# Progress reports double as the cancel check, so they go out at least this often while rendering.
REPORT_INTERVAL_SECONDS = 0.5


class Outcome(enum.Enum):
    COMPLETED = "completed"
    SKIPPED = "skipped"  # the job was already terminal (a redelivery) or canceled before it started
    CANCELED = "canceled"  # canceled while rendering; ffmpeg was stopped
    FAILED = "failed"  # a permanent failure, recorded on the job


class TransientError(Exception):
    """A dependency was unreachable; the same message may succeed later."""


class ProgressReporter:
    """Sends stage progress to content (throttled) and remembers whether the job was canceled."""

    def __init__(self, content: content_pb2_grpc.RenderCallbackServiceStub, job_id: str) -> None:
        self.content = content
        self.job_id = job_id
        self.canceled = False
        self._stage: cpb.JobStage = cpb.JOB_STAGE_QUEUED
        self._fraction = 0.0
        self._last_sent = 0.0
        self._compositing_started = 0.0
        self._lock = threading.Lock()

    def report(self, stage: cpb.JobStage, fraction: float, force: bool = False) -> None:
        with self._lock:
            if stage != self._stage:
                force = True
                if stage == cpb.JOB_STAGE_COMPOSITING:
                    self._compositing_started = time.monotonic()
            self._stage, self._fraction = stage, max(0.0, min(1.0, fraction))
            if not force and time.monotonic() - self._last_sent < REPORT_INTERVAL_SECONDS:
                return
            self._send()

    def should_stop(self) -> bool:
        """Asked by compose every ~0.1 s; checks in with content when no report went out lately."""
        with self._lock:
            if not self.canceled and time.monotonic() - self._last_sent >= REPORT_INTERVAL_SECONDS:
                self._send()
            return self.canceled

    def _eta(self) -> int | None:
        if self._stage != cpb.JOB_STAGE_COMPOSITING or self._fraction <= 0.02:
            return None
        elapsed = time.monotonic() - self._compositing_started
        return max(0, round(elapsed / self._fraction * (1 - self._fraction)) + 1)

    def _send(self) -> None:
        self._last_sent = time.monotonic()
        request = cpb.ReportRenderProgressRequest(job_id=self.job_id, stage=self._stage, stage_progress=self._fraction)
        eta = self._eta()
        if eta is not None:
            request.eta_seconds = eta
        try:
            self.canceled = self.content.ReportRenderProgress(request).canceled
        except grpc.RpcError as exc:
            # Progress is best effort; a lost report must not fail a render.
            log.warning("progress report for %s failed: %s", self.job_id, exc.code())  # type: ignore[attr-defined]


class RenderPipeline:
    def __init__(
        self,
        content: content_pb2_grpc.RenderCallbackServiceStub,
        media: media_pb2_grpc.MediaServiceStub,
        workspace: WorkArea,
        demo_cap_seconds: float = 20.0,
        transfer_timeout: float = 300.0,
    ) -> None:
        self.content = content
        self.media = media
        self.workspace = workspace
        self.demo_cap_seconds = demo_cap_seconds
        # Unary calls take the channels' default deadline; blob transfers get this one.
        self.transfer_timeout = transfer_timeout

    def run(self, job: render_pb2.RenderJob) -> Outcome:
        try:
            return self._run(job)
        except grpc.RpcError as exc:
            error = unpack(exc)
            if error.code in TRANSIENT_CODES:
                raise TransientError(f"{error.reason}: {error.message}") from exc
            raise

    def fail(self, job_id: str, code: str, message: str) -> None:
        error = cpb.JobError(code=code, message=message)
        self.content.FailRender(cpb.FailRenderRequest(job_id=job_id, error=error))

    def _run(self, job: render_pb2.RenderJob) -> Outcome:
        started = self.content.StartRender(cpb.StartRenderRequest(job_id=job.job_id))
        if not started.proceed:
            log.info("job %s is %s: skipping", job.job_id, cpb.JobStatus.Name(started.job.status))
            return Outcome.SKIPPED
        reporter = ProgressReporter(self.content, job.job_id)
        with self.workspace.job(job.job_id) as workdir:
            reporter.report(cpb.JOB_STAGE_FETCHING_INPUTS, 0.0, force=True)
            try:
                with metrics.timed(_FETCHING), _tracer.start_as_current_span("render fetching_inputs"):
                    inputs = self._fetch(job, workdir, reporter)
            except ServiceError as exc:
                if exc.code in TRANSIENT_CODES:
                    raise TransientError(exc.message) from exc
                self.fail(job.job_id, "INPUT_MISSING", f"An input of the render is missing: {exc.message}")
                return Outcome.FAILED
            if reporter.should_stop():
                return Outcome.CANCELED
            reporter.report(cpb.JOB_STAGE_COMPOSITING, 0.0, force=True)
            try:
                with metrics.timed(_COMPOSITING), _tracer.start_as_current_span("render compositing"):
                    result = compose(
                        inputs,
                        workdir / "out",
                        on_progress=lambda f: reporter.report(cpb.JOB_STAGE_COMPOSITING, f),
                        should_stop=reporter.should_stop,
                    )
            except ComposeCanceled:
                log.info("job %s canceled while compositing", job.job_id)
                return Outcome.CANCELED
            except ComposeFailure as exc:
                if not exc.permanent:
                    raise TransientError(str(exc)) from exc
                self.fail(job.job_id, "INPUT_UNDECODABLE", f"An input could not be decoded: {exc}")
                return Outcome.FAILED
            reporter.report(cpb.JOB_STAGE_UPLOADING, 0.0, force=True)
            with metrics.timed(_UPLOADING), _tracer.start_as_current_span("render uploading"):
                return self._upload_and_complete(job, result, reporter)

    def _fetch(self, job: render_pb2.RenderJob, workdir: Path, reporter: ProgressReporter) -> ComposeInputs:
        try:
            demo = self.media.GetMedia(
                mpb.GetMediaRequest(
                    organization_id=job.organization_id, project_id=job.project_id, media_id=job.media_id
                )
            ).media
            template = self.media.GetReactionTemplate(
                mpb.GetReactionTemplateRequest(reaction_template_id=job.reaction_template_id)
            ).reaction_template
            track = self.media.GetMusicTrack(mpb.GetMusicTrackRequest(music_track_id=job.music_track_id)).music_track
            paths = {}
            blobs = (("template", template.blob), ("demo", demo.blob), ("music", track.blob))
            for index, (name, blob) in enumerate(blobs):
                paths[name] = media_client.download_to(
                    self.media, blob.blob_id, workdir / name, timeout=self.transfer_timeout
                )
                reporter.report(cpb.JOB_STAGE_FETCHING_INPUTS, (index + 1) / len(blobs))
        except grpc.RpcError as exc:
            raise unpack(exc) from exc
        return ComposeInputs(
            template_path=paths["template"],
            demo_path=paths["demo"],
            music_path=paths["music"],
            hook=job.hook if job.HasField("hook") else None,
            language=job.language or "en",
            face_box=_face_box(template),
            demo_cap_seconds=self.demo_cap_seconds,
        )

    def _upload_and_complete(
        self, job: render_pb2.RenderJob, result: ComposeResult, reporter: ProgressReporter
    ) -> Outcome:
        video = media_client.upload_file(self.media, result.video_path, result.mime_type, timeout=self.transfer_timeout)
        reporter.report(cpb.JOB_STAGE_UPLOADING, 0.8)
        thumb = media_client.upload_file(self.media, result.thumbnail_path, "image/jpeg", timeout=self.transfer_timeout)
        asset = cpb.Asset(
            kind="video",
            blob_id=video.blob_id,
            thumbnail_blob_id=thumb.blob_id,
            duration_ms=result.duration_ms,
            width=result.width,
            height=result.height,
            mime_type=result.mime_type,
            size_bytes=result.size_bytes,
            checksum_sha256=result.checksum_sha256,
        )
        try:
            done = self.content.CompleteRender(cpb.CompleteRenderRequest(job_id=job.job_id, assets=[asset]))
        except grpc.RpcError:
            # Not recorded: a retry renders and uploads again, so these copies would belong to nobody.
            self._discard(video.blob_id, thumb.blob_id)
            raise
        if not done.recorded:
            # Canceled (or finished by another delivery) meanwhile: this output belongs to nobody.
            self._discard(video.blob_id, thumb.blob_id)
            return Outcome.CANCELED if done.job.status == cpb.JOB_STATUS_CANCELED else Outcome.SKIPPED
        log.info("job %s completed: %d bytes, %d ms", job.job_id, result.size_bytes, result.duration_ms)
        return Outcome.COMPLETED

    def _discard(self, *blob_ids: str) -> None:
        for blob_id in blob_ids:
            try:
                self.media.DeleteBlob(mpb.DeleteBlobRequest(blob_id=blob_id))
            except grpc.RpcError:
                log.warning("could not delete unused output blob %s", blob_id)


def _face_box(template: mpb.ReactionTemplate) -> tuple[float, float, float, float] | None:
    if not template.HasField("face_box"):
        return None
    face = template.face_box
    return face.x, face.y, face.width, face.height
