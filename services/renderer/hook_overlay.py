"""The hook: a line of text drawn over the reaction template, as a transparent full-frame image.

How a hook becomes pixels:
1. Normalise: keep the partner's line breaks (each one starts a paragraph), drop other control chars
   and explicit bidi embeddings.
2. Fit: the largest font size (between MAX and MIN, by frame width) at which every paragraph, wrapped at
   spaces (or between characters for a word wider than the box), fits its region: the platform safe
   zone (clear of the top 10 %, the bottom 20 % and the right 15 %, where TikTok, Reels and Shorts draw
   their UI), or the part of it above or below the template's face. A hook too long even at the
   smallest size is cut with an ellipsis: it never raises.
3. Lay out each line: every character gets the first face of the fallback chain that covers it (colour
   emoji for emoji), a bidi level from a simplified Unicode bidi algorithm (first strong character sets
   the paragraph direction; the language decides when there is none), then runs of one face and one
   level are shaped by raqm (HarfBuzz + FriBiDi: Arabic joined, Devanagari conjuncts) and put in visual
   order.
4. Draw: white text with a dark outline and a soft shadow, so it reads on any background; colour emoji
   are drawn at the colour font's only bitmap size and scaled, monochrome ones (no colour font on the
   machine) like text.
"""

from __future__ import annotations

import functools
import logging
import math
import re
import threading
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont, features

from services.renderer.fonts import (
    EMOJI_NATIVE_SIZE,
    FontFace,
    covered_codepoints,
    emoji_face,
    text_faces,
)

log = logging.getLogger(__name__)

# Fractions of the frame no text pixel may touch, from each edge: the platforms' status bar on top, their
# caption and buttons at the bottom and down the right; the left only needs breathing room.
SAFE_LEFT, SAFE_TOP, SAFE_RIGHT, SAFE_BOTTOM = 0.06, 0.10, 0.15, 0.20
FACE_GAP = 0.015  # of the frame height kept clear between the face box and the hook
HOOK_CENTER_Y = 0.36  # upper-middle, where no face box is known
MAX_SIZE_RATIO = 0.075  # largest font size, as a fraction of the frame width (81 px at 1080)
MIN_SIZE_RATIO = 0.02  # smallest font size (22 px at 1080): still readable on a phone
LINE_HEIGHT = 1.42  # of the font size; room for Arabic and Devanagari marks above and below
ASCENT = 1.08  # baseline below the line top, of the font size
STROKE_RATIO = 0.085
SHADOW_BLUR_RATIO = 0.07
SHADOW_OFFSET_RATIO = 0.045
SHADOW_ALPHA = 0.6
FILL = (255, 255, 255, 255)
OUTLINE = (12, 12, 12, 255)
ELLIPSIS = "…"

# Primary language subtags written right to left: the paragraph direction when no letter decides it.
RTL_LANGUAGES = frozenset({"ar", "arc", "ckb", "dv", "fa", "he", "iw", "ks", "ps", "sd", "syr", "ug", "ur", "yi"})

# BMP characters drawn as emoji even without U+FE0F (Unicode's Emoji_Presentation set).
_EMOJI_BMP_RANGES = (
    (0x231A, 0x231B),
    (0x23E9, 0x23EC),
    (0x23F0, 0x23F0),
    (0x23F3, 0x23F3),
    (0x25FD, 0x25FE),
    (0x2614, 0x2615),
    (0x2648, 0x2653),
    (0x267F, 0x267F),
    (0x2693, 0x2693),
    (0x26A1, 0x26A1),
    (0x26AA, 0x26AB),
    (0x26BD, 0x26BE),
    (0x26C4, 0x26C5),
    (0x26CE, 0x26CE),
    (0x26D4, 0x26D4),
    (0x26EA, 0x26EA),
    (0x26F2, 0x26F3),
    (0x26F5, 0x26F5),
    (0x26FA, 0x26FA),
    (0x26FD, 0x26FD),
    (0x2705, 0x2705),
    (0x270A, 0x270B),
    (0x2728, 0x2728),
    (0x274C, 0x274C),
    (0x274E, 0x274E),
    (0x2753, 0x2755),
    (0x2757, 0x2757),
    (0x2795, 0x2797),
    (0x27B0, 0x27B0),
    (0x27BF, 0x27BF),
    (0x2B1B, 0x2B1C),
    (0x2B50, 0x2B50),
    (0x2B55, 0x2B55),
)
_VS16 = 0xFE0F
# Embeddings, overrides and isolates. The bidi here resolves each character from its neighbours and does
# not nest; and FriBiDi, under raqm, crashes the process on some nestings past its depth limit.
_BIDI_EXPLICIT = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")

