"""The gateway's cache of content's answers about API keys: pure logic, with a clock the test moves."""

from __future__ import annotations

from gateway.auth import ApiKey, KeyCache
from gateway.errors import ApiError


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def key(key_id: str = "k1") -> ApiKey:
    return ApiKey("org_1", key_id, ("*",))


def refusal() -> ApiError:
    return ApiError(401, "UNAUTHENTICATED", "Invalid or revoked API key.")


def test_answers_last_their_ttl_refusals_a_shorter_one() -> None:
    clock = Clock()
    cache = KeyCache(10, 2, clock=clock)
    cache.put(b"good", key())
    cache.put(b"bad", refusal())
    clock.now += 1.9
    assert cache.get(b"good") == key() and isinstance(cache.get(b"bad"), ApiError)
    clock.now += 0.2
    assert cache.get(b"bad") is None and cache.get(b"good") == key()
    clock.now += 8
    assert cache.get(b"good") is None


def test_revoking_drops_every_entry_of_that_key_and_no_other() -> None:
    cache = KeyCache(10, 2, clock=Clock())
    cache.put(b"a", key("k1"))
    cache.put(b"b", key("k1"))
    cache.put(b"c", key("k2"))
    cache.revoke("k1")
    assert cache.get(b"a") is None and cache.get(b"b") is None and cache.get(b"c") == key("k2")


def test_a_verification_in_flight_when_the_key_was_revoked_is_not_cached() -> None:
    clock = Clock()
    cache = KeyCache(10, 2, clock=clock)
    cache.revoke("k1")
    cache.put(b"late", key("k1"))  # content answered before it committed the revocation
    assert cache.get(b"late") is None
    clock.now += 11  # long after: a new key with that id (never happens) or a re-grant would be cached again
    cache.put(b"late", key("k1"))
    assert cache.get(b"late") == key("k1")


def test_the_cache_is_bounded_least_recently_used_first_out() -> None:
    cache = KeyCache(10, 2, max_entries=3, clock=Clock())
    for name in (b"1", b"2", b"3"):
        cache.put(name, key(name.decode()))
    assert cache.get(b"1") is not None  # 1 is now the most recently used
    cache.put(b"4", key("4"))
    assert cache.get(b"2") is None
    assert [cache.get(n) is not None for n in (b"1", b"3", b"4")] == [True, True, True]


def test_the_digest_hides_the_secret() -> None:
    digest = KeyCache.digest("lp_live_ABC_s3cret")
    assert len(digest) == 32 and b"s3cret" not in digest
