"""Input clips made on the spot with ffmpeg's lavfi sources: no media is ever committed.

Shared by the renderer tests and bench/render.py.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from common.ffmpeg import ffmpeg_path


@contextlib.contextmanager
def work_folder(keep: Path | None, prefix: str) -> Iterator[Path]:
    """Where a script makes its clips and renders: `keep` (created, left there) or a temporary folder."""
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        yield keep
        return
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        yield Path(tmp)


def _run(args: list[str]) -> None:
    cmd = [ffmpeg_path(), "-hide_banner", "-nostdin", "-y", "-v", "error", *args]
    done = subprocess.run(cmd, capture_output=True, check=False, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"ffmpeg failed making a test clip: {done.stderr.decode(errors='replace')}")


def make_video(
    path: Path,
    width: int,
    height: int,
    seconds: float,
    *,
    audio: bool = True,
    color: str | None = None,
    rate: int = 30,
    faststart: bool = False,
) -> Path:
    """A clip of testsrc2 (or a flat colour), H.264, with a 440 Hz tone when audio is asked for.

    Odd sizes cannot be 4:2:0, so those are encoded 4:4:4 (still H.264, still decodable).
    """
    source = f"color=c={color}:" if color else "testsrc2="
    args = ["-f", "lavfi", "-i", f"{source}size={width}x{height}:rate={rate}:duration={seconds}"]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=44100:duration={seconds}"]
    pix_fmt = "yuv420p" if width % 2 == 0 and height % 2 == 0 else "yuv444p"
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", pix_fmt, "-threads", "2"]
    if audio:
        args += ["-c:a", "aac", "-b:a", "96k", "-ac", "1"]
    if faststart:
        args += ["-movflags", "+faststart"]
    _run([*args, str(path)])
    return path


def make_marker_video(path: Path, width: int, height: int, seconds: float, side: int) -> Path:
    """A flat blue clip with a white side×side square in the middle: shows any stretching."""
    x, y = (width - side) // 2, (height - side) // 2
    source = f"color=c=0x2040a0:size={width}x{height}:rate=30:duration={seconds}"
    args = ["-f", "lavfi", "-i", f"{source},drawbox=x={x}:y={y}:w={side}:h={side}:color=white:t=fill"]
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-an"]
    _run([*args, str(path)])
    return path


def make_checker_video(path: Path, width: int, height: int, seconds: float, cell: int = 8) -> Path:
    """A fine black-and-white checkerboard: any blur shows as lost edges."""
    pattern = f"geq=lum='if(mod(floor(X/{cell})+floor(Y/{cell})\\,2)\\,235\\,16)':cb=128:cr=128"
    source = f"color=c=gray:size={width}x{height}:rate=30:duration={seconds},format=yuv420p,{pattern}"
    args = ["-f", "lavfi", "-i", source, "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-an"]
    _run([*args, str(path)])
    return path


def make_vfr_video(path: Path, width: int, height: int, seconds: float) -> Path:
    """Variable frame rate: frames of a 30 fps source kept at irregular gaps, timestamps untouched."""
    args = ["-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate=30:duration={seconds}"]
    args += ["-vf", "select='lt(mod(n\\,7)\\,3)+between(n\\,20\\,35)'", "-fps_mode", "passthrough"]
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-an"]
    _run([*args, str(path)])
    return path


def make_music(path: Path, seconds: float) -> Path:
    """Two low tones (200 Hz left, 300 Hz right) in AAC: a stand-in for a trending track.

    Kept far from the templates' 440 Hz so a band-pass tells the two apart in the mix.
    """
    source = f"sine=frequency=200:sample_rate=44100:duration={seconds}"
    args = ["-f", "lavfi", "-i", source, "-f", "lavfi", "-i", source.replace("200", "300")]
    args += ["-filter_complex", "[0:a][1:a]amerge=inputs=2[a]", "-map", "[a]", "-c:a", "aac", "-b:a", "96k"]
    _run([*args, str(path)])
    return path


def make_track(path: Path, seconds: float, expression: str) -> Path:
    """A stereo AAC track of one aevalsrc expression of t (commas in it escaped as \\,)."""
    source = f"aevalsrc=exprs='{expression}':sample_rate=44100:duration={seconds}:channel_layout=stereo"
    _run(["-f", "lavfi", "-i", source, "-c:a", "aac", "-b:a", "160k", str(path)])
    return path


def make_loud_music(path: Path, seconds: float) -> Path:
    """A full-scale 220 Hz square wave: already far louder than -14 LUFS, peaks at full scale."""
    return make_track(path, seconds, "0.99*sgn(sin(2*PI*220*t))")


def make_clipped_music(path: Path, seconds: float) -> Path:
    """A 150 Hz tone driven 12 dB past full scale and hard-clipped, with a 900 Hz overtone."""
    return make_track(path, seconds, "clip(4*sin(2*PI*150*t)+sin(2*PI*900*t)\\,-1\\,1)")


def make_spiky_music(path: Path, seconds: float) -> Path:
    """Quiet material (a 330 Hz tone at -40 dBFS) with a 6 ms click near full scale every 1.3 s: the clicks
    set the measured loudness and the peaks, so a gain that lifts the quiet part clips them."""
    click = "if(lt(mod(t\\,1.3)\\,0.006)\\,0.95*sin(2*PI*2500*t)*exp(-400*mod(t\\,1.3))\\,0)"
    return make_track(path, seconds, f"0.01*sin(2*PI*330*t)+{click}")


def make_hat_music(path: Path, seconds: float) -> Path:
    """A quiet 200 Hz tone under a 10 ms burst of white noise near full scale four times a second, like a
    hi-hat: AAC overshoots such bursts by more than a dB once they are limited."""
    burst = "if(lt(mod(t\\,0.25)\\,0.01)\\,0.99*(2*random(0)-1)\\,0)"
    return make_track(path, seconds, f"0.03*sin(2*PI*200*t)+{burst}")


def make_noise_drum_music(path: Path, seconds: float) -> Path:
    """Dense noise: a full-scale burst of white noise four times a second, decaying over some 30 ms, like a
    snare loop with nothing under it; limited hard, and overshot by AAC once encoded."""
    return make_track(path, seconds, "0.95*(2*random(0)-1)*exp(-30*mod(t\\,0.25))")


def make_near_silent_music(path: Path, seconds: float) -> Path:
    """A 250 Hz tone at -60 dBFS: near silence, 45 dB under the target, yet more than nothing."""
    return make_track(path, seconds, "0.001*sin(2*PI*250*t)")


def make_random_bytes(path: Path, size: int = 200_000) -> Path:
    path.write_bytes(os.urandom(size))
    return path


def make_truncated(source: Path, path: Path, keep: float = 0.5) -> Path:
    data = source.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path