# Cached FreeType faces are shared; FreeType faces are not safe to use from two threads at once, and a
# hook takes tens of milliseconds, so renders in parallel workers simply take turns.
_FREETYPE_LOCK = threading.Lock()


@dataclass(frozen=True)
class Run:
    """Characters drawn with one face in one direction, in logical order."""

    text: str
    face: FontFace
    level: int  # bidi embedding level: odd means right to left

    @property
    def rtl(self) -> bool:
        return self.level % 2 == 1


@dataclass(frozen=True)
class PlacedRun:
    run: Run
    x: float  # left edge, relative to the line's left edge
    width: float


@dataclass(frozen=True)
class LaidLine:
    text: str  # logical text of the line
    runs: tuple[PlacedRun, ...]  # visual order, left to right
    width: float


@dataclass(frozen=True)
class HookLayout:
    size: int
    line_height: int
    lines: tuple[LaidLine, ...]
    truncated: bool


@dataclass(frozen=True)
class HookPng:
    """The hook written as a PNG cropped to its ink, and where it sits in the frame."""

    path: Path
    x: int
    y: int
    width: int
    height: int


@dataclass(frozen=True, eq=False)
class Shaper:
    """Everything a layout depends on besides the text: faces, engine, language. One per language and
    engine (make_shaper), compared by identity: it keys the layout caches, which hash it on every call."""

    faces: tuple[FontFace, ...]
    emoji: FontFace
    engine: ImageFont.Layout
    language: str | None

    @property
    def shaped(self) -> bool:
        return self.engine == ImageFont.Layout.RAQM


# --- text normalisation ---------------------------------------------------------------------------


def paragraphs(text: str) -> list[str]:
    """Split on the partner's line breaks (every one Unicode has: raqm refuses a paragraph separator
    inside a line); tabs become spaces; other control characters and explicit bidi controls go."""
    lines = [
        "".join(ch for ch in line if ch not in _BIDI_EXPLICIT and unicodedata.category(ch) != "Cc")
        for line in text.replace("\t", " ").splitlines()
    ]
    lines = [re.sub(r" {2,}", " ", line).strip() for line in lines]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return lines


# --- font fallback ----------------------------------------------------------------------------------


def _is_attached(ch: str) -> bool:
    """Characters that belong to the one before: marks, joiners, selectors, skin tones, tags."""
    cp = ord(ch)
    return (
        unicodedata.category(ch) in ("Mn", "Me", "Mc")
        or cp in (0x200C, 0x200D, 0x20E3)
        or 0xFE00 <= cp <= 0xFE0F
        or 0x1F3FB <= cp <= 0x1F3FF
        or 0xE0020 <= cp <= 0xE007F
    )


def _is_weak(ch: str) -> bool:
    """Spaces, punctuation and digits: drawn by the neighbouring face when it has them."""
    return unicodedata.bidirectional(ch) in ("WS", "ON", "CS", "ES", "ET", "EN", "AN", "S", "B", "BN")


def is_emoji_at(text: str, index: int, emoji_cmap: frozenset[int]) -> bool:
    cp = ord(text[index])
    if cp not in emoji_cmap:
        return False
    if index + 1 < len(text) and ord(text[index + 1]) == _VS16:
        return True
    if index + 1 < len(text) and ord(text[index + 1]) == 0xFE0E:
        return False  # text presentation asked for
    return cp >= 0x1F000 or any(lo <= cp <= hi for lo, hi in _EMOJI_BMP_RANGES)


