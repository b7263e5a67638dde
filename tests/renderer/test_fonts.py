"""Fonts are found in known places, cover their scripts, and a missing one names its package."""

from __future__ import annotations

from pathlib import Path

import pytest
from fontTools.fontBuilder import FontBuilder
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib import TTCollection, TTFont

from common.settings import ConfigError
from services.renderer import fonts


def test_required_faces_are_found_and_cover_their_scripts() -> None:
    faces = {face.name: face for face in fonts.text_faces()}
    samples = {"Noto Sans": "A…", "Noto Sans Arabic": "م", "Noto Sans Hebrew": "ש", "Noto Sans Devanagari": "क"}
    for name, sample in samples.items():
        covered = fonts.covered_codepoints(faces[name].path)
        assert all(ord(ch) in covered for ch in sample), name
    assert ord("م") not in fonts.covered_codepoints(faces["Noto Sans"].path)


def test_colour_emoji_face_is_the_cbdt_noto_build() -> None:
    face = fonts.emoji_face()
    assert face.is_emoji and face.bitmap and face.path.name == "NotoColorEmoji.ttf"
    covered = fonts.covered_codepoints(face.path)
    assert {0x1F602, 0x1F525, 0x1F44B} <= covered
    assert ord("A") not in covered


def test_a_missing_text_face_names_the_pip_package(tmp_path: Path) -> None:
    dirs = fonts.search_dirs(tmp_path, None, tmp_path / "debian")
    spec = fonts.REQUIRED_TEXT_FACES[1]
    assert fonts.locate_face(spec, dirs) is None
    message = fonts.missing_text_font_message(spec, dirs)
    assert "pip install manimgx-fonts" in message and "fonts-noto-core" in message


def test_font_dir_override_wins(tmp_path: Path) -> None:
    real = fonts.locate_face(fonts.REQUIRED_TEXT_FACES[0], (fonts.package_font_dir() or fonts.DEBIAN_NOTO_DIR,))
    assert real is not None
    copy = tmp_path / fonts.REQUIRED_TEXT_FACES[0].debian_file
    copy.write_bytes(real.read_bytes())
    dirs = fonts.search_dirs(tmp_path, fonts.package_font_dir(), fonts.DEBIAN_NOTO_DIR)
    assert fonts.locate_face(fonts.REQUIRED_TEXT_FACES[0], dirs) == copy


def emoji_face_with(monkeypatch: pytest.MonkeyPatch, emoji_font: Path) -> fonts.FontFace:
    """fonts.emoji_face() with LAYERS_EMOJI_FONT set; its cache is cleared before and after."""
    monkeypatch.setenv("LAYERS_EMOJI_FONT", str(emoji_font))
    fonts.emoji_face.cache_clear()
    try:
        return fonts.emoji_face()
    finally:
        monkeypatch.delenv("LAYERS_EMOJI_FONT")
        fonts.emoji_face.cache_clear()


def test_an_emoji_font_set_but_missing_names_the_variable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Refused by the settings (a process starting says so in one line), and so by a render after it."""
    with pytest.raises(ConfigError, match=rf"^LAYERS_EMOJI_FONT: no font file at {tmp_path}/nope.ttf$"):
        emoji_face_with(monkeypatch, tmp_path / "nope.ttf")


def test_an_outline_emoji_font_set_is_drawn_as_outlines(monkeypatch: pytest.MonkeyPatch) -> None:
    mono = fonts.locate_face(fonts.MONOCHROME_EMOJI_FACE, fonts.font_dirs())
    assert mono is not None  # manimgx-fonts ships it
    face = emoji_face_with(monkeypatch, mono)
    assert face.is_emoji and not face.bitmap
    assert {0x1F602, 0x1F525} <= fonts.covered_codepoints(face.path)


def tiny_font(cmap: dict[int, str]) -> TTFont:
    """A font of empty glyphs mapping cmap's code points, built with fontTools."""
    names = [".notdef", *sorted(set(cmap.values()))]
    builder = FontBuilder(1000, isTTF=True)
    builder.setupGlyphOrder(names)
    builder.setupCharacterMap(cmap)
    builder.setupGlyf({name: TTGlyphPen(None).glyph() for name in names})
    builder.setupHorizontalMetrics({name: (500, 0) for name in names})
    builder.setupHorizontalHeader(ascent=800, descent=-200)
    builder.setupNameTable({"familyName": "Tiny", "styleName": "Bold"})
    builder.setupOS2()
    builder.setupPost()
    return builder.font


def test_coverage_is_the_fonts_cmap(tmp_path: Path) -> None:
    path = tmp_path / "tiny.ttf"
    tiny_font({ord("A"): "A", 0x1F600: "grin", ord("م"): "meem"}).save(path)
    assert fonts.covered_codepoints(path) == {ord("A"), 0x1F600, ord("م")}
    assert not fonts.is_bitmap_font(path)


def test_coverage_of_a_collection_is_its_first_fonts(tmp_path: Path) -> None:
    """What Pillow draws from a .ttc unless told otherwise, as with Noto CJK."""
    collection = TTCollection()
    collection.fonts = [tiny_font({0x5B57: "zi"}), tiny_font({ord("A"): "A"})]
    path = tmp_path / "tiny.ttc"
    collection.save(path)
    assert fonts.covered_codepoints(path) == {0x5B57}


def test_the_cjk_collection_covers_chinese_japanese_and_korean() -> None:
    (cjk,) = (face for face in fonts.text_faces() if face.name == "Noto Sans CJK")
    assert cjk.path.suffix == ".ttc"
    assert {ord(ch) for ch in "等一下看最後まで見てカ한국어"} <= fonts.covered_codepoints(cjk.path)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"not a font at all", "is not a font file"),
        (b"\x00\x01\x00\x00" + b"\x00" * 8, "maps no character"),  # an sfnt header with no table
    ],
)
def test_an_emoji_font_that_is_no_usable_font_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, content: bytes, problem: str
) -> None:
    junk = tmp_path / "emoji.ttf"
    junk.write_bytes(content)
    with pytest.raises(fonts.FontNotFoundError, match=rf"^LAYERS_EMOJI_FONT: {junk} {problem}"):
        emoji_face_with(monkeypatch, junk)
