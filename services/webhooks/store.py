"""What the webhooks service knows and decides: endpoints, secrets, events, deliveries and the retry rule.

Every method is one short transaction. An event is taken in once (its id is the primary key, so a
redelivered message adds nothing) and fanned out to the matching endpoints in the same transaction. A
worker takes due attempts with `claim_due` (FOR UPDATE SKIP LOCKED on PostgreSQL, so each attempt goes to
exactly one worker; SQLite has one process) and reports each with `record`, which applies the ladder.
"""

from __future__ import annotations

import json
import typing
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import grpc
from sqlalchemy import delete, func, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from common import events, logs
from common.db import Database, is_sqlite
from common.errors import ServiceError, idempotency_body_mismatch, invalid, not_found
from common.ids import new_id
from common.paging import decode_token, encode_token, page_size
from common.ssrf import OutboundGuard, Refused
from common.timeutil import as_utc, to_timestamp, utcnow
from layers.events.v1 import events_pb2
from layers.webhooks.v1 import webhooks_pb2 as pb
from services.webhooks.models import Attempt, Delivery, Endpoint, EndpointSecret, Event, IdempotencyKey
from services.webhooks.secrets import SecretBox, new_secret
from services.webhooks.views import endpoint_pb

AUTO_PAUSE_AFTER = 20
# Live (not deleted) endpoints per organization: every event of it is fanned out to each of them.
MAX_ENDPOINTS = 20
MAX_EVENTS = 50
MAX_URL_LENGTH = 2048
MAX_DESCRIPTION = 1000
# The embedded default's local receivers: plain http to these names (and only these) is accepted there.
LOCAL_HOSTS = ("localhost", "127.0.0.1")
STATUSES = ("active", "paused")
IDEMPOTENCY_TTL = timedelta(hours=24)


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int


@dataclass(frozen=True)
class Due:
    """One attempt a worker has taken: everything it needs to send, and the attempt number it claimed."""

    delivery_id: str
    endpoint_id: str
    event_id: str
    url: str
    body: bytes
    sealed_secrets: tuple[bytes, ...]
    attempt: int
    headers: str | None = None  # the event's request id and trace context (common.logs.carried_json)


@dataclass(frozen=True)
class Outcome:
    started_at: datetime
    duration_ms: int
    status_code: int | None = None
    error: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def retryable(self) -> bool:
        # 4xx other than 408 and 429 is the receiver saying no for good; all else may pass later.
        code = self.status_code
        return code is None or code >= 500 or code in (408, 429) or code < 200 or 300 <= code < 400


