"""Lines as shaped runs: one face and one direction each, measured by raqm and put in visual order."""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import ImageFont, features

from services.renderer.fonts import EMOJI_NATIVE_SIZE, FontFace, emoji_face, text_faces
from services.renderer.hook.bidi import bidi_levels, visual_order
from services.renderer.hook.fallback import assign_faces

log = logging.getLogger(__name__)

# Cached FreeType faces are shared; FreeType faces are not safe to use from two threads at once, and a
# hook takes tens of milliseconds, so renders in parallel workers simply take turns.
FREETYPE_LOCK = threading.Lock()


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
    """The hook's lines at the largest size that fits; truncated when even the smallest did not."""

    size: int
    line_height: int
    lines: tuple[LaidLine, ...]
    truncated: bool


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


@functools.lru_cache(maxsize=64)
def make_shaper(language: str, shaping: bool = True) -> Shaper:
    engine = ImageFont.Layout.BASIC
    if shaping and features.check("raqm"):
        engine = ImageFont.Layout.RAQM
    elif shaping:
        log.warning("Pillow has no raqm: hooks are drawn without shaping or bidi")
    return Shaper(text_faces(), emoji_face(), engine, language.strip() or None)


def split_runs(text: str, faces: Sequence[FontFace], levels: Sequence[int]) -> list[Run]:
    runs: list[Run] = []
    start = 0
    for i in range(1, len(text) + 1):
        if i == len(text) or faces[i] != faces[start] or levels[i] != levels[start]:
            runs.append(Run(text[start:i], faces[start], levels[start]))
            start = i
    return runs


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


def run_direction(run: Run, shaper: Shaper) -> str | None:
    """raqm takes a direction and a language; the basic layout takes neither."""
    if not shaper.shaped:
        return None
    return "rtl" if run.rtl else "ltr"


def shaper_language(shaper: Shaper) -> str | None:
    return shaper.language if shaper.shaped else None


@functools.lru_cache(maxsize=16384)
def run_width(run: Run, size: int, shaper: Shaper) -> float:
    # Cached: wrapping measures line after line that differ from the last only in their last run.
    if run.face.bitmap:
        font = load_font(run.face.path, EMOJI_NATIVE_SIZE, shaper.engine)
        return font.getlength(
            run.text, direction=run_direction(run, shaper), language=shaper_language(shaper)
        ) * emoji_scale(size)
    font = load_font(run.face.path, size, shaper.engine)
    return font.getlength(run.text, direction=run_direction(run, shaper), language=shaper_language(shaper))


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