def assign_faces(text: str, faces: tuple[FontFace, ...], emoji: FontFace) -> list[FontFace]:
    """The face drawing each character: emoji font for emoji, else the first text face covering it."""
    emoji_cmap = covered_codepoints(emoji.path)
    coverage = _coverage(faces, emoji)
    chosen: list[FontFace | None] = []
    for i, ch in enumerate(text):
        if _is_attached(ch):
            chosen.append(None)
        elif is_emoji_at(text, i, emoji_cmap):
            chosen.append(emoji)
        elif _is_weak(ch):
            chosen.append(None)
        else:
            chosen.append(coverage.get(ord(ch), faces[0]))
    return _resolve_inherited(text, chosen, faces, coverage)


@functools.cache
def _coverage(faces: tuple[FontFace, ...], emoji: FontFace) -> dict[int, FontFace]:
    """Code point → the first face of the chain covering it, emoji last. A code point nobody has is
    missing: the primary face draws its missing-glyph box."""
    table = dict.fromkeys(covered_codepoints(emoji.path), emoji)
    for face in reversed(faces):
        table.update(dict.fromkeys(covered_codepoints(face.path), face))
    return table


def _resolve_inherited(
    text: str, chosen: list[FontFace | None], faces: tuple[FontFace, ...], coverage: dict[int, FontFace]
) -> list[FontFace]:
    following: list[FontFace | None] = [None] * len(text)  # the next chosen face after each character
    upcoming: FontFace | None = None
    for i in range(len(text) - 1, -1, -1):
        following[i] = upcoming
        upcoming = chosen[i] or upcoming
    resolved: list[FontFace] = []
    for i, ch in enumerate(text):
        face = chosen[i]
        if face is None and _is_attached(ch) and resolved:
            face = resolved[-1]
        if face is None:
            face = _neighbour_face(ord(ch), resolved[-1] if resolved else None, following[i], faces, coverage)
        resolved.append(face)
    return resolved


def _neighbour_face(
    cp: int,
    before: FontFace | None,
    after: FontFace | None,
    faces: tuple[FontFace, ...],
    coverage: dict[int, FontFace],
) -> FontFace:
    """A weak character joins the text face before it, else the one after it, if that face has it."""
    for face in (before, after):
        if face is not None and not face.is_emoji and cp in covered_codepoints(face.path):
            return face
    return coverage.get(cp, faces[0])


# --- bidi -------------------------------------------------------------------------------------------


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
    kinds = [None if _is_attached(ch) else _strong(ch) for ch in text]
    after = [edge] * len(text)  # the next strong direction after each character
    upcoming = edge
    for i in range(len(text) - 1, -1, -1):
        after[i] = upcoming
        upcoming = kinds[i] or upcoming
    directions: list[str] = []
    before = edge
    for i, ch in enumerate(text):
        kind = kinds[i]
        if kind is None and _is_attached(ch) and directions:
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


def split_runs(text: str, faces: Sequence[FontFace], levels: Sequence[int]) -> list[Run]:
    runs: list[Run] = []
    start = 0
    for i in range(1, len(text) + 1):
        if i == len(text) or faces[i] != faces[start] or levels[i] != levels[start]:
            runs.append(Run(text[start:i], faces[start], levels[start]))
            start = i
    return runs


# --- measuring and laying out -----------------------------------------------------------------------


@functools.lru_cache(maxsize=512)
def load_font(path: Path, size: int, engine: ImageFont.Layout, bold: bool = True) -> ImageFont.FreeTypeFont:
    font = ImageFont.truetype(str(path), size, layout_engine=engine)
    if bold:
        _make_bold(font)
    return font


