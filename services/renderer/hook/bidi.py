"""Bidi: the direction of each paragraph, the embedding level of each character, runs in visual order."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from services.renderer.hook.text import is_attached

# Primary language subtags written right to left: the paragraph direction when no letter decides it.
RTL_LANGUAGES = frozenset({"ar", "arc", "ckb", "dv", "fa", "he", "iw", "ks", "ps", "sd", "syr", "ug", "ur", "yi"})


def _strong(ch: str) -> str | None:
    """'R', 'L' or None. Numbers count as left to right: they read that way in every script."""
    kind = unicodedata.bidirectional(ch)
    if kind in ("R", "AL"):
        return "R"
    if kind in ("L", "EN", "AN"):
        return "L"
    return None


def paragraph_is_rtl(text: str, language: str | None) -> bool:
    """First strong letter decides (Unicode rule P2, numbers don't); the language when there is none."""
    for ch in text:
        kind = unicodedata.bidirectional(ch)
        if kind in ("R", "AL", "L"):
            return kind != "L"
    primary = (language or "").split("-")[0].split("_")[0].lower()
    return primary in RTL_LANGUAGES


def bidi_levels(text: str, base_rtl: bool) -> list[int]:
    """Embedding level of each character: strong ones by type, neutrals by their neighbours."""
    base = 1 if base_rtl else 0
    edge = "R" if base_rtl else "L"  # what a paragraph's start and end count as
    kinds = [None if is_attached(ch) else _strong(ch) for ch in text]
    after = [edge] * len(text)  # the next strong direction after each character
    upcoming = edge
    for i in range(len(text) - 1, -1, -1):
        after[i] = upcoming
        upcoming = kinds[i] or upcoming
    directions: list[str] = []
    before = edge
    for i, ch in enumerate(text):
        kind = kinds[i]
        if kind is None and is_attached(ch) and directions:
            kind = directions[-1]
        if kind is None:
            kind = before if before == after[i] else edge
        directions.append(kind)
        before = kinds[i] or before
    return [_level(kind, base) for kind in directions]


def _level(direction: str, base: int) -> int:
    if direction == "R":
        return 1 if base == 0 else base
    return 0 if base == 0 else 2


def visual_order(levels: Sequence[int]) -> list[int]:
    """Unicode rule L2: from the highest level down to the lowest odd one, reverse each stretch."""
    order = list(range(len(levels)))
    if not levels:
        return order
    lowest_odd = min((lv for lv in levels if lv % 2), default=None)
    if lowest_odd is None:
        return order
    for level in range(max(levels), lowest_odd - 1, -1):
        i = 0
        while i < len(order):
            if levels[order[i]] >= level:
                j = i
                while j < len(order) and levels[order[j]] >= level:
                    j += 1
                order[i:j] = reversed(order[i:j])
                i = j
            else:
                i += 1
    return order
