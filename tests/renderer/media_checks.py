"""What the renderer tests measure on an output: frames as pictures, MP4 boxes, audio levels."""

from __future__ import annotations

import io
import re
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageChops, ImageFilter, ImageStat

from common.ffmpeg import ffmpeg_path


def frame_at(video: Path, seconds: float) -> Image.Image:
    """The frame shown at `seconds`, as RGB."""
    cmd = [ffmpeg_path(), "-v", "error", "-nostdin", "-ss", f"{seconds:.3f}", "-i", str(video)]
    cmd += ["-frames:v", "1", "-f", "image2pipe", "-c:v", "png", "-"]
    done = subprocess.run(cmd, capture_output=True, check=True, timeout=60)
    return Image.open(io.BytesIO(done.stdout)).convert("RGB")


def top_level_boxes(path: Path) -> list[str]:
    """The MP4's top-level box types in file order (ftyp, moov, mdat, ...)."""
    boxes = []
    data = path.read_bytes()
    offset = 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack_from(">I4s", data, offset)
        if size == 1:
            (size,) = struct.unpack_from(">Q", data, offset + 8)
        elif size == 0:
            size = len(data) - offset
        boxes.append(kind.decode("latin-1"))
        if size < 8:
            break
        offset += size
    return boxes


def band_rms_db(video: Path, start: float, end: float, low: float, high: float) -> float:
    """RMS level (dBFS) of the audio between start and end, band-passed to [low, high] Hz."""
    centre, width = (low + high) / 2, high - low
    chain = (
        f"atrim={start:.3f}:{end:.3f},bandpass=f={centre}:width_type=h:w={width},"
        f"bandpass=f={centre}:width_type=h:w={width},astats=measure_perchannel=none"
    )
    cmd = [ffmpeg_path(), "-v", "info", "-nostdin", "-i", str(video), "-vn", "-af", chain, "-f", "null", "-"]
    done = subprocess.run(cmd, capture_output=True, check=True, timeout=60)
    levels = re.findall(r"RMS level dB:\s*(-?[\d.]+|-inf)", done.stderr.decode(errors="replace"))
    if not levels:
        raise AssertionError("astats printed no RMS level")
    return float("-inf") if levels[-1] == "-inf" else float(levels[-1])


@dataclass(frozen=True)
class Loudness:
    integrated_lufs: float
    true_peak_dbtp: float
    summary: str  # ebur128's own summary, as it printed it
    lra_lu: float  # loudness range


def ebur128(video: Path) -> Loudness:
    """ffmpeg's EBU R128 meter over the whole audio: integrated loudness, (4× oversampled) true peak and
    loudness range."""
    cmd = [ffmpeg_path(), "-hide_banner", "-nostats", "-nostdin", "-i", str(video), "-vn"]
    cmd += ["-af", "ebur128=peak=true", "-f", "null", "-"]
    done = subprocess.run(cmd, capture_output=True, check=True, timeout=120)
    text = done.stderr.decode(errors="replace")
    summary = text[text.rindex("Summary:") :]
    integrated = re.search(r"I:\s*(-?[\d.]+|-inf) LUFS", summary)
    peak = re.search(r"True peak:\s*Peak:\s*(-?[\d.]+|-inf) dBFS", summary)
    lra = re.search(r"LRA:\s*(-?[\d.]+) LU", summary)
    if integrated is None or peak is None or lra is None:
        raise AssertionError(f"ebur128 summary not understood:\n{summary}")
    text = summary[: peak.end()].strip()
    return Loudness(float(integrated.group(1)), float(peak.group(1)), text, float(lra.group(1)))


def edge_energy(image: Image.Image, box: tuple[int, int, int, int]) -> float:
    """Mean edge strength of a region: high for sharp content, near zero for a blur."""
    region = image.crop(box).convert("L").filter(ImageFilter.FIND_EDGES)
    # FIND_EDGES lights the crop's own border; leave it out.
    inner = region.crop((2, 2, region.width - 2, region.height - 2))
    return ImageStat.Stat(inner).mean[0]


def mean_abs_diff(a: Image.Image, b: Image.Image, box: tuple[int, int, int, int] | None = None) -> float:
    if box is not None:
        a, b = a.crop(box), b.crop(box)
    diff = ImageChops.difference(a.convert("RGB"), b.convert("RGB")).convert("L")
    return ImageStat.Stat(diff).mean[0]


def close_to(pixel: tuple[int, ...], colour: tuple[int, int, int], tolerance: int) -> bool:
    return all(abs(int(p) - c) <= tolerance for p, c in zip(pixel[:3], colour, strict=True))


def run_length(
    image: Image.Image, colour: tuple[int, int, int], *, column: int | None = None, row: int | None = None
) -> int:
    """How many pixels of one column (or row) are within tolerance of `colour`."""
    if column is not None:
        line = image.convert("RGB").crop((column, 0, column + 1, image.height))
    else:
        assert row is not None
        line = image.convert("RGB").crop((0, row, image.width, row + 1))
    raw = line.tobytes()
    return sum(close_to(tuple(raw[i : i + 3]), colour, 40) for i in range(0, len(raw), 3))


def mask_count(mask: Image.Image) -> int:
    return mask.convert("L").point(lambda v: 255 if v else 0).histogram()[255]


def saturated_mask(image: Image.Image, min_alpha: int = 200) -> Image.Image:
    """Pixels that are opaque, strongly coloured and not dark: an emoji's, never white text's or grey."""
    hsv = image.convert("RGB").convert("HSV")
    _, sat, val = hsv.split()
    alpha = image.getchannel("A") if image.mode == "RGBA" else Image.new("L", image.size, 255)
    masks = (sat.point(lambda v: 255 if v > 128 else 0), val.point(lambda v: 255 if v > 100 else 0))
    opaque = alpha.point(lambda v: 255 if v >= min_alpha else 0)
    return ImageChops.multiply(ImageChops.multiply(masks[0], masks[1]), opaque)


def mean_x(mask: Image.Image) -> float:
    """Mean x of the lit pixels of a mask."""
    columns = mask.resize((mask.width, 1), Image.Resampling.BOX)
    weights = list(columns.tobytes())
    total = sum(weights)
    if total == 0:
        raise AssertionError("empty mask")
    return sum(x * w for x, w in enumerate(weights)) / total
