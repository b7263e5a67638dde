"""The outbox relay: publishes committed render messages and domain events, marks each sent only after the
broker confirms. Render messages go to the render queue, events to the `layers.events` topic exchange.

With the broker unreachable the rows simply wait and the relay backs off (capped); nothing is lost. On
PostgreSQL rows are claimed with FOR UPDATE SKIP LOCKED so several content replicas never publish one
row at the same time. What else content does in the background is `services/content/housekeeping.py`.
"""

from __future__ import annotations

import logging
import threading

from opentelemetry import trace
from sqlalchemy import BigInteger, any_, bindparam, select, update
from sqlalchemy.dialects import postgresql

from common import events, logs, tracing
from common.db import Database, is_sqlite, rows_affected
from common.events import EventPublisher
from common.render_queue import Publisher
from common.timeutil import utcnow
from layers.events.v1 import events_pb2
from services.content.models import Job, OutboxMessage, table_of

log = logging.getLogger("layers.content.relay")
_tracer = trace.get_tracer("layers.content.relay")

MAX_BACKOFF_SECONDS = 5.0
# Rows one PostgreSQL transaction claims and publishes: under load a wake-up finds many.
BATCH_ROWS = 50


class OutboxRelay:
    def __init__(
        self,
        db: Database,
        publisher: Publisher,
        poll_seconds: float = 0.5,
        events: EventPublisher | None = None,
    ) -> None:
        self.db = db
        self.publisher = publisher
        self.events = events
        self.poll_seconds = poll_seconds
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="outbox-relay", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        """Called after a commit that added a row, so it goes out without waiting for the next poll."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=10)
        self.publisher.close()
        if self.events is not None:
            self.events.close()

    def _run(self) -> None:
        backoff = 0.0
        while not self._stop.is_set():
            try:
                self.publish_pending()
                backoff = 0.0
            except Exception as exc:
                backoff = min(MAX_BACKOFF_SECONDS, max(0.2, backoff * 2))
                log.warning("relay: %s; retrying in %.1fs", exc.__class__.__name__, backoff)
            if backoff:
                self._stop.wait(backoff)
            else:
                self.publisher.idle()
                if self.events is not None:
                    self.events.idle()
                self._wake.wait(self.poll_seconds)
            self._wake.clear()

    def resend_running_jobs(self) -> int:
        """Mark the render messages of jobs still running as unsent, so they go out again. For a queue that
        keeps nothing across restarts (the embedded default); the renderer skips a job already finished."""
        with self.db.write() as session:
            running = select(Job.job_id).where(Job.status == "running")
            result = session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.message_id.in_(running), OutboxMessage.sent_at.is_not(None))
                .values(sent_at=None)
            )
            count = rows_affected(result)
        if count:
            log.info("resending %d render messages of running jobs", count)
        return count

    def publish_pending(self) -> int:
        """Publish unsent rows oldest first, marking each sent only once its publish was confirmed. Returns
        how many were sent; raises when publishing fails (the row stays unsent)."""
        sent = 0
        while not self._stop.is_set():
            published = self._publish_batch_locked() if self._row_locks else int(self._publish_one())
            if not published:
                return sent
            sent += published
        return sent

    @property
    def _row_locks(self) -> bool:
        return not is_sqlite(self.db.engine)

    def _publish_batch_locked(self) -> int:
        """PostgreSQL: hold the rows' locks (SKIP LOCKED) across their publishes, so replicas never send one
        row twice at once; other rows and other writers are not blocked. Rows published before a failure
        are still marked sent when the transaction commits. Returns how many were sent."""
        failure: Exception | None = None
        sent: list[int] = []
        with self.db.transaction() as conn:
            for row in conn.execute(_NEXT_UNSENT_LOCKED).all():
                try:
                    self._publish(row.message_id, row.message_type, row.payload, row.headers)
                except Exception as exc:
                    failure = exc
                    conn.execute(_FAILED, {"row_id": row.id, "error": _describe(exc)})
                    break
                sent.append(row.id)
            if sent:  # one statement for the batch, rather than one a row (sent_at: when the batch was done)
                conn.execute(_SENT, {"ids": sent, "now": utcnow()})
        if failure is not None:
            raise failure
        return len(sent)

    def _publish_one(self) -> bool:
        """SQLite (one content process): publish outside any transaction, since a transaction there holds
        the database's only write lock and a slow or unreachable broker would stall every write."""
        with self.db.query() as conn:
            row = conn.execute(_UNSENT.limit(1)).first()
        if row is None:
            return False
        try:
            self._publish(row.message_id, row.message_type, row.payload, row.headers)
        except Exception as exc:
            with self.db.transaction() as conn:
                conn.execute(_FAILED, {"row_id": row.id, "error": _describe(exc)})
            raise
        with self.db.transaction() as conn:
            conn.execute(_SENT_ONE, {"row_id": row.id, "now": utcnow()})
        return True

    def _publish(self, message_id: str, message_type: str, payload: bytes, stored_headers: str | None) -> None:
        stored = logs.parse_headers(stored_headers)
        with logs.continued(_tracer, f"relay publish {message_type}", stored, trace.SpanKind.PRODUCER):
            headers = tracing.inject(dict(stored))  # the consumer's span is a child of this publish
            if message_type != events.MESSAGE_TYPE:
                self.publisher.publish(message_id, payload, headers)
                return
            if self.events is None:
                raise RuntimeError("no event publisher: the event stays in the outbox")
            self.events.publish_event(events_pb2.DomainEvent.FromString(payload), headers)


# The relay's statements, in SQLAlchemy Core. Unsent rows, oldest first:
_OUTBOX = table_of(OutboxMessage)
_UNSENT = (
    select(_OUTBOX.c.id, _OUTBOX.c.message_id, _OUTBOX.c.message_type, _OUTBOX.c.payload, _OUTBOX.c.headers)
    .where(_OUTBOX.c.sent_at.is_(None))
    .order_by(_OUTBOX.c.id)
)
# PostgreSQL's batch: the rows' locks are held until the transaction ends.
_NEXT_UNSENT_LOCKED = _UNSENT.limit(BATCH_ROWS).with_for_update(skip_locked=True)
_SENT = (
    update(_OUTBOX)
    # = ANY(array): one SQL text and three parameters whatever the batch's size.
    .where(_OUTBOX.c.id == any_(bindparam("ids", type_=postgresql.ARRAY(BigInteger))))
    .values(sent_at=bindparam("now"), attempts=_OUTBOX.c.attempts + 1)
)
_SENT_ONE = (  # SQLite's one row at a time
    update(_OUTBOX)
    .where(_OUTBOX.c.id == bindparam("row_id"))
    .values(sent_at=bindparam("now"), attempts=_OUTBOX.c.attempts + 1)
)
_FAILED = (
    update(_OUTBOX)
    .where(_OUTBOX.c.id == bindparam("row_id"))
    .values(last_error=bindparam("error"), attempts=_OUTBOX.c.attempts + 1)
)


def _describe(exc: Exception) -> str:
    return f"{exc.__class__.__name__}: {exc}"[:500]
