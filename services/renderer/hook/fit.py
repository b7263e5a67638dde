"""Shrink to fit: the largest font size at which the wrapped hook fits its region, else cut with '…'."""

from __future__ import annotations

import math
from collections.abc import Sequence

from services.renderer.hook.bidi import paragraph_is_rtl
from services.renderer.hook.regions import Box, hook_region, safe_box
from services.renderer.hook.shaping import FREETYPE_LOCK, HookLayout, LaidLine, Shaper, layout_line, make_shaper
from services.renderer.hook.text import clusters, paragraphs
from services.renderer.hook.wrap import largest_fitting, wrap_paragraph

MAX_SIZE_RATIO = 0.075  # largest font size, as a fraction of the frame width (81 px at 1080)
MIN_SIZE_RATIO = 0.02  # smallest font size (22 px at 1080): still readable on a phone
LINE_HEIGHT = 1.42  # of the font size; room for Arabic and Devanagari marks above and below
# The outline and the shadow, which take room around the glyphs that the fit must leave.
STROKE_RATIO = 0.085
SHADOW_BLUR_RATIO = 0.07
SHADOW_OFFSET_RATIO = 0.045
ELLIPSIS = "…"


def font_sizes(width: int) -> tuple[int, int]:
    return max(10, round(width * MIN_SIZE_RATIO)), max(12, round(width * MAX_SIZE_RATIO))


def decoration_pad(size: int) -> int:
    """Room the outline and the blurred, offset shadow take around the glyphs."""
    stroke = stroke_width(size)
    blur = max(1.0, size * SHADOW_BLUR_RATIO)
    return math.ceil(stroke + 3 * blur + size * SHADOW_OFFSET_RATIO) + 1


def stroke_width(size: int) -> int:
    return max(2, round(size * STROKE_RATIO))


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
    size = largest_fitting(low, high, _estimated_size(paras, low, high, region, shaper), fits)
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


def layout_hook(
    text: str, language: str, width: int = 1080, height: int = 1920, shaping: bool = True, face: Box | None = None
) -> HookLayout:
    region = hook_region(width, height, face) or safe_box(width, height)
    with FREETYPE_LOCK:
        return layout_hook_text(text, width, region, make_shaper(language, shaping))
