"""Bidi: the direction of each paragraph, the embedding level of each character, runs in visual order.

Levels come from python-bidi, the whole Unicode Bidirectional Algorithm (UAX #9): weak types (digits
after Arabic letters are Arabic numbers, a currency sign joins a European number), paired brackets,
neutrals between two directions. Explicit embeddings and isolates never reach it: text.paragraphs drops
them. Each wrapped line is resolved on its own, so a neutral ending a line resolves against the
paragraph's direction rather than the first letter of the next line.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from bidi import get_display

from services.renderer.hook.text import is_attached

# Primary language subtags written right to left: the paragraph direction when no letter decides it.
RTL_LANGUAGES = frozenset({"ar", "arc", "ckb", "dv", "fa", "he", "iw", "ks", "ps", "sd", "syr", "ug", "ur", "yi"})
# Bidi types that can put a character above level 0 in a left-to-right paragraph.
_RIGHT_TO_LEFT_TYPES = frozenset({"R", "AL", "AN"})
# python-bidi hands the resolved levels out only in its debug dump: after "levels:", one Level(n) per
# UTF-8 byte of the text. The text itself is in the dump too, but escaped, so it holds no line break.
_LEVELS_SECTION = re.compile(r"\n {4}levels: \[\n(.*?)\n {4}\],\n", re.DOTALL)
_LEVEL = re.compile(r"Level\(\s*(\d+),?\s*\)")


def paragraph_is_rtl(text: str, language: str | None) -> bool:
    """First strong letter decides (Unicode rules P2 and P3); the language when there is none."""
    for ch in text:
        kind = unicodedata.bidirectional(ch)
        if kind in ("R", "AL", "L"):
            return kind != "L"
    primary = (language or "").split("-")[0].split("_")[0].lower()
    return primary in RTL_LANGUAGES


def bidi_levels(text: str, base_rtl: bool) -> list[int]:
    """The embedding level of each character of one line, in a paragraph of the given direction. A line
    ends in no whitespace (wrapping strips it), so rule L1 would change nothing."""
    if not base_rtl and not any(unicodedata.bidirectional(ch) in _RIGHT_TO_LEFT_TYPES for ch in text):
        return [0] * len(text)  # all left to right: most hooks, spared the dump
    dump = get_display(text, base_dir="R" if base_rtl else "L", debug=True)
    section = _LEVELS_SECTION.search(dump)
    by_byte = [int(level) for level in _LEVEL.findall(section.group(1))] if section else []
    encoded_length = len(text.encode())
    if len(by_byte) != encoded_length:
        raise RuntimeError(f"python-bidi gave {len(by_byte)} levels for {encoded_length} bytes: its dump changed")
    levels: list[int] = []
    offset = 0
    for ch in text:
        # A cluster is shaped as one run, so it keeps its first character's level: the algorithm resolves a
        # skin tone (a neutral) on its own.
        levels.append(levels[-1] if levels and is_attached(ch) else by_byte[offset])
        offset += len(ch.encode())
    return levels


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