class Webhooks:
    def __init__(
        self,
        db: Database,
        box: SecretBox,
        guard: OutboundGuard,
        ladder: Sequence[float],
        *,
        embedded: bool = False,
        overlap_seconds: float = 24 * 3600,
        lease_seconds: float = 60.0,
        on_due: Callable[[], None] = lambda: None,
    ) -> None:
        if not ladder or any(d < 0 for d in ladder):
            raise SystemExit("LAYERS_WEBHOOK_RETRY_DELAYS must be one or more non-negative numbers of seconds")
        self.db = db
        self.box = box
        self.guard = guard
        self.ladder = list(ladder)
        self.embedded = embedded
        self.overlap = timedelta(seconds=overlap_seconds)
        self.lease = timedelta(seconds=lease_seconds)
        self.on_due = on_due

    # --- URLs ---------------------------------------------------------------------------------------

    def target(self, url: str) -> Target:
        """The URL's scheme, host and port when its form is acceptable; raises INVALID_ARGUMENT otherwise."""
        if len(url) > MAX_URL_LENGTH:
            raise _bad_url("URL_INVALID", f"The URL is longer than {MAX_URL_LENGTH} characters.")
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise _bad_url("URL_INVALID", "The URL is not valid.") from exc
        scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
        if not host or parts.username is not None or parts.password is not None:
            raise _bad_url("URL_INVALID", "The URL needs a host name and no credentials.")
        if scheme == "http" and not (self.embedded and host in LOCAL_HOSTS):
            raise _bad_url("URL_NOT_HTTPS", "Webhook URLs must be https (http only to localhost in `layers dev`).")
        if scheme not in ("http", "https"):
            raise _bad_url("URL_NOT_HTTPS", "Webhook URLs must be https.")
        return Target(scheme, host, port or (443 if scheme == "https" else 80))

    def check_url(self, url: str) -> list[str]:
        """Form and addresses, as at registration and again before every attempt; the checked addresses."""
        target = self.target(url)
        try:
            return self.guard.addresses(target.host, target.port)
        except Refused as exc:
            raise _bad_url(exc.reason, exc.message) from exc

    # --- endpoints ----------------------------------------------------------------------------------

    def create_endpoint(
        self,
        organization_id: str,
        url: str,
        event_types: Sequence[str],
        description: str,
        project_id: str,
        idempotency_key: str = "",
        fingerprint: str = "",
    ) -> pb.CreateEndpointResponse:
        if not organization_id:
            raise invalid("organization_id is required.", field="organization_id")
        scope = "POST /v1/webhook-endpoints"
        replayed = self._replayed(organization_id, scope, idempotency_key, fingerprint, pb.CreateEndpointResponse)
        if replayed is not None:
            return replayed
        types = _event_types(event_types)
        _description(description)
        self.check_url(url)
        now = utcnow()
        endpoint = Endpoint(
            endpoint_id=new_id("whe"),
            organization_id=organization_id,
            project_id=project_id or None,
            url=url,
            events=" ".join(types),
            description=description,
            status="active",
            consecutive_failures=0,
            created_at=now,
            updated_at=now,
        )
        secret = new_secret()

        def write(session: Session) -> tuple[pb.CreateEndpointResponse, EndpointSecret]:
            if not is_sqlite(self.db.engine):
                # Two creates at once must not both see room for one more (SQLite has one writer anyway).
                lock = zlib.crc32(f"webhook-endpoints:{organization_id}".encode())
                session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock})
            live = session.scalar(
                select(func.count())
                .select_from(Endpoint)
                .where(Endpoint.organization_id == organization_id, Endpoint.deleted_at.is_(None))
            )
            if (live or 0) >= MAX_ENDPOINTS:
                raise ServiceError(
                    grpc.StatusCode.FAILED_PRECONDITION,
                    "ENDPOINT_LIMIT_REACHED",
                    f"An organization has at most {MAX_ENDPOINTS} webhook endpoints; delete one to add another.",
                    {"limit": str(MAX_ENDPOINTS)},
                )
            session.add(endpoint)
            session.flush()
            sealed = self._sealed(endpoint.endpoint_id, secret, now)
            session.add(sealed)
            session.flush()
            return pb.CreateEndpointResponse(endpoint=endpoint_pb(endpoint)), sealed

        answer = self._write_once(
            organization_id, scope, idempotency_key, fingerprint, write, pb.CreateEndpointResponse
        )
        if not answer.replayed:
            answer.signing_secret = secret
        return answer

    def _replayed(self, organization_id: str, scope: str, key: str, fingerprint: str, kind: type) -> typing.Any:
        if not key:
            return None
        with self.db.read() as session:
            return self._stored_answer(session, organization_id, scope, key, fingerprint, kind)

    def _stored_answer(
        self, session: Session, organization_id: str, scope: str, key: str, fingerprint: str, kind: type
    ) -> typing.Any:
        record = session.scalar(
            select(IdempotencyKey).where(
                IdempotencyKey.organization_id == organization_id,
                IdempotencyKey.scope == scope,
                IdempotencyKey.idempotency_key == key,
            )
        )
        if record is None or as_utc(record.created_at) <= utcnow() - IDEMPOTENCY_TTL:
            return None
        if record.fingerprint != fingerprint:
            raise idempotency_body_mismatch()
        sealed = session.get(EndpointSecret, record.secret_id)
        assert sealed is not None
        answer = typing.cast(typing.Any, kind).FromString(record.response)
        answer.signing_secret = self.box.open(sealed.endpoint_id, sealed.ciphertext)
        answer.replayed = True
        return answer

    def _write_once(
        self,
        organization_id: str,
        scope: str,
        key: str,
        fingerprint: str,
        write: Callable[[Session], tuple[typing.Any, EndpointSecret]],
        kind: type,
    ) -> typing.Any:
        """Run `write` and keep its answer (secret left out) under the key, in one transaction; a request
        with the same key that won a race is answered with its answer instead."""
        try:
            with self.db.write() as session:
                if key:
                    stored = self._stored_answer(session, organization_id, scope, key, fingerprint, kind)
                    if stored is not None:
                        return stored
                    session.execute(
                        delete(IdempotencyKey).where(
                            IdempotencyKey.organization_id == organization_id,
                            IdempotencyKey.scope == scope,
                            IdempotencyKey.idempotency_key == key,
                        )
                    )
                answer, sealed = write(session)
                if key:
                    session.add(
                        IdempotencyKey(
                            organization_id=organization_id,
                            scope=scope,
                            idempotency_key=key,
                            fingerprint=fingerprint,
                            response=answer.SerializeToString(),
                            secret_id=sealed.id,
                            created_at=utcnow(),
                        )
                    )
                return answer
        except IntegrityError:
            if not key:
                raise
            stored = self._replayed(organization_id, scope, key, fingerprint, kind)
            if stored is None:
                raise
            return stored

    def get_endpoint(self, organization_id: str, endpoint_id: str) -> Endpoint:
        with self.db.read() as session:
            return _endpoint(session, organization_id, endpoint_id)

    def list_endpoints(self, organization_id: str, size: int, token: str) -> tuple[list[Endpoint], str]:
        limit, after = page_size(size), decode_token(token)
        with self.db.read() as session:
            rows = list(
                session.scalars(
                    select(Endpoint)
                    .where(
                        Endpoint.organization_id == organization_id,
                        Endpoint.deleted_at.is_(None),
                        Endpoint.seq > after,
                    )
                    .order_by(Endpoint.seq)
                    .limit(limit + 1)
                )
            )
        more = len(rows) > limit
        rows = rows[:limit]
        return rows, encode_token(rows[-1].seq) if more else ""

    def update_endpoint(
        self,
        organization_id: str,
        endpoint_id: str,
        paths: Sequence[str],
        url: str,
        event_types: Sequence[str],
        description: str,
        status: str,
    ) -> Endpoint:
        unknown = set(paths) - {"url", "events", "description", "status"}
        if unknown:
            raise invalid(f"Cannot change {', '.join(sorted(unknown))}.", field=sorted(unknown)[0])
        if "url" in paths:
            self.check_url(url)
        types = _event_types(event_types) if "events" in paths else []
        if "description" in paths:
            _description(description)
        if "status" in paths and status not in STATUSES:
            raise invalid("status must be active or paused.", field="status")
        with self.db.write() as session:
            endpoint = _endpoint(session, organization_id, endpoint_id, lock=True)
            if "url" in paths:
                endpoint.url = url
            if "events" in paths:
                endpoint.events = " ".join(types)
            if "description" in paths:
                endpoint.description = description
            resumed = False
            if "status" in paths and status != endpoint.status:
                resumed = status == "active"
                endpoint.status = status
                endpoint.consecutive_failures = 0
            endpoint.updated_at = utcnow()
        if resumed:
            self.on_due()  # its held deliveries are due now
        return endpoint

    def delete_endpoint(self, organization_id: str, endpoint_id: str) -> None:
        """Pending deliveries end with it. Rows are locked in the order `record_many` locks them (deliveries
        by seq, then the endpoint), so a delete and a worker reporting never wait on each other in a cycle;
        claims skip what is locked and, once this commits, never take a deleted endpoint's delivery."""
        now = utcnow()
        with self.db.write() as session:
            _endpoint(session, organization_id, endpoint_id)
            if not is_sqlite(self.db.engine):
                session.execute(
                    select(Delivery.seq)
                    .where(Delivery.endpoint_id == endpoint_id, Delivery.status == "pending")
                    .order_by(Delivery.seq)
                    .with_for_update()
                )
            endpoint = _endpoint(session, organization_id, endpoint_id, lock=True)
            endpoint.deleted_at = endpoint.updated_at = now
            session.execute(
                update(Delivery)
                .where(Delivery.endpoint_id == endpoint_id, Delivery.status == "pending")
                .values(
                    status="abandoned", next_attempt_at=None, last_error="The endpoint was deleted.", updated_at=now
                )
            )

    def rotate_secret(
        self, organization_id: str, endpoint_id: str, idempotency_key: str = "", fingerprint: str = ""
    ) -> pb.RotateSecretResponse:
        scope = f"POST /v1/webhook-endpoints/{endpoint_id}/rotate-secret"
        secret = new_secret()

        def write(session: Session) -> tuple[pb.RotateSecretResponse, EndpointSecret]:
            now = utcnow()
            expires = now + self.overlap
            _endpoint(session, organization_id, endpoint_id, lock=True)
            secrets = EndpointSecret.__table__.c
            # Live after this: the new secret and the one it replaces, for the overlap. Secrets an earlier
            # rotation left overlapping end now, so rotating again and again never adds a v1 per rotation.
            session.execute(
                update(EndpointSecret)
                .where(secrets.endpoint_id == endpoint_id, secrets.expires_at > now)
                .values(expires_at=now)
            )
            session.execute(
                update(EndpointSecret)
                .where(secrets.endpoint_id == endpoint_id, secrets.expires_at.is_(None))
                .values(expires_at=expires)
            )
            self._purge_expired_secrets(session, organization_id, endpoint_id, now)
            sealed = self._sealed(endpoint_id, secret, now)
            session.add(sealed)
            session.flush()
            answer = pb.RotateSecretResponse(endpoint_id=endpoint_id, previous_secret_expires_at=to_timestamp(expires))
            return answer, sealed

        answer = self._write_once(organization_id, scope, idempotency_key, fingerprint, write, pb.RotateSecretResponse)
        if not answer.replayed:
            answer.signing_secret = secret
        return answer

    def _purge_expired_secrets(self, session: Session, organization_id: str, endpoint_id: str, now: datetime) -> None:
        """Delete the endpoint's expired secrets, but those an unexpired Idempotency-Key answer still shows
        (a retried request gets the answer it first had); keys past their 24 h go first."""
        keys = IdempotencyKey.__table__.c
        session.execute(
            delete(IdempotencyKey).where(
                keys.organization_id == organization_id, keys.created_at <= now - IDEMPOTENCY_TTL
            )
        )
        secrets = EndpointSecret.__table__.c
        session.execute(
            delete(EndpointSecret).where(
                secrets.endpoint_id == endpoint_id,
                secrets.expires_at <= now,
                secrets.id.not_in(select(keys.secret_id).where(keys.organization_id == organization_id)),
            )
        )

    def _sealed(self, endpoint_id: str, secret: str, now: datetime) -> EndpointSecret:
        return EndpointSecret(endpoint_id=endpoint_id, ciphertext=self.box.seal(endpoint_id, secret), created_at=now)

    # --- events and deliveries ----------------------------------------------------------------------

    def ingest(self, event: events_pb2.DomainEvent, headers: typing.Mapping[str, object] | None = None) -> int:
        """Take an event in and fan it out; returns the deliveries made (0 for an event seen before)."""
        return self.ingest_many([(event, headers)])

    def ingest_many(self, batch: Sequence[tuple[events_pb2.DomainEvent, typing.Mapping[str, object] | None]]) -> int:
        """Take events (each with the headers it came with) in and fan them out in one transaction; returns
        the deliveries made. An event seen before (a redelivered message) adds nothing."""
        now = utcnow()
        made = 0
        with self.db.write() as session:
            endpoints_of: dict[str, Sequence[Endpoint]] = {}
            for event, headers in batch:
                # RETURNING, not rowcount: PostgreSQL's driver reports -1 for an ORM insert, which read as
                # "inserted" fanned a redelivered event out a second time.
                inserted = session.scalar(
                    _insert_ignoring(session, Event)
                    .values(
                        event_id=event.event_id,
                        type=event.type,
                        organization_id=event.organization_id,
                        project_id=event.project_id,
                        body=event.body,
                        created_at=event.created_at.ToDatetime(tzinfo=now.tzinfo),
                        received_at=now,
                        headers=logs.carried_json(headers),
                    )
                    .returning(Event.event_id)
                )
                if inserted is None:
                    continue
                org = event.organization_id
                if org not in endpoints_of:
                    endpoints_of[org] = session.scalars(
                        select(Endpoint).where(Endpoint.organization_id == org, Endpoint.deleted_at.is_(None))
                    ).all()
                for endpoint in endpoints_of[org]:
                    if event.type in endpoint.events.split() and endpoint.project_id in (None, event.project_id):
                        session.add(self._delivery(endpoint, event.event_id, event.type, now))
                        made += 1
        if made:
            self.on_due()
        return made

    def _delivery(self, endpoint: Endpoint, event_id: str, event_type: str, now: datetime, **extra: str) -> Delivery:
        return Delivery(
            delivery_id=new_id("whd"),
            endpoint_id=endpoint.endpoint_id,
            event_id=event_id,
            organization_id=endpoint.organization_id,
            event_type=event_type,
            status="pending",
            attempts=0,
            next_attempt_at=now + timedelta(seconds=self.ladder[0]),
            created_at=now,
            updated_at=now,
            **extra,
        )

    def send_test(self, organization_id: str, endpoint_id: str) -> Delivery:
        now = utcnow()
        with self.db.write() as session:
            endpoint = _endpoint(session, organization_id, endpoint_id)
            event_id = new_id("evt")
            body = _body(event_id, events.TEST_PING, now, {"endpointId": endpoint_id})
            session.add(_event(event_id, events.TEST_PING, organization_id, endpoint.project_id or "", body, now))
            session.flush()
            delivery = self._delivery(endpoint, event_id, events.TEST_PING, now)
            session.add(delivery)
        self.on_due()
        return delivery

    def replay(self, organization_id: str, delivery_id: str) -> Delivery:
        now = utcnow()
        with self.db.write() as session:
            original = session.scalar(select(Delivery).where(Delivery.delivery_id == delivery_id))
            if original is None or original.organization_id != organization_id:
                raise not_found("delivery", "Delivery not found.")
            endpoint = _endpoint(session, organization_id, original.endpoint_id)
            event = session.get(Event, original.event_id)
            assert event is not None
            body = json.loads(event.body)
            event_id = new_id("evt")
            body.update(id=event_id, createdAt=events.rfc3339(now), replayOf=delivery_id)
            raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
            session.add(_event(event_id, event.type, organization_id, event.project_id, raw, now))
            session.flush()
            delivery = self._delivery(endpoint, event_id, event.type, now, replay_of=delivery_id)
            session.add(delivery)
        self.on_due()
        return delivery

    def list_deliveries(
        self, organization_id: str, endpoint_id: str, size: int, token: str
    ) -> tuple[list[Delivery], str]:
        """Newest first: the token is the sequence number the next page starts below."""
        limit, before = page_size(size), decode_token(token)
        with self.db.read() as session:
            _endpoint(session, organization_id, endpoint_id)
            query = select(Delivery).where(Delivery.endpoint_id == endpoint_id)
            if before:
                query = query.where(Delivery.seq < before)
            rows = list(session.scalars(query.order_by(Delivery.seq.desc()).limit(limit + 1)))
        more = len(rows) > limit
        rows = rows[:limit]
        return rows, encode_token(rows[-1].seq) if more else ""

    # --- the workers' side --------------------------------------------------------------------------

    def claim_due(self, limit: int) -> list[Due]:
        """Take up to `limit` due attempts of active endpoints; each is pushed a lease ahead, so a worker
        that dies mid-attempt leaves it due again once the lease is over."""
        now = utcnow()
        with self.db.write() as session:
            query = (
                select(Delivery)
                .join(Endpoint, Endpoint.endpoint_id == Delivery.endpoint_id)
                .where(
                    Delivery.status == "pending",
                    Delivery.next_attempt_at <= now,
                    Endpoint.status == "active",
                    # An event taken in as its endpoint was being deleted may leave a pending delivery.
                    Endpoint.deleted_at.is_(None),
                )
                .order_by(Delivery.next_attempt_at)
                .limit(limit)
            )
            if not is_sqlite(self.db.engine):
                query = query.with_for_update(skip_locked=True, of=Delivery)
            rows = session.scalars(query).all()
            if not rows:
                return []
            for row in rows:
                row.attempts += 1
                row.next_attempt_at = now + self.lease
                row.updated_at = now
            endpoint_ids = {r.endpoint_id for r in rows}
            urls = {
                endpoint_id: url
                for endpoint_id, url in session.execute(
                    select(Endpoint.endpoint_id, Endpoint.url).where(Endpoint.endpoint_id.in_(endpoint_ids))
                )
            }
            events_of = {
                event.event_id: event
                for event in session.execute(
                    select(Event.event_id, Event.body, Event.headers).where(
                        Event.event_id.in_({r.event_id for r in rows})
                    )
                )
            }
            sealed: dict[str, list[bytes]] = {}
            for endpoint_id, ciphertext in session.execute(
                select(EndpointSecret.endpoint_id, EndpointSecret.ciphertext)
                .where(
                    EndpointSecret.endpoint_id.in_(endpoint_ids),
                    or_(EndpointSecret.expires_at.is_(None), EndpointSecret.expires_at > now),
                )
                .order_by(EndpointSecret.id.desc())
            ):
                sealed.setdefault(endpoint_id, []).append(ciphertext)
            return [
                Due(
                    r.delivery_id,
                    r.endpoint_id,
                    r.event_id,
                    urls[r.endpoint_id],
                    events_of[r.event_id].body,
                    tuple(sealed.get(r.endpoint_id, ())),
                    r.attempts,
                    events_of[r.event_id].headers,
                )
                for r in rows
            ]

    def count_pending(self) -> int:
        """Deliveries still to be made (the backlog), whether due now or later."""
        with self.db.read() as session:
            return int(session.scalar(select(func.count()).where(Delivery.status == "pending")) or 0)

    def next_due_at(self) -> datetime | None:
        with self.db.read() as session:
            value = session.scalar(
                select(func.min(Delivery.next_attempt_at))
                .join(Endpoint, Endpoint.endpoint_id == Delivery.endpoint_id)
                .where(Delivery.status == "pending", Endpoint.status == "active", Endpoint.deleted_at.is_(None))
            )
        return as_utc(value) if value is not None else None

    def record(self, due: Due, outcome: Outcome) -> str | None:
        """Apply one attempt's outcome; returns the delivery's new status, or None when the attempt was no
        longer this worker's (its lease ran out and another took it, or the endpoint was deleted)."""
        return self.record_many([(due, outcome)])[0]

    def record_many(self, results: Sequence[tuple[Due, Outcome]]) -> list[str | None]:
        """`record` for several attempts in one transaction (a busy worker reports in batches)."""
        now = utcnow()
        statuses: list[str | None] = []
        with self.db.write() as session:
            query = select(Delivery).where(Delivery.delivery_id.in_([due.delivery_id for due, _ in results]))
            if not is_sqlite(self.db.engine):
                query = query.order_by(Delivery.seq).with_for_update()
            rows = {row.delivery_id: row for row in session.scalars(query)}
            succeeded: set[str] = set()
            failures: dict[str, int] = {}
            for due, outcome in results:
                delivery = rows.get(due.delivery_id)
                if delivery is None or delivery.attempts != due.attempt or delivery.status != "pending":
                    statuses.append(None)
                    continue
                session.add(
                    Attempt(
                        delivery_id=due.delivery_id,
                        number=due.attempt,
                        started_at=outcome.started_at,
                        duration_ms=outcome.duration_ms,
                        status_code=outcome.status_code,
                        error=outcome.error,
                    )
                )
                delivery.last_status_code = outcome.status_code
                delivery.last_error = outcome.error
                delivery.updated_at = now
                if outcome.succeeded:
                    delivery.status, delivery.next_attempt_at = "succeeded", None
                    succeeded.add(due.endpoint_id)
                    failures.pop(due.endpoint_id, None)
                elif outcome.retryable and delivery.attempts < len(self.ladder):
                    delivery.next_attempt_at = now + timedelta(seconds=self.ladder[delivery.attempts])
                else:
                    delivery.status = "abandoned" if outcome.retryable else "failed"
                    delivery.next_attempt_at = None
                    failures[due.endpoint_id] = failures.get(due.endpoint_id, 0) + 1
                statuses.append(delivery.status)
            endpoints = Endpoint.__table__.c
            # One pass in id order: two workers reporting on the same endpoints lock their rows in one order.
            for endpoint_id in sorted(succeeded | set(failures)):
                count = failures.get(endpoint_id, 0)
                if not count:
                    session.execute(
                        update(Endpoint)
                        .where(endpoints.endpoint_id == endpoint_id, endpoints.consecutive_failures != 0)
                        .values(consecutive_failures=0)
                    )
                    continue
                # Failures after a success in this batch count from zero.
                base = 0 if endpoint_id in succeeded else endpoints.consecutive_failures
                session.execute(
                    update(Endpoint)
                    .where(endpoints.endpoint_id == endpoint_id)
                    .values(consecutive_failures=base + count)
                )
                session.execute(
                    update(Endpoint)
                    .where(
                        endpoints.endpoint_id == endpoint_id,
                        endpoints.status == "active",
                        endpoints.consecutive_failures >= AUTO_PAUSE_AFTER,
                    )
                    .values(status="auto_paused", updated_at=now)
                )
        return statuses

    def open_secrets(self, due: Due) -> list[str]:
        return [self.box.open(due.endpoint_id, s) for s in due.sealed_secrets]


