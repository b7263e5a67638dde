"""Small but real clips made with ffmpeg's lavfi sources only (offline, no downloads).

They stand in for the public reaction-video pool, the trending-music catalog and a partner's app demo, so
the embedded default and the tests have real media to work with. `seed_catalog` registers them through
the gRPC API when the pool and catalog are empty.
"""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import grpc

from common.ffmpeg import ffmpeg_path
from layers.media.v1 import media_pb2, media_pb2_grpc
from services.media.client import upload_file

log = logging.getLogger("layers.media.seed")

# Backgrounds and shirts per variant, so seeded templates are told apart at a glance.
_PALETTES = [
    ("0xff6ec4", "0x7873f5", "0x4adede", "0x2b59c3"),
    ("0xf9d423", "0xff4e50", "0xfc913a", "0xc0392b"),
    ("0x43e97b", "0x38f9d7", "0x667eea", "0x2d6a4f"),
    ("0xfa709a", "0xfee140", "0x30cfd0", "0x6c3483"),
]
_SKIN = ["0xf1c27d", "0xc68642", "0xe0ac69", "0x8d5524", "0xffdbac"]

# A pentatonic tune, one note per eighth at 120 bpm, over a I-V-vi-IV bass line.
_MELODY = [0, 4, 7, 9, 7, 4, 2, 4, 0, 4, 7, 12, 9, 7, 4, 2]
_BASS = [0, 7, 9, 5]
_KEYS_HZ = [261.63, 293.66, 329.63, 220.0]


# The seed videos' encoding: quick to make, and playable by any H.264 decoder.
_FAST_H264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]


