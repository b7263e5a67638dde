"""The synchronous client's source, made from the asyncio one (layers_partner/aio.py) by fixed rewrites.

Two hand-kept copies of every call drift apart; this keeps one. The rewrites are plain text rules, in the
manner of `unasync`: drop `async`/`await`, name the sync twins (`AsyncX` becomes `X`, `aread` becomes
`read`, ...), and sleep with `time`. They apply to docstrings too, so those name the sync classes. Anything
async that no rule covers is refused rather than copied. scripts/gen_openapi.py writes the result to
layers_partner/client.py, and its --check fails when that file is stale.
"""

from __future__ import annotations

import re

HEADER = '''"""The synchronous client. `AsyncClient` (layers_partner.aio) has the same surface with `await`.

Generated from layers_partner/aio.py by clients/python/gen_sync.py. Do not edit: change aio.py (or a rule
in gen_sync.py), then run `python scripts/gen_openapi.py`; its --check fails while this file is stale."""
'''

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
    # Async generators cannot `yield from`: a loop that only re-yields (nothing more in its body) becomes one.
    (r"^( *)for (\w+) in ([\w.]+):\n\1 +yield \2\n(?!\1 )", r"\1yield from \3\n"),
]

# What no rule above turns into its sync twin: generating would leave async code in the sync client.
UNCONVERTED = re.compile(
    r"\b(?:async\w*|await|asyncio|aclosing|anext|aiter|Awaitable|Coroutine)\b|\.a(?:iter|read)\w*\(|\b__a\w+__\b"
)


def generate_sync(async_source: str) -> str:
    """client.py's text before formatting (the caller runs ruff's import sort and format over it)."""
    docstring = re.match(r'"""(?:.|\n)*?"""\n', async_source)
    if docstring is None:
        raise ValueError("aio.py must open with its docstring")
    text = async_source[docstring.end() :]
    for pattern, replacement in RULES:
        text = re.sub(pattern, replacement, text, flags=re.MULTILINE)
    leftover = UNCONVERTED.search(text)
    if leftover:
        raise ValueError(f"aio.py uses {leftover.group(0)!r}, which gen_sync.py has no rule for")
    return HEADER + text
