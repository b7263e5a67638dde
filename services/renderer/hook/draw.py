"""Drawing the laid-out hook: white letters, a dark outline, a soft shadow, colour emoji."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

from services.renderer.fonts import EMOJI_NATIVE_SIZE
from services.renderer.hook.fit import (
    SHADOW_BLUR_RATIO,
    SHADOW_OFFSET_RATIO,
    decoration_pad,
    layout_hook_text,
    stroke_width,
)
from services.renderer.hook.regions import HOOK_CENTER_Y, Box, hook_region, safe_box
from services.renderer.hook.shaping import (
    FREETYPE_LOCK,
    HookLayout,
    PlacedRun,
    Shaper,
    emoji_scale,
    load_font,
    make_shaper,
    run_direction,
    shaper_language,
)

log = logging.getLogger(__name__)

ASCENT = 1.08  # baseline below the line top, of the font size
SHADOW_ALPHA = 0.6
FILL = (255, 255, 255, 255)
OUTLINE = (12, 12, 12, 255)


@dataclass(frozen=True)
class HookPng:
    """The hook written as a PNG cropped to its ink, and where it sits in the frame."""

    path: Path
    x: int
    y: int
    width: int
    height: int


def render_hook(
    text: str, language: str, width: int = 1080, height: int = 1920, *, shaping: bool = True, face: Box | None = None
) -> Image.Image:
    """A transparent width×height RGBA image with the hook drawn in the safe zone, clear of `face` (the
    on-camera face's box in this frame's pixels; unknown: upper-middle)."""
    frame = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    shaper = make_shaper(language, shaping)
    region = hook_region(width, height, face)
    left, top, right, bottom = region or safe_box(width, height)
    with FREETYPE_LOCK:
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
                    direction=run_direction(placed.run, shaper),
                    language=shaper_language(shaper),
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
    direction, language = run_direction(run, shaper), shaper_language(shaper)
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
        math.ceil(
            font.getlength(
                placed.run.text, direction=run_direction(placed.run, shaper), language=shaper_language(shaper)
            )
        )
        + 2
    )
    native = Image.new("RGBA", (max(1, native_w), ascent + descent), (0, 0, 0, 0))
    ImageDraw.Draw(native).text(
        (0, ascent),
        placed.run.text,
        font=font,
        anchor="ls",
        embedded_color=True,
        direction=run_direction(placed.run, shaper),
        language=shaper_language(shaper),
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