def _make_bold(font: ImageFont.FreeTypeFont) -> None:
    """Variable faces default to Regular; a hook reads better bold."""
    try:
        axes = font.get_variation_axes()
    except (OSError, NotImplementedError):
        return  # a static face: it is bold already or has no other weight
    values: list[float] = []
    for axis in axes:
        lowest, default, highest = (float(str(axis.get(k) or 0)) for k in ("minimum", "default", "maximum"))
        bold = axis.get("name") in (b"Weight", "Weight")
        values.append(max(lowest, min(700.0, highest)) if bold else default)
    font.set_variation_by_axes(values)


def emoji_scale(size: int) -> float:
    return size / EMOJI_NATIVE_SIZE


def _direction(run: Run, shaper: Shaper) -> str | None:
    """raqm takes a direction and a language; the basic layout takes neither."""
    if not shaper.shaped:
        return None
    return "rtl" if run.rtl else "ltr"


def _language(shaper: Shaper) -> str | None:
    return shaper.language if shaper.shaped else None


@functools.lru_cache(maxsize=16384)
def run_width(run: Run, size: int, shaper: Shaper) -> float:
    # Cached: wrapping measures line after line that differ from the last only in their last run.
    if run.face.bitmap:
        font = load_font(run.face.path, EMOJI_NATIVE_SIZE, shaper.engine)
        return font.getlength(run.text, direction=_direction(run, shaper), language=_language(shaper)) * emoji_scale(
            size
        )
    font = load_font(run.face.path, size, shaper.engine)
    return font.getlength(run.text, direction=_direction(run, shaper), language=_language(shaper))


def logical_runs(text: str, base_rtl: bool, shaper: Shaper) -> list[Run]:
    faces = assign_faces(text, shaper.faces, shaper.emoji)
    # Without shaping there is no bidi either: that is what "basic layout" means.
    levels = bidi_levels(text, base_rtl) if shaper.shaped else [0] * len(text)
    return split_runs(text, faces, levels)


@functools.lru_cache(maxsize=8192)
def layout_line(text: str, base_rtl: bool, size: int, shaper: Shaper) -> LaidLine:
    runs = logical_runs(text, base_rtl, shaper)
    placed: list[PlacedRun] = []
    x = 0.0
    for index in visual_order([run.level for run in runs]):
        width = run_width(runs[index], size, shaper)
        placed.append(PlacedRun(runs[index], x, width))
        x += width
    return LaidLine(text, tuple(placed), x)


def clusters(word: str) -> list[str]:
    """Characters with their marks and joiners: the smallest pieces a word may be broken into."""
    pieces: list[str] = []
    for i, ch in enumerate(word):
        joins_previous = _is_attached(ch) or (i > 0 and ord(word[i - 1]) == 0x200D)
        if pieces and joins_previous:
            pieces[-1] += ch
        else:
            pieces.append(ch)
    return pieces


def wrap_paragraph(
    paragraph: str, measure: Callable[[str], float], max_width: float, max_lines: int | None = None
) -> list[str]:
    """Greedy wrap at spaces; a word wider than the line is broken between clusters. With max_lines, stops
    once there are more lines than that: the caller only needs to know that they do not fit."""
    limit = len(paragraph) + 1 if max_lines is None else max_lines
    lines: list[str] = []
    current = ""
    for word in paragraph.split(" "):
        if len(lines) > limit:
            return lines
        if not word:
            continue
        candidate = f"{current} {word}" if current else word
        if measure(candidate) <= max_width:
            current = candidate
            continue
        if current:
            lines.append(current)
            current = ""
        if measure(word) <= max_width:
            current = word
            continue
        pieces = _break_word(word, measure, max_width, limit + 1 - len(lines))
        lines.extend(pieces[:-1])
        current = pieces[-1]
    if current or not lines:
        lines.append(current)
    return lines


