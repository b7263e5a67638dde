"""Idempotency-Key records: claim before work, store the answer with the work, replay it after.

A claim is a row inserted in its own short transaction; the unique (organization, scope, key) index makes
concurrent requests with one key race on that insert, so exactly one of them does the work.

ugc-remix stores its answer inside the transaction that creates the job (`complete`). Other POSTs, whose
work happens in the gateway and other services, store their HTTP status and body afterwards
(`complete_request`) or forget a claim whose request failed without side effects (`abandon_request`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import grpc
from sqlalchemy import Row, Select, bindparam, delete, literal_column, select, true, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from common.db import Database, is_sqlite
from common.errors import ServiceError, idempotency_body_mismatch
from common.ids import new_id
from common.timeutil import Clock, as_utc, utcnow
from services.content.models import IdempotencyRecord, table_of

RETENTION = timedelta(hours=24)
# How long a claim may stay in progress before its owner is taken for dead (LAYERS_IDEMPOTENCY_LEASE_SECONDS):
# then a retry takes the key over, and credits a job-starting owner held are released. Settings keep it
# beyond the longest a live request can take, so a slow but live owner is never overtaken.
DEFAULT_LEASE = timedelta(minutes=2)
# Retries of a key still in progress are told to come back within this: a live request ends in seconds.
MAX_RETRY_AFTER_SECONDS = 5


@dataclass(frozen=True)
class Claim:
    """The caller owns the key and must do the work under job_id, then complete or abandon the claim.

    `lease` is the record's locked_until as this caller set it: the token that proves the claim is still
    its own (a takeover after the lease ran out sets a new one)."""

    record_id: int | None
    job_id: str
    lease: datetime | None = None


def in_progress(retry_after_seconds: int = 1) -> ServiceError:
    return ServiceError(
        grpc.StatusCode.ABORTED,
        "IDEMPOTENCY_IN_PROGRESS",
        "A request with this Idempotency-Key is still in progress.",
        retry_after_seconds=retry_after_seconds,
    )


class ClaimLost(ServiceError):
    """The claim's lease ran out and another request took the key over: this one must not finish."""

    def __init__(self) -> None:
        template = in_progress()
        super().__init__(
            template.code, template.reason, template.message, retry_after_seconds=template.retry_after_seconds
        )


@dataclass(frozen=True)
class Replay:
    response: bytes
    # The stored HTTP status of a generic POST; None for ugc-remix, whose response is a proto.
    status_code: int | None = None


