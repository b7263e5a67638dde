"""Public ids: a short type prefix and a ULID, e.g. job_01HZX3...; project ids are bare UUIDs.

Every request makes one (its request id), so the ULID is spelled here two characters at a time rather than through
python-ulid's object: 48 bits of milliseconds and 80 random bits, Crockford's alphabet, 26 characters.
"""

import os
import time
import uuid

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # base32 without I, L, O or U, as ULIDs spell it
_PAIRS = [a + b for a in _CROCKFORD for b in _CROCKFORD]  # every 10 bits as two characters
_SHIFTS = range(120, -1, -10)  # 26 characters carry 130 bits: two zero bits, then the value's 128


def new_ulid() -> str:
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10))
    return "".join([_PAIRS[(value >> shift) & 1023] for shift in _SHIFTS])


def new_id(prefix: str) -> str:
    return f"{prefix}_{new_ulid()}"


def new_project_id() -> str:
    return str(uuid.uuid4())
