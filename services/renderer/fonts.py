"""Where the hook's fonts come from, found the same way on every machine.

Text faces (Noto Sans for Latin, Greek and Cyrillic; Noto Sans Arabic, Hebrew, Devanagari and the other
scripts Latin faces lack) are package data of the PyPI package `manimgx-fonts`, so `pip install` brings
them; Debian's `fonts-noto-core` is accepted as a second source. Colour emoji come from Debian's
`fonts-noto-color-emoji` (NotoColorEmoji.ttf, CBDT bitmaps that Pillow draws in colour): no PyPI
package ships that build (the COLRv1 build some wheels carry draws nothing through FreeType). Without
it, emoji are drawn like text from the monochrome Noto Emoji that `manimgx-fonts` ships, and the
process warns once: a missing colour font never fails a render. Chinese, Japanese and Korean come from
Debian's `fonts-noto-cjk` when it is there (bin/layers installs it, like the colour emoji); without it
they draw as missing-glyph boxes.

Overrides, for machines laid out differently: LAYERS_FONT_DIR (a folder holding the text faces under
either file name) and LAYERS_EMOJI_FONT (the path of an emoji font: CBDT colour, or outlines). A face
that cannot be found is a ConfigError naming the variable.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import os
import struct
from dataclasses import dataclass
from pathlib import Path

from common.settings import ConfigError

log = logging.getLogger("layers.renderer")

TEXT_FONT_PACKAGE = "manimgx-fonts"
TEXT_FONT_MODULE = "manimgx_fonts"
TEXT_FONT_DEBIAN_PACKAGE = "fonts-noto-core"
EMOJI_FONT_DEBIAN_PACKAGE = "fonts-noto-color-emoji"
DEBIAN_NOTO_DIR = Path("/usr/share/fonts/truetype/noto")
# Debian's fonts-noto-cjk: Chinese, Japanese and Korean (no registry package ships them small enough).
CJK_FONT_DEBIAN_PACKAGE = "fonts-noto-cjk"
DEBIAN_NOTO_CJK_DIR = Path("/usr/share/fonts/opentype/noto")
EMOJI_FONT_FILE = "NotoColorEmoji.ttf"

# The only pixel size NotoColorEmoji's bitmap strike exists at; other sizes are scaled from it.
EMOJI_NATIVE_SIZE = 109


class FontNotFoundError(ConfigError):
    """A font the hook needs is not installed; the message names the package that brings it."""


@dataclass(frozen=True)
class FaceSpec:
    name: str
    package_file: str  # file name inside the manimgx-fonts package (variable weight)
    debian_file: str  # file name in fonts-noto-core (static bold)


@dataclass(frozen=True)
class FontFace:
    name: str
    path: Path
    is_emoji: bool = False
    # Colour bitmaps (CBDT) exist at one size only: drawn there and scaled, in their own colours.
    # Other faces, the monochrome emoji one included, are drawn as outlines at the text size.
    bitmap: bool = False


# Order matters: the first face covering a character draws it (font fallback).
REQUIRED_TEXT_FACES: tuple[FaceSpec, ...] = (
    FaceSpec("Noto Sans", "NotoSans[wght].ttf", "NotoSans-Bold.ttf"),
    FaceSpec("Noto Sans Arabic", "NotoSansArabic[wght].ttf", "NotoSansArabic-Bold.ttf"),
    FaceSpec("Noto Sans Hebrew", "NotoSansHebrew[wght].ttf", "NotoSansHebrew-Bold.ttf"),
    FaceSpec("Noto Sans Devanagari", "NotoSansDevanagari[wght].ttf", "NotoSansDevanagari-Bold.ttf"),
)

# Emoji as outlines, drawn in the text's colours where the colour font is missing.
MONOCHROME_EMOJI_FACE = FaceSpec("Noto Emoji", "NotoEmoji[wght].ttf", "NotoEmoji-Bold.ttf")

# Faces used when present (other scripts, symbols); never required.
OPTIONAL_TEXT_FACES: tuple[FaceSpec, ...] = (
    *(
        FaceSpec(f"Noto Sans {script}", f"NotoSans{script}[wght].ttf", f"NotoSans{script}-Bold.ttf")
        for script in (
            "Bengali",
            "Tamil",
            "Telugu",
            "Gujarati",
            "Gurmukhi",
            "Kannada",
            "Malayalam",
            "Oriya",
            "Sinhala",
            "Thai",
            "Lao",
            "Khmer",
            "Myanmar",
            "Armenian",
            "Georgian",
            "Ethiopic",
            "Symbols",
        )
    ),
    FaceSpec("Noto Sans CJK", "NotoSansCJK-Bold.ttc", "NotoSansCJK-Bold.ttc"),
)


def package_font_dir() -> Path | None:
    """The folder of the manimgx-fonts package, without importing anything else of it."""
    spec = importlib.util.find_spec(TEXT_FONT_MODULE)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def search_dirs(env_dir: str | None, package_dir: Path | None, debian_dir: Path) -> tuple[Path, ...]:
    """Where text faces are looked for, most specific first."""
    dirs = [Path(env_dir)] if env_dir else []
    if package_dir is not None:
        dirs.append(package_dir)
    dirs.append(debian_dir)
    return tuple(dirs)


def locate_face(spec: FaceSpec, dirs: tuple[Path, ...]) -> Path | None:
    for folder in dirs:
        for name in (spec.package_file, spec.debian_file):
            candidate = folder / name
            if candidate.is_file():
                return candidate
    return None


def missing_text_font_message(spec: FaceSpec, dirs: tuple[Path, ...]) -> str:
    looked = ", ".join(str(d) for d in dirs)
    return (
        f"font {spec.name!r} not found (looked in {looked}): install the PyPI package "
        f"{TEXT_FONT_PACKAGE} (`pip install {TEXT_FONT_PACKAGE}`) or Debian's {TEXT_FONT_DEBIAN_PACKAGE}, "
        "or point LAYERS_FONT_DIR at a folder holding it"
    )


def font_dirs() -> tuple[Path, ...]:
    return (*search_dirs(os.environ.get("LAYERS_FONT_DIR"), package_font_dir(), DEBIAN_NOTO_DIR), DEBIAN_NOTO_CJK_DIR)


@functools.cache
def text_faces() -> tuple[FontFace, ...]:
    """The text fallback chain: required faces (or FontNotFoundError), then optional ones present."""
    dirs = font_dirs()
    faces = []
    for spec in REQUIRED_TEXT_FACES:
        path = locate_face(spec, dirs)
        if path is None:
            raise FontNotFoundError("LAYERS_FONT_DIR", missing_text_font_message(spec, dirs))
        faces.append(FontFace(spec.name, path))
    for spec in OPTIONAL_TEXT_FACES:
        path = locate_face(spec, dirs)
        if path is not None:
            faces.append(FontFace(spec.name, path))
    return tuple(faces)


@functools.cache
def emoji_face() -> FontFace:
    """LAYERS_EMOJI_FONT, else Debian's colour emoji, else the monochrome Noto Emoji (warned once)."""
    override = os.environ.get("LAYERS_EMOJI_FONT")
    if override:
        path = Path(override)
        if not path.is_file():
            raise FontNotFoundError("LAYERS_EMOJI_FONT", f"no font file at {path}")
        try:
            bitmap = is_bitmap_font(path)
        except struct.error:  # too short to hold a table directory
            raise FontNotFoundError("LAYERS_EMOJI_FONT", f"{path} is not a font file") from None
        return FontFace(path.stem, path, is_emoji=True, bitmap=bitmap)
    colour = DEBIAN_NOTO_DIR / EMOJI_FONT_FILE
    if colour.is_file():
        return FontFace("Noto Color Emoji", colour, is_emoji=True, bitmap=True)
    dirs = font_dirs()
    mono = locate_face(MONOCHROME_EMOJI_FACE, dirs)
    if mono is None:
        raise FontNotFoundError("LAYERS_EMOJI_FONT", missing_text_font_message(MONOCHROME_EMOJI_FACE, dirs))
    log.warning(
        "colour emoji font not found at %s: emoji in hooks are drawn in monochrome from %s "
        "(install Debian's %s, or set LAYERS_EMOJI_FONT, for colour)",
        colour,
        mono,
        EMOJI_FONT_DEBIAN_PACKAGE,
    )
    return FontFace(MONOCHROME_EMOJI_FACE.name, mono, is_emoji=True)


