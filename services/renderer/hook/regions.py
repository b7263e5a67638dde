"""Where in the frame a hook may go: the platforms' safe zone, clear of the on-camera face."""

from __future__ import annotations

import math

# Fractions of the frame no text pixel may touch, from each edge: the platforms' status bar on top, their
# caption and buttons at the bottom and down the right; the left only needs breathing room.
SAFE_LEFT, SAFE_TOP, SAFE_RIGHT, SAFE_BOTTOM = 0.06, 0.10, 0.15, 0.20
FACE_GAP = 0.015  # of the frame height kept clear between the face box and the hook
HOOK_CENTER_Y = 0.36  # upper-middle, where no face box is known

Box = tuple[int, int, int, int]  # left, top, right, bottom in pixels, right and bottom exclusive


def safe_box(width: int, height: int) -> Box:
    """left, top, right, bottom of the area text may touch."""
    return (
        math.ceil(width * SAFE_LEFT),
        math.ceil(height * SAFE_TOP),
        width - math.ceil(width * SAFE_RIGHT),
        height - math.ceil(height * SAFE_BOTTOM),
    )


def hook_region(width: int, height: int, face: Box | None) -> Box | None:
    """Where the hook goes: the taller band of the safe zone above or below the face (None: no face known,
    the whole zone). A face filling the zone still leaves the taller sliver; the hook shrinks into it."""
    if face is None:
        return None
    left, top, right, bottom = safe_box(width, height)
    gap = math.ceil(height * FACE_GAP)
    above = (left, top, right, max(top, min(bottom, face[1] - gap)))
    below = (left, min(bottom, max(top, face[3] + gap)), right, bottom)
    return above if above[3] - above[1] >= below[3] - below[1] else below