def _bad_url(reason: str, message: str):  # type: ignore[no-untyped-def]
    return invalid(message, field="url", reason=reason)


def _event_types(types: Sequence[str]) -> list[str]:
    unique = list(dict.fromkeys(types))
    if not 1 <= len(unique) <= MAX_EVENTS:
        raise invalid(f"events must list 1 to {MAX_EVENTS} event types.", field="events")
    unknown = [t for t in unique if t not in events.EVENT_TYPES]
    if unknown:
        raise invalid(f"Unknown event type {unknown[0]!r}: use {', '.join(events.EVENT_TYPES)}.", field="events")
    return unique


def _description(description: str) -> None:
    if len(description) > MAX_DESCRIPTION:
        raise invalid(f"description is longer than {MAX_DESCRIPTION} characters.", field="description")


def _endpoint(session: Session, organization_id: str, endpoint_id: str, lock: bool = False) -> Endpoint:
    query = select(Endpoint).where(Endpoint.endpoint_id == endpoint_id)
    if lock and session.bind is not None and session.bind.dialect.name != "sqlite":
        query = query.with_for_update()
    endpoint = session.scalar(query)
    if endpoint is None or endpoint.organization_id != organization_id or endpoint.deleted_at is not None:
        raise not_found("endpoint", "Webhook endpoint not found.")
    return endpoint


def _insert_ignoring(session: Session, model: type[Event]):  # type: ignore[no-untyped-def]
    dialect = session.get_bind().dialect.name
    module = sqlite if dialect == "sqlite" else postgresql
    return module.insert(model).on_conflict_do_nothing()


def _body(event_id: str, event_type: str, now: datetime, data: dict[str, object]) -> bytes:
    body = {"id": event_id, "type": event_type, "createdAt": events.rfc3339(now), "data": data}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _event(event_id: str, event_type: str, organization_id: str, project_id: str, body: bytes, now: datetime) -> Event:
    return Event(
        event_id=event_id,
        type=event_type,
        organization_id=organization_id,
        project_id=project_id,
        body=body,
        created_at=now,
        received_at=now,
        headers=logs.carried_json(logs.headers()),  # a ping or replay goes in the trace of the call that asked
    )
