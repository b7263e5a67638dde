"""Jobs as stored: each renderer callback and cancel locks the job's rows, applies its transition
(`services/content/lifecycle.py`, the rules themselves) and writes what follows in the same transaction:
assets, events to the outbox, the key's running-job slot given back.

Credits follow the job: captured on completion, released on failure or cancel. The billing call happens
after the state change commits; `billing_settled` records that it went through, and `settle_pending()`
retries the ones that did not (billing down), so every reservation ends captured or released.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import cast

import grpc
from sqlalchemy import Connection, bindparam, select, update
from sqlalchemy.orm import Session

from common import metrics
from common.db import Database
from common.errors import ServiceError, not_found
from common.ids import new_id
from common.recent import RecentAnswers
from common.timeutil import utcnow
from layers.content.v1 import content_pb2 as pb
from services.content import events, lifecycle, views
from services.content.models import ApiKey, Asset, Container, Job, table_of
from services.content.ports import BillingPort

log = logging.getLogger("layers.content.jobs")

_COMPLETED = metrics.JOBS_FINISHED.labels("completed", "none")
_CANCELED = metrics.JOBS_FINISHED.labels("canceled", "none")


class Jobs:
    def __init__(
        self,
        db: Database,
        billing: BillingPort,
        on_committed: Callable[[], None] | None = None,
        job_changed: Callable[[str], None] | None = None,
        recent_seconds: float = 0.0,
    ) -> None:
        self.db = db
        self.billing = billing
        # Called after a commit that wrote events to the outbox (the relay's wake-up).
        self.on_committed = on_committed or (lambda: None)
        # Told a job's id after a change to it commits (the broadcast gateways drop their copy on).
        self.job_changed = job_changed or (lambda job_id: None)
        # Jobs as get_job last read them, for `recent_seconds`: partners poll far more often than a job
        # changes. This process's own changes drop them at once, other processes' through `forget`.
        self.recent_seconds = recent_seconds
        self._recent: RecentAnswers[str, pb.Job] = RecentAnswers()

    # --- reads -------------------------------------------------------------------------------------

    def get_job(self, organization_id: str, job_id: str, fresh: bool = False) -> pb.Job:
        """The partners' polling call: the job and its container ids in one statement, plain rows, no ORM
        objects (the rows have the models' attributes, which is all the views read); assets only once
        the job has completed. Served from memory while it is recent (and the caller's), unless `fresh`.
        The message may be the one remembered: read it, never change it."""
        recent = None if fresh else self._recent.get(job_id)
        if recent is not None and recent.organization_id == organization_id:
            return recent
        started = self._recent.clock()
        with self.db.query() as conn:
            rows = conn.execute(_JOB_WITH_CONTAINERS, {"job_id": job_id}).all()
            if not rows or rows[0].organization_id != organization_id:
                raise not_found("job", "Job not found.")
            job = cast(Job, rows[0])
            container_ids = [row.job_container_id for row in rows if row.job_container_id is not None]
            assets = _assets(conn, container_ids[0]) if job.status == "completed" and container_ids else []
            view = views.job_pb(job, container_ids, assets)
        self._recent.put(job_id, view, self.recent_seconds, started)
        return view

    def forget(self, job_id: str) -> None:
        """Another process changed the job (its broadcast): read it afresh next time."""
        self._recent.forget_key(job_id)

    def forget_all(self) -> None:
        self._recent.clear()

    def _changed(self, job_id: str) -> None:
        self.forget(job_id)  # before the broadcast: a gateway that hears it must not be served the old job
        self.job_changed(job_id)

    def get_container(self, organization_id: str, container_id: str) -> tuple[pb.Container, pb.Job]:
        with self.db.read() as session:
            container = session.get(Container, container_id)
            if container is None or container.organization_id != organization_id:
                raise not_found("container", "Container not found.")
            job = session.get(Job, container.job_id)
            assert job is not None
            return views.container_pb(container, _assets(session, container_id)), self._job_view(session, job)

    def _job_view(self, db: Session | Connection, job: Job) -> pb.Job:
        container_ids = list(db.scalars(_CONTAINER_IDS, {"job_id": job.job_id}))
        assets = _assets(db, container_ids[0]) if job.status == "completed" and container_ids else []
        return views.job_pb(job, container_ids, assets)

    # --- the renderer's calls ----------------------------------------------------------------------

    def start_render(self, job_id: str) -> tuple[bool, pb.Job]:
        with self.db.write() as session:
            job, container = _locked(session, job_id)
            started = lifecycle.start_render(job, container, utcnow())
            view = self._job_view(session, job)
        if started:
            self._changed(job_id)
        return started, view

    def report_progress(self, job_id: str, stage: str, stage_progress: float, eta_seconds: int | None) -> bool:
        """Record progress; returns True when the renderer should stop (the job is no longer running)."""
        with self.db.write() as session:
            job, _ = _locked(session, job_id)
            before = job.updated_at
            stop = lifecycle.record_progress(job, stage, stage_progress, eta_seconds, utcnow())
            changed = job.updated_at != before  # a late report of an earlier stage changes nothing
        if changed:
            self._changed(job_id)
        return stop

    def complete(self, job_id: str, assets: Sequence[pb.Asset]) -> tuple[bool, pb.Job]:
        """Record the output once; False when the job was already terminal (output not recorded)."""
        with self.db.write() as session:
            job, container = _locked(session, job_id)
            now = utcnow()
            if not lifecycle.complete(job, container, now):
                return False, self._job_view(session, job)
            rows = []
            for asset in assets:
                rows.append(
                    Asset(
                        asset_id=new_id("ast"),
                        container_id=container.container_id,
                        kind=asset.kind or "video",
                        created_at=now,
                        **views.asset_file(asset),
                    )
                )
            session.add_all(rows)
            _free_running_slot(session, job)
            events.job_completed(session, job, container, rows, now)
            session.flush()
            view = self._job_view(session, job)
        self.on_committed()
        self._changed(job_id)
        _COMPLETED.inc()
        self._settle(job_id)
        return True, view

    def fail(self, job_id: str, code: str, message: str) -> pb.Job:
        with self.db.write() as session:
            job, container = _locked(session, job_id)
            now = utcnow()
            failed_now = lifecycle.fail(job, container, code, message, now)
            if failed_now:
                _free_running_slot(session, job)
                events.job_failed(session, job, code, message, now)
            view = self._job_view(session, job)
        self.on_committed()
        if failed_now:
            self._changed(job_id)
            metrics.JOBS_FINISHED.labels("failed", code).inc()  # codes are the contract's few job error codes
        self._settle(job_id)
        return view

    def cancel(self, organization_id: str, job_id: str) -> tuple[bool, str, pb.Job]:
        with self.db.write() as session:
            job = session.get(Job, job_id)
            if job is None or job.organization_id != organization_id:
                raise not_found("job", "Job not found.")
            job, container = _locked(session, job_id)
            now = utcnow()
            if not lifecycle.cancel(job, container, now):
                return False, "ALREADY_COMPLETED", self._job_view(session, job)
            _free_running_slot(session, job)
            events.job_canceled(session, job, now)
            view = self._job_view(session, job)
        self.on_committed()
        self._changed(job_id)
        _CANCELED.inc()
        self._settle(job_id)
        return True, "", view

    # --- billing settlement ------------------------------------------------------------------------

    def _settle(self, job_id: str) -> None:
        with self.db.read() as session:
            job = session.get(Job, job_id)
            if job is None or job.status == "running" or job.billing_settled:
                return
            status, reservation_id = job.status, job.reservation_id
        try:
            if status == "completed":
                self.billing.capture(reservation_id)
            else:
                self.billing.release(reservation_id)
        except ServiceError as exc:
            if exc.code in (grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.NOT_FOUND):
                # Billing refused for good (e.g. an expired hold the wallet can no longer cover, or a hold
                # in the other final state): retrying cannot change that, so stop and say so.
                log.error("reservation %s of %s could not be settled: %s", reservation_id, job_id, exc.message)
            else:
                log.warning("billing unavailable for %s, will retry: %s", reservation_id, exc.message)
                return
        with self.db.write() as session:
            row = session.get(Job, job_id)
            if row is not None:
                row.billing_settled = True

    def settle_pending(self, limit: int = 100) -> int:
        """Retry settlement of terminal jobs whose billing call did not go through; returns how many tried."""
        with self.db.read() as session:
            job_ids = list(
                session.scalars(
                    select(Job.job_id)
                    .where(Job.status != "running", Job.billing_settled.is_(False))
                    .order_by(Job.finished_at)
                    .limit(limit)
                )
            )
        for job_id in job_ids:
            self._settle(job_id)
        return len(job_ids)


# A job's reads, built once: partners poll.
_CONTAINER_IDS = select(Container.container_id).where(Container.job_id == bindparam("job_id"))
_JOB_WITH_CONTAINERS = (
    select(table_of(Job), table_of(Container).c.container_id.label("job_container_id"))
    .outerjoin(table_of(Container), table_of(Container).c.job_id == table_of(Job).c.job_id)
    .where(table_of(Job).c.job_id == bindparam("job_id"))
    .order_by(table_of(Container).c.container_id)
)
_ASSETS = (
    select(table_of(Asset))
    .where(table_of(Asset).c.container_id == bindparam("container_id"))
    .order_by(table_of(Asset).c.created_at)
)


def _free_running_slot(session: Session, job: Job) -> None:
    """The job leaves `running` in this transaction (its row is locked): give its key's slot back."""
    if job.api_key_id:
        keys = table_of(ApiKey).c
        session.execute(
            update(table_of(ApiKey))
            .where(keys.key_id == job.api_key_id, keys.running_jobs > 0)
            .values(running_jobs=keys.running_jobs - 1)
        )


def _locked(session: Session, job_id: str) -> tuple[Job, Container]:
    job = session.scalar(select(Job).where(Job.job_id == job_id).with_for_update())
    if job is None:
        raise not_found("job", "Job not found.")
    container = session.scalar(select(Container).where(Container.job_id == job_id).with_for_update())
    if container is None:
        raise ServiceError(grpc.StatusCode.INTERNAL, "INTERNAL", "Job has no container.")
    return job, container


def _assets(db: Session | Connection, container_id: str) -> Sequence[Asset]:
    """A container's assets as plain rows (they have the model's attributes, which is all the views read)."""
    return cast(Sequence[Asset], db.execute(_ASSETS, {"container_id": container_id}).all())
