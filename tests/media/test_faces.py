"""The face box media stores with a reaction template: found on a face, absent without one."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.media.faces import detect_face_box
from services.media.seed_clips import make_reaction_clip
from tests.renderer import clips


@pytest.mark.parametrize("variant", range(5))  # every skin tone and every background palette
def test_the_stand_in_influencer_s_face_is_found_where_it_is_drawn(tmp_path: Path, variant: int) -> None:
    clip = make_reaction_clip(tmp_path / "reaction.mp4", seconds=1.0, width=720, height=1280, variant=variant)
    box = detect_face_box(clip, 1000, 720, 1280)
    assert box is not None
    x, y, w, h = box
    # seed_clips draws the head 0.44 of the width wide, centred, from 0.24 of the height down for 0.29.
    assert x < 0.28 and x + w > 0.72 and y < 0.26 and y + h > 0.5
    assert w < 0.9 and h < 0.6  # a face, not the whole frame
    assert x >= 0 and y >= 0 and x + w <= 1 and y + h <= 1


def test_a_clip_without_a_face_has_no_face_box(tmp_path: Path) -> None:
    clip = clips.make_video(tmp_path / "testsrc.mp4", 720, 1280, 1.5)
    assert detect_face_box(clip, 1500, 720, 1280) is None
