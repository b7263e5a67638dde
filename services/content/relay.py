"""The outbox relay: publishes committed render messages, marks each sent only after the broker confirms.

With the broker unreachable the rows simply wait and the relay backs off (capped); nothing is lost. On
PostgreSQL rows are claimed with FOR UPDATE SKIP LOCKED so several content replicas never publish one
row at the same time. The same loop retries billing settlements that did not go through.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import select

from common.db import Database
from common.render_queue import Publisher
from common.timeutil import utcnow
from services.content.jobs import Jobs
from services.content.models import OutboxMessage

log = logging.getLogger("layers.content.relay")

MAX_BACKOFF_SECONDS = 5.0


class OutboxRelay:
    def __init__(self, db: Database, publisher: Publisher, jobs: Jobs, poll_seconds: float = 0.5) -> None:
        self.db = db
        self.publisher = publisher
        self.jobs = jobs
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

    def _run(self) -> None:
        backoff = 0.0
        while not self._stop.is_set():
            try:
                self.publish_pending()
                self.jobs.settle_pending()
                backoff = 0.0
                self.publisher.idle()
                self._wake.wait(self.poll_seconds)
            except Exception as exc:
                backoff = min(MAX_BACKOFF_SECONDS, max(0.2, backoff * 2))
                log.warning("relay: %s; retrying in %.1fs", exc.__class__.__name__, backoff)
                self._stop.wait(backoff)
            self._wake.clear()

    def publish_pending(self) -> int:
        """Publish unsent rows oldest first, one row per transaction, so a row is marked sent exactly when its
        publish was confirmed. Returns how many were sent; raises when publishing fails."""
        sent = 0
        while not self._stop.is_set():
            failure: Exception | None = None
            with self.db.write() as session:
                row = session.scalar(
                    select(OutboxMessage)
                    .where(OutboxMessage.sent_at.is_(None))
                    .order_by(OutboxMessage.id)
                    .limit(1)
                    .with_for_update(skip_locked=True)
                )
                if row is None:
                    return sent
                row.attempts += 1
                try:
                    self.publisher.publish(row.message_id, row.payload)
                    row.sent_at = utcnow()
                    sent += 1
                except Exception as exc:
                    failure = exc
                    row.last_error = f"{exc.__class__.__name__}: {exc}"[:500]
            if failure is not None:
                raise failure
        return sent