class IdempotencyStore:
    def __init__(self, db: Database, lease: timedelta = DEFAULT_LEASE, clock: Clock = utcnow) -> None:
        self.db = db
        self.lease = lease
        self.clock = clock
        insert = sqlite.insert if is_sqlite(db.engine) else postgresql.insert
        # One statement, built once: the unique index decides who owns the key, without an exception on a
        # repeat. Its values are named parameters, so it also serves as a CTE (query_with_claim).
        self._claim_statement = (
            insert(_RECORDS)
            .values({name: bindparam(_CLAIM_PREFIX + name, type_=_RECORDS.c[name].type) for name in _CLAIM_COLUMNS})
            .on_conflict_do_nothing(index_elements=["organization_id", "scope", "idempotency_key"])
            .returning(_RECORDS.c.id)
        )

    def claim(
        self, organization_id: str, scope: str, key: str, fingerprint: str, *, with_job: bool = True
    ) -> Claim | Replay:
        """Claim the key, or return the stored answer. `with_job=False` for a POST that starts no job."""
        if not key:
            return Claim(None, new_id("job"))
        return self._claim(organization_id, scope, key, fingerprint, with_job, self._run_claim)

    def claim_and_query(
        self,
        organization_id: str,
        scope: str,
        key: str,
        fingerprint: str,
        query: QueryWithClaim,
        parameters: Params,
    ) -> tuple[Claim | Replay, Row[Any] | None]:
        """Claim a job-starting key as `claim` does, and run `query` on `parameters`: on PostgreSQL both in
        one statement, a round trip fewer. The query's first row (on PostgreSQL with two more columns,
        claim_id and found, which callers leave alone), or None when it found none; it shows what was
        committed when the statement ran."""
        if not key or query.with_claim is None:
            outcome = self.claim(organization_id, scope, key, fingerprint)
            with self.db.query() as conn:
                return outcome, conn.execute(query.alone, parameters).first()
        statement, row = query.with_claim, None

        def run(values: Params) -> int | None:
            nonlocal row
            with self.db.one_statement() as conn:
                # .first(), not .one(): nothing may fail between the claim's commit and its id coming back.
                both = conn.execute(statement, {**parameters, **_prefixed(values)}).first()
            assert both is not None  # one row whatever the query finds
            row = None if both.found is None else both
            return None if both.claim_id is None else int(both.claim_id)

        return self._claim(organization_id, scope, key, fingerprint, True, run), row

    def query_with_claim(self, query: AnySelect) -> QueryWithClaim:
        """`query` (at most one row of it is read) made ready for claim_and_query; built once, as the hot
        path's statements are. Its parameters and columns must not look like the claim's own."""
        taken = {p for p in query.compile().params if p.startswith(_CLAIM_PREFIX)}
        taken |= {c.key for c in query.selected_columns if c.key in ("claim_id", "found")}
        if taken:
            raise ValueError(f"the query's names {sorted(taken)} are the claim's own")
        query = query.limit(1)
        if is_sqlite(self.db.engine):  # no data-modifying CTEs: the claim and the query go one after the other
            return QueryWithClaim(query, None)
        claimed = self._claim_statement.cte("claimed")
        # One row whatever the query finds: the claim's id (NULL: the key is taken) beside the query's columns
        # (NULL, `found` too, when it found no row), so a claim is never made without its id coming back.
        claim_row = select(select(claimed.c.id).scalar_subquery().label("claim_id")).subquery("claim_row")
        found = query.add_columns(literal_column("1").label("found")).subquery("found_row")
        statement = select(claim_row.c.claim_id, *found.c).select_from(claim_row.outerjoin(found, true()))
        return QueryWithClaim(query, statement)

    def _claim(
        self,
        organization_id: str,
        scope: str,
        key: str,
        fingerprint: str,
        with_job: bool,
        run: Callable[[Params], int | None],
    ) -> Claim | Replay:
        """Insert the claim through `run` (its record id, or None when the key is taken), else settle with
        the record that holds the key."""
        for _ in range(3):
            now = self.clock()
            job_id = new_id("job") if with_job else ""
            lease = now + self.lease
            values = {
                "organization_id": organization_id,
                "scope": scope,
                "idempotency_key": key,
                "fingerprint": fingerprint,
                "state": "in_progress",
                "job_id": job_id,
                "response": None,
                "response_status": None,
                "created_at": now,
                "locked_until": lease,
                "expires_at": now + RETENTION,
            }
            record_id = run(values)
            if record_id is not None:
                return Claim(record_id, job_id, lease)
            outcome = self._existing(organization_id, scope, key, fingerprint)
            if outcome is not None:
                return outcome
            # The existing record expired and was deleted: try the insert again.
        raise ServiceError(grpc.StatusCode.UNAVAILABLE, "UNAVAILABLE", "Could not claim the Idempotency-Key.")

    def _run_claim(self, values: Params) -> int | None:
        with self.db.one_statement() as conn:
            record_id = conn.execute(self._claim_statement, _prefixed(values)).scalar()
        return None if record_id is None else int(record_id)

    def _existing(self, organization_id: str, scope: str, key: str, fingerprint: str) -> Claim | Replay | None:
        with self.db.write() as session:
            record = session.scalar(_record(organization_id, scope, key).with_for_update())
            if record is None:
                return None
            now = self.clock()
            if as_utc(record.expires_at) <= now:
                session.delete(record)
                return None
            if record.fingerprint != fingerprint:
                raise idempotency_body_mismatch()
            if record.state == "completed" and record.response is not None:
                return Replay(record.response, record.response_status)
            remaining = (as_utc(record.locked_until) - now).total_seconds()
            if remaining > 0:
                raise in_progress(min(MAX_RETRY_AFTER_SECONDS, math.ceil(remaining)))
            # The first owner's lease ran out (it died): take the claim over, keeping its job id, so a hold it
            # reserved is found again rather than doubled.
            record.locked_until = now + self.lease
            return Claim(record.id, record.job_id, record.locked_until)

    def take_abandoned_job_claim(self) -> Claim | None:
        """The oldest claim of a job-starting request left in progress past its lease (its owner died between
        claiming and committing), taken over with a fresh lease so the caller can settle what the owner left
        while no one else (a retry, another replica) gets it. One at a time: settling it takes a billing call,
        which must end well inside the new lease."""
        now = self.clock()
        records = table_of(IdempotencyRecord).c
        with self.db.write() as session:
            record = session.scalars(
                select(IdempotencyRecord)
                .where(records.state == "in_progress", records.job_id != "", records.locked_until <= now)
                .order_by(records.locked_until)
                .limit(1)
                .with_for_update(skip_locked=True)
            ).first()
            if record is None:
                return None
            record.locked_until = now + self.lease
            return Claim(record.id, record.job_id, record.locked_until)

    def claims_job(self, job_id: str) -> bool:
        """Whether some key's record still names this job id (in progress or answered)."""
        records = table_of(IdempotencyRecord).c
        with self.db.query() as conn:
            return conn.scalar(select(records.id).where(records.job_id == job_id).limit(1)) is not None

    def abandon(self, claim: Claim) -> None:
        """Forget the claim: a request that failed without side effects is not stored. A claim another
        request has taken over is theirs and is left alone."""
        if claim.record_id is None:
            return
        with self.db.write() as session:
            record = self._owned(session, claim)
            if record is not None:
                session.delete(record)

    def renew_job_id(self, claim: Claim) -> Claim:
        """Give a claim a fresh job id (and so a fresh reservation id), for when the one it inherited from a
        dead owner was already settled. Raises ClaimLost when the claim is no longer this caller's."""
        if claim.record_id is None:
            return Claim(None, new_id("job"))
        with self.db.write() as session:
            record = self._owned(session, claim)
            if record is None:
                raise ClaimLost()
            record.job_id = new_id("job")
            return Claim(record.id, record.job_id, claim.lease)

    def owns(self, claim: Claim) -> bool:
        """True while the claim is still this caller's (no key, or not taken over)."""
        if claim.record_id is None:
            return True
        records = table_of(IdempotencyRecord).c
        with self.db.query() as conn:
            row = conn.execute(select(records.state, records.locked_until).where(records.id == claim.record_id)).first()
        return row is not None and row.state == "in_progress" and as_utc(row.locked_until) == claim.lease

    @staticmethod
    def _owned(session: Session, claim: Claim) -> IdempotencyRecord | None:
        record = session.scalar(
            select(IdempotencyRecord).where(IdempotencyRecord.id == claim.record_id).with_for_update()
        )
        if record is None or record.state != "in_progress" or as_utc(record.locked_until) != claim.lease:
            return None
        return record

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


