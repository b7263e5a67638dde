"""Benchmark: one default compose() against a plain ffmpeg of the same output shape and length.

The plain command is the floor: the same inputs scaled (fit, padded) to 1080×1920, concatenated,
music trimmed under it, encoded with exactly compose()'s encoder arguments (`compose.codec_args`: x264
preset, CRF, threads, keyframe interval, AAC), `+faststart`; no hook, no blur, no mix, no loudness
passes. The ratio says what the hook, the blurred backdrop, the audio mix and its loudness measurement
cost on top. The quality figures compare the app demo as both show it (its fitted rectangle, over the
demo segment): SSIM and PSNR of compose()'s output against the plain one.

    .venv/bin/python bench/render.py                  # 3 s template + 20 s demo, 1 run each
    .venv/bin/python bench/render.py --demo-seconds 10 --runs 3
"""

from __future__ import annotations

import argparse
import re
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# Run as a script from anywhere: the repository root holds `services`, `common` and `tests`.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common.ffmpeg import ffmpeg_path, probe
from services.renderer.compose import (
    FPS,
    HEIGHT,
    SAMPLE_RATE,
    VIDEO_NAME,
    WIDTH,
    ComposeInputs,
    EncodeSettings,
    codec_args,
    compose,
    demo_rect,
    loudness_gain,
    make_plan,
)
from tests.renderer import clips

DEFAULT_HOOK = "Wait for it…\nthis app 😂🔥 مرحبا"


@dataclass(frozen=True)
class Inputs:
    template: Path
    demo: Path
    music: Path
    template_seconds: float
    demo_seconds: float


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Time compose() for a default render against a plain ffmpeg scale+concat of the same "
        "size (1080x1920, 30 fps, H.264+AAC) and length, and print both wall times and their ratio."
    )
    parser.add_argument("--template-seconds", type=float, default=3.0, help="template length (default 3)")
    parser.add_argument("--demo-seconds", type=float, default=20.0, help="demo length, capped at 20 (default 20)")
    parser.add_argument("--music-seconds", type=float, default=8.0, help="music length; loops (default 8)")
    parser.add_argument("--runs", type=int, default=1, help="timed runs of each; the median is reported")
    parser.add_argument("--preset", default=EncodeSettings().preset, help="x264 preset for both (default: ours)")
    parser.add_argument("--hook", default=DEFAULT_HOOK, help="hook text of the compose() render")
    parser.add_argument("--keep", type=Path, help="folder to keep inputs and outputs in (default: a temp dir)")
    return parser.parse_args(argv)


def make_inputs(folder: Path, args: argparse.Namespace) -> Inputs:
    demo_seconds = min(args.demo_seconds, 20.0)
    return Inputs(
        template=clips.make_video(folder / "template.mp4", 720, 1280, args.template_seconds),
        demo=clips.make_video(folder / "demo.mp4", 1280, 720, args.demo_seconds),
        music=clips.make_music(folder / "music.m4a", args.music_seconds),
        template_seconds=args.template_seconds,
        demo_seconds=demo_seconds,
    )


def plain_command(inputs: Inputs, output: Path, encode: EncodeSettings) -> list[str]:
    """Scale (fit + pad) both clips, concatenate, put the trimmed music under it: nothing more."""
    total = inputs.template_seconds + inputs.demo_seconds
    fit = (
        f"scale={WIDTH}:{HEIGHT}:force_original_aspect_ratio=decrease:force_divisible_by=2,"
        f"pad={WIDTH}:{HEIGHT}:(ow-iw)/2:(oh-ih)/2,setsar=1,fps={FPS},format=yuv420p"
    )
    graph = (
        f"[0:v]{fit}[a];[1:v]{fit}[b];[a][b]concat=n=2:v=1:a=0[v];"
        f"[2:a]atrim=duration={total:.3f},aresample={SAMPLE_RATE}[m]"
    )
    return [
        ffmpeg_path(),
        *("-hide_banner", "-nostdin", "-y", "-v", "error"),
        *("-i", str(inputs.template), "-t", f"{inputs.demo_seconds:.3f}", "-i", str(inputs.demo)),
        *("-stream_loop", "-1", "-i", str(inputs.music)),
        *("-filter_complex", graph, "-map", "[v]", "-map", "[m]", *codec_args(encode)),
        *("-t", f"{total:.3f}", "-movflags", "+faststart", str(output)),
    ]


