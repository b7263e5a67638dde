"""The composition core: template + hook, then the app demo, under music, in one ffmpeg pass.

Pure function on local files: `compose(inputs, workdir)` probes the inputs, draws the hook to a PNG,
measures the mix's loudness (audio-only ffmpeg passes), runs ONE ffmpeg that writes the MP4 and the
thumbnail, and measures the result with ffprobe and sha256. No queue, no gRPC: the worker does that.

Output: 1080×1920, 30 fps CFR, H.264 yuv420p, AAC 48 kHz stereo, MP4 with the index first.
Segment one is the template filling the frame (scaled and cropped, never stretched) with the hook on
it, in the platforms' safe zone and clear of the template's face box; segment two is the demo fitted
into 9:16 over a blurred, darkened copy of itself, capped at demo_cap_seconds. Music loops or is
trimmed to the whole length, fades out over the last second and is ducked under the template's and the
demo's own audio where they have any. The mix is normalised to -14 LUFS integrated (what TikTok, Reels
and Shorts play at) with true peaks under -1 dBTP: ebur128 measures the mix in an audio-only pass, and
the render applies one gain; where that gain would push the peaks over, a true-peak limiter follows it,
and the limited mix is measured again (it lost loudness where the limiter worked), a few times at most,
until the gain lands; if none does, the measured gain that came nearest is kept. A mix that peaks near
the ceiling is also encoded to AAC as the render will encode it, since AAC overshoots noise bursts: the
limiter's ceiling drops by what it overshot (twice at most), and then a last cut after the limiter.
The thumbnail is a frame of segment one: the hook on the template, as a feed shows it.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import os
import re
import shutil
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from common.ffmpeg import ProbeError, ProbeResult, decodes, ensure_runnable, ffmpeg_path, probe
from common.settings import ConfigError, render_tools
from services.renderer.hook.draw import HookPng, write_hook_png
from services.renderer.hook.regions import Box

log = logging.getLogger("layers.renderer")

WIDTH, HEIGHT, FPS = 1080, 1920, 30
SAMPLE_RATE = 48000
THUMB_WIDTH, THUMB_HEIGHT = 540, 960
THUMB_AT_SECONDS = 0.5
FADE_OUT_SECONDS = 1.0
MUSIC_UNDER_VOICE = 0.25  # music volume while the template's or the demo's own audio plays
MUSIC_ALONE = 0.85  # music volume where nothing else plays
MUSIC_RAMP_SECONDS = 0.5
# The demo's backdrop is blurred at 1/7.5 of the frame and scaled up bilinearly: a blur looks the same at
# any resolution, and this costs a fiftieth of blurring at full size.
BLUR_WIDTH, BLUR_HEIGHT, BLUR_SIGMA = 144, 256, 5
# It changes 3 times a second (each frame shown ten times): motion in a blur that wide reads the same, and
# the encoder skips the repeated blocks. Each change costs x264 a P-frame's worth of the bands: at 5 a
# second they were ~9% of the render's CPU, at 3 ~5%. The demo itself keeps every frame.
BACKDROP_FPS = 3
BACKDROP_LUT = "y=val*0.72:u=128+(val-128)*0.8:v=128+(val-128)*0.8"  # darker, less saturated
# Loudness the platforms normalise to; the peak ceiling sits below -1 dBTP to leave AAC's overshoot room.
TARGET_LUFS, TARGET_TRUE_PEAK = -14.0, -1.5
# ebur128 reports nothing quieter than this (silence, and anything under 400 ms, measure exactly it): such
# a mix is left as it is, since no gain can be measured to work.
SILENCE_LUFS = -70.0
# The limited mix must land this close to the target (the platforms' window is ±1 LU); each correction
# is one more audio-only pass, and there are at most this many (spiky music takes three, bursts more).
LOUDNESS_TOLERANCE, LIMITED_PASSES = 0.5, 6
# Bounds on the gain: in all, and per correction (a limiter flattening bursts lets loudness grow far slower
# than the gain, so a correction divides what it missed by the growth it measured, within these).
MAX_GAIN_DB, MAX_CORRECTION_DB = 60.0, 12.0
# A true peak is the signal's peak between samples: the limiter works at 4× our rate to see it (as
# ebur128 measures it), looks 5 ms ahead and lets go over 100 ms (shorter pumps audibly). Its ceiling is
# lower still: a limited mix sits at it often, and AAC overshoots it there (~0.3 dB on music).
LIMITER_CEILING = TARGET_TRUE_PEAK - 0.5
# Short broadband bursts (hi-hats, noise) overshoot by more once AAC has encoded them: 1.4 dB over the
# ceiling was seen. A mix whose peaks come within ENCODED_CHECK_ROOM of ENCODED_PEAK_MAX is encoded as the
# render will encode it and measured again; where it overshoots, the ceiling drops by as much (the gain is
# found again, and encoded again), at most ENCODED_CHECKS times. Mixes with headroom, most music, skip it.
ENCODED_PEAK_MAX, ENCODED_CHECK_ROOM, ENCODED_CHECKS = -1.2, 1.5, 2
ENCODED_MARGIN_DB = 0.2  # taken off a lowered ceiling beyond the overshoot measured
# A keyframe at least this often: a seek decodes at most this much; fewer of them is a cheaper encode.
KEYFRAME_SECONDS = 4
POLL_SECONDS = 0.1  # how often should_stop is asked (the contract says at least every 0.25 s)
TERMINATE_GRACE_SECONDS = 0.8
STDERR_TAIL_LINES = 30
FFMPEG_PROGRESS_SHARE = 0.97  # the rest is thumbnail and measuring; 1.0 means done
MIME_TYPE = "video/mp4"

VIDEO_NAME = "video.mp4"
PARTIAL_NAME = ".video.partial.mp4"
THUMB_NAME = "thumbnail.jpg"
HOOK_NAME = ".hook.png"
ENCODED_MIX_NAME = ".mix.aac"


class ComposeFailure(Exception):
    """A render that did not produce a video. `permanent`: retrying the same inputs cannot help. (A
    machine without its fonts or ffmpeg raises common.settings.ConfigError instead: no input's fault.)"""

    permanent = False


class ComposeError(ComposeFailure):
    """ffmpeg (or the machine) failed; the message carries the last stderr lines."""


class ComposeInputError(ComposeFailure):
    """An input ffmpeg cannot read or decode; the message names which one."""

    permanent = True

    def __init__(self, input_name: str, message: str) -> None:
        super().__init__(f"{input_name}: {message}")
        self.input_name = input_name


class ComposeCanceled(Exception):
    """should_stop said stop; ffmpeg was killed and no output was left behind."""


@dataclass(frozen=True)
class EncodeSettings:
    preset: str = "veryfast"
    crf: int = 21
    audio_bitrate: str = "160k"
    threads: int = os.cpu_count() or 1  # every core, for x264 and the filters


@dataclass(frozen=True)
class ComposeInputs:
    template_path: Path
    demo_path: Path
    music_path: Path | None
    hook: str | None = None
    language: str = "en"
    demo_cap_seconds: float = 20.0
    # The on-camera face in the template, as fractions (x, y, width, height) of its frame; None: unknown.
    face_box: tuple[float, float, float, float] | None = None
    # Probes the caller already has (media probes on upload); probed here when missing.
    template_probe: ProbeResult | None = None
    demo_probe: ProbeResult | None = None
    music_probe: ProbeResult | None = None
    encode: EncodeSettings = field(default_factory=EncodeSettings)


@dataclass(frozen=True)
class ComposeResult:
    video_path: Path
    thumbnail_path: Path
    duration_ms: int
    width: int
    height: int
    size_bytes: int
    checksum_sha256: str
    thumbnail_size_bytes: int
    thumbnail_checksum_sha256: str
    mime_type: str = MIME_TYPE


@dataclass(frozen=True)
class Plan:
    """What the filter graph needs to know of the inputs, in seconds."""

    template_seconds: float
    demo_seconds: float
    template_has_audio: bool
    has_music: bool
    template_sar: float | None  # non-square pixels to undo, None when square
    demo_sar: float | None
    demo_has_audio: bool = False
    template_pixels: tuple[int, int] = (WIDTH, HEIGHT)  # width, height as stored (before the SAR)
    demo_pixels: tuple[int, int] = (WIDTH, HEIGHT)

    @property
    def total_seconds(self) -> float:
        return self.template_seconds + self.demo_seconds

    @property
    def template_size(self) -> tuple[int, int]:
        """As displayed: non-square pixels undone."""
        return displayed(self.template_pixels, self.template_sar)


# --- probing and planning ---------------------------------------------------------------------------


def probe_input(name: str, path: Path, known: ProbeResult | None, need_video: bool) -> ProbeResult:
    """Probe (unless the caller did) and check the input has what we need; ComposeInputError if not."""
    if not path.is_file():
        raise ComposeInputError(name, f"file not found: {path}")
    try:
        result = known or probe(path)
    except ProbeError as exc:
        raise ComposeInputError(name, f"not a media file ffmpeg can read ({exc})") from exc
    if need_video and not result.has_video:
        raise ComposeInputError(name, "has no video stream")
    if not need_video and not result.has_audio:
        raise ComposeInputError(name, "has no audio stream")
    if result.duration_ms <= 0:
        raise ComposeInputError(name, "has no duration")
    if need_video and not decodes(path):
        raise ComposeInputError(name, "ffmpeg cannot decode its video")
    return result


def sample_aspect(result: ProbeResult) -> float | None:
    """The video's pixel aspect when it is not square (anamorphic sources), else None."""
    streams: list[dict[str, Any]] = result.raw.get("streams", [])
    video = next((s for s in streams if s.get("codec_type") == "video"), {})
    num, _, den = str(video.get("sample_aspect_ratio", "1:1")).partition(":")
    try:
        ratio = float(num) / float(den)
    except (ValueError, ZeroDivisionError):
        return None
    return None if ratio <= 0 or abs(ratio - 1.0) < 1e-3 else ratio


def displayed(pixels: tuple[int, int], sar: float | None) -> tuple[int, int]:
    return max(1, round(pixels[0] * (sar or 1.0))), max(1, pixels[1])


def make_plan(template: ProbeResult, demo: ProbeResult, music: ProbeResult | None, cap: float) -> Plan:
    return Plan(
        template_seconds=template.duration_ms / 1000,
        demo_seconds=min(demo.duration_ms / 1000, cap),
        template_has_audio=template.has_audio,
        has_music=music is not None,
        template_sar=sample_aspect(template),
        demo_sar=sample_aspect(demo),
        demo_has_audio=demo.has_audio,
        template_pixels=(max(1, template.width), max(1, template.height)),
        demo_pixels=(max(1, demo.width), max(1, demo.height)),
    )


def face_in_frame(plan: Plan, face: tuple[float, float, float, float] | None) -> Box | None:
    """The template's face box (fractions of its frame) in output pixels, after the fill's scale and crop."""
    if face is None:
        return None
    tw, th = plan.template_size
    scale = max(WIDTH / tw, HEIGHT / th)
    off_x, off_y = (tw * scale - WIDTH) / 2, (th * scale - HEIGHT) / 2
    x, y, w, h = face
    left = max(0, math.floor(x * tw * scale - off_x))
    top = max(0, math.floor(y * th * scale - off_y))
    right = min(WIDTH, math.ceil((x + w) * tw * scale - off_x))
    bottom = min(HEIGHT, math.ceil((y + h) * th * scale - off_y))
    return (left, top, right, bottom) if left < right and top < bottom else None  # cropped away: none to avoid


# --- the ffmpeg command -----------------------------------------------------------------------------


def cover(pixels: tuple[int, int], sar: float | None, width: int, height: int, flags: str = "") -> str:
    """Fill width×height without stretching: crop the source's middle to that shape (in its own pixels,
    so non-square ones are undone by the one scale that follows), scale it, and stay in yuv420p."""
    w, h = pixels
    shown_w = w * (sar or 1.0)
    # yuv420p crops whole 2×2 blocks: an odd size is rounded down, so a 1 would be 0 (refused).
    if shown_w * height > h * width:  # wider than the frame: keep the full height
        w = max(2, min(w, round(h * width / height / (sar or 1.0))) // 2 * 2)
    else:
        h = max(2, min(h, round(shown_w * height / width)) // 2 * 2)
    return f"crop={w}:{h},scale={width}:{height}{flags},format=yuv420p,setsar=1"


def demo_rect(plan: Plan) -> tuple[int, int, int, int]:
    """Width, height, x and y of the demo fitted into the frame: even sizes and offsets (4:2:0 chroma),
    one side touching the frame's edges."""
    shown_w, shown_h = displayed(plan.demo_pixels, plan.demo_sar)
    scale = min(WIDTH / shown_w, HEIGHT / shown_h)
    w = min(WIDTH, max(2, round(shown_w * scale / 2) * 2))
    h = min(HEIGHT, max(2, round(shown_h * scale / 2) * 2))
    return w, h, (WIDTH - w) // 4 * 2, (HEIGHT - h) // 4 * 2


def _timed(seconds: float) -> str:
    """Exactly `seconds` of CFR frames from t=0: pad short streams with the last frame, cut long ones."""
    return f"tpad=stop_mode=clone:stop_duration={seconds:.3f},trim=duration={seconds:.3f},setpts=PTS-STARTPTS"


def thumbnail_at(plan: Plan) -> float:
    return min(THUMB_AT_SECONDS, plan.template_seconds / 2)  # inside the hook segment


def video_graph(plan: Plan, hook: HookPng | None, hook_input: int) -> list[str]:
    """[vout], the video, and [thumb], one frame of the hook segment at thumbnail size."""
    fill = cover(plan.template_pixels, plan.template_sar, WIDTH, HEIGHT)
    chains = [f"[0:v]setpts=PTS-STARTPTS,fps={FPS},{fill},{_timed(plan.template_seconds)}[tpl]"]
    if hook is not None:
        # The PNG is one image, decoded once and blended over its own box only (repeat its last frame).
        chains.append(f"[tpl][{hook_input}:v]overlay=x={hook.x}:y={hook.y}:eof_action=repeat[seg1]")
    else:
        chains.append("[tpl]null[seg1]")
    at_frame = round(thumbnail_at(plan) * FPS)
    chains += [
        "[seg1]split=2[seg1v][seg1t]",
        (
            f"[seg1t]trim=start_frame={at_frame}:end_frame={at_frame + 1},"
            f"scale={THUMB_WIDTH}:{THUMB_HEIGHT}:flags=lanczos,format=yuvj420p[thumb]"
        ),
        *demo_graph(plan),
        "[seg1v][seg2]concat=n=2:v=1:a=0[vout]",
    ]
    return chains


def demo_graph(plan: Plan) -> list[str]:
    """[seg2]: the demo fitted into the frame, scaled once (with a plain fit's default bicubic), beside or
    between bands of its blurred backdrop. Stacked, not overlaid: an overlay would blend every pixel of
    the opaque demo through an alpha plane the scaler made up for it."""
    w, h, x, y = demo_rect(plan)
    demo = f"[1:v]setpts=PTS-STARTPTS,fps={FPS},{_timed(plan.demo_seconds)}"
    fg = f"scale={w}:{h},format=yuv420p,setsar=1"
    if w == WIDTH:  # wider than 9:16: bands above and below
        stack, before, after = "vstack", (WIDTH, y, 0, 0), (WIDTH, HEIGHT - y - h, 0, y + h)
    else:  # narrower: bands left and right
        stack, before, after = "hstack", (x, HEIGHT, 0, 0), (WIDTH - x - w, HEIGHT, x + w, 0)
    bands = {name: band for name, band in (("before", before), ("after", after)) if band[0] > 0 and band[1] > 0}
    if not bands:
        return [f"{demo},{fg}[seg2]"]  # the demo fills the frame: no backdrop shows
    backdrop = (
        f"[dbg]fps={BACKDROP_FPS},{cover(plan.demo_pixels, plan.demo_sar, BLUR_WIDTH, BLUR_HEIGHT, ':flags=area')},"
        f"gblur=sigma={BLUR_SIGMA},lutyuv={BACKDROP_LUT},"
        f"scale={WIDTH}:{HEIGHT}:flags=bilinear,fps={FPS},{_timed(plan.demo_seconds)},"
        f"split={len(bands)}{''.join(f'[bg_{name}]' for name in bands)}"
    )
    crops = [f"[bg_{name}]crop={bw}:{bh}:{bx}:{by}[{name}]" for name, (bw, bh, bx, by) in bands.items()]
    order = "".join(f"[{name}]" for name in ("before", "fg", "after") if name == "fg" or name in bands)
    return [
        f"{demo},split=2[dfg][dbg]",
        backdrop,
        f"[dfg]{fg}[fg]",
        *crops,
        f"{order}{stack}=inputs={len(bands) + 1}[seg2]",
    ]


@dataclass(frozen=True)
class Loudness:
    """What ebur128 measured of a mix: integrated loudness (LUFS) and true peak (dBTP)."""

    integrated: float
    true_peak: float


def limiter(ceiling: float) -> str:
    return (
        f"aresample={4 * SAMPLE_RATE},"
        f"alimiter=limit={10 ** (ceiling / 20):.4f}:attack=5:release=100:level=false:latency=true,"
        f"aresample={SAMPLE_RATE}"
    )


@dataclass(frozen=True)
class Gain:
    """What the render does to the mix's level: `db` of gain, then, if `limited`, the true-peak limiter
    at `ceiling` dBTP, then `trim_db` (a last cut for peaks no lower ceiling kept down once encoded)."""

    db: float
    limited: bool
    ceiling: float = LIMITER_CEILING
    trim_db: float = 0.0

    def filters(self) -> str:
        limited = f",{limiter(self.ceiling)}" if self.limited else ""
        return f",volume={self.db:.2f}dB{limited}" + (f",volume={self.trim_db:.2f}dB" if self.trim_db else "")


def _own_audio(plan: Plan) -> bool:
    return plan.template_has_audio or plan.demo_has_audio


def audio_graph(plan: Plan, music_input: int, gain: Gain | None, measuring: bool = False) -> list[str]:
    """[aout]: the template's and the demo's own audio in sequence, the music under them, brought to the
    target by `gain`; `measuring` ends in an ebur128 that prints what it measured of the result."""
    t1, d, total = plan.template_seconds, plan.demo_seconds, plan.total_seconds
    to_stereo = f"aresample={SAMPLE_RATE},aformat=sample_fmts=fltp:sample_rates={SAMPLE_RATE}:channel_layouts=stereo"
    silence = f"anullsrc=r={SAMPLE_RATE}:cl=stereo"
    chains: list[str] = []
    labels: list[str] = []
    if _own_audio(plan):
        for label, index, seconds, has in (("va", 0, t1, plan.template_has_audio), ("vb", 1, d, plan.demo_has_audio)):
            source = f"[{index}:a]asetpts=PTS-STARTPTS,{to_stereo}," if has else f"{silence},"
            chains.append(f"{source}apad=whole_dur={seconds:.3f},atrim=duration={seconds:.3f}[{label}]")
        chains.append("[va][vb]concat=n=2:v=0:a=1[voice]")
        labels.append("[voice]")
    if plan.has_music:
        fade = min(FADE_OUT_SECONDS, total)
        chains.append(
            f"[{music_input}:a]asetpts=PTS-STARTPTS,{to_stereo},atrim=duration={total:.3f},"
            f"volume='{music_volume(plan)}':eval=frame,"
            f"afade=t=out:st={total - fade:.3f}:d={fade:.3f}[music]"
        )
        labels.append("[music]")
    if not labels:
        chains.append(f"{silence},atrim=duration={total:.3f}[aout]")
        return chains
    # Summed, not averaged: the voice keeps its level over the ducked music; the gain sets the level after.
    mix = "anull" if len(labels) == 1 else "amix=inputs=2:duration=first:dropout_transition=0:normalize=0"
    level = gain.filters() if gain is not None else ""
    meter = ",ebur128=peak=true:framelog=quiet" if measuring else ""
    chains.append(f"{''.join(labels)}{mix}{level}{meter}[aout]")
    return chains


def music_volume(plan: Plan) -> str:
    """Ducked where the segment has its own audio, full where it has none; half a second between them."""
    first = MUSIC_UNDER_VOICE if plan.template_has_audio else MUSIC_ALONE
    second = MUSIC_UNDER_VOICE if plan.demo_has_audio else MUSIC_ALONE
    if first == second:
        return f"{first}"
    return f"{first}+{second - first:.3f}*clip((t-{plan.template_seconds:.3f})/{MUSIC_RAMP_SECONDS},0,1)"


_INTEGRATED = re.compile(r"\bI:\s*(-?[\d.]+|-inf) LUFS")
_TRUE_PEAK = re.compile(r"\bPeak:\s*(-?[\d.]+|-inf) dBFS")


def parse_loudness(stderr: list[str]) -> Loudness | None:
    """The integrated loudness and true peak of ebur128's summary (the last one printed); None when
    there is none."""
    text = "\n".join(stderr)
    summary = text[text.rfind("Summary:") :] if "Summary:" in text else ""
    integrated, peak = _INTEGRATED.search(summary), _TRUE_PEAK.search(summary)
    if integrated is None or peak is None:
        return None
    return Loudness(float(integrated.group(1)), float(peak.group(1)))


def _input_args(
    inputs: ComposeInputs, plan: Plan, hook: HookPng | None, audio_only: bool = False
) -> tuple[list[str], int, int]:
    """-i arguments, the music's input index and the hook's (-1 when absent). `audio_only`: the clips'
    video is not even read (-vn), for the passes that measure the mix."""
    skip_video = ["-vn"] if audio_only else []
    args = [*skip_video, "-i", str(inputs.template_path)]
    args += [*skip_video, "-t", f"{plan.demo_seconds:.3f}", "-i", str(inputs.demo_path)]  # no more than the cap
    next_input = 2
    music_input = hook_input = -1
    if plan.has_music and inputs.music_path is not None:
        args += ["-stream_loop", "-1", "-i", str(inputs.music_path)]  # loops short tracks; trimmed below
        music_input, next_input = next_input, next_input + 1
    if hook is not None:
        args += ["-i", str(hook.path)]
        hook_input = next_input
    return args, music_input, hook_input


def _pass_start(loglevel: str) -> list[str]:
    """The start of every audio-only pass' command: no banner, no stdin, no stats, log lines levelled."""
    return [ffmpeg_path(), "-hide_banner", "-nostdin", "-nostats", "-loglevel", f"level+{loglevel}"]


def measure_command(inputs: ComposeInputs, plan: Plan, gain: Gain | None) -> list[str]:
    """A measuring pass: the audio mix alone, after `gain`, measured by ebur128 (which prints at info)."""
    args, music_input, _ = _input_args(inputs, plan, None, audio_only=True)
    graph = audio_graph(plan, music_input, gain, measuring=True)
    cmd = [*_pass_start("info"), *args]
    return [*cmd, "-filter_complex", ";".join(graph), "-map", "[aout]", "-f", "null", "-"]


def codec_args(encode: EncodeSettings) -> list[str]:
    """The encoders and their settings (bench/render.py gives its plain encode the same ones)."""
    args = ["-threads", str(encode.threads)]
    args += ["-c:v", "libx264", "-preset", encode.preset, "-crf", str(encode.crf), "-profile:v", "high"]
    args += ["-pix_fmt", "yuv420p", "-r", str(FPS), "-fps_mode", "cfr", "-g", str(FPS * KEYFRAME_SECONDS)]
    return [*args, *audio_codec_args(encode)]


def audio_codec_args(encode: EncodeSettings) -> list[str]:
    return ["-c:a", "aac", "-b:a", encode.audio_bitrate, "-ar", str(SAMPLE_RATE), "-ac", "2"]


def encode_mix_command(inputs: ComposeInputs, plan: Plan, gain: Gain, output: Path) -> list[str]:
    """The audio mix alone, after `gain`, encoded as the render encodes it (raw AAC, no container)."""
    args, music_input, _ = _input_args(inputs, plan, None, audio_only=True)
    cmd = [*_pass_start("error"), "-y", *args]
    cmd += ["-filter_complex", ";".join(audio_graph(plan, music_input, gain)), "-map", "[aout]"]
    return [*cmd, *audio_codec_args(inputs.encode), "-f", "adts", str(output)]


def measure_file_command(path: Path) -> list[str]:
    """ebur128 over one file's audio."""
    cmd = [*_pass_start("info"), "-i", str(path)]
    return [*cmd, "-af", "ebur128=peak=true:framelog=quiet", "-f", "null", "-"]


def build_command(
    inputs: ComposeInputs,
    plan: Plan,
    hook: HookPng | None,
    output: Path,
    encode: EncodeSettings,
    thumbnail: Path,
    gain: Gain | None = None,
) -> list[str]:
    args = [ffmpeg_path(), "-hide_banner", "-nostdin", "-y", "-v", "error", "-progress", "pipe:1", "-nostats"]
    inputs_args, music_input, hook_input = _input_args(inputs, plan, hook)
    args += inputs_args
    # Two graphs: ffmpeg runs each in its own thread, so the audio is filtered beside the video.
    args += ["-filter_complex", ";".join(video_graph(plan, hook, hook_input))]
    args += ["-filter_complex", ";".join(audio_graph(plan, music_input, gain))]
    args += ["-filter_complex_threads", str(encode.threads)]
    args += ["-map", "[vout]", "-map", "[aout]", *codec_args(encode)]
    args += ["-t", f"{plan.total_seconds:.3f}", "-movflags", "+faststart", "-f", "mp4", str(output)]
    args += ["-map", "[thumb]", "-frames:v", "1", "-q:v", "3", "-update", "1", "-f", "image2", str(thumbnail)]
    return args


# --- running ffmpeg ---------------------------------------------------------------------------------


def parse_progress_line(line: str) -> int | None:
    """Microseconds of output written, from `-progress` lines (out_time_ms is microseconds too)."""
    key, _, value = line.strip().partition("=")
    if key not in ("out_time_us", "out_time_ms"):
        return None
    try:
        return max(0, int(value))
    except ValueError:
        return None  # "N/A" before the first frame


class ProgressTracker:
    """Turns ffmpeg's out_time into a fraction that only ever goes up."""

    def __init__(self, total_seconds: float, share: float, callback: Callable[[float], None] | None) -> None:
        self._total_us = max(1.0, total_seconds * 1_000_000)
        self._share = share
        self._callback = callback
        self.reported = 0.0

    def update(self, out_time_us: int) -> None:
        self.report(min(1.0, out_time_us / self._total_us) * self._share)

    def report(self, fraction: float) -> None:
        fraction = min(1.0, max(0.0, fraction))
        if fraction > self.reported:
            self.reported = fraction
            if self._callback is not None:
                self._callback(fraction)


def _pump(stream: Iterable[bytes], sink: Callable[[str], None]) -> None:
    for raw in stream:
        sink(raw.decode("utf-8", errors="replace").rstrip("\n"))


def _dies_with_parent(cmd: list[str]) -> list[str]:
    """Have Linux kill ffmpeg when the renderer dies, even by SIGKILL, so a crash leaves no orphan encoder
    (the message is redelivered and rendered again). util-linux's setpriv sets the parent-death signal
    and execs ffmpeg; a preexec_fn would do the same but forces a fork() under gRPC's threads."""
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "KILL", "--", *cmd] if setpriv else cmd


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Terminate, then kill: the caller wants it gone now, not a tidy trailer."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=TERMINATE_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run_ffmpeg(
    cmd: list[str],
    tracker: ProgressTracker | None,
    should_stop: Callable[[], bool] | None,
) -> tuple[int, list[str]]:
    """Run ffmpeg, reporting progress and polling should_stop; (exit code, last stderr lines). One that
    runs past LAYERS_FFMPEG_DEADLINE_SECONDS is killed: a ComposeError, which a retry may mend."""
    # setpriv would start and then fail to exec a missing ffmpeg: that reads as a failed render, not as
    # the misconfiguration it is.
    ensure_runnable("LAYERS_FFMPEG", cmd[0])
    deadline_seconds = render_tools().ffmpeg_deadline_seconds
    latest_us = [0]
    tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)

    def on_stdout(line: str) -> None:
        value = parse_progress_line(line)
        if value is not None:
            latest_us[0] = max(latest_us[0], value)

    proc = subprocess.Popen(
        _dies_with_parent(cmd),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    readers = [
        threading.Thread(target=_pump, args=(proc.stdout, on_stdout), daemon=True),
        threading.Thread(target=_pump, args=(proc.stderr, tail.append), daemon=True),
    ]
    for reader in readers:
        reader.start()
    deadline = time.monotonic() + deadline_seconds
    try:
        while True:
            try:
                proc.wait(timeout=POLL_SECONDS)
                break
            except subprocess.TimeoutExpired:
                pass
            if should_stop is not None and should_stop():
                _stop(proc)
                raise ComposeCanceled("render canceled")
            if time.monotonic() > deadline:
                _stop(proc)
                raise ComposeError(
                    f"ffmpeg ran past its {deadline_seconds:g} s deadline (LAYERS_FFMPEG_DEADLINE_SECONDS), stopped"
                )
            if tracker is not None:
                tracker.update(latest_us[0])
    finally:
        _stop(proc)  # also on KeyboardInterrupt or a callback that raised: never orphan ffmpeg
        for reader in readers:
            reader.join(timeout=2)
    if tracker is not None and proc.returncode == 0:
        tracker.update(latest_us[0])
    return proc.returncode, list(tail)


# ffmpeg tags what it says of an input with the input's index: "[in#1/mov,mp4,...", "[vist#1:0/h264 ...".
_INPUT_TAG = re.compile(r"\[(?:in|vist|aist)#(\d+)")
# Said of an input that ffmpeg read to the end without failing: a truncated or damaged file.
_DAMAGE_MARKERS = ("partial file", "Decoding error", "Invalid data found", "corrupt")


def blamed_input(line: str, named_inputs: dict[str, Path]) -> str | None:
    """Which of our inputs an ffmpeg stderr line is about, if any."""
    names = list(named_inputs)
    match = _INPUT_TAG.search(line)
    if match and int(match.group(1)) < len(names):
        return names[int(match.group(1))]
    return next((name for name, path in named_inputs.items() if str(path) in line), None)


def classify_failure(code: int, stderr: list[str], named_inputs: dict[str, Path]) -> ComposeFailure:
    """An error naming one of our inputs is that input's fault (permanent); anything else is ours."""
    for line in stderr:
        name = blamed_input(line, named_inputs)
        if name is not None:
            return ComposeInputError(name, f"ffmpeg could not decode it: {line.strip()}")
    # The cause comes first; what follows is every output and thread reporting that it stopped.
    first = "\n".join(stderr[:12]) or "(no output)"
    return ComposeError(f"ffmpeg exited with {code}:\n{first}")


def damaged_input(stderr: list[str], named_inputs: dict[str, Path]) -> ComposeInputError | None:
    """ffmpeg pads over a truncated or broken input and exits 0; we would rather say so."""
    for line in stderr:
        name = blamed_input(line, named_inputs)
        if name is not None and any(marker in line for marker in _DAMAGE_MARKERS):
            return ComposeInputError(name, f"damaged or truncated: {line.strip()}")
    return None


# --- measuring --------------------------------------------------------------------------------------


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _remove(*paths: Path) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


# --- the entry point --------------------------------------------------------------------------------


def compose(
    inputs: ComposeInputs,
    workdir: Path,
    on_progress: Callable[[float], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> ComposeResult:
    """Render one video into workdir (video.mp4 + thumbnail.jpg); see the module doc for the shape."""
    workdir.mkdir(parents=True, exist_ok=True)
    names = (VIDEO_NAME, PARTIAL_NAME, THUMB_NAME, HOOK_NAME, ENCODED_MIX_NAME)
    video, partial, thumb, hook_png, encoded_mix = (workdir / n for n in names)
    tracker = ProgressTracker(0.0, FFMPEG_PROGRESS_SHARE, on_progress)
    finished = False
    try:
        # Probing waits on ffprobe and ffmpeg, the loudness passes on ffmpeg, the hook is drawn in Python:
        # side by side, they take the wall time of the longest, not the sum.
        with ThreadPoolExecutor(max_workers=3) as pool:
            known = {"template": inputs.template_probe, "demo": inputs.demo_probe, "music": inputs.music_probe}
            probing = {
                name: pool.submit(probe_input, name, path, known[name], name != "music")
                for name, path in _named_inputs(inputs).items()
            }
            probed = {name: job.result() for name, job in probing.items()}  # in input order: blames the first
            plan = make_plan(probed["template"], probed["demo"], probed.get("music"), inputs.demo_cap_seconds)
            drawing = pool.submit(_hook_png, inputs, plan, hook_png)
            try:
                gain = loudness_gain(inputs, plan, should_stop, encoded_mix)
            except Exception:
                # A hook that cannot be drawn (no font: a ConfigError, the renderer's own fault) says so
                # before a loudness pass's failure, which a retry may mend.
                if isinstance(drawing.exception(), ConfigError):
                    drawing.result()
                raise
            hook = drawing.result()
        tracker = ProgressTracker(plan.total_seconds, FFMPEG_PROGRESS_SHARE, on_progress)
        cmd = build_command(inputs, plan, hook, partial, inputs.encode, thumb, gain)
        code, stderr = run_ffmpeg(cmd, tracker, should_stop)
        if code != 0 or not partial.is_file() or not thumb.is_file():
            raise classify_failure(code, stderr, _named_inputs(inputs))
        damaged = damaged_input(stderr, _named_inputs(inputs))
        if damaged is not None:
            raise damaged
        os.replace(partial, video)
        result = _measure(video, thumb)
        finished = True
    finally:
        _remove(partial, hook_png, encoded_mix)
        if not finished:
            _remove(video, thumb)
    tracker.report(1.0)
    return result


def _named_inputs(inputs: ComposeInputs) -> dict[str, Path]:
    """Input names in ffmpeg's input order (the hook PNG is ours, never the partner's fault)."""
    named = {"template": inputs.template_path, "demo": inputs.demo_path}
    if inputs.music_path is not None:
        named["music"] = inputs.music_path
    return named


def _hook_png(inputs: ComposeInputs, plan: Plan, path: Path) -> HookPng | None:
    if not inputs.hook or not inputs.hook.strip():
        return None
    face = face_in_frame(plan, inputs.face_box)
    return write_hook_png(inputs.hook, inputs.language, path, WIDTH, HEIGHT, face=face)  # no font: ConfigError


def loudness_gain(
    inputs: ComposeInputs, plan: Plan, should_stop: Callable[[], bool] | None, scratch: Path
) -> Gain | None:
    """The gain that brings the mix to the target. One gain where the peaks stay under the ceiling.
    Otherwise the limiter follows it and takes loudness away where it works (spiky audio loses most of
    its measured loudness with its spikes), so the limited mix is measured and the gain raised by what
    it missed: the limiter never lets loudness grow faster than the gain, so this closes in from below.
    A mix that peaks near the ceiling is then checked as AAC encodes it (`scratch` holds that encode)."""
    if not (plan.has_music or _own_audio(plan)):
        return None
    measured = _measure_mix(inputs, plan, None, should_stop)
    if measured.integrated <= SILENCE_LUFS:
        return None
    db = min(MAX_GAIN_DB, TARGET_LUFS - measured.integrated)
    gain = Gain(db, limited=measured.true_peak + db > TARGET_TRUE_PEAK)
    peak = measured.true_peak + db
    if gain.limited:
        gain, peak = _limited_gain(inputs, plan, gain, should_stop)
    if peak <= ENCODED_PEAK_MAX - ENCODED_CHECK_ROOM:
        return gain
    for lowered in range(ENCODED_CHECKS + 1):
        overshoot = _encoded_peak(inputs, plan, gain, scratch, should_stop) - ENCODED_PEAK_MAX
        if overshoot <= 0:
            return gain
        if lowered == ENCODED_CHECKS:
            break
        # The limiter's own ceiling, or the peak the unlimited mix reached, comes down by the overshoot.
        ceiling = (min(gain.ceiling, peak) if gain.limited else peak) - overshoot - ENCODED_MARGIN_DB
        gain, peak = _limited_gain(inputs, plan, Gain(gain.db, limited=True, ceiling=ceiling), should_stop)
    # Lower ceilings did not keep the encoded peaks down: the whole mix comes down by the overshoot, a
    # little quieter than the target rather than over the peak the platforms allow.
    trimmed = replace(gain, trim_db=-(overshoot + ENCODED_MARGIN_DB))
    if trimmed.trim_db < -1.0:
        log.warning("the encoded mix is trimmed %.1f dB under the target to keep its peaks down", -trimmed.trim_db)
    overshoot = _encoded_peak(inputs, plan, trimmed, scratch, should_stop) - ENCODED_PEAK_MAX
    if overshoot > 0:
        log.warning("the encoded mix still peaks %.1f dB over %.1f dBTP, trimmed", overshoot, ENCODED_PEAK_MAX)
    return trimmed


def _limited_gain(
    inputs: ComposeInputs, plan: Plan, gain: Gain, should_stop: Callable[[], bool] | None
) -> tuple[Gain, float]:
    """The limited gain (at `gain`'s ceiling, starting from `gain`) that lands nearest the target, and the
    true peak measured with it."""
    # (gain, loudness) of the passes nearest the target from below and from above: once it lies between
    # two, the next gain is read off the line through them; until then loudness is taken to grow at the
    # slope between the last two passes (one dB per dB at first).
    below: tuple[float, float] | None = None
    above: tuple[float, float] | None = None
    last: tuple[float, float] | None = None
    closest: tuple[float, Gain, float] | None = None  # the measured gain that came nearest, if none lands
    for _ in range(LIMITED_PASSES):
        measured = _measure_mix(inputs, plan, gain, should_stop)
        loudness = measured.integrated
        missed = TARGET_LUFS - loudness
        if abs(missed) <= LOUDNESS_TOLERANCE:
            return gain, measured.true_peak
        if closest is None or abs(missed) < closest[0]:
            closest = (abs(missed), gain, measured.true_peak)
        here = (gain.db, loudness)
        if missed > 0:
            below = here if below is None or here[1] > below[1] else below
        else:
            above = here if above is None or here[1] < above[1] else above
        if below is not None and above is not None and above[1] > below[1]:
            slope = (above[1] - below[1]) / (above[0] - below[0]) if above[0] != below[0] else 1.0
            step = (TARGET_LUFS - below[1]) / slope if slope > 0 else missed
            next_db = below[0] + step
        else:
            slope = 1.0
            if last is not None and gain.db != last[0]:
                slope = min(1.0, max(0.05, (loudness - last[1]) / (gain.db - last[0])))
            next_db = gain.db + missed / slope
        last = here
        correction = max(-MAX_CORRECTION_DB, min(MAX_CORRECTION_DB, next_db - gain.db))
        gain = Gain(min(MAX_GAIN_DB, gain.db + correction), limited=True, ceiling=gain.ceiling)
    assert closest is not None
    log.warning("the limited mix ends %.1f LU from the target after %d passes", closest[0], LIMITED_PASSES)
    return closest[1], closest[2]


def _encoded_peak(
    inputs: ComposeInputs, plan: Plan, gain: Gain, scratch: Path, should_stop: Callable[[], bool] | None
) -> float:
    """The true peak of the mix after `gain` once AAC has encoded it."""
    commands = [encode_mix_command(inputs, plan, gain, scratch), measure_file_command(scratch)]
    return _loudness_printed(inputs, commands, should_stop).true_peak


def _measure_mix(
    inputs: ComposeInputs, plan: Plan, gain: Gain | None, should_stop: Callable[[], bool] | None
) -> Loudness:
    """One measuring pass over the audio alone (no video is read): a few per cent of the render."""
    return _loudness_printed(inputs, [measure_command(inputs, plan, gain)], should_stop)


def _loudness_printed(
    inputs: ComposeInputs, commands: list[list[str]], should_stop: Callable[[], bool] | None
) -> Loudness:
    """Run the ffmpeg commands in turn; what the last one's ebur128 measured."""
    stderr: list[str] = []
    for cmd in commands:
        code, stderr = run_ffmpeg(cmd, None, should_stop)
        if code != 0:
            errors = [line for line in stderr if "[error]" in line or "[fatal]" in line]
            raise classify_failure(code, errors, _named_inputs(inputs))
    loudness = parse_loudness(stderr)
    if loudness is None:
        raise ComposeError("ebur128 printed no measurement:\n" + "\n".join(stderr[-10:]))
    return loudness


def _measure(video: Path, thumb: Path) -> ComposeResult:
    """What the file is, measured, not what we asked ffmpeg for."""
    try:
        measured = probe(video)
    except ProbeError as exc:
        raise ComposeError(f"output is not readable: {exc}") from exc
    return ComposeResult(
        video_path=video,
        thumbnail_path=thumb,
        duration_ms=measured.duration_ms,
        width=measured.width,
        height=measured.height,
        size_bytes=video.stat().st_size,
        checksum_sha256=sha256_of(video),
        thumbnail_size_bytes=thumb.stat().st_size,
        thumbnail_checksum_sha256=sha256_of(thumb),
    )
