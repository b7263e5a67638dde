"""What content does in the background besides relaying the outbox, each on its own beat and each failing
alone (so one that cannot run, billing or the database away, never stops the others):
- settle billing: capture or release the credits of ended jobs whose billing call did not go through;
- release abandoned claims: the holds of requests that died between claiming their Idempotency-Key and
  committing their job (its own thread: a pass waits on billing);
- sample the outbox for its gauges (rows waiting, the oldest one's age);
- purge idempotency records past their 24 hours and outbox rows sent more than a week ago.
The first three share a thread, so a slow billing pass delays the gauges and the purge, never the relay.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import delete, func, select

from common import metrics
from common.db import Database, rows_affected
from common.timeutil import as_utc, utcnow
from services.content.jobs import Jobs
from services.content.models import IdempotencyRecord, OutboxMessage

log = logging.getLogger("layers.content.housekeeping")

# Settlements that did not go through are retried on this beat.
SETTLE_EVERY_SECONDS = 2.0
# Requests that died before committing their job are looked for on this beat (and at start-up).
ABANDONED_CLAIMS_EVERY_SECONDS = 5.0
PURGE_EVERY_SECONDS = 600.0
# Sent rows are kept a while for inspection; the job itself records everything that matters.
SENT_RETENTION = timedelta(days=7)


class Housekeeping:
    def __init__(self, db: Database, jobs: Jobs, release_abandoned: Callable[[], int] = lambda: 0) -> None:
        self.db = db
        self.jobs = jobs
        self.release_abandoned = release_abandoned
        self._stop = threading.Event()
        beats: list[tuple[str, Callable[[], object], float]] = [
            ("settle billing", self.jobs.settle_pending, SETTLE_EVERY_SECONDS),
            ("sample the outbox", self.sample_outbox, metrics.SAMPLE_SECONDS),
            ("purge", self.purge, PURGE_EVERY_SECONDS),
        ]
        self._threads = [
            threading.Thread(target=self._every, args=(beats,), name="content-housekeeping", daemon=True),
            threading.Thread(
                target=self._every,
                args=([("release abandoned claims", self.release_abandoned, ABANDONED_CLAIMS_EVERY_SECONDS)],),
                name="abandoned-claims",
                daemon=True,
            ),
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)

    def _every(self, beats: list[tuple[str, Callable[[], object], float]]) -> None:
        due = [0.0] * len(beats)  # each runs at once on start, then on its beat
        while not self._stop.is_set():
            for i, (what, run, seconds) in enumerate(beats):
                if time.monotonic() >= due[i]:
                    try:
                        run()
                    except Exception as exc:
                        log.warning("could not %s: %s", what, exc.__class__.__name__)
                    due[i] = time.monotonic() + seconds
            self._stop.wait(max(0.05, min(due) - time.monotonic()))

    def sample_outbox(self) -> None:
        """Set the outbox gauges: rows waiting, and how long the oldest has waited (the relay's lag)."""
        with self.db.read() as session:
            pending, oldest = session.execute(
                select(func.count(), func.min(OutboxMessage.created_at)).where(OutboxMessage.sent_at.is_(None))
            ).one()
        metrics.OUTBOX_PENDING.set(pending)
        metrics.OUTBOX_LAG.set((utcnow() - as_utc(oldest)).total_seconds() if oldest is not None else 0.0)

    def purge(self) -> tuple[int, int]:
        """Delete idempotency records past their 24 hours and outbox rows sent more than a week ago, so
        neither table grows without bound. Returns how many of each were deleted."""
        now = utcnow()
        with self.db.write() as session:
            records = session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.expires_at <= now))
            sent = session.execute(delete(OutboxMessage).where(OutboxMessage.sent_at <= now - SENT_RETENTION))
        return rows_affected(records), rows_affected(sent)
