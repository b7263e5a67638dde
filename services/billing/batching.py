"""Concurrent fresh reservations of one organization, held together.

Every reservation of an organization updates its one wallet row, and PostgreSQL holds that row's lock until
the transaction's commit is flushed to disk: one reservation at a time, each waiting for an fsync. Here the
reservations that arrive while one is in flight wait for it, then go to the database as one batch: one
statement holds all their credits and files all their reservations, one commit, one flush.

A batch is all or nothing. When the wallet cannot cover the whole batch, or one of its ids is already taken
(a repeat), nothing of it is written and each reservation takes the single path instead, with the ledger's
usual answers (some held, the rest BILLING_EXHAUSTED; a repeat answered as a repeat). So batching changes
how many round trips a reservation costs, never what it answers.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

# The most reservations one statement carries.
MAX_BATCH = 64

Result = TypeVar("Result")


@dataclass(eq=False)
class Pending(Generic[Result]):
    """One caller's reservation, waiting for its answer or to be told to lead the next batch."""

    reservation_id: str
    amount: int
    ttl_seconds: int
    ready: threading.Event = field(default_factory=threading.Event)
    result: Result | None = None
    error: BaseException | None = None
    # Set (to the batch it must run) when this waiter is promoted to lead.
    lead: list[Pending[Result]] | None = None

    def answer(self) -> Result:
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result


# Runs one batch of an organization: sets every item's result or error.
BatchRunner = Callable[[str, list[Pending[Result]]], None]


class Batcher(Generic[Result]):
    """Per organization, at most one batch in flight; whoever arrives meanwhile joins the next one, and the
    first of them leads it. Nobody waits for a batch other than its own and the one before."""

    def __init__(self, run: BatchRunner[Result], max_batch: int = MAX_BATCH) -> None:
        self._run = run
        self._max_batch = max_batch
        self._lock = threading.Lock()
        self._waiting: dict[str, list[Pending[Result]]] = {}

    def submit(self, organization_id: str, mine: Pending[Result]) -> Result:
        with self._lock:
            queue = self._waiting.get(organization_id)
            if queue is None:
                self._waiting[organization_id] = []  # a batch is in flight: ours
                batch: list[Pending[Result]] | None = [mine]
            else:
                queue.append(mine)
                batch = None
        if batch is None:
            mine.ready.wait()
            if mine.lead is None:
                return mine.answer()
            batch = mine.lead
        try:
            self._run_settled(organization_id, batch)
        finally:
            self._hand_over(organization_id)
        return mine.answer()

    def _run_settled(self, organization_id: str, batch: list[Pending[Result]]) -> None:
        try:
            self._run(organization_id, batch)
        except Exception as exc:  # every waiter gets an answer, whatever happened
            for item in batch:
                if item.result is None and item.error is None:
                    # Its own exception: one object raised in several threads would share one traceback.
                    item.error = copy.copy(exc)
        finally:
            for item in batch:
                if item.result is None and item.error is None:
                    item.error = RuntimeError("the reservation batch was interrupted")
                item.lead = None
                item.ready.set()

    def _hand_over(self, organization_id: str) -> None:
        with self._lock:
            queue = self._waiting[organization_id]
            if not queue:
                del self._waiting[organization_id]
                return
            batch = queue[: self._max_batch]
            del queue[: self._max_batch]
        batch[0].lead = batch
        batch[0].ready.set()
