"""Render three videos with compose() and put a few frames of each on one PNG, to look at them side by side.

The three hooks: a Latin line, an Arabic line (right to left, shaped) and eight lines, each with colour
emoji; the same template (the seed catalog's stand-in influencer, 3 s, 720×1280, laughing, with the face
box media finds in it), app demo (4 s, 1280×720, a tone) and music under all three. Each row of the
sheet is one video: frames spread evenly over it (the hook segment first, then the demo over its blurred
backdrop), tiled with ffmpeg's `tile` filter. For each video the script
prints ebur128's integrated loudness, loudness range and true peak, measured on the MP4.

    .venv/bin/python scripts/contact_sheet.py /tmp/sheet.png
    .venv/bin/python scripts/contact_sheet.py /tmp/sheet.png --frames 6 --keep /tmp/sheet-videos
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

# Run as a script from anywhere: the repository root holds `services`, `common` and `tests`.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common.ffmpeg import ffmpeg_path, probe
from services.media.faces import detect_face_box
from services.media.seed_clips import make_reaction_clip
from services.renderer.compose import FPS, ComposeInputs, EncodeSettings, compose
from tests.renderer import clips
from tests.renderer.media_checks import ebur128

HOOKS = {
    "latin": ("en", "Wait for it… this app does it in one tap 😂🔥"),
    "arabic": ("ar", "انتظر… هذا التطبيق يفعلها بلمسة واحدة 😂🔥"),
    "eight-lines": ("en", "\n".join(f"line {n}: still reading? 👀" for n in range(1, 9))),
}
TILE_WIDTH, TILE_HEIGHT = 270, 480  # a quarter of the 1080×1920 frame
MAX_FRAMES = 12


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Render a Latin, an Arabic and an 8-line hook (with emoji) with compose(), tile a few "
        "frames of each video into one PNG (one row per video) and print each video's ebur128 loudness."
    )
    parser.add_argument("output", type=Path, help="the PNG to write (its folder must exist)")
    parser.add_argument("--frames", type=int, default=4, help=f"frames per video, 1 to {MAX_FRAMES} (default 4)")
    parser.add_argument("--preset", default=EncodeSettings().preset, help="x264 preset (default: the renderer's)")
    parser.add_argument("--keep", type=Path, help="folder to keep the inputs and videos in (default: a temp dir)")
    args = parser.parse_args(argv)
    if not 1 <= args.frames <= MAX_FRAMES:
        parser.error(f"--frames must be between 1 and {MAX_FRAMES}")
    if args.output.suffix.lower() != ".png":
        parser.error("the output must be a .png file")
    if not args.output.parent.is_dir():
        parser.error(f"no such folder: {args.output.parent}")
    return args


def render_all(folder: Path, preset: str) -> dict[str, Path]:
    template = make_reaction_clip(folder / "template.mp4", seconds=3.0, width=720, height=1280)
    face = detect_face_box(template, 3000, 720, 1280)  # as media stores it when the template is added
    print(f"face box (x, y, w, h of the frame): {face}", flush=True)
    demo = clips.make_video(folder / "demo.mp4", 1280, 720, 4)
    music = clips.make_music(folder / "music.m4a", 8)
    videos = {}
    for name, (language, hook) in HOOKS.items():
        spec = ComposeInputs(
            template, demo, music, hook=hook, language=language, encode=EncodeSettings(preset), face_box=face
        )
        videos[name] = compose(spec, folder / name).video_path
        print(f"rendered {name}: {videos[name]}", flush=True)
    return videos


def row_filter(index: int, video: Path, frames: int) -> str:
    """[row<index>]: `frames` frames from the middles of equal slices of the video, side by side."""
    seconds = probe(video).duration_ms / 1000
    picks = sorted({min(round((k + 0.5) * seconds / frames * FPS), round(seconds * FPS) - 1) for k in range(frames)})
    select = "+".join(f"eq(n\\,{n})" for n in picks)
    return (
        f"[{index}:v]select='{select}',scale={TILE_WIDTH}:{TILE_HEIGHT},"
        f"tile={frames}x1:padding=4:color=white[row{index}]"
    )


def write_sheet(videos: list[Path], output: Path, frames: int) -> None:
    """One PNG, one row per video; written beside the output and renamed, so it is whole or absent."""
    rows = [row_filter(i, video, frames) for i, video in enumerate(videos)]
    stack = "".join(f"[row{i}]" for i in range(len(videos))) + f"vstack=inputs={len(videos)}[sheet]"
    partial = output.with_name(f".{output.name}.partial.png")
    cmd = [ffmpeg_path(), "-hide_banner", "-nostdin", "-y", "-v", "error"]
    for video in videos:
        cmd += ["-i", str(video)]
    cmd += ["-filter_complex", ";".join([*rows, stack]), "-map", "[sheet]", "-frames:v", "1", "-update", "1"]
    try:
        done = subprocess.run([*cmd, str(partial)], capture_output=True, check=False, timeout=300)
        if done.returncode != 0:
            raise SystemExit(f"ffmpeg could not tile the frames:\n{done.stderr.decode(errors='replace')}")
        os.replace(partial, output)
    finally:
        partial.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    with clips.work_folder(args.keep, "contact-sheet-") as folder:
        videos = render_all(folder, args.preset)
        write_sheet(list(videos.values()), args.output, args.frames)
        measured = {name: ebur128(video) for name, video in videos.items()}
    print(f"contact sheet: {args.output} ({len(videos)} rows of {args.frames} frames: {', '.join(videos)})")
    for name, loudness in measured.items():
        figures = f"I {loudness.integrated_lufs:.1f} LUFS, LRA {loudness.lra_lu:.1f} LU"
        print(f"{name:12s}: {figures}, true peak {loudness.true_peak_dbtp:.1f} dBTP (ebur128 on the MP4)")


if __name__ == "__main__":
    main()
