"""Fonts are found in known places, cover their scripts, and a missing one names its package."""

from __future__ import annotations

from pathlib import Path

import pytest

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
    dirs = fonts.search_dirs(str(tmp_path), None, tmp_path / "debian")
    spec = fonts.REQUIRED_TEXT_FACES[1]
    assert fonts.locate_face(spec, dirs) is None
    message = fonts.missing_text_font_message(spec, dirs)
    assert "pip install manimgx-fonts" in message and "fonts-noto-core" in message


def test_font_dir_override_wins(tmp_path: Path) -> None:
    real = fonts.locate_face(fonts.REQUIRED_TEXT_FACES[0], (fonts.package_font_dir() or fonts.DEBIAN_NOTO_DIR,))
    assert real is not None
    copy = tmp_path / fonts.REQUIRED_TEXT_FACES[0].debian_file
    copy.write_bytes(real.read_bytes())
    dirs = fonts.search_dirs(str(tmp_path), fonts.package_font_dir(), fonts.DEBIAN_NOTO_DIR)
    assert fonts.locate_face(fonts.REQUIRED_TEXT_FACES[0], dirs) == copy


def test_an_emoji_font_set_but_missing_names_the_variable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LAYERS_EMOJI_FONT", str(tmp_path / "nope.ttf"))
    fonts.emoji_face.cache_clear()
    try:
        with pytest.raises(fonts.FontNotFoundError, match=r"^LAYERS_EMOJI_FONT: no font file at"):
            fonts.emoji_face()
    finally:
        monkeypatch.delenv("LAYERS_EMOJI_FONT")
        fonts.emoji_face.cache_clear()


def test_an_outline_emoji_font_set_is_drawn_as_outlines(monkeypatch: pytest.MonkeyPatch) -> None:
    mono = fonts.locate_face(fonts.MONOCHROME_EMOJI_FACE, fonts.font_dirs())
    assert mono is not None  # manimgx-fonts ships it
    monkeypatch.setenv("LAYERS_EMOJI_FONT", str(mono))
    fonts.emoji_face.cache_clear()
    try:
        face = fonts.emoji_face()
    finally:
        monkeypatch.delenv("LAYERS_EMOJI_FONT")
        fonts.emoji_face.cache_clear()
    assert face.is_emoji and not face.bitmap
    assert {0x1F602, 0x1F525} <= fonts.covered_codepoints(face.path)


def test_parse_cmap_reads_nothing_from_a_non_font() -> None:
    assert fonts.parse_cmap(b"\x00\x01\x00\x00\x00\x00" + b"\x00" * 10) == frozenset()
