"""CreateUgcRemix: resolve who is on camera, pick inputs, reserve credits, and commit the job with its
container, idempotency answer and render message in one transaction.

Check order (CONTRACT.md): project visible → INFLUENCER_REQUIRED → referenced ids on the project
(NOT_FOUND) → wiring chain → app-demo → credits.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import grpc
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from common.db import Database
from common.errors import ServiceError, invalid, not_found
from common.ids import new_id
from common.timeutil import utcnow
from layers.content.v1 import content_pb2 as pb
from layers.render.v1 import render_pb2
from services.content import views
from services.content.idempotency import Claim, ClaimLost, IdempotencyStore, Replay
from services.content.models import ApiKey, Container, Influencer, Job, Layer, OutboxMessage, SocialAccount, Wiring
from services.content.ports import AppDemo, BillingPort, MediaPort
from services.content.tenancy import project_of

log = logging.getLogger("layers.content")

FORMAT = "ugc-remix"
# What a key at its concurrent-job cap is told to wait: a render takes tens of seconds.
RUNNING_JOBS_RETRY_AFTER_SECONDS = 30
MISSING_APP_DEMO_MESSAGE = (
    "MISSING_APP_DEMO: ugc-remix requires an app-demo asset on the project. Upload one via "
    "POST /v1/projects/:id/app-media with kind='demo-video' before retrying."
)


def wiring_error(reason: str, message: str) -> ServiceError:
    return ServiceError(grpc.StatusCode.FAILED_PRECONDITION, reason, f"{reason}: {message}", {"format": FORMAT})


@dataclass(frozen=True)
class OnCamera:
    """The resolved wiring chain: who is on camera and which content layer anchors the container."""

    influencer: Influencer
    layer: Layer
    social_account_id: str | None


def reservation_id_for(job_id: str) -> str:
    return "rsv_" + job_id.removeprefix("job_")


class UgcRemixHandler:
    def __init__(
        self,
        db: Database,
        idempotency: IdempotencyStore,
        media: MediaPort,
        billing: BillingPort,
        credits: int,
        reservation_ttl_seconds: int,
        max_running_jobs_per_key: int,
        on_committed: Callable[[], None] = lambda: None,
    ) -> None:
        self.db = db
        self.idempotency = idempotency
        self.media = media
        self.billing = billing
        self.credits = credits
        self.reservation_ttl_seconds = reservation_ttl_seconds
        self.max_running_jobs_per_key = max_running_jobs_per_key
        self.on_committed = on_committed

    def handle(self, request: pb.CreateUgcRemixRequest) -> pb.CreateUgcRemixResponse:
        scope = f"POST /v1/projects/{request.project_id}/content/ugc-remix"
        outcome = self.idempotency.claim(
            request.organization_id, scope, request.idempotency_key, request.request_fingerprint
        )
        if isinstance(outcome, Replay):
            response = pb.CreateUgcRemixResponse.FromString(outcome.response)
            response.replayed = True
            return response
        try:
            return self._create(request, outcome)
        except BaseException:
            self.idempotency.abandon(outcome)
            raise

    def _create(self, request: pb.CreateUgcRemixRequest, claim: Claim) -> pb.CreateUgcRemixResponse:
        hook = request.hook if request.HasField("hook") else None
        if hook is not None and "\x00" in hook:
            raise invalid("hook must not contain NUL characters.", field="hook")
        with self.db.read() as session:
            project_of(session, request.organization_id, request.project_id)
            if not request.social_account_id and not request.influencer_id:
                raise wiring_error(
                    "INFLUENCER_REQUIRED",
                    "one of socialAccountId (with a wired influencer) or influencerId is required.",
                )
            on_camera, pinned = self._resolve(session, request)
        app_demo_id = self._app_demo(request, pinned)
        template_id = self.media.pick_reaction_template()
        track_id = self.media.pick_music_track()

        if request.api_key_id:
            # Checked again, atomically, where the job is added; this early look answers 429 before credits.
            with self.db.read() as session:
                self._check_running_jobs(session, request.api_key_id, lock=False)

        claim, reservation_id = self._reserve(request, claim)
        try:
            return self._commit(request, claim, on_camera, hook, app_demo_id, template_id, track_id, reservation_id)
        except BaseException as exc:
            if not self.idempotency.owns(claim):
                # Another request took this key over (our lease ran out): the job id and its hold are theirs.
                raise ClaimLost() from exc
            # Nothing was committed: give the credits back now rather than waiting for the hold to expire.
            try:
                self.billing.release(reservation_id)
            except ServiceError:
                log.warning("could not release %s; it will expire", reservation_id)
            raise

    def _reserve(self, request: pb.CreateUgcRemixRequest, claim: Claim) -> tuple[Claim, str]:
        """Hold the credits under an id derived from the job id, so a retry finds the same hold."""
        reservation_id = reservation_id_for(claim.job_id)
        try:
            self.billing.reserve(reservation_id, request.organization_id, self.credits, self.reservation_ttl_seconds)
        except ServiceError as exc:
            if exc.reason != "RESERVATION_NOT_HELD":
                raise
            # This key's previous owner reserved under this job id, gave the hold back and died before letting
            # go of the key: that job never existed, so start it afresh under a new id.
            claim = self.idempotency.renew_job_id(claim)
            reservation_id = reservation_id_for(claim.job_id)
            self.billing.reserve(reservation_id, request.organization_id, self.credits, self.reservation_ttl_seconds)
        return claim, reservation_id

    def _resolve(self, session: Session, request: pb.CreateUgcRemixRequest) -> tuple[OnCamera, AppDemo | None]:
        account = None
        if request.social_account_id:
            account = session.scalar(
                select(SocialAccount).where(SocialAccount.social_account_id == request.social_account_id)
            )
            if account is None or account.project_id != request.project_id:
                raise not_found("socialAccountId", "socialAccountId is not on this project.")
        explicit = None
        if request.influencer_id:
            explicit = session.scalar(select(Influencer).where(Influencer.influencer_id == request.influencer_id))
            if explicit is None or explicit.project_id != request.project_id:
                raise not_found("influencerId", "influencerId is not on this project.")
        pinned = None
        if request.media_id:
            # Raises NOT_FOUND "mediaId is not on this project." from the media service.
            pinned = self.media.get_media(request.organization_id, request.project_id, request.media_id)
        return self._chain(session, request, account, explicit), pinned

    def _chain(
        self,
        session: Session,
        request: pb.CreateUgcRemixRequest,
        account: SocialAccount | None,
        explicit: Influencer | None,
    ) -> OnCamera:
        """account → its first wired content layer → that layer's influencer (an explicit one wins)."""
        if account is not None:
            layers = list(
                session.scalars(
                    select(Layer)
                    .join(Wiring, Wiring.layer_id == Layer.layer_id)
                    .where(Wiring.social_account_id == account.social_account_id)
                    .order_by(Wiring.seq)
                )
            )
            if not layers:
                raise wiring_error("ACCOUNT_NOT_WIRED", "the social account is not wired to any layer.")
            content_layers = [layer for layer in layers if layer.kind == "content"]
            if not content_layers:
                raise wiring_error("NO_CONTENT_LAYER_WIRED", "the social account is not wired to a content layer.")
            layer = content_layers[0]
            if explicit is not None:
                return OnCamera(explicit, layer, account.social_account_id)
            wired = (
                session.scalar(select(Influencer).where(Influencer.influencer_id == layer.influencer_id))
                if layer.influencer_id
                else None
            )
            if wired is None:
                raise wiring_error("INFLUENCER_NOT_WIRED", "the account's content layer has no influencer.")
            return OnCamera(wired, layer, account.social_account_id)

        assert explicit is not None
        driven = session.scalar(
            select(Layer)
            .where(
                Layer.project_id == request.project_id,
                Layer.kind == "content",
                Layer.influencer_id == explicit.influencer_id,
            )
            .order_by(Layer.seq)
            .limit(1)
        )
        if driven is None:
            raise wiring_error("NO_CONTENT_LAYER_WIRED", "the influencer drives no content layer.")
        return OnCamera(explicit, driven, None)

    def _app_demo(self, request: pb.CreateUgcRemixRequest, pinned: AppDemo | None) -> str:
        if pinned is not None:
            if pinned.media_role != "app-demo":
                raise invalid("mediaId is not an app-demo clip.", field="mediaId")
            return pinned.media_id
        first = self.media.first_app_demo(request.organization_id, request.project_id)
        if first is None:
            raise ServiceError(
                grpc.StatusCode.FAILED_PRECONDITION,
                "MISSING_APP_DEMO",
                MISSING_APP_DEMO_MESSAGE,
                {"format": FORMAT},
            )
        return first.media_id

    def _commit(
        self,
        request: pb.CreateUgcRemixRequest,
        claim: Claim,
        on_camera: OnCamera,
        hook: str | None,
        app_demo_id: str,
        template_id: str,
        track_id: str,
        reservation_id: str,
    ) -> pb.CreateUgcRemixResponse:
        now = utcnow()
        job = Job(
            job_id=claim.job_id,
            organization_id=request.organization_id,
            project_id=request.project_id,
            kind="content_generate",
            status="running",
            stage="queued",
            progress=0.0,
            stage_progress=0.0,
            reservation_id=reservation_id,
            api_key_id=request.api_key_id or None,
            billing_settled=False,
            render_attempts=0,
            started_at=now,
            updated_at=now,
        )
        container = Container(
            container_id=new_id("cnt"),
            job_id=job.job_id,
            organization_id=request.organization_id,
            project_id=request.project_id,
            status="queued",
            format=FORMAT,
            hook=hook,
            influencer_id=on_camera.influencer.influencer_id,
            social_account_id=on_camera.social_account_id,
            layer_id=on_camera.layer.layer_id,
            media_id=app_demo_id,
            reaction_template_id=template_id,
            music_track_id=track_id,
            language=on_camera.influencer.language,
            voice=on_camera.influencer.voice,
            created_at=now,
        )
        render = render_pb2.RenderJob(
            job_id=job.job_id,
            container_id=container.container_id,
            organization_id=request.organization_id,
            project_id=request.project_id,
            media_id=app_demo_id,
            reaction_template_id=template_id,
            music_track_id=track_id,
            language=container.language,
            voice=container.voice,
        )
        if hook is not None:
            render.hook = hook
        response = pb.CreateUgcRemixResponse(job=views.job_pb(job, [container.container_id]))
        with self.db.write() as session:
            if request.api_key_id:
                self._check_running_jobs(session, request.api_key_id)
            session.add(job)
            session.flush()
            session.add(container)
            session.add(
                OutboxMessage(
                    message_id=job.job_id,
                    message_type=render_pb2.RenderJob.DESCRIPTOR.full_name,
                    payload=render.SerializeToString(),
                    created_at=now,
                    attempts=0,
                )
            )
            self.idempotency.complete(session, claim, response.SerializeToString(deterministic=True))
        self.on_committed()
        return response

    def _check_running_jobs(self, session: Session, api_key_id: str, lock: bool = True) -> None:
        """Refuse when the key already runs its cap of jobs. Counted in the transaction that adds the job,
        after locking the key's row, so concurrent starts with one key are counted one after another."""
        if lock:
            session.execute(select(ApiKey.key_id).where(ApiKey.key_id == api_key_id).with_for_update())
        running = session.scalar(
            select(func.count()).select_from(Job).where(Job.api_key_id == api_key_id, Job.status == "running")
        )
        if (running or 0) >= self.max_running_jobs_per_key:
            raise ServiceError(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                "RATE_LIMITED",
                f"This API key already has {running} running jobs, the most it may run at once; "
                "retry when one finishes.",
                {"retryAfterSeconds": str(RUNNING_JOBS_RETRY_AFTER_SECONDS), "reason": "CONCURRENT_JOBS"},
            )
