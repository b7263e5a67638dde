"""CreateUgcRemix: resolve who is on camera, pick inputs, reserve credits, and commit the job with its
container, idempotency answer and render message in one transaction.

Check order (CONTRACT.md): project visible → INFLUENCER_REQUIRED → referenced ids on the project
(NOT_FOUND) → wiring chain → app-demo → credits.

The hot path is as few round trips as the guarantees allow: the idempotency claim (one INSERT, in
autocommit) and the read resolving project, key and influencer, which PostgreSQL runs as one statement for a
start naming an influencer; media's inputs, mostly from draws it made ahead for the project (no call); one
billing call; and one write transaction of INSERTs and conditional UPDATEs (SQLAlchemy Core, no ORM
flushes) that PostgreSQL runs as a single statement.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc
from sqlalchemy import Connection, Row, bindparam, insert, select, update

from common import logs, metrics
from common.db import Database, is_sqlite
from common.errors import ServiceError, invalid, not_found
from common.ids import new_id
from common.timeutil import utcnow
from layers.content.v1 import content_pb2 as pb
from layers.render.v1 import render_pb2
from services.content import views, wiring
from services.content.idempotency import COMPLETE_CLAIM, Claim, ClaimLost, IdempotencyStore, Replay, completion
from services.content.models import (
    ApiKey,
    Container,
    IdempotencyRecord,
    Influencer,
    Job,
    Layer,
    OutboxMessage,
    Project,
    SocialAccount,
    Wiring,
    table_of,
)
from services.content.ports import BillingPort, MediaPort, RenderInputs
from services.content.wiring import FORMAT, OnCamera, wiring_error

log = logging.getLogger("layers.content")

# Billing answers that do not say whether the hold was made.
AMBIGUOUS = frozenset(
    {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL}
)
# What a key at its concurrent-job cap is told to wait: a render takes tens of seconds.
RUNNING_JOBS_RETRY_AFTER_SECONDS = 30
MISSING_APP_DEMO_MESSAGE = (
    "MISSING_APP_DEMO: ugc-remix requires an app-demo asset on the project. Upload one via "
    "POST /v1/projects/:id/app-media with kind='demo-video' before retrying."
)


def reservation_id_for(job_id: str) -> str:
    return "rsv_" + job_id.removeprefix("job_")


def running_jobs_exceeded(running: int) -> ServiceError:
    return ServiceError(
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "CONCURRENT_JOBS",
        f"This API key already has {running} running jobs, the most it may run at once; retry when one finishes.",
        retry_after_seconds=RUNNING_JOBS_RETRY_AFTER_SECONDS,
    )


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
        # SQLite has no data-modifying CTEs: there the start's rows are written statement by statement.
        self._in_one_statement = not is_sqlite(db.engine)
        self._start_with_claim = idempotency.query_with_claim(_START_BY_INFLUENCER)

    def handle(self, request: pb.CreateUgcRemixRequest) -> pb.CreateUgcRemixResponse:
        scope = f"POST /v1/projects/{request.project_id}/content/ugc-remix"
        key, fingerprint = request.idempotency_key, request.request_fingerprint
        start: Row[Any] | None = None
        if self._by_influencer_only(request):
            # The common start, an influencer named directly: everything it reads, read with the claim.
            outcome, start = self.idempotency.claim_and_query(
                request.organization_id,
                scope,
                key,
                fingerprint,
                self._start_with_claim,
                self._start_parameters(request),
            )
        else:
            outcome = self.idempotency.claim(request.organization_id, scope, key, fingerprint)
        if isinstance(outcome, Replay):
            response = pb.CreateUgcRemixResponse.FromString(outcome.response)
            response.replayed = True
            return response
        try:
            return self._create(request, outcome, start)
        except BaseException:
            self.idempotency.abandon(outcome)
            raise

    @staticmethod
    def _by_influencer_only(request: pb.CreateUgcRemixRequest) -> bool:
        return bool(request.influencer_id) and not request.social_account_id

    def _create(
        self, request: pb.CreateUgcRemixRequest, claim: Claim, start: Row[Any] | None
    ) -> pb.CreateUgcRemixResponse:
        """`start`: what _START_BY_INFLUENCER found, for a start naming only an influencer (None: nothing)."""
        hook = request.hook if request.HasField("hook") else None
        if hook is not None and "\x00" in hook:
            raise invalid("hook must not contain NUL characters.", field="hook")
        if self._by_influencer_only(request):
            running = self._visible(start, request)
            assert start is not None  # _visible refused a missing project
            on_camera, wiring_problem = self._by_influencer(start, request)
        else:
            with self.db.query() as conn:
                running = self._visible(self._project_row(conn, request), request)
                if not request.social_account_id:
                    raise wiring_error(
                        "INFLUENCER_REQUIRED",
                        "one of socialAccountId (with a wired influencer) or influencerId is required.",
                    )
                # Wiring errors wait until media has said whether a pinned mediaId exists (NOT_FOUND first).
                on_camera, wiring_problem = self._resolve(conn, request)
        try:
            inputs = self.media.pick_render_inputs(request.organization_id, request.project_id, request.media_id)
        except ServiceError as exc:
            if wiring_problem is not None and exc.code != grpc.StatusCode.NOT_FOUND:
                raise wiring_problem from None
            raise
        if wiring_problem is not None:
            raise wiring_problem
        assert on_camera is not None
        self._check_app_demo(inputs)
        if running is not None and running >= self.max_running_jobs_per_key:
            # Checked again, atomically, where the job is added; this early look answers 429 before credits.
            raise running_jobs_exceeded(running)

        try:
            claim, reservation_id = self._reserve(request, claim)
        except ServiceError as exc:
            if exc.code in AMBIGUOUS and self._hold_is_ours(claim):
                # The hold may have been made before the answer was lost: give it back, or a retry with this
                # key (a new job id once this claim is abandoned) would hold the credits a second time.
                self._release_quietly(reservation_id_for(claim.job_id))
            raise
        try:
            return self._commit(request, claim, on_camera, hook, inputs, reservation_id)
        except BaseException as exc:
            if self._hold_is_ours(claim):
                # Nothing was committed: give the credits back now rather than waiting for the hold to expire.
                self._release_quietly(reservation_id)
            if not self.idempotency.owns(claim):
                raise ClaimLost() from exc
            raise

    def _hold_is_ours(self, claim: Claim) -> bool:
        """Whether this request may give back the hold under its job id: it still owns its claim, or no key's
        record names the job any more (the claim was settled while this request was slow). A request that
        took the key over keeps the job id, and then the hold is its own."""
        return self.idempotency.owns(claim) or not self.idempotency.claims_job(claim.job_id)

    def release_abandoned(self, budget_seconds: float | None = None) -> int:
        """Settle what requests that died between claiming their key and committing their job left behind:
        the credits they held are released and their claims forgotten, so a retry with the key starts afresh
        and a partner who never retries is not charged. Claims go one at a time, for at most half a lease
        per pass; billing unreachable ends the pass (the claim's new lease runs out and a later pass tries
        again). Returns how many were settled."""
        budget = self.idempotency.lease.total_seconds() / 2 if budget_seconds is None else budget_seconds
        ends = time.monotonic() + budget
        settled = 0
        while time.monotonic() < ends and (claim := self.idempotency.take_abandoned_job_claim()) is not None:
            with self.db.query() as conn:
                committed = conn.scalar(_JOB_EXISTS, {"job_id": claim.job_id}) is not None
            if committed:
                # Cannot happen (a job completes its claim in its own transaction); never start it twice.
                log.error("claim for %s is in progress although the job exists; left alone", claim.job_id)
                continue
            reservation_id = reservation_id_for(claim.job_id)
            try:
                self.billing.release(reservation_id)
                log.info("released %s: its request died before creating job %s", reservation_id, claim.job_id)
            except ServiceError as exc:
                if exc.code != grpc.StatusCode.NOT_FOUND:  # NOT_FOUND: it died before holding anything
                    log.warning("could not release %s yet: %s", reservation_id, exc.message)
                    break
            self.idempotency.abandon(claim)
            settled += 1
        return settled

    def _release_quietly(self, reservation_id: str) -> None:
        try:
            self.billing.release(reservation_id)
        except ServiceError:
            log.warning("could not release %s; it will expire", reservation_id)

    @staticmethod
    def _start_parameters(request: pb.CreateUgcRemixRequest) -> dict[str, str]:
        return {
            "project_id": request.project_id,
            "key_id": request.api_key_id,
            "influencer_id": request.influencer_id,
        }

    @staticmethod
    def _project_row(conn: Connection, request: pb.CreateUgcRemixRequest) -> Row[Any] | None:
        if request.api_key_id:
            return conn.execute(_PROJECT_AND_RUNNING_JOBS, UgcRemixHandler._start_parameters(request)).first()
        return conn.execute(_PROJECT, {"project_id": request.project_id}).first()

    @staticmethod
    def _visible(row: Row[Any] | None, request: pb.CreateUgcRemixRequest) -> int | None:
        """NOT_FOUND unless the organization owns the project; returns the key's running jobs (None when
        the request names no key), read in the same round trip. A key revoked since the gateway cached it
        is refused here, so no paid job starts on it."""
        if row is None or row.organization_id != request.organization_id:
            raise not_found("project", "Project not found.")
        if not request.api_key_id:
            return None
        if row.running_jobs is None:
            raise ServiceError(grpc.StatusCode.UNAUTHENTICATED, "UNAUTHENTICATED", "Invalid or revoked API key.")
        return int(row.running_jobs)

    @staticmethod
    def _by_influencer(row: Row[Any], request: pb.CreateUgcRemixRequest) -> tuple[OnCamera | None, ServiceError | None]:
        """The influencer named directly, and the first content layer it drives."""
        if row.influencer_project != request.project_id:
            raise not_found("influencerId", "influencerId is not on this project.")
        try:
            person = wiring.Person(request.influencer_id, row.language, row.voice)
            return wiring.by_influencer(person, row.driven_layer_id), None
        except ServiceError as exc:
            return None, exc

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

    def _resolve(
        self, conn: Connection, request: pb.CreateUgcRemixRequest
    ) -> tuple[OnCamera | None, ServiceError | None]:
        """Who is on camera for a start naming a social account (and maybe an influencer too), or the wiring
        error to raise once the referenced ids are known to exist. An id that is not on the project raises
        NOT_FOUND at once."""
        account_project = conn.scalar(
            select(SocialAccount.project_id).where(SocialAccount.social_account_id == request.social_account_id)
        )
        if account_project != request.project_id:
            raise not_found("socialAccountId", "socialAccountId is not on this project.")
        explicit = None
        if request.influencer_id:
            explicit = conn.execute(_INFLUENCER, {"influencer_id": request.influencer_id}).first()
            if explicit is None or explicit.project_id != request.project_id:
                raise not_found("influencerId", "influencerId is not on this project.")
        try:
            return self._chain(conn, request.social_account_id, explicit), None
        except ServiceError as exc:
            return None, exc

    @staticmethod
    def _chain(conn: Connection, account_id: str, explicit: Any) -> OnCamera:
        """The account's wired layers, and the influencer its content layer carries, as wiring's rules ask."""
        layer = wiring.account_content_layer(
            [
                wiring.WiredLayer(*row)
                for row in conn.execute(
                    select(Layer.layer_id, Layer.kind, Layer.influencer_id)
                    .join(Wiring, Wiring.layer_id == Layer.layer_id)
                    .where(Wiring.social_account_id == account_id)
                    .order_by(Wiring.seq)
                )
            ]
        )
        named = (
            wiring.Person(explicit.influencer_id, explicit.language, explicit.voice) if explicit is not None else None
        )
        wired = None
        if named is None and layer.influencer_id:
            row = conn.execute(
                select(Influencer.influencer_id, Influencer.language, Influencer.voice).where(
                    Influencer.influencer_id == layer.influencer_id
                )
            ).first()
            wired = wiring.Person(*row) if row is not None else None
        return wiring.through_account(account_id, layer, named, wired)

    @staticmethod
    def _check_app_demo(inputs: RenderInputs) -> None:
        if inputs.app_demo_problem == "NOT_APP_DEMO":
            raise invalid("mediaId is not an app-demo clip.", field="mediaId")
        if inputs.app_demo_problem == "MISSING" or not inputs.app_demo_media_id:
            raise ServiceError(
                grpc.StatusCode.FAILED_PRECONDITION,
                "MISSING_APP_DEMO",
                MISSING_APP_DEMO_MESSAGE,
                {"format": FORMAT},
            )

    def _commit(
        self,
        request: pb.CreateUgcRemixRequest,
        claim: Claim,
        on_camera: OnCamera,
        hook: str | None,
        inputs: RenderInputs,
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
            eta_seconds=None,
            reservation_id=reservation_id,
            api_key_id=request.api_key_id or None,
            billing_settled=False,
            render_attempts=0,
            error_code=None,
            error_message=None,
            started_at=now,
            finished_at=None,
            updated_at=now,
        )
        container_id = new_id("cnt")
        render = render_pb2.RenderJob(
            job_id=job.job_id,
            container_id=container_id,
            organization_id=request.organization_id,
            project_id=request.project_id,
            media_id=inputs.app_demo_media_id,
            reaction_template_id=inputs.reaction_template_id,
            music_track_id=inputs.music_track_id,
            language=on_camera.language,
            voice=on_camera.voice,
        )
        if hook is not None:
            render.hook = hook
        response = pb.CreateUgcRemixResponse(job=views.job_pb(job, [container_id]))
        rows = _NewRows(
            job={name: getattr(job, name) for name in _JOB_COLUMNS},
            container={
                "container_id": container_id,
                "job_id": job.job_id,
                "organization_id": request.organization_id,
                "project_id": request.project_id,
                "status": "queued",
                "format": FORMAT,
                "hook": hook,
                "influencer_id": on_camera.influencer_id,
                "social_account_id": on_camera.social_account_id,
                "layer_id": on_camera.layer_id,
                "media_id": inputs.app_demo_media_id,
                "reaction_template_id": inputs.reaction_template_id,
                "music_track_id": inputs.music_track_id,
                "language": on_camera.language,
                "voice": on_camera.voice,
                "created_at": now,
            },
            message={
                "message_id": job.job_id,
                "message_type": render_pb2.RenderJob.DESCRIPTOR.full_name,
                "payload": render.SerializeToString(),
                "created_at": now,
                "attempts": 0,
                "headers": logs.headers_json(),
            },
            answer=completion(claim, response.SerializeToString(deterministic=True)),
            slot={"slot_key_id": request.api_key_id, "cap": self.max_running_jobs_per_key},
        )
        with self.db.transaction() as conn:
            claimed, slots = self._write(conn, rows)
            if claim.record_id is not None and claimed == 0:
                raise ClaimLost()  # another request took the key over meanwhile: roll back
            if request.api_key_id and slots == 0:
                running = conn.scalar(select(ApiKey.running_jobs).where(ApiKey.key_id == request.api_key_id))
                raise running_jobs_exceeded(running or 0)
        self.on_committed()
        _ACCEPTED.inc()
        return response

    def _write(self, conn: Connection, rows: _NewRows) -> tuple[int, int]:
        """Insert the job, its container and its render message, store the claim's answer and take one of the
        key's running-job slots; returns how many claims were completed and slots taken (0 or 1 each). The
        slot's conditional UPDATE takes the key's row lock, which orders concurrent starts of one key, so the
        cap is exact however many run; it is held for the rest of this statement and the commit only."""
        if self._in_one_statement:
            # PostgreSQL: one statement of data-modifying CTEs, one round trip rather than five.
            completed, taken = conn.execute(_WRITE_IN_ONE_STATEMENT, rows.prefixed()).one()
            return int(completed is not None), int(taken is not None)
        conn.execute(_INSERT_JOB, rows.job)
        conn.execute(_INSERT_CONTAINER, rows.container)
        conn.execute(_INSERT_OUTBOX, rows.message)
        claimed = conn.execute(COMPLETE_CLAIM, rows.answer).rowcount  # type: ignore[attr-defined]
        slots = conn.execute(_TAKE_RUNNING_SLOT, rows.slot).rowcount  # type: ignore[attr-defined]
        return claimed, slots


@dataclass(frozen=True)
class _NewRows:
    """The values one accepted start writes, by statement."""

    job: dict[str, Any]
    container: dict[str, Any]
    message: dict[str, Any]
    answer: dict[str, Any]
    slot: dict[str, Any]

    def prefixed(self) -> dict[str, Any]:
        """All of them as the one-statement form's parameters (its inserts' names carry their table)."""
        return {
            **{f"job_{k}": v for k, v in self.job.items()},
            **{f"container_{k}": v for k, v in self.container.items()},
            **{f"message_{k}": v for k, v in self.message.items()},
            **self.answer,
            **self.slot,
        }


_ACCEPTED = metrics.JOBS_ACCEPTED.labels("content_generate")

# The hot path's statements, built once.
_PROJECT = select(Project.organization_id).where(Project.project_id == bindparam("project_id"))
_RUNNING_JOBS = (
    select(ApiKey.running_jobs)
    .where(ApiKey.key_id == bindparam("key_id"), ApiKey.revoked_at.is_(None))
    .scalar_subquery()
    .label("running_jobs")  # NULL: no such key, or revoked
)
_PROJECT_AND_RUNNING_JOBS = select(Project.organization_id, _RUNNING_JOBS).where(
    Project.project_id == bindparam("project_id")
)
_INFLUENCER = select(Influencer.influencer_id, Influencer.project_id, Influencer.language, Influencer.voice).where(
    Influencer.influencer_id == bindparam("influencer_id")
)
_DRIVEN_CONTENT_LAYER = (
    select(Layer.layer_id)
    .where(
        Layer.project_id == bindparam("project_id"),
        Layer.kind == "content",
        Layer.influencer_id == bindparam("influencer_id"),
    )
    .order_by(Layer.seq)
    .limit(1)
)
_START_BY_INFLUENCER = (
    select(
        Project.organization_id,
        _RUNNING_JOBS,
        Influencer.project_id.label("influencer_project"),  # NULL: no such influencer
        Influencer.language,
        Influencer.voice,
        _DRIVEN_CONTENT_LAYER.scalar_subquery().label("driven_layer_id"),
    )
    .select_from(Project)
    .outerjoin(Influencer, Influencer.influencer_id == bindparam("influencer_id"))
    .where(Project.project_id == bindparam("project_id"))
)
_JOB_EXISTS = select(Job.job_id).where(Job.job_id == bindparam("job_id"))
_INSERT_JOB = insert(table_of(Job))
_INSERT_CONTAINER = insert(table_of(Container))
_INSERT_OUTBOX = insert(table_of(OutboxMessage))
_TAKE_RUNNING_SLOT = (
    update(table_of(ApiKey))
    .where(table_of(ApiKey).c.key_id == bindparam("slot_key_id"), table_of(ApiKey).c.running_jobs < bindparam("cap"))
    .values(running_jobs=table_of(ApiKey).c.running_jobs + 1)
)


def _inserted(table: Any, prefix: str, columns: tuple[str, ...]) -> Any:
    """An INSERT of these columns whose parameters are named `<prefix><column>`, as a CTE."""
    values = {name: bindparam(prefix + name, type_=table.c[name].type) for name in columns}
    return insert(table).values(values).cte(prefix + "insert")


# What a start writes: the columns it leaves NULL are left out, to keep the one statement's parameters under
# psycopg's 50, past which it parses the query again on every call rather than caching it.
_LEFT_NULL = frozenset({"eta_seconds", "error_code", "error_message", "finished_at"})
_JOB_COLUMNS = tuple(c.key for c in table_of(Job).columns if c.key not in _LEFT_NULL)
_CONTAINER_COLUMNS = (
    *("container_id", "job_id", "organization_id", "project_id", "status", "format", "hook", "influencer_id"),
    *("social_account_id", "layer_id", "media_id", "reaction_template_id", "music_track_id", "language", "voice"),
    "created_at",
)
_MESSAGE_COLUMNS = ("message_id", "message_type", "payload", "created_at", "attempts", "headers")
_COMPLETED = COMPLETE_CLAIM.returning(table_of(IdempotencyRecord).c.id).cte("completed_claim")
_TAKEN = _TAKE_RUNNING_SLOT.returning(table_of(ApiKey).c.key_id).cte("taken_slot")
# Answers the completed claim's id and the key whose slot was taken, each NULL when that UPDATE matched no row.
_WRITE_IN_ONE_STATEMENT = select(
    select(_COMPLETED.c.id).scalar_subquery(),
    select(_TAKEN.c.key_id).scalar_subquery(),
).add_cte(
    _inserted(table_of(Job), "job_", _JOB_COLUMNS),
    _inserted(table_of(Container), "container_", _CONTAINER_COLUMNS),
    _inserted(table_of(OutboxMessage), "message_", _MESSAGE_COLUMNS),
)
