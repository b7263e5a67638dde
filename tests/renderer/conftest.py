"""Input clips for the renderer tests, generated once per session with ffmpeg lavfi."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.renderer import clips


@pytest.fixture(scope="session")
def clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("clips")


@pytest.fixture(scope="session")
def template(clip_dir: Path) -> Path:
    """The reaction template of the brief: 3 s, 720×1280, with audio (a 440 Hz tone)."""
    return clips.make_video(clip_dir / "template.mp4", 720, 1280, 3)


@pytest.fixture(scope="session")
def short_template(clip_dir: Path) -> Path:
    """A 1 s template with audio, for renders that test the demo side."""
    return clips.make_video(clip_dir / "template_1s.mp4", 720, 1280, 1)


@pytest.fixture(scope="session")
def silent_template(clip_dir: Path) -> Path:
    return clips.make_video(clip_dir / "template_silent.mp4", 720, 1280, 1, audio=False)


@pytest.fixture(scope="session")
def landscape_demo(clip_dir: Path) -> Path:
    return clips.make_video(clip_dir / "demo_landscape.mp4", 1280, 720, 2)


@pytest.fixture(scope="session")
def long_demo(clip_dir: Path) -> Path:
    """30 s: longer than the 20 s cap."""
    return clips.make_video(clip_dir / "demo_30s.mp4", 320, 568, 30)


@pytest.fixture(scope="session")
def short_music(clip_dir: Path) -> Path:
    """1.5 s: shorter than any render, so it must loop."""
    return clips.make_music(clip_dir / "music_short.m4a", 1.5)


@pytest.fixture(scope="session")
def long_music(clip_dir: Path) -> Path:
    """10 s: longer than the short renders, so it must be trimmed."""
    return clips.make_music(clip_dir / "music_long.m4a", 10)
