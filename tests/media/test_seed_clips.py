"""The seed clips are real media: ffprobe confirms what each one should be."""

from __future__ import annotations

import pytest

from common.ffmpeg import decodes, probe
from tests.media.conftest import SeedClips


def _atoms(data: bytes) -> list[str]:
    """Top-level MP4 box names in order."""
    names = []
    pos = 0
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos : pos + 4], "big")
        names.append(data[pos + 4 : pos + 8].decode("latin-1"))
        if size < 8:
            break
        pos += size
    return names


def test_reaction_clip(clips: SeedClips) -> None:
    found = probe(clips.reaction)
    assert found.duration_ms == pytest.approx(3000, abs=100)
    assert (found.width, found.height) == (720, 1280)
    assert found.video_codec == "h264" and found.pix_fmt == "yuv420p"
    assert found.has_audio and found.audio_codec == "aac"
    assert decodes(clips.reaction)
    assert 10_000 < clips.reaction.stat().st_size < 5_000_000


def test_music_track(clips: SeedClips) -> None:
    found = probe(clips.music)
    assert found.duration_ms == pytest.approx(12000, abs=100)
    assert found.has_audio and not found.has_video
    assert found.audio_codec == "aac" and found.channels == 2 and found.sample_rate == 44100
    assert "m4a" in found.format_name.split(",")
    assert 10_000 < clips.music.stat().st_size < 1_000_000


def test_app_demo(clips: SeedClips) -> None:
    found = probe(clips.app_demo)
    assert found.duration_ms == pytest.approx(6000, abs=100)
    assert (found.width, found.height) == (720, 1280)
    assert found.video_codec == "h264" and found.frame_rate == pytest.approx(30)
    assert decodes(clips.app_demo)
    atoms = _atoms(clips.app_demo.read_bytes())
    assert atoms.index("moov") < atoms.index("mdat")  # +faststart


def test_clips_are_quick_to_make(clips: SeedClips) -> None:
    # Each is meant to take well under 2 s; the bound leaves room for a busy machine.
    assert all(seconds < 6 for seconds in clips.seconds.values()), clips.seconds


def test_no_temp_files_left(clips: SeedClips) -> None:
    assert sorted(p.name for p in clips.reaction.parent.iterdir()) == ["demo.mp4", "music.m4a", "reaction.mp4"]
