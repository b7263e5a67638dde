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

Overrides, for machines laid out differently, are settings: LAYERS_FONT_DIR (a folder holding the text
faces under either file name) and LAYERS_EMOJI_FONT (the path of an emoji font: CBDT colour, or
outlines). A face that cannot be found is a ConfigError naming the variable. What each face covers is
read from its cmap with fontTools, once per process.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import struct
from dataclasses import dataclass
from pathlib import Path

from fontTools.ttLib import TTFont, TTLibError

from common.settings import ConfigError, render_tools

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


def search_dirs(font_dir: Path | None, package_dir: Path | None, debian_dir: Path) -> tuple[Path, ...]:
    """Where text faces are looked for, most specific first."""
    dirs = [font_dir] if font_dir else []
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
    font_dir = render_tools().font_dir
    if font_dir is not None and not font_dir.is_dir():
        raise ConfigError("LAYERS_FONT_DIR", f"no folder at {font_dir}")
    return (*search_dirs(font_dir, package_font_dir(), DEBIAN_NOTO_DIR), DEBIAN_NOTO_CJK_DIR)


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
    for face in faces:
        read_coverage("LAYERS_FONT_DIR", face.path)
    return tuple(faces)


@functools.cache
def emoji_face() -> FontFace:
    """LAYERS_EMOJI_FONT, else Debian's colour emoji, else the monochrome Noto Emoji (warned once)."""
    face = _find_emoji_face()
    read_coverage("LAYERS_EMOJI_FONT", face.path)
    return face


def _find_emoji_face() -> FontFace:
    path = render_tools().emoji_font
    if path is not None:
        if not path.is_file():
            raise ConfigError("LAYERS_EMOJI_FONT", f"no font file at {path}")
        read_coverage("LAYERS_EMOJI_FONT", path)  # first: it refuses a file that is no font
        return FontFace(path.stem, path, is_emoji=True, bitmap=is_bitmap_font(path))
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
    with TTFont(path, fontNumber=0, lazy=True) as font:
        return "CBDT" in font


def read_coverage(variable: str, path: Path) -> None:
    """Read a chosen face's coverage now, when the process starts: a file that is no usable font is
    refused then rather than mid-render, and the first hook finds every cmap cached."""
    try:
        covered = covered_codepoints(path)
    except (TTLibError, struct.error) as exc:
        raise FontNotFoundError(variable, f"{path} is not a font file ({exc})") from None
    if not covered:
        raise FontNotFoundError(variable, f"{path} maps no character (it has no Unicode cmap)")


@functools.cache
def covered_codepoints(path: Path) -> frozenset[int]:
    """The code points a font maps to a real glyph, for font fallback: its best Unicode cmap (a full
    repertoire subtable before a BMP-only one; fontTools leaves out what maps to the missing glyph). Of a
    collection (.ttc, such as Noto CJK) the first font, the one Pillow draws with."""
    with TTFont(path, fontNumber=0, lazy=True) as font:
        return frozenset(font.getBestCmap() or {})