def cpu_seconds() -> float:
    """User + system CPU of this process and its finished children (the ffmpegs) so far."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(run: Callable[[], object]) -> tuple[float, float]:
    """Wall and CPU seconds of one call: on a machine shared with other work, CPU time says what the work
    costs whatever else runs, and wall time what a caller waits."""
    wall, cpu = time.perf_counter(), cpu_seconds()
    run()
    return time.perf_counter() - wall, cpu_seconds() - cpu


def compose_spec(inputs: Inputs, args: argparse.Namespace) -> ComposeInputs:
    encode = EncodeSettings(preset=args.preset)
    return ComposeInputs(inputs.template, inputs.demo, inputs.music, hook=args.hook, language="ar", encode=encode)


def time_compose(inputs: Inputs, workdir: Path, args: argparse.Namespace) -> tuple[float, float, Path]:
    spec = compose_spec(inputs, args)
    wall, cpu = timed(lambda: compose(spec, workdir))
    return wall, cpu, workdir / VIDEO_NAME


def time_loudness(inputs: Inputs, args: argparse.Namespace) -> tuple[float, float]:
    """The audio-only passes that choose the loudness gain, alone (compose() runs them too)."""
    plan = make_plan(probe(inputs.template), probe(inputs.demo), probe(inputs.music), inputs.demo_seconds)
    scratch = inputs.template.with_name(".bench-mix.aac")  # the encode that checks AAC's overshoot, if any
    try:
        return timed(lambda: loudness_gain(compose_spec(inputs, args), plan, None, scratch))
    finally:
        scratch.unlink(missing_ok=True)


def time_plain(inputs: Inputs, output: Path, encode: EncodeSettings) -> tuple[float, float]:
    return timed(lambda: subprocess.run(plain_command(inputs, output, encode), check=True, capture_output=True))


def demo_quality(composed: Path, plain: Path, inputs: Inputs) -> tuple[float, float]:
    """SSIM (All) and average PSNR (dB) of the demo's rectangle over the demo segment, composed vs plain."""
    # Where compose() puts the demo; the plain fit centres it in the same rectangle.
    w, h, x, y = demo_rect(make_plan(probe(inputs.template), probe(inputs.demo), None, inputs.demo_seconds))
    cut = f"trim=start={inputs.template_seconds:.3f},setpts=PTS-STARTPTS,crop={w}:{h}:{x}:{y},split=2"
    graph = f"[0:v]{cut}[a1][a2];[1:v]{cut}[b1][b2];[a1][b1]ssim;[a2][b2]psnr"
    cmd = [ffmpeg_path(), "-hide_banner", "-nostdin", "-nostats", "-i", str(composed), "-i", str(plain)]
    done = subprocess.run([*cmd, "-filter_complex", graph, "-f", "null", "-"], capture_output=True, check=True)
    text = done.stderr.decode(errors="replace")
    ssim = re.search(r"SSIM .*All:([\d.]+)", text)
    psnr = re.search(r"PSNR .*average:([\d.]+|inf)", text)
    if ssim is None or psnr is None:
        raise RuntimeError(f"ssim/psnr printed nothing:\n{text[-2000:]}")
    return float(ssim.group(1)), float(psnr.group(1))


def describe(path: Path) -> str:
    info = probe(path)
    return f"{info.width}x{info.height} {info.frame_rate:g} fps {info.duration_ms / 1000:.2f} s {path.stat().st_size} B"


def run(args: argparse.Namespace, folder: Path) -> None:
    print(f"making inputs in {folder} ...", flush=True)
    inputs = make_inputs(folder, args)
    encode = EncodeSettings(preset=args.preset)
    compose_times, plain_times, compose_cpu, plain_cpu, loudness_times = [], [], [], [], []
    composed = plain = folder / "none"
    for i in range(args.runs):
        seconds, cpu, composed = time_compose(inputs, folder / f"compose-{i}", args)
        compose_times.append(seconds)
        compose_cpu.append(cpu)
        plain = folder / f"plain-{i}.mp4"
        seconds, cpu = time_plain(inputs, plain, encode)
        plain_times.append(seconds)
        plain_cpu.append(cpu)
        loudness_times.append(time_loudness(inputs, args)[0])
    compose_s, plain_s = statistics.median(compose_times), statistics.median(plain_times)
    cpu_ratio = statistics.median(compose_cpu) / statistics.median(plain_cpu)
    total = inputs.template_seconds + inputs.demo_seconds
    parts = f"template {inputs.template_seconds:g} s + demo {inputs.demo_seconds:g} s"
    print(f"video length      : {total:.1f} s ({parts})")
    ssim, psnr = demo_quality(composed, plain, inputs)
    print(f"compose()         : {compose_s:.2f} s wall  ({describe(composed)})")
    print(f"plain ffmpeg      : {plain_s:.2f} s wall  ({describe(plain)})")
    print(f"ratio             : {compose_s / plain_s:.2f}x  ({args.runs} run(s), median)")
    print(f"CPU time ratio    : {cpu_ratio:.2f}x  (user+system, medians: ", end="")
    print(f"compose() {statistics.median(compose_cpu):.2f} s, plain {statistics.median(plain_cpu):.2f} s)")
    loudness_s = statistics.median(loudness_times)
    print(f"loudness passes   : {loudness_s:.2f} s wall, audio only (part of compose()'s time, median)")
    print(f"encoders (both)   : {' '.join(codec_args(encode))}")
    print(f"real-time factor  : compose() {total / compose_s:.2f}x, plain {total / plain_s:.2f}x (video s per wall s)")
    print(f"app-demo quality  : SSIM {ssim:.4f}, PSNR {psnr:.2f} dB (its rectangle in the demo segment, vs plain)")
    print(f"each run (s)      : compose() {', '.join(f'{t:.2f}' for t in compose_times)}; ", end="")
    print(f"plain {', '.join(f'{t:.2f}' for t in plain_times)}")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    with clips.work_folder(args.keep, "bench-render-") as folder:
        run(args, folder)


if __name__ == "__main__":
    main()