def _render(path: Path, args: list[str]) -> Path:
    """Run ffmpeg into a temp name next to `path` (same extension, so the muxer is the same), then rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.stem}.part{path.suffix}")
    cmd = [ffmpeg_path(), "-v", "error", "-nostdin", "-y", *args, str(temp)]
    try:
        done = subprocess.run(cmd, capture_output=True, timeout=120, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"ffmpeg failed: {done.stderr.decode(errors='replace').strip()[-800:]}")
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)
    return path


def _even(value: float) -> int:
    return max(2, int(value) // 2 * 2)


def make_reaction_clip(
    path: Path, seconds: float = 3.0, width: int = 720, height: int = 1280, variant: int = 0
) -> Path:
    """A stand-in for an influencer reacting: a face that bobs, blinks and laughs on a moving gradient."""
    c0, c1, c2, shirt = _PALETTES[variant % len(_PALETTES)]
    skin = _SKIN[variant % len(_SKIN)]
    fw, fh = _even(width * 0.44), _even(width * 0.52)
    # Face parts in face-canvas coordinates.
    eye_w, eye_h = _even(fw * 0.16), _even(fh * 0.12)
    eye_y = _even(fh * 0.36)
    left_eye, right_eye = _even(fw * 0.24), _even(fw * 0.60)
    pupil = _even(eye_w * 0.45)
    mouth_w, mouth_x = _even(fw * 0.40), _even(fw * 0.30)
    mouth_y = _even(fh * 0.68)
    side_w, side_h = _even(fw * 0.07), _even(fh * 0.5)
    face = (
        # An ellipse mask makes the head round; geq is slow, so it runs on one frame that is then looped.
        f"color=c={skin}:s={fw}x{fh}:r=30,trim=end_frame=1,format=yuva420p,"
        f"geq=lum='lum(X,Y)':cb='cb(X,Y)':cr='cr(X,Y)':"
        f"a='255*lt(pow((X-W/2)/(W/2),2)+pow((Y-H/2)/(H/2),2),1)',"
        f"loop=loop=-1:size=1,setpts=N/30/TB,trim=duration={seconds},"
        # Hair on top and down the sides: without the dark sides, a background as light as the skin
        # hides the head's outline and the detector misses it on some frames.
        f"drawbox=x=0:y=0:w={fw}:h={_even(fh * 0.16)}:c=0x3b2314:t=fill,"
        f"drawbox=x=0:y=0:w={side_w}:h={side_h}:c=0x3b2314:t=fill,"
        f"drawbox=x={fw - side_w}:y=0:w={side_w}:h={side_h}:c=0x3b2314:t=fill,"
        # Dark eyes under a lighter brow and nose bridge: what a face detector looks for.
        f"drawbox=x={left_eye}:y={eye_y}:w={eye_w}:h={eye_h}:c=0x2a1a10:t=fill,"
        f"drawbox=x={right_eye}:y={eye_y}:w={eye_w}:h={eye_h}:c=0x2a1a10:t=fill,"
        f"drawbox=x={left_eye + (eye_w - pupil) // 2}:y={eye_y + (eye_h - pupil) // 2}:"
        f"w={pupil // 2}:h={pupil // 2}:c=white:t=fill,"
        f"drawbox=x={right_eye + (eye_w - pupil) // 2}:y={eye_y + (eye_h - pupil) // 2}:"
        f"w={pupil // 2}:h={pupil // 2}:c=white:t=fill,"
        # Blink: skin-coloured lids for a tenth of a second every 1.3 s.
        f"drawbox=x={left_eye}:y={eye_y}:w={eye_w}:h={eye_h}:c={skin}:t=fill:enable='lt(mod(t,1.3),0.1)',"
        f"drawbox=x={right_eye}:y={eye_y}:w={eye_w}:h={eye_h}:c={skin}:t=fill:enable='lt(mod(t,1.3),0.1)',"
        # Eyebrows jump up in surprise during the first second.
        f"drawbox=x={left_eye}:y={eye_y - _even(fh * 0.10)}:w={eye_w}:h=8:c=0x3b2314:t=fill:enable='lt(t,1)',"
        f"drawbox=x={right_eye}:y={eye_y - _even(fh * 0.10)}:w={eye_w}:h=8:c=0x3b2314:t=fill:enable='lt(t,1)',"
        f"drawbox=x={left_eye}:y={eye_y - _even(fh * 0.05)}:w={eye_w}:h=8:c=0x3b2314:t=fill:enable='gte(t,1)',"
        f"drawbox=x={right_eye}:y={eye_y - _even(fh * 0.05)}:w={eye_w}:h=8:c=0x3b2314:t=fill:enable='gte(t,1)',"
        # Laughing: the mouth opens and closes five times a second.
        f"drawbox=x={mouth_x}:y={mouth_y}:w={mouth_w}:h={_even(fh * 0.14)}:c=0x8b1a1a:t=fill:"
        f"enable='lt(mod(t,0.2),0.1)',"
        f"drawbox=x={mouth_x}:y={mouth_y + _even(fh * 0.05)}:w={mouth_w}:h=10:c=0x8b1a1a:t=fill:"
        f"enable='gte(mod(t,0.2),0.1)'[face]"
    )
    body_w = _even(width * 0.62)
    # gradients picks random colours' paths unless seeded: seeded, a variant's clip is the same every run.
    graph = (
        f"gradients=s={width}x{height}:r=30:d={seconds}:c0={c0}:c1={c1}:c2={c2}:n=3:speed=0.04:seed={variant},"
        f"drawbox=x={(width - body_w) // 2}:y={_even(height * 0.62)}:w={body_w}:h={height}:c={shirt}:t=fill[bg];"
        f"{face};"
        f"[bg][face]overlay=x='(W-w)/2+{_even(width * 0.03)}*sin(t*4)':"
        f"y='H*0.24+{_even(height * 0.01)}*sin(t*9)':shortest=1,format=yuv420p[v]"
    )
    laugh = (
        f"aevalsrc=exprs='0.25*sin(2*PI*(260+60*sin(2*PI*2*t))*t)*gt(sin(2*PI*5*t),0)*exp(-0.4*t)':s=44100:d={seconds}"
    )
    return _render(
        path,
        [
            "-filter_complex",
            graph,
            "-f",
            "lavfi",
            "-i",
            laugh,
            "-map",
            "[v]",
            "-map",
            "0:a",
            *_FAST_H264,
            "-c:a",
            "aac",
            "-b:a",
            "96k",
            "-shortest",
            "-movflags",
            "+faststart",
        ],
    )


def _lookup(index: str, table: list[int]) -> str:
    # aevalsrc has no arrays: a chain of if(eq(...)) reads the table.
    expr = str(table[-1])
    for i in range(len(table) - 2, -1, -1):
        expr = f"if(eq({index},{i}),{table[i]},{expr})"
    return expr


def make_music_track(path: Path, seconds: float = 12.0, variant: int = 0) -> Path:
    """A simple pleasant melody over a bass line, AAC in an .m4a."""
    key = _KEYS_HZ[variant % len(_KEYS_HZ)]
    step = "mod(floor(t*4),16)"
    bar = "mod(floor(t/2),4)"
    frac = "mod(t,0.25)"
    lead_freq = f"{key}*pow(2,({_lookup(step, _MELODY)})/12)"
    bass_freq = f"{key / 2}*pow(2,({_lookup(bar, _BASS)})/12)"
    # Each note starts from silence, so the phase jump between notes never clicks.
    lead = f"0.30*sin(2*PI*{lead_freq}*t)*(1-exp(-{frac}*300))*exp(-{frac}*9)"
    bass = f"0.22*sin(2*PI*{bass_freq}*t)*(1-exp(-mod(t,2)*200))*exp(-mod(t,2)*0.8)"
    fade = f"min(1,({seconds}-t)/1.5)"
    left = f"({lead}+{bass})*{fade}"
    right = f"(0.8*{lead}+{bass})*{fade}"
    return _render(
        path,
        [
            "-f",
            "lavfi",
            "-i",
            f"aevalsrc=exprs='{left}|{right}':s=44100:d={seconds}",
            "-c:a",
            "aac",
            "-b:a",
            "128k",
            "-movflags",
            "+faststart",
        ],
    )


def make_app_demo(path: Path, seconds: float = 6.0, width: int = 720, height: int = 1280) -> Path:
    """A phone-screen-like recording: status bar, app header, a feed scrolling up and a pulsing button."""
    card_h, gap = _even(height * 0.18), _even(height * 0.03)
    margin = _even(width * 0.06)
    card_w = width - 2 * margin
    header_h = _even(height * 0.10)
    pitch = card_h + gap
    # The feed is one tall canvas of cards scrolled by overlay's per-frame y expression.
    cards = 8
    feed_h = pitch * cards
    palette = ["0xffffff", "0xe8f0fe", "0xfff4e5", "0xe6f4ea"]
    feed = f"color=c=0xf2f2f7:s={width}x{feed_h}:r=30,trim=end_frame=1"
    for i in range(cards):
        y = i * pitch
        feed += (
            f",drawbox=x={margin}:y={y}:w={card_w}:h={card_h}:c={palette[i % 4]}:t=fill"
            f",drawbox=x={margin + 24}:y={y + 24}:w={_even(card_h * 0.6)}:h={_even(card_h * 0.6)}"
            f":c=0x5b8def:t=fill"
            f",drawbox=x={margin + 48 + _even(card_h * 0.6)}:y={y + 30}:w={_even(card_w * 0.45)}:h=18"
            f":c=0x3c4043:t=fill"
            f",drawbox=x={margin + 48 + _even(card_h * 0.6)}:y={y + 64}:w={_even(card_w * 0.30)}:h=14"
            f":c=0x9aa0a6:t=fill"
        )
    scroll = f"{header_h + 40}-mod(t*{_even(height * 0.12)},{pitch * 4})"
    button = _even(width * 0.16)
    graph = (
        f"color=c=0xf2f2f7:s={width}x{height}:r=30:d={seconds}[screen];"
        # Drawn once and looped: the feed never changes, only where it is shown.
        f"{feed},loop=loop=-1:size=1,setpts=N/30/TB,trim=duration={seconds}[feed];"
        f"[screen][feed]overlay=x=0:y='{scroll}':shortest=1,"
        f"drawbox=x=0:y=0:w={width}:h={header_h}:c=0x5b3cc4:t=fill,"
        f"drawbox=x=0:y=0:w={width}:h={_even(height * 0.03)}:c=0x1c1c1e:t=fill,"
        f"drawbox=x={margin}:y={_even(height * 0.05)}:w={_even(width * 0.35)}:h=22:c=white:t=fill,"
        f"drawbox=x={width - margin - button}:y={height - margin - button}:w={button}:h={button}"
        f":c=0xff6f61:t=fill,"
        f"drawbox=x={width - margin - button - 8}:y={height - margin - button - 8}:w={button + 16}"
        f":h={button + 16}:c=0xff6f61@0.5:t=8:enable='lt(mod(t,1),0.5)',"
        f"format=yuv420p[v]"
    )
    return _render(
        path,
        [
            "-filter_complex",
            graph,
            "-map",
            "[v]",
            *_FAST_H264,
            "-movflags",
            "+faststart",
        ],
    )


@dataclass(frozen=True)
class SeedReport:
    reaction_templates_created: int
    music_tracks_created: int


def _is_empty(pick: grpc.UnaryUnaryMultiCallable, request: object) -> bool:
    try:
        pick(request)
    except grpc.RpcError as exc:
        if exc.code() == grpc.StatusCode.FAILED_PRECONDITION:  # type: ignore[attr-defined]
            return True
        raise
    return False


def _made_and_uploaded(
    stub: media_pb2_grpc.MediaServiceStub, path: Path, make: Callable[..., Path], variant: int, mime_type: str
) -> str:
    """The blob id of seed file `path`, made first unless an earlier run left it (files made here are only
    ever renamed into place whole)."""
    if not path.exists():
        make(path, variant=variant)
    return upload_file(stub, path, mime_type).blob_id


def seed_catalog(
    stub: media_pb2_grpc.MediaServiceStub, workdir: Path, reaction_count: int = 3, track_count: int = 2
) -> SeedReport:
    """Fill an empty reaction pool and music catalog; leave them alone when they already hold rows."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    templates = 0
    tracks = 0
    if _is_empty(stub.PickReactionTemplate, media_pb2.PickReactionTemplateRequest()):
        for i in range(reaction_count):
            blob_id = _made_and_uploaded(stub, workdir / f"reaction-{i}.mp4", make_reaction_clip, i, "video/mp4")
            stub.CreateReactionTemplate(
                media_pb2.CreateReactionTemplateRequest(name=f"Stand-in reaction {i + 1}", blob_id=blob_id)
            )
            templates += 1
    if _is_empty(stub.PickMusicTrack, media_pb2.PickMusicTrackRequest()):
        for i in range(track_count):
            blob_id = _made_and_uploaded(stub, workdir / f"track-{i}.m4a", make_music_track, i, "audio/mp4")
            stub.CreateMusicTrack(media_pb2.CreateMusicTrackRequest(title=f"Seed tune {i + 1}", blob_id=blob_id))
            tracks += 1
    log.info("seeded %d reaction templates and %d music tracks", templates, tracks)
    return SeedReport(reaction_templates_created=templates, music_tracks_created=tracks)
