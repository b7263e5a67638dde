"""Fixed-window request counters per API key and endpoint class, shared by every gateway replica.

One row per (key, class, window) holds the count. Taking a request is a single upsert that increments
and returns the count (INSERT ... ON CONFLICT DO UPDATE ... RETURNING on PostgreSQL and SQLite alike),
so concurrent requests, from any number of gateways, each see a distinct count and never overshoot.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite

from common.db import Database, is_sqlite
from common.errors import invalid
from services.content.models import RateLimitCounter

ENDPOINT_CLASSES = frozenset({"reads", "writes", "generations"})


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_at: int
    retry_after_seconds: int


class RateLimiter:
    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.clock = clock

    def consume(self, key_id: str, endpoint_class: str, limit: int, window_seconds: int) -> Decision:
        if not key_id:
            raise invalid("key_id is required.", field="key_id")
        if endpoint_class not in ENDPOINT_CLASSES:
            raise invalid(
                f"endpoint_class must be one of {', '.join(sorted(ENDPOINT_CLASSES))}.", field="endpoint_class"
            )
        if limit < 1 or window_seconds < 1:
            raise invalid("limit and window_seconds must be positive.", field="limit")
        now = self.clock()
        window_start = int(now) - int(now) % window_seconds
        insert = sqlite.insert if is_sqlite(self.db.engine) else postgresql.insert
        statement = (
            insert(RateLimitCounter)
            .values(key_id=key_id, endpoint_class=endpoint_class, window_start=window_start, count=1)
            .on_conflict_do_update(
                index_elements=["key_id", "endpoint_class", "window_start"],
                set_={"count": RateLimitCounter.count + 1},
            )
            .returning(RateLimitCounter.count)
        )
        with self.db.write() as session:
            count = int(session.execute(statement).scalar_one())
            # Earlier windows of this key and class are never read again: keep the table small.
            session.execute(
                delete(RateLimitCounter).where(
                    RateLimitCounter.key_id == key_id,
                    RateLimitCounter.endpoint_class == endpoint_class,
                    RateLimitCounter.window_start < window_start,
                )
            )
        reset_at = window_start + window_seconds
        allowed = count <= limit
        return Decision(
            allowed=allowed,
            limit=limit,
            remaining=max(0, limit - count),
            reset_at=reset_at,
            retry_after_seconds=0 if allowed else max(1, math.ceil(reset_at - now)),
        )
