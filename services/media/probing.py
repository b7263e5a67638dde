"""Deciding whether a file is what a caller says it is: a video, an image or an audio track.

Each check returns what ffprobe measured, or raises a VALIDATION ServiceError whose `reason` says why the
file was refused (NOT_A_VIDEO, UNSUPPORTED_CONTAINER, UNDECODABLE, EMPTY_FILE, NOT_AN_IMAGE, NOT_AUDIO).
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from common.errors import ServiceError, invalid
from common.ffmpeg import ProbeError, ProbeResult, decodes, ffmpeg_path, probe

# ffprobe names a container by every alias it answers to, e.g. "mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm".
VIDEO_CONTAINERS = frozenset({"mov", "mp4", "matroska", "webm"})
IMAGE_CODECS = frozenset({"png", "mjpeg", "webp", "gif"})
# Blob files have no extension, so images come through the *_pipe demuxers (gif has its own).
IMAGE_FORMATS = frozenset({"png_pipe", "jpeg_pipe", "webp_pipe", "gif", "image2", "webp"})


@dataclass(frozen=True)
class Measured:
    duration_ms: int
    width: int
    height: int
    has_audio: bool
    has_video: bool
    format_name: str


def refused(reason: str, message: str) -> ServiceError:
    return invalid(message, field="file", reason=reason)


def _probed(path: Path, size_bytes: int, reason: str, message: str) -> ProbeResult:
    """What ffprobe finds in a non-empty file; refused with `reason` and `message` when it finds nothing."""
    if size_bytes == 0:
        raise refused("EMPTY_FILE", "The file is empty.")
    try:
        return probe(path)
    except ProbeError as exc:
        raise refused(reason, message) from exc


def check_video(path: Path, size_bytes: int) -> Measured:
    """An MP4, QuickTime or WebM file whose video stream decodes from start to end."""
    found = _probed(path, size_bytes, "NOT_A_VIDEO", "The file is not a video.")
    if _is_image(found):
        raise refused("NOT_A_VIDEO", "The file is an image, not a video.")
    if not found.has_video:
        raise refused("NOT_A_VIDEO", "The file has no video stream.")
    if not VIDEO_CONTAINERS & set(found.format_name.split(",")):
        raise refused("UNSUPPORTED_CONTAINER", "Only MP4, QuickTime and WebM videos are accepted.")
    if not decodes(path) or not _demuxes_cleanly(path):
        raise refused("UNDECODABLE", "The video cannot be decoded; the file may be truncated or corrupt.")
    return _measured(found)


def check_image(path: Path, size_bytes: int) -> Measured:
    """A PNG, JPEG, WebP or GIF image that decodes."""
    found = _probed(path, size_bytes, "NOT_AN_IMAGE", "The file is not an image.")
    if not _is_image(found):
        raise refused("NOT_AN_IMAGE", "The file is not a PNG, JPEG, WebP or GIF image.")
    if not decodes(path):
        raise refused("UNDECODABLE", "The image cannot be decoded; the file may be truncated or corrupt.")
    measured = _measured(found)
    # A still has no duration; only an animated GIF keeps the one ffprobe measured.
    if found.video_codec != "gif":
        measured = Measured(0, measured.width, measured.height, False, True, measured.format_name)
    return measured


def check_audio(path: Path, size_bytes: int) -> Measured:
    """A file with an audio stream that decodes."""
    found = _probed(path, size_bytes, "NOT_AUDIO", "The file is not an audio file.")
    if not found.has_audio:
        raise refused("NOT_AUDIO", "The file has no audio stream.")
    if not _audio_decodes(path) or not _demuxes_cleanly(path):
        raise refused("UNDECODABLE", "The audio cannot be decoded; the file may be truncated or corrupt.")
    return _measured(found)


def _is_image(found: ProbeResult) -> bool:
    return found.video_codec in IMAGE_CODECS and found.format_name in IMAGE_FORMATS


def _measured(found: ProbeResult) -> Measured:
    return Measured(
        duration_ms=found.duration_ms,
        width=found.width,
        height=found.height,
        has_audio=found.has_audio,
        has_video=found.has_video,
        format_name=found.format_name,
    )


def _ffmpeg_ok(args: list[str], timeout: float) -> bool:
    cmd = [ffmpeg_path(), "-v", "error", "-nostdin", "-xerror", *args]
    try:
        done = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return False
    return done.returncode == 0


def _demuxes_cleanly(path: Path) -> bool:
    # A truncated file with its index up front still decodes its first frame; reading every packet
    # (no decoding, so it costs I/O only) finds the missing tail.
    return _ffmpeg_ok(["-i", str(path), "-map", "0:v?", "-map", "0:a?", "-c", "copy", "-f", "null", "-"], 120)


def _audio_decodes(path: Path) -> bool:
    return _ffmpeg_ok(["-i", str(path), "-map", "0:a:0", "-t", "1", "-f", "null", "-"], 60)
