"""The gateway's memory of the services' answers (API keys, balances): pure logic, with a clock the test moves."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import cast

import pytest

from common.clients import Clients
from common.recent import RecentAnswers
from gateway.auth import ApiKey, KeyCache, Refusal
from gateway.polled_jobs import PolledJobs
from layers.content.v1 import content_pb2


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def key(key_id: str = "k1") -> ApiKey:
    return ApiKey("org_1", key_id, ("*",))


def refusal() -> Refusal:
    return Refusal(401, "UNAUTHENTICATED", "Invalid or revoked API key.", {}, {})


def test_answers_last_their_ttl_refusals_a_shorter_one() -> None:
    clock = Clock()
    cache = KeyCache(10, 2, clock=clock)
    cache.put(b"good", key(), started=clock.now)
    cache.put(b"bad", refusal(), started=clock.now)
    clock.now += 1.9
    assert cache.get(b"good") == key() and cache.get(b"bad") == refusal()
    clock.now += 0.2
    assert cache.get(b"bad") is None and cache.get(b"good") == key()
    clock.now += 8
    assert cache.get(b"good") is None


def test_a_refusal_raises_a_new_error_each_time() -> None:
    first, second = refusal().error(), refusal().error()
    assert first is not second and (first.status, first.code) == (401, "UNAUTHENTICATED")


def test_revoking_drops_every_entry_of_that_key_and_no_other() -> None:
    clock = Clock()
    cache = KeyCache(10, 2, clock=clock)
    cache.put(b"a", key("k1"), started=clock.now)
    cache.put(b"b", key("k1"), started=clock.now)
    cache.put(b"c", key("k2"), started=clock.now)
    clock.now += 0.1
    cache.revoke("k1")
    assert cache.get(b"a") is None and cache.get(b"b") is None and cache.get(b"c") == key("k2")


def test_a_verification_in_flight_when_the_key_was_revoked_is_not_cached() -> None:
    """Content answered "valid" before it committed the revocation; the answer arrives after it, however
    late: it must not be cached, or the key would be trusted for a whole TTL after its revocation."""
    clock = Clock()
    cache = KeyCache(10, 2, clock=clock)
    started = clock.now
    clock.now += 1
    cache.revoke("k1")
    clock.now += 25  # a slow answer, long after the revocation
    cache.put(b"late", key("k1"), started=started)
    assert cache.get(b"late") is None
    cache.put(b"fresh", key("k1"), started=clock.now)  # a verification begun after it asks content anew
    assert cache.get(b"fresh") == key("k1")


def test_a_verification_in_flight_when_the_cache_was_cleared_is_not_cached() -> None:
    clock = Clock()
    cache = KeyCache(10, 2, clock=clock)
    started = clock.now
    clock.now += 1
    cache.clear()  # the revocation channel reconnected: anything may have been missed
    cache.put(b"late", key("k1"), started=started)
    assert cache.get(b"late") is None


def test_the_cache_is_bounded_least_recently_used_first_out() -> None:
    clock = Clock()
    cache = KeyCache(10, 2, max_entries=3, clock=clock)
    for name in (b"1", b"2", b"3"):
        cache.put(name, key(name.decode()), started=clock.now)
    assert cache.get(b"1") is not None  # 1 is now the most recently used
    cache.put(b"4", key("4"), started=clock.now)
    assert cache.get(b"2") is None
    assert [cache.get(n) is not None for n in (b"1", b"3", b"4")] == [True, True, True]


def test_the_digest_hides_the_secret() -> None:
    digest = KeyCache.digest("lp_live_ABC_s3cret")
    assert len(digest) == 32 and b"s3cret" not in digest


def test_a_look_up_in_flight_when_its_answer_changes_is_not_kept() -> None:
    clock = Clock()
    recent: RecentAnswers[str, int] = RecentAnswers(clock=clock)
    started = clock.now  # a balance look-up begins...
    clock.now += 0.01
    recent.forget_key("org_1")  # ...billing commits a capture and says so...
    clock.now += 0.01
    recent.put("org_1", 1000, ttl=5, started=started)  # ...and the old answer arrives after that
    assert recent.get("org_1") is None
    recent.put("org_1", 880, ttl=5, started=clock.now)
    assert recent.get("org_1") == 880
    recent.forget_key("org_2")  # another organization's change drops only its own entry
    assert recent.get("org_1") == 880
    clock.now += 5
    assert recent.get("org_1") is None


class _Partner:
    """Content's GetJob as far as PolledJobs sees it: the job when it is the caller's, else NOT_FOUND."""

    def __init__(self, job: content_pb2.Job) -> None:
        self.job, self.asked = job, 0

    async def GetJob(self, request: content_pb2.GetJobRequest) -> content_pb2.GetJobResponse:
        self.asked += 1
        assert request.fresh, "the gateway remembers jobs itself: content's memory must not stack on it"
        if request.organization_id != self.job.organization_id:
            raise LookupError("NOT_FOUND")
        return content_pb2.GetJobResponse(job=self.job)


def test_a_remembered_job_is_only_answered_to_its_own_organization() -> None:
    partner = _Partner(content_pb2.Job(job_id="job_1", organization_id="org_1"))
    clients = cast(Clients, SimpleNamespace(partner=partner))
    jobs = PolledJobs(ttl_seconds=10, clock=Clock())

    async def scenario() -> None:
        assert (await jobs.of(clients, "org_1", "job_1")).job_id == "job_1"
        assert (await jobs.of(clients, "org_1", "job_1")).job_id == "job_1"
        assert partner.asked == 1
        with pytest.raises(LookupError):  # another organization asks content, which refuses
            await jobs.of(clients, "org_2", "job_1")
        assert partner.asked == 2

    asyncio.run(scenario())


def test_forgetting_one_key_keeps_the_look_ups_of_others_and_answers_expire_from_their_start() -> None:
    clock = Clock()
    recent: RecentAnswers[str, int] = RecentAnswers(clock=clock)
    started = clock.now
    clock.now += 1
    recent.forget_key("job_busy")  # a job that changes twice a second...
    recent.put("job_quiet", 7, ttl=5, started=started)  # ...does not stop another's look-up being kept
    assert recent.get("job_quiet") == 7
    clock.now += 3.9  # 4.9 s after its look-up began
    assert recent.get("job_quiet") == 7
    clock.now += 0.2  # 5.1 s: an answer is never older than its TTL, however slow its look-up was
    assert recent.get("job_quiet") is None


def test_past_its_bound_the_forgotten_list_refuses_every_look_up_in_flight() -> None:
    clock = Clock()
    recent: RecentAnswers[str, int] = RecentAnswers(max_entries=2, clock=clock)
    started = clock.now
    clock.now += 1
    for key in ("a", "b", "c"):  # "a" no longer fits in the list of forgotten keys
        recent.forget_key(key)
    recent.put("a", 1, ttl=5, started=started)
    recent.put("z", 1, ttl=5, started=started)  # so, to be safe, nothing begun before then is kept
    assert recent.get("a") is None and recent.get("z") is None
    recent.put("z", 2, ttl=5, started=clock.now + 0.1)
    assert recent.get("z") == 2
