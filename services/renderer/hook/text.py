"""The partner's hook as paragraphs to lay out, and the pieces a word may be broken into."""

from __future__ import annotations

import re
import unicodedata

# Embeddings, overrides and isolates. raqm shapes each run alone, so they could not act across runs; and
# FriBiDi, under raqm, crashes the process on some nestings past its depth limit.
BIDI_EXPLICIT = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def paragraphs(text: str) -> list[str]:
    """Split on the partner's line breaks (every one Unicode has: raqm refuses a paragraph separator
    inside a line); tabs become spaces; other control characters and explicit bidi controls go."""
    lines = [
        "".join(ch for ch in line if ch not in BIDI_EXPLICIT and unicodedata.category(ch) != "Cc")
        for line in text.replace("\t", " ").splitlines()
    ]
    lines = [re.sub(r" {2,}", " ", line).strip() for line in lines]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return lines


def is_attached(ch: str) -> bool:
    """Characters that belong to the one before: marks, joiners, selectors, skin tones, tags."""
    cp = ord(ch)
    return (
        unicodedata.category(ch) in ("Mn", "Me", "Mc")
        or cp in (0x200C, 0x200D, 0x20E3)
        or 0xFE00 <= cp <= 0xFE0F
        or 0x1F3FB <= cp <= 0x1F3FF
        or 0xE0020 <= cp <= 0xE007F
    )


def is_weak(ch: str) -> bool:
    """Spaces, punctuation and digits: drawn by the neighbouring face when it has them."""
    return unicodedata.bidirectional(ch) in ("WS", "ON", "CS", "ES", "ET", "EN", "AN", "S", "B", "BN")


def clusters(word: str) -> list[str]:
    """Characters with their marks and joiners: the smallest pieces a word may be broken into."""
    pieces: list[str] = []
    for i, ch in enumerate(word):
        joins_previous = is_attached(ch) or (i > 0 and ord(word[i - 1]) == 0x200D)
        if pieces and joins_previous:
            pieces[-1] += ch
        else:
            pieces.append(ch)
    return pieces
