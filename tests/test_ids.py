"""The ids every row and request gets are real ULIDs: python-ulid reads them back to the same instant and
value, they sort by time, and they do not repeat."""

from __future__ import annotations

import time

from ulid import ULID

from common.ids import new_id, new_ulid


def test_a_new_ulid_is_one_python_ulid_reads_back_to_its_instant() -> None:
    before = time.time()
    text = new_ulid()
    after = time.time()
    parsed = ULID.from_str(text)
    assert str(parsed) == text and len(text) == 26
    assert before - 0.001 <= parsed.timestamp <= after + 0.001


def test_ulids_sort_by_time_and_never_repeat() -> None:
    earlier = [new_ulid() for _ in range(2000)]
    time.sleep(0.002)
    later = new_ulid()
    assert len(set(earlier)) == len(earlier)
    assert all(e < later for e in earlier)


def test_the_random_part_uses_all_80_bits() -> None:
    randomness = [int(ULID.from_str(new_ulid())) & ((1 << 80) - 1) for _ in range(400)]
    # Some id has a high bit set and some a low one: no part of the random field is stuck at zero.
    assert max(randomness).bit_length() >= 78
    assert any(r & 1 for r in randomness)


def test_new_id_prefixes_a_ulid() -> None:
    prefix, _, rest = new_id("job").partition("_")
    assert prefix == "job" and str(ULID.from_str(rest)) == rest
