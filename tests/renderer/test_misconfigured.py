"""A machine without the colour emoji font still renders emoji (monochrome); one without its text fonts
or ffmpeg fails the render as misconfigured, never as something a retry could fix."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image, ImageChops

from common import ffmpeg
from common.settings import ConfigError
from services.renderer import fonts
from services.renderer.compose import ComposeFailure, ComposeInputs, compose
from services.renderer.hook import shaping
from services.renderer.hook.draw import render_hook
from tests.renderer import clips
from tests.renderer.media_checks import frame_at, mask_count

BACKGROUND = (0x20, 0x40, 0xA0)


@pytest.fixture
def no_colour_emoji(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The colour font's folder is empty here; LAYERS_EMOJI_FONT is unset."""
    monkeypatch.setattr(fonts, "DEBIAN_NOTO_DIR", tmp_path / "no-debian-fonts")
    monkeypatch.delenv("LAYERS_EMOJI_FONT", raising=False)
    fonts.emoji_face.cache_clear()
    shaping.make_shaper.cache_clear()
    yield
    fonts.emoji_face.cache_clear()
    shaping.make_shaper.cache_clear()


def near_white(image: Image.Image, box: tuple[int, int, int, int] | None = None) -> int:
    """Pixels of the hook's white fill (the emoji, drawn like text) within box."""
    region = image.convert("RGB").crop(box) if box else image.convert("RGB")
    darkest = ImageChops.darker(ImageChops.darker(*region.split()[:2]), region.split()[2])
    return mask_count(darkest.point(lambda v: 255 if v > 200 else 0))


@pytest.mark.usefixtures("no_colour_emoji")
def test_emoji_are_drawn_in_monochrome_without_the_colour_font() -> None:
    assert not fonts.emoji_face().bitmap
    laughing, fire = render_hook("😂", "en"), render_hook("🔥", "en")
    for drawn in (laughing, fire):
        assert drawn.getbbox() is not None and near_white(drawn) > 500
    # Real glyphs, not two copies of the missing-glyph box.
    assert ImageChops.difference(laughing, fire).getbbox() is not None
    text_only, with_emoji = render_hook("AB", "en"), render_hook("AB 😂🔥", "en")
    assert near_white(with_emoji) > near_white(text_only) + 1000


@pytest.mark.usefixtures("no_colour_emoji")
def test_a_render_with_an_emoji_hook_succeeds_without_the_colour_font(tmp_path: Path) -> None:
    template = clips.make_video(tmp_path / "blue.mp4", 720, 1280, 1, color="0x2040a0")
    demo = clips.make_video(tmp_path / "demo.mp4", 320, 568, 1)
    hook = "😂🔥"
    result = compose(ComposeInputs(template, demo, None, hook=hook), tmp_path / "out")
    frame = frame_at(result.video_path, 0.5)
    box = render_hook(hook, "en").getbbox()
    assert box is not None
    assert near_white(frame, box) > 1000  # the emoji's fill, where the overlay put it
    assert near_white(frame) - near_white(frame, box) < 50  # and nothing white anywhere else
    assert frame.getpixel((20, 20)) == pytest.approx(BACKGROUND, abs=12)


def test_a_missing_ffmpeg_is_a_misconfiguration_not_a_failed_render(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, template: Path, landscape_demo: Path
) -> None:
    monkeypatch.setenv("LAYERS_FFMPEG", str(tmp_path / "no-ffmpeg"))
    ffmpeg.ffmpeg_path.cache_clear()
    try:
        with pytest.raises(ConfigError, match=r"^LAYERS_FFMPEG: cannot run") as raised:
            compose(ComposeInputs(template, landscape_demo, None, hook="Hi"), tmp_path / "out")
    finally:
        monkeypatch.delenv("LAYERS_FFMPEG")
        ffmpeg.ffmpeg_path.cache_clear()
    assert not isinstance(raised.value, ComposeFailure)
    assert not (tmp_path / "out" / "video.mp4").exists()


@pytest.fixture
def no_text_fonts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No folder holds the hook's text faces; LAYERS_FONT_DIR is unset."""
    monkeypatch.setattr(fonts, "package_font_dir", lambda: None)
    monkeypatch.setattr(fonts, "DEBIAN_NOTO_DIR", tmp_path)
    monkeypatch.delenv("LAYERS_FONT_DIR", raising=False)
    fonts.text_faces.cache_clear()
    shaping.make_shaper.cache_clear()
    yield
    fonts.text_faces.cache_clear()
    shaping.make_shaper.cache_clear()


@pytest.mark.usefixtures("no_text_fonts")
def test_missing_text_fonts_are_a_misconfiguration_not_a_failed_render(
    tmp_path: Path, template: Path, landscape_demo: Path
) -> None:
    with pytest.raises(ConfigError, match=r"^LAYERS_FONT_DIR: font 'Noto Sans' not found") as raised:
        compose(ComposeInputs(template, landscape_demo, None, hook="Hi"), tmp_path / "out")
    assert not isinstance(raised.value, ComposeFailure)


@pytest.mark.usefixtures("no_text_fonts")
def test_missing_fonts_are_told_even_when_a_loudness_pass_fails_beside_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, template: Path, landscape_demo: Path
) -> None:
    """The hook is drawn while the loudness passes run: the misconfiguration wins over their failure."""
    from services.renderer import compose as composing

    def failing_pass(*_args: object) -> None:
        raise composing.ComposeError("ebur128 printed no measurement")

    monkeypatch.setattr(composing, "loudness_gain", failing_pass)
    with pytest.raises(ConfigError, match=r"^LAYERS_FONT_DIR: font 'Noto Sans' not found"):
        compose(ComposeInputs(template, landscape_demo, None, hook="Hi"), tmp_path / "out")