def _break_word(word: str, measure: Callable[[str], float], max_width: float, max_pieces: int) -> list[str]:
    """Pieces of as many clusters as fit (at least one each), at most max_pieces of them (the last holds
    the rest). Each piece's length is searched for from the last one's, so a long word costs a few
    measurements per line rather than one per character."""
    pieces: list[str] = []
    rest = clusters(word)
    guess = 1
    while rest and len(pieces) < max_pieces - 1:
        count = _fitting_prefix(rest, measure, max_width, guess)
        if count == 1 and len(rest[0]) > 1 and measure(rest[0]) > max_width:
            rest[0:1] = list(rest[0])  # one cluster wider than the line: break between its characters
            continue
        pieces.append("".join(rest[:count]))
        rest = rest[count:]
        guess = count
    if rest or not pieces:
        pieces.append("".join(rest))
    return pieces


def _fitting_prefix(parts: list[str], measure: Callable[[str], float], max_width: float, guess: int) -> int:
    """The most leading parts that fit on one line; one when not even that does."""
    return _largest(2, len(parts), guess, lambda n: measure("".join(parts[:n])) <= max_width) or 1


def _largest(low: int, high: int, guess: int, fits: Callable[[int], bool]) -> int | None:
    """The largest n in [low, high] for which fits(n) (true up to some n, false after), None if none:
    searched outward from guess, doubling the step, then bisected. A good guess costs two or three calls."""
    if low > high:
        return None
    guess = max(low, min(guess, high))
    step = 1
    if fits(guess):
        good, bad = guess, high + 1
        while good + step <= high:
            if not fits(good + step):
                bad = good + step
                break
            good, step = good + step, step * 2
    else:
        good, bad = low - 1, guess
        while bad - step >= low:
            if fits(bad - step):
                good = bad - step
                break
            bad, step = bad - step, step * 2
    while bad - good > 1:  # good fits (or is below low), bad does not (or is above high)
        middle = (good + bad) // 2
        if fits(middle):
            good = middle
        else:
            bad = middle
    return good if good >= low else None


def font_sizes(width: int) -> tuple[int, int]:
    return max(10, round(width * MIN_SIZE_RATIO)), max(12, round(width * MAX_SIZE_RATIO))


def decoration_pad(size: int) -> int:
    """Room the outline and the blurred, offset shadow take around the glyphs."""
    stroke = stroke_width(size)
    blur = max(1.0, size * SHADOW_BLUR_RATIO)
    return math.ceil(stroke + 3 * blur + size * SHADOW_OFFSET_RATIO) + 1


def stroke_width(size: int) -> int:
    return max(2, round(size * STROKE_RATIO))


Box = tuple[int, int, int, int]  # left, top, right, bottom in pixels, right and bottom exclusive


def safe_box(width: int, height: int) -> Box:
    """left, top, right, bottom of the area text may touch."""
    return (
        math.ceil(width * SAFE_LEFT),
        math.ceil(height * SAFE_TOP),
        width - math.ceil(width * SAFE_RIGHT),
        height - math.ceil(height * SAFE_BOTTOM),
    )


def hook_region(width: int, height: int, face: Box | None) -> Box | None:
    """Where the hook goes: the taller band of the safe zone above or below the face (None: no face known,
    the whole zone). A face filling the zone still leaves the taller sliver; the hook shrinks into it."""
    if face is None:
        return None
    left, top, right, bottom = safe_box(width, height)
    gap = math.ceil(height * FACE_GAP)
    above = (left, top, right, max(top, min(bottom, face[1] - gap)))
    below = (left, min(bottom, max(top, face[3] + gap)), right, bottom)
    return above if above[3] - above[1] >= below[3] - below[1] else below


def _wrap_all(
    paras: Sequence[str], size: int, box_width: float, shaper: Shaper, max_lines: int | None = None
) -> list[LaidLine]:
    """Every paragraph's lines; with max_lines, stops once there are more than that."""
    laid: list[LaidLine] = []
    for para in paras:
        if max_lines is not None and len(laid) > max_lines:
            break
        rtl = paragraph_is_rtl(para, shaper.language)

        def measure(text: str, rtl: bool = rtl) -> float:
            return layout_line(text, rtl, size, shaper).width

        remaining = None if max_lines is None else max_lines - len(laid)
        lines = wrap_paragraph(para, measure, box_width, remaining)
        laid.extend(layout_line(line, rtl, size, shaper) for line in lines)
    return laid