def is_bitmap_font(path: Path) -> bool:
    """A font whose glyphs are colour bitmaps (a CBDT table) rather than outlines."""
    return _table(path.read_bytes(), b"CBDT") is not None


@functools.cache
def covered_codepoints(path: Path) -> frozenset[int]:
    """The code points a font maps to a real glyph (its Unicode cmap), for font fallback."""
    return parse_cmap(path.read_bytes())


def parse_cmap(data: bytes) -> frozenset[int]:
    """Read the best Unicode subtable of an sfnt's cmap (format 12, else format 4)."""
    cmap = _table(data, b"cmap")
    if cmap is None:
        return frozenset()
    (count,) = struct.unpack_from(">H", data, cmap + 2)
    subtables: dict[tuple[int, int], int] = {}
    for i in range(count):
        platform, encoding, offset = struct.unpack_from(">HHI", data, cmap + 4 + 8 * i)
        subtables[(platform, encoding)] = cmap + offset
    # Full-repertoire subtables first, then BMP-only ones.
    for key in ((3, 10), (0, 6), (0, 4), (3, 1), (0, 3), (0, 2), (0, 1), (0, 0)):
        if key in subtables:
            start = subtables[key]
            (fmt,) = struct.unpack_from(">H", data, start)
            if fmt == 12:
                return _cmap_format12(data, start)
            if fmt == 4:
                return _cmap_format4(data, start)
    return frozenset()


