"""Idempotency-Key records: claim before work, store the answer with the work, replay it after.

A claim is a row inserted in its own short transaction; the unique (organization, scope, key) index makes
concurrent requests with one key race on that insert, so exactly one of them does the work.

ugc-remix stores its answer inside the transaction that creates the job (`complete`). Other POSTs, whose
work happens in the gateway and other services, store their HTTP status and body afterwards
(`complete_request`) or forget a claim whose request failed without side effects (`abandon_request`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import grpc
from sqlalchemy import Select, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from common.db import Database
from common.errors import ServiceError
from common.ids import new_id
from common.timeutil import as_utc, utcnow
from services.content.models import IdempotencyRecord

RETENTION = timedelta(hours=24)
# How long a claim may stay in progress before another request may take it over (its owner died).
CLAIM_LEASE = timedelta(seconds=60)


@dataclass(frozen=True)
class Claim:
    """The caller owns the key and must do the work under job_id, then complete or abandon the claim."""

    record_id: int | None
    job_id: str


@dataclass(frozen=True)
class Replay:
    response: bytes
    # The stored HTTP status of a generic POST; None for ugc-remix, whose response is a proto.
    status_code: int | None = None


def conflict(reason: str, message: str) -> ServiceError:
    return ServiceError(grpc.StatusCode.ABORTED, "IDEMPOTENCY_CONFLICT", message, {"reason": reason})


class IdempotencyStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def claim(
        self, organization_id: str, scope: str, key: str, fingerprint: str, *, with_job: bool = True
    ) -> Claim | Replay:
        """Claim the key, or return the stored answer. `with_job=False` for a POST that starts no job."""
        if not key:
            return Claim(None, new_id("job"))
        for _ in range(3):
            now = utcnow()
            try:
                with self.db.write() as session:
                    record = IdempotencyRecord(
                        organization_id=organization_id,
                        scope=scope,
                        idempotency_key=key,
                        fingerprint=fingerprint,
                        state="in_progress",
                        job_id=new_id("job") if with_job else "",
                        created_at=now,
                        locked_until=now + CLAIM_LEASE,
                        expires_at=now + RETENTION,
                    )
                    session.add(record)
                return Claim(record.id, record.job_id)
            except IntegrityError:
                pass
            outcome = self._existing(organization_id, scope, key, fingerprint)
            if outcome is not None:
                return outcome
            # The existing record expired and was deleted: try the insert again.
        raise ServiceError(grpc.StatusCode.UNAVAILABLE, "UNAVAILABLE", "Could not claim the Idempotency-Key.")

    def _existing(self, organization_id: str, scope: str, key: str, fingerprint: str) -> Claim | Replay | None:
        with self.db.write() as session:
            record = session.scalar(_record(organization_id, scope, key).with_for_update())
            if record is None:
                return None
            now = utcnow()
            if as_utc(record.expires_at) <= now:
                session.delete(record)
                return None
            if record.fingerprint != fingerprint:
                raise conflict("BODY_MISMATCH", "This Idempotency-Key was already used with a different request.")
            if record.state == "completed" and record.response is not None:
                return Replay(record.response, record.response_status)
            if as_utc(record.locked_until) > now:
                raise conflict("IN_PROGRESS", "A request with this Idempotency-Key is still in progress.")
            # The first owner's lease ran out: take the claim over, keeping its job id.
            record.locked_until = now + CLAIM_LEASE
            return Claim(record.id, record.job_id)

    def complete(self, session: Session, claim: Claim, response: bytes) -> None:
        """Store the answer inside the caller's transaction, the one that creates the job."""
        if claim.record_id is None:
            return
        record = session.get(IdempotencyRecord, claim.record_id)
        if record is not None:
            record.state = "completed"
            record.response = response

    def abandon(self, claim: Claim) -> None:
        """Forget the claim: a request that failed without side effects is not stored."""
        if claim.record_id is None:
            return
        with self.db.write() as session:
            session.execute(
                delete(IdempotencyRecord).where(
                    IdempotencyRecord.id == claim.record_id, IdempotencyRecord.state == "in_progress"
                )
            )

    def complete_request(self, organization_id: str, scope: str, key: str, status_code: int, body: bytes) -> None:
        """Store a generic POST's answer; a claim that is gone (expired) or already answered is left alone."""
        with self.db.write() as session:
            record = session.scalar(_record(organization_id, scope, key).with_for_update())
            if record is not None and record.state == "in_progress":
                record.state = "completed"
                record.response = body
                record.response_status = status_code

    def abandon_request(self, organization_id: str, scope: str, key: str) -> None:
        """Forget an unanswered claim of a generic POST, so the key can be used again."""
        with self.db.write() as session:
            session.execute(
                delete(IdempotencyRecord).where(
                    IdempotencyRecord.organization_id == organization_id,
                    IdempotencyRecord.scope == scope,
                    IdempotencyRecord.idempotency_key == key,
                    IdempotencyRecord.state == "in_progress",
                )
            )


def _record(organization_id: str, scope: str, key: str) -> Select[IdempotencyRecord]:
    return select(IdempotencyRecord).where(
        IdempotencyRecord.organization_id == organization_id,
        IdempotencyRecord.scope == scope,
        IdempotencyRecord.idempotency_key == key,
    )
