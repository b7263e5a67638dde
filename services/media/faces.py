"""Where the on-camera face is in a reaction clip, so the renderer can keep the hook off it.

OpenCV's bundled frontal-face Haar cascade runs on a few small grey frames spread over the clip. The
face box is the union of the detections that agree with the median one (a reacting face moves; a
stray false hit elsewhere does not count), widened to take in hair and chin, as fractions of the frame.
No face in enough frames: None, and the hook goes where it would go on any clip.
"""

from __future__ import annotations

import functools
import logging
import statistics
import subprocess
from pathlib import Path

import cv2
import numpy as np

from common.ffmpeg import ffmpeg_path

log = logging.getLogger("layers.media.faces")

Fractions = tuple[float, float, float, float]  # x, y, width, height of the frame

SAMPLE_WIDTH = 360  # detection width: the cascade's smallest face is 24 px, a phone clip's is far larger
SAMPLES = 12
MIN_HIT_SHARE = 0.25  # a face seen in fewer of the samples than this is taken for a false hit
MIN_FACE_SHARE = 0.08  # of the frame width: smaller "faces" are texture, not the influencer
PAD_X, PAD_TOP, PAD_BOTTOM = 0.1, 0.2, 0.1  # of the detected box: hair above, chin below it
DETECT_TIMEOUT_SECONDS = 60.0


@functools.cache
def _cascade() -> cv2.CascadeClassifier:
    cascades = Path(cv2.data.haarcascades)  # type: ignore[attr-defined]  # the stubs miss cv2.data
    return cv2.CascadeClassifier(str(cascades / "haarcascade_frontalface_default.xml"))


def sample_frames(path: Path, duration_seconds: float, width: int, height: int) -> list[np.ndarray]:
    """SAMPLES grey frames spread evenly over the clip, SAMPLE_WIDTH wide."""
    out_h = max(2, round(height * SAMPLE_WIDTH / max(1, width) / 2) * 2)
    rate = SAMPLES / max(duration_seconds, 0.1)
    cmd = [ffmpeg_path(), "-v", "error", "-nostdin", "-i", str(path), "-map", "0:v:0"]
    cmd += ["-vf", f"fps={rate:.4f},scale={SAMPLE_WIDTH}:{out_h},format=gray", "-frames:v", str(SAMPLES)]
    cmd += ["-f", "rawvideo", "-"]
    done = subprocess.run(cmd, capture_output=True, timeout=DETECT_TIMEOUT_SECONDS, check=False)
    frame_bytes = SAMPLE_WIDTH * out_h
    if done.returncode != 0 or len(done.stdout) < frame_bytes:
        return []
    count = len(done.stdout) // frame_bytes
    return list(np.frombuffer(done.stdout[: count * frame_bytes], np.uint8).reshape(count, out_h, SAMPLE_WIDTH))


def largest_face(frame: np.ndarray) -> tuple[int, int, int, int] | None:
    """x, y, w, h in pixels of the biggest face the cascade finds in one grey frame."""
    smallest = max(24, round(frame.shape[1] * MIN_FACE_SHARE))
    found = _cascade().detectMultiScale(cv2.equalizeHist(frame), 1.05, 3, minSize=(smallest, smallest))
    if len(found) == 0:
        return None
    x, y, w, h = max(found, key=lambda box: box[2] * box[3])
    return int(x), int(y), int(w), int(h)


def face_box_of(frames: list[np.ndarray]) -> Fractions | None:
    """The union of the agreeing detections, padded and clamped to the frame, as fractions."""
    hits = [box for box in map(largest_face, frames) if box is not None]
    needed = max(1, round(len(frames) * MIN_HIT_SHARE))
    if len(hits) < needed:
        return None
    cx = statistics.median(x + w / 2 for x, _, w, _ in hits)
    cy = statistics.median(y + h / 2 for _, y, _, h in hits)
    size = statistics.median(w for _, _, w, _ in hits)
    agreeing = [b for b in hits if abs(b[0] + b[2] / 2 - cx) <= size / 2 and abs(b[1] + b[3] / 2 - cy) <= size / 2]
    if len(agreeing) < needed:  # hits scattered over the frame: no one face
        return None
    left = min(x for x, _, _, _ in agreeing)
    top = min(y for _, y, _, _ in agreeing)
    right = max(x + w for x, _, w, _ in agreeing)
    bottom = max(y + h for _, y, _, h in agreeing)
    fh, fw = frames[0].shape
    x0, x1 = max(0.0, left - PAD_X * size), min(fw, right + PAD_X * size)
    y0, y1 = max(0.0, top - PAD_TOP * size), min(fh, bottom + PAD_BOTTOM * size)
    return x0 / fw, y0 / fh, (x1 - x0) / fw, (y1 - y0) / fh


def detect_face_box(path: Path, duration_ms: int, width: int, height: int) -> Fractions | None:
    """The face box of a clip, or None when no face is seen in it (or it cannot be read)."""
    try:
        frames = sample_frames(path, duration_ms / 1000, width, height)
    except subprocess.TimeoutExpired:
        log.warning("face detection timed out on %s", path.name)
        return None
    return face_box_of(frames)
