"""The synchronous client's source, made from the asyncio one (layers_partner/aio.py) by fixed rewrites.

Two hand-kept copies of every call drift apart; this keeps one. The rewrites are plain text rules, in the
manner of `unasync`: drop `async`/`await`, name the sync twins (`AsyncX` becomes `X`, `aread` becomes
`read`, ...), and sleep with `time`. scripts/gen_openapi.py writes the result to layers_partner/client.py
and its --check fails when that file is stale.
"""

from __future__ import annotations

import re

HEADER = (
    '"""The synchronous client. `AsyncClient` (layers_partner.aio) has the same surface with `await`.\n\n'
    "Generated from layers_partner/aio.py by clients/python/gen_sync.py: edit that file, then run\n"
    '`python scripts/gen_openapi.py`."""\n'
)

# Applied in order, each to the whole text.
RULES: list[tuple[str, str]] = [
    (r"\basync (def|with|for)\b", r"\1"),
    (r"\bawait ", ""),
    (r" over asyncio\b", ""),
    (r"\basyncio\.sleep\(", "time.sleep("),
    (r"^import asyncio$", "import time"),
    (r"\bAsync([A-Z]\w*)", r"\1"),
    (r"\b_Async([A-Z]\w*)", r"_\1"),
    (r"\.aread\(", ".read("),
    (r"\.aiter_bytes\(", ".iter_bytes("),
    (r"\baclose\b", "close"),
    (r"\b__aenter__\b", "__enter__"),
    (r"\b__aexit__\b", "__exit__"),
    (r"for (\w+) in ([\w.]+):\n\s+yield \1\n", r"yield from \2\n"),  # async generators cannot `yield from`
]


def generate_sync(async_source: str) -> str:
    """client.py's text before formatting (the caller runs ruff's import sort and format over it)."""
    docstring = re.match(r'"""(?:.|\n)*?"""\n', async_source)
    if docstring is None:
        raise ValueError("aio.py must open with its docstring")
    text = async_source[docstring.end() :]
    for pattern, replacement in RULES:
        text = re.sub(pattern, replacement, text, flags=re.MULTILINE)
    if re.search(r"\b(async|await|asyncio)\b", text):
        raise ValueError("aio.py uses asyncio in a way gen_sync.py has no rule for")
    return HEADER + text