def _table(data: bytes, tag: bytes) -> int | None:
    # A collection (.ttc) starts with its fonts' directory offsets: the first font's tables are read.
    (base,) = struct.unpack_from(">I", data, 12) if data[:4] == b"ttcf" else (0,)
    (count,) = struct.unpack_from(">H", data, base + 4)
    for i in range(count):
        record = base + 12 + 16 * i
        if data[record : record + 4] == tag:
            (offset,) = struct.unpack_from(">I", data, record + 8)
            return offset
    return None


def _cmap_format12(data: bytes, start: int) -> frozenset[int]:
    (groups,) = struct.unpack_from(">I", data, start + 12)
    points: set[int] = set()
    for i in range(groups):
        first, last, glyph = struct.unpack_from(">III", data, start + 16 + 12 * i)
        points.update(range(first + (1 if glyph == 0 else 0), last + 1))
    return frozenset(points)


def _cmap_format4(data: bytes, start: int) -> frozenset[int]:
    (seg_x2,) = struct.unpack_from(">H", data, start + 6)
    segs = seg_x2 // 2
    ends = struct.unpack_from(f">{segs}H", data, start + 14)
    starts = struct.unpack_from(f">{segs}H", data, start + 16 + seg_x2)
    deltas = struct.unpack_from(f">{segs}h", data, start + 16 + 2 * seg_x2)
    range_base = start + 16 + 3 * seg_x2
    offsets = struct.unpack_from(f">{segs}H", data, range_base)
    points: set[int] = set()
    for i in range(segs):
        for code in range(starts[i], ends[i] + 1):
            if code == 0xFFFF:
                continue
            if offsets[i] == 0:
                glyph = (code + deltas[i]) & 0xFFFF
            else:
                # idRangeOffset is relative to its own slot in the array.
                address = range_base + 2 * i + offsets[i] + 2 * (code - starts[i])
                (glyph,) = struct.unpack_from(">H", data, address)
                glyph = (glyph + deltas[i]) & 0xFFFF if glyph else 0
            if glyph:
                points.add(code)
    return frozenset(points)