def _fits(lines: Sequence[LaidLine], size: int, box_w: float, box_h: float) -> bool:
    height = len(lines) * round(size * LINE_HEIGHT)
    return height <= box_h and all(line.width <= box_w for line in lines)


def _box_for(size: int, region: Box) -> tuple[float, float]:
    left, top, right, bottom = region
    pad = decoration_pad(size)
    return right - left - 2 * pad, bottom - top - 2 * pad


def _lines_that_fit(size: int, box_h: float) -> int:
    return int(box_h // round(size * LINE_HEIGHT))


def layout_hook_text(text: str, width: int, region: Box, shaper: Shaper) -> HookLayout:
    """Largest size (by frame width) whose wrapped lines fit the region; at the smallest, cut with '…'."""
    paras = paragraphs(text)
    low, high = font_sizes(width)
    wrapped: dict[int, list[LaidLine]] = {}

    def fits(size: int) -> bool:
        box_w, box_h = _box_for(size, region)
        wrapped[size] = _wrap_all(paras, size, box_w, shaper, _lines_that_fit(size, box_h))
        return _fits(wrapped[size], size, box_w, box_h)

    # Fitting shrinks with size: search from an estimate, as wrapping a long hook at a size is not cheap.
    size = _largest(low, high, _estimated_size(paras, low, high, region, shaper), fits)
    if size is not None:
        return HookLayout(size, round(size * LINE_HEIGHT), tuple(wrapped[size]), truncated=False)
    size = low
    box_w, box_h = _box_for(size, region)
    keep = max(1, _lines_that_fit(size, box_h))
    lines = _wrap_all(paras, size, box_w, shaper, keep)
    cut = _truncate(lines[:keep], size, box_w, shaper)
    return HookLayout(size, round(size * LINE_HEIGHT), tuple(cut), truncated=True)


def _estimated_size(paras: Sequence[str], low: int, high: int, region: Box, shaper: Shaper) -> int:
    """The largest size at which the paragraphs, wrapped without any waste, would fit: most hooks fit at
    it or a size or two below it."""
    natural = [layout_line(p, paragraph_is_rtl(p, shaper.language), high, shaper).width / high for p in paras]
    for size in range(high, low, -1):
        box_w, box_h = _box_for(size, region)
        lines = sum(max(1, math.ceil(per_px * size / box_w)) for per_px in natural)
        if lines * round(size * LINE_HEIGHT) <= box_h:
            return size
    return low


def _truncate(lines: list[LaidLine], size: int, box_w: float, shaper: Shaper) -> list[LaidLine]:
    last = lines[-1]
    rtl = paragraph_is_rtl(last.text, shaper.language)
    pieces = clusters(last.text)
    while pieces:
        candidate = layout_line("".join(pieces).rstrip() + ELLIPSIS, rtl, size, shaper)
        if candidate.width <= box_w:
            return [*lines[:-1], candidate]
        pieces.pop()
    return [*lines[:-1], layout_line(ELLIPSIS, rtl, size, shaper)]


# --- drawing ----------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def make_shaper(language: str, shaping: bool = True) -> Shaper:
    engine = ImageFont.Layout.BASIC
    if shaping and features.check("raqm"):
        engine = ImageFont.Layout.RAQM
    elif shaping:
        log.warning("Pillow has no raqm: hooks are drawn without shaping or bidi")
    return Shaper(text_faces(), emoji_face(), engine, language.strip() or None)


def layout_hook(
    text: str, language: str, width: int = 1080, height: int = 1920, shaping: bool = True, face: Box | None = None
) -> HookLayout:
    region = hook_region(width, height, face) or safe_box(width, height)
    with _FREETYPE_LOCK:
        return layout_hook_text(text, width, region, make_shaper(language, shaping))


def render_hook(
    text: str, language: str, width: int = 1080, height: int = 1920, *, shaping: bool = True, face: Box | None = None
) -> Image.Image:
    """A transparent width×height RGBA image with the hook drawn in the safe zone, clear of `face` (the
    on-camera face's box in this frame's pixels; unknown: upper-middle)."""
    frame = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    shaper = make_shaper(language, shaping)
    region = hook_region(width, height, face)
    left, top, right, bottom = region or safe_box(width, height)
    with _FREETYPE_LOCK:
        layout = layout_hook_text(text, width, (left, top, right, bottom), shaper)
        if not any(line.text for line in layout.lines):
            return frame
        glyphs = _draw_block(layout, shaper)
    block = _trim(_decorate(glyphs, layout.size))
    block = _shrink_to(block, right - left, bottom - top)
    x = left + (right - left - block.width) // 2
    middle = height * HOOK_CENTER_Y if region is None else (top + bottom) / 2
    y = min(max(round(middle - block.height / 2), top), bottom - block.height)
    frame.paste(block, (x, y))  # onto a transparent frame: the same pixels as compositing, cheaper
    return frame


def write_hook_png(
    text: str,
    language: str,
    path: Path,
    width: int = 1080,
    height: int = 1920,
    *,
    shaping: bool = True,
    face: Box | None = None,
) -> HookPng | None:
    """Write the hook as a PNG cropped to its ink (ffmpeg then blends only that box); None if blank."""
    image = render_hook(text, language, width, height, shaping=shaping, face=face)
    box = image.getbbox()
    if box is None:
        return None
    image.crop(box).save(path, format="PNG")
    return HookPng(path, box[0], box[1], box[2] - box[0], box[3] - box[1])


def _draw_block(layout: HookLayout, shaper: Shaper) -> Image.Image:
    """All lines, centred on a canvas with room for outline and shadow around them."""
    pad = decoration_pad(layout.size)
    canvas_w = math.ceil(max(line.width for line in layout.lines)) + 2 * pad
    canvas_h = layout.line_height * len(layout.lines) + 2 * pad + layout.size
    canvas = Image.new("RGBA", (canvas_w, canvas_h), (0, 0, 0, 0))
    draw = ImageDraw.Draw(canvas)
    stroke = stroke_width(layout.size)
    placements = [
        (placed, pad + (canvas_w - 2 * pad - line.width) / 2 + placed.x, pad + i * layout.line_height)
        for i, line in enumerate(layout.lines)
        for placed in line.runs
    ]
    baseline = round(layout.size * ASCENT)
    regular: set[str] = set()  # runs drawn by the fallback
    # Outline first for every run, fill after: a neighbour's outline never covers a letter.
    for fill, width in ((OUTLINE, stroke), (FILL, 0)):
        for placed, x, top in placements:
            if placed.run.face.bitmap:
                continue
            font = load_font(placed.run.face.path, layout.size, shaper.engine)
            try:
                draw.text(
                    (x, top + baseline),
                    placed.run.text,
                    font=font,
                    anchor="ls",
                    fill=fill,
                    stroke_width=width,
                    stroke_fill=OUTLINE,
                    direction=_direction(placed.run, shaper),
                    language=_language(shaper),
                )
            except OSError:  # nothing was drawn: the mask is made before it is pasted
                _draw_regular(canvas, placed, x, top + baseline, layout.size, shaper, fill, width)
                regular.add(placed.run.text)
    for placed, x, top in placements:
        if placed.run.face.bitmap:
            _draw_emoji(canvas, placed, round(x), top + baseline, layout.size, shaper)
    if regular:
        log.warning("hook: FreeType cannot draw %s in bold: drawn at regular weight", ", ".join(map(repr, regular)))
    return canvas


def _draw_regular(
    canvas: Image.Image,
    placed: PlacedRun,
    x: float,
    baseline: int,
    size: int,
    shaper: Shaper,
    fill: tuple[int, int, int, int],
    stroke: int,
) -> None:
    """A run the bold instance cannot rasterize (FreeType's "raster overflow" on U+FDFD in Noto Sans
    Arabic, at any size): drawn at the face's regular weight, centred in the slot the layout measured in
    bold, and scaled down when it is wider than that slot."""
    run = placed.run
    font = load_font(run.face.path, size, shaper.engine, bold=False)
    direction, language = _direction(run, shaper), _language(shaper)
    left, top, right, bottom = font.getbbox(
        run.text, anchor="ls", stroke_width=stroke, direction=direction, language=language
    )
    tile = Image.new("RGBA", (max(1, math.ceil(right - left)), max(1, math.ceil(bottom - top))), (0, 0, 0, 0))
    ImageDraw.Draw(tile).text(
        (-left, -top),
        run.text,
        font=font,
        anchor="ls",
        fill=fill,
        stroke_width=stroke,
        stroke_fill=OUTLINE,
        direction=direction,
        language=language,
    )
    advance = font.getlength(run.text, direction=direction, language=language)
    scale = min(1.0, placed.width / advance) if advance > 0 else 1.0
    if scale < 1.0:
        tile = tile.resize(
            (max(1, round(tile.width * scale)), max(1, round(tile.height * scale))), Image.Resampling.LANCZOS
        )
    offset = (placed.width - advance * scale) / 2
    canvas.alpha_composite(tile, (round(x + offset + left * scale), round(baseline + top * scale)))


def _draw_emoji(canvas: Image.Image, placed: PlacedRun, x: int, baseline: int, size: int, shaper: Shaper) -> None:
    """Colour bitmaps exist at one size only: draw there, scale to the text size, then paste."""
    font = load_font(placed.run.face.path, EMOJI_NATIVE_SIZE, shaper.engine)
    ascent, descent = font.getmetrics()
    native_w = (
        math.ceil(font.getlength(placed.run.text, direction=_direction(placed.run, shaper), language=_language(shaper)))
        + 2
    )
    native = Image.new("RGBA", (max(1, native_w), ascent + descent), (0, 0, 0, 0))
    ImageDraw.Draw(native).text(
        (0, ascent),
        placed.run.text,
        font=font,
        anchor="ls",
        embedded_color=True,
        direction=_direction(placed.run, shaper),
        language=_language(shaper),
    )
    scale = emoji_scale(size)
    scaled = native.resize(
        (max(1, round(native.width * scale)), max(1, round(native.height * scale))), Image.Resampling.LANCZOS
    )
    canvas.alpha_composite(scaled, (x, max(0, baseline - round(ascent * scale))))


def _decorate(glyphs: Image.Image, size: int) -> Image.Image:
    """A soft dark shadow under the glyphs: legible on white and busy backgrounds alike."""
    alpha = glyphs.getchannel("A")
    shadow_alpha = alpha.filter(ImageFilter.GaussianBlur(max(1.0, size * SHADOW_BLUR_RATIO)))
    shadow_alpha = shadow_alpha.point(lambda v: round(v * SHADOW_ALPHA))
    shadow = Image.new("RGBA", glyphs.size, (0, 0, 0, 0))
    offset = round(size * SHADOW_OFFSET_RATIO)
    shadow.paste(Image.new("RGBA", glyphs.size, (0, 0, 0, 255)), (0, offset), shadow_alpha)
    shadow.alpha_composite(glyphs)
    return shadow


def _trim(image: Image.Image) -> Image.Image:
    box = image.getchannel("A").getbbox()
    return image.crop(box) if box else image


def _shrink_to(image: Image.Image, max_w: int, max_h: int) -> Image.Image:
    """Last resort when glyph ink overshoots the metrics the fit used: scale down, never clip."""
    if image.width <= max_w and image.height <= max_h:
        return image
    factor = min(max_w / image.width, max_h / image.height)
    size = (max(1, math.floor(image.width * factor)), max(1, math.floor(image.height * factor)))
    return image.resize(size, Image.Resampling.LANCZOS)