@dataclass(frozen=True)
class QueryWithClaim:
    """A query to run with a claim (IdempotencyStore.query_with_claim): alone, and on PostgreSQL with it."""

    alone: AnySelect
    with_claim: AnySelect | None  # None: the claim and the query go one after the other


Params = Mapping[str, Any]
AnySelect = Select[*tuple[Any, ...]]  # a query of any columns
_CLAIM_PREFIX = "claim_"


def _prefixed(values: Params) -> dict[str, Any]:
    return {_CLAIM_PREFIX + name: value for name, value in values.items()}


def _record(organization_id: str, scope: str, key: str) -> Select[IdempotencyRecord]:
    return select(IdempotencyRecord).where(
        IdempotencyRecord.organization_id == organization_id,
        IdempotencyRecord.scope == scope,
        IdempotencyRecord.idempotency_key == key,
    )


_RECORDS = table_of(IdempotencyRecord)
# What a claim writes: every column but the generated id, so a value `_claim` left out fails the insert.
_CLAIM_COLUMNS = tuple(c.key for c in _RECORDS.columns if c.key != "id")
# Stores ugc-remix's answer and ends its claim, in the transaction that creates the job, while the claim is
# still the caller's (in progress, under its lease); touches no row otherwise, or with no key (record_id NULL).
COMPLETE_CLAIM = (
    update(_RECORDS)
    .where(
        _RECORDS.c.id == bindparam("record_id"),
        _RECORDS.c.state == "in_progress",
        _RECORDS.c.locked_until == bindparam("lease"),
    )
    .values(state="completed", response=bindparam("answer"))
)


def completion(claim: Claim, response: bytes) -> dict[str, object]:
    """COMPLETE_CLAIM's parameters."""
    return {"record_id": claim.record_id, "lease": claim.lease, "answer": response}
