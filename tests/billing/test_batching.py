"""The batcher's rules, with a runner that records what it was given: one batch in flight per organization,
everyone arriving meanwhile in the next, every caller its own answer, a failure reaching every caller of
its batch and no other."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from services.billing.batching import Batcher, Pending


class Runner:
    def __init__(self, delay: float = 0.05, fail_on: str | None = None) -> None:
        self.delay = delay
        self.fail_on = fail_on
        self.batches: list[tuple[str, list[str]]] = []
        self.lock = threading.Lock()

    def __call__(self, organization_id: str, batch: list[Pending[str]]) -> None:
        with self.lock:
            self.batches.append((organization_id, [p.reservation_id for p in batch]))
        time.sleep(self.delay)
        if self.fail_on in [p.reservation_id for p in batch]:
            raise RuntimeError("database down")
        for pending in batch:
            pending.result = f"held {pending.reservation_id}"


def submit(batcher: Batcher[str], org: str, name: str) -> str:
    try:
        return batcher.submit(org, Pending(name, 120, 60))
    except RuntimeError as exc:
        return f"error {exc}"


def test_one_in_flight_the_rest_together_each_its_own_answer() -> None:
    runner = Runner()
    batcher = Batcher(runner, max_batch=4)
    with ThreadPoolExecutor(10) as pool:
        first = pool.submit(submit, batcher, "org", "r0")
        time.sleep(0.01)  # r0 is in flight
        rest = [pool.submit(submit, batcher, "org", f"r{i}") for i in range(1, 10)]
        answers = [first.result(), *(f.result() for f in rest)]
    assert answers == [f"held r{i}" for i in range(10)]
    sizes = [len(ids) for _, ids in runner.batches]
    assert sizes[0] == 1 and max(sizes) <= 4 and sum(sizes) == 10
    assert len(runner.batches) <= 4  # 1, then the nine waiters in batches of at most four
    assert sorted(i for _, ids in runner.batches for i in ids) == sorted(f"r{i}" for i in range(10))


def test_organizations_do_not_wait_for_each_other() -> None:
    runner = Runner(delay=0.2)
    batcher = Batcher(runner)
    with ThreadPoolExecutor(2) as pool:
        began = time.monotonic()
        answers = list(pool.map(lambda org: submit(batcher, org, f"r-{org}"), ["a", "b"]))
    assert answers == ["held r-a", "held r-b"]
    assert time.monotonic() - began < 0.35  # side by side, not one after the other


def test_a_failed_batch_answers_its_callers_and_the_next_batch_still_runs() -> None:
    runner = Runner(fail_on="r1")
    batcher = Batcher(runner, max_batch=1)
    with ThreadPoolExecutor(3) as pool:
        futures = []
        for i in range(3):
            futures.append(pool.submit(submit, batcher, "org", f"r{i}"))
            time.sleep(0.01)
        answers = [f.result() for f in futures]
    assert answers == ["held r0", "error database down", "held r2"]
