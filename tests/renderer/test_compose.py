"""Real renders of generated clips, checked with ffprobe, MP4 boxes, audio levels and frame pixels."""

from __future__ import annotations

import itertools
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image, ImageStat
from pydantic import ValidationError

from common.ffmpeg import ffmpeg_path, probe
from common.settings import RenderTools
from services.renderer.compose import (
    ComposeCanceled,
    ComposeError,
    ComposeInputError,
    ComposeInputs,
    ComposeResult,
    EncodeSettings,
    compose,
    run_ffmpeg,
    sha256_of,
)
from services.renderer.hook.draw import render_hook
from tests.renderer import clips
from tests.renderer.media_checks import (
    band_rms_db,
    edge_energy,
    frame_at,
    mean_abs_diff,
    run_length,
    top_level_boxes,
)

HOOK = "Wait for it…\nthis app 😂🔥 مرحبا"
FAST = EncodeSettings(preset="ultrafast")  # same output shape, less CPU: for renders testing the demo side


@dataclass(frozen=True)
class Render:
    result: ComposeResult
    progress: list[float]


def streams(path: Path) -> tuple[dict, dict]:
    raw = probe(path).raw["streams"]
    video = next(s for s in raw if s["codec_type"] == "video")
    audio = next(s for s in raw if s["codec_type"] == "audio")
    return video, audio


def assert_output_shape(result: ComposeResult, expected_seconds: float) -> None:
    video, audio = streams(result.video_path)
    assert (video["codec_name"], video["pix_fmt"]) == ("h264", "yuv420p")
    assert (video["width"], video["height"]) == (1080, 1920) == (result.width, result.height)
    assert video["r_frame_rate"] == "30/1" and video["avg_frame_rate"] == "30/1"
    assert abs(int(video["nb_frames"]) - round(expected_seconds * 30)) <= 1  # constant 30 fps
    assert (audio["codec_name"], int(audio["sample_rate"]), audio["channels"]) == ("aac", 48000, 2)
    assert abs(result.duration_ms / 1000 - expected_seconds) <= 0.1
    assert abs(float(video["duration"]) - expected_seconds) <= 0.1


@pytest.fixture(scope="module")
def hook_render(
    tmp_path_factory: pytest.TempPathFactory, template: Path, landscape_demo: Path, short_music: Path
) -> Render:
    """The brief's render: 3 s template with audio + hook, 2 s landscape demo, 1.5 s music (loops)."""
    progress: list[float] = []
    inputs = ComposeInputs(template, landscape_demo, short_music, hook=HOOK, language="ar")
    result = compose(inputs, tmp_path_factory.mktemp("hook_render"), on_progress=progress.append)
    return Render(result, progress)


@pytest.fixture(scope="module")
def plain_render(
    tmp_path_factory: pytest.TempPathFactory, template: Path, landscape_demo: Path, short_music: Path
) -> Render:
    """The same inputs without a hook."""
    inputs = ComposeInputs(template, landscape_demo, short_music, hook=None)
    return Render(compose(inputs, tmp_path_factory.mktemp("plain_render")), [])


def test_output_is_1080x1920_30fps_h264_aac_of_template_plus_demo_length(hook_render: Render) -> None:
    assert_output_shape(hook_render.result, 3.0 + 2.0)
    assert probe(hook_render.result.video_path).format_name.startswith("mov,mp4")


def test_index_is_at_the_front(hook_render: Render) -> None:
    boxes = top_level_boxes(hook_render.result.video_path)
    assert boxes[0] == "ftyp"
    assert "moov" in boxes and "mdat" in boxes
    assert boxes.index("moov") < boxes.index("mdat")


def test_result_is_measured_from_the_file(hook_render: Render) -> None:
    result = hook_render.result
    assert result.size_bytes == result.video_path.stat().st_size > 0
    assert result.checksum_sha256 == sha256_of(result.video_path)
    assert result.mime_type == "video/mp4"
    assert result.duration_ms == probe(result.video_path).duration_ms
    assert sorted(p.name for p in result.video_path.parent.iterdir()) == ["thumbnail.jpg", "video.mp4"]


def test_progress_is_monotonic_and_ends_at_one(hook_render: Render) -> None:
    progress = hook_render.progress
    assert len(progress) >= 3
    assert all(0.0 <= p <= 1.0 for p in progress)
    assert all(a < b for a, b in itertools.pairwise(progress))
    assert progress[-1] == 1.0


def test_thumbnail_is_a_540x960_jpeg_of_the_hook_frame(hook_render: Render) -> None:
    thumb = Image.open(hook_render.result.thumbnail_path)
    assert thumb.format == "JPEG" and thumb.size == (540, 960)
    assert hook_render.result.thumbnail_checksum_sha256 == sha256_of(hook_render.result.thumbnail_path)
    hook_frame = frame_at(hook_render.result.video_path, 0.5).resize((540, 960))
    demo_frame = frame_at(hook_render.result.video_path, 4.0).resize((540, 960))
    assert mean_abs_diff(thumb, hook_frame) < 6
    assert mean_abs_diff(thumb, demo_frame) > 20


def test_hook_is_drawn_on_the_template_only_in_its_area(hook_render: Render, plain_render: Render) -> None:
    box = render_hook(HOOK, "ar").getbbox()
    with_hook = frame_at(hook_render.result.video_path, 1.0)
    without = frame_at(plain_render.result.video_path, 1.0)
    assert mean_abs_diff(with_hook, without, box) > 25
    assert mean_abs_diff(with_hook, without, (0, 1500, 1080, 1920)) < 3
    # In the demo segment neither has a hook.
    assert (
        mean_abs_diff(frame_at(hook_render.result.video_path, 4.0), frame_at(plain_render.result.video_path, 4.0)) < 3
    )


def test_demo_sits_sharp_over_a_blurred_darkened_copy(tmp_path: Path, short_template: Path) -> None:
    demo = clips.make_checker_video(tmp_path / "checker.mp4", 1280, 720, 1.0)
    result = compose(ComposeInputs(short_template, demo, None, encode=FAST), tmp_path / "out")
    frame = frame_at(result.video_path, 1.5)
    # 1280×720 fitted to 1080 wide is 1080×608, centred: rows 656..1264.
    demo_band, backdrop = (0, 700, 1080, 1220), (0, 80, 1080, 600)
    assert edge_energy(frame, demo_band) > 20  # the checkerboard, sharp
    assert edge_energy(frame, backdrop) < 1.0  # the same checkerboard, blurred to a wash
    band_light = ImageStat.Stat(frame.crop(demo_band).convert("L")).mean[0]
    backdrop_light = ImageStat.Stat(frame.crop(backdrop).convert("L")).mean[0]
    assert 20 < backdrop_light < 0.85 * band_light  # filled, not black bars; darkened


def test_own_audio_is_kept_with_music_looped_under_it(hook_render: Render) -> None:
    """(The fade and the ducking are measured in test_loudness, on clips whose silence lets them show.)"""
    video = hook_render.result.video_path
    voice_band, music_band = (400, 480), (170, 330)
    # Segment one: the template's 440 Hz is there, louder than the music under it.
    voice = band_rms_db(video, 0.5, 2.5, *voice_band)
    assert voice > -30
    assert voice > band_rms_db(video, 0.5, 2.5, *music_band) + 3
    # After the 1.5 s track would have ended, in the demo: its own 440 Hz over the looped music.
    assert band_rms_db(video, 3.5, 4.5, *music_band) > -40
    assert band_rms_db(video, 3.5, 4.5, *voice_band) > band_rms_db(video, 3.5, 4.5, *music_band) + 3


@pytest.mark.parametrize(
    ("name", "size", "has_audio"),
    [
        ("portrait", (540, 960), True),
        ("landscape", (1280, 720), True),
        ("square", (720, 720), False),
        ("odd", (721, 1283), True),
    ],
)
def test_any_demo_shape_is_fitted_without_stretching(
    tmp_path: Path,
    short_template: Path,
    long_music: Path,
    name: str,
    size: tuple[int, int],
    has_audio: bool,
) -> None:
    colour = (230, 40, 40)
    demo = clips.make_video(tmp_path / f"{name}.mp4", *size, 1.5, audio=has_audio, color="0xE62828")
    result = compose(ComposeInputs(short_template, demo, long_music, encode=FAST), tmp_path / "out")
    assert_output_shape(result, 1.0 + 1.5)  # long music trimmed to the video
    frame = frame_at(result.video_path, 1.75)
    scale = min(1080 / size[0], 1920 / size[1])
    assert abs(run_length(frame, colour, row=960) - size[0] * scale) <= 4
    assert abs(run_length(frame, colour, column=540) - size[1] * scale) <= 4
    if size[1] * scale < 1900:  # there is a backdrop to see: same hue, darker
        red, green, _ = frame.crop((540, 40, 541, 41)).tobytes()
        assert red < colour[0] - 25 and red > green + 40


def test_template_is_cropped_to_fill_never_stretched(tmp_path: Path, landscape_demo: Path) -> None:
    template = clips.make_marker_video(tmp_path / "wide_template.mp4", 1280, 720, 1.0, side=200)
    result = compose(ComposeInputs(template, landscape_demo, None, encode=FAST), tmp_path / "out")
    frame = frame_at(result.video_path, 0.5)
    white = (255, 255, 255)
    width, height = run_length(frame, white, row=960), run_length(frame, white, column=540)
    expected = 200 * 1920 / 720  # filling the height scales by 2.67 both ways
    assert abs(width - expected) <= 6 and abs(height - expected) <= 6


def test_vfr_demo_without_audio_and_no_music_still_gives_cfr_and_stereo_audio(
    tmp_path: Path, silent_template: Path
) -> None:
    demo = clips.make_vfr_video(tmp_path / "vfr.mp4", 640, 360, 3.0)
    info = probe(demo)
    assert not info.has_audio
    video = next(s for s in info.raw["streams"] if s["codec_type"] == "video")
    assert video["r_frame_rate"] != video["avg_frame_rate"]  # really variable
    result = compose(ComposeInputs(silent_template, demo, None, encode=FAST), tmp_path / "out")
    assert_output_shape(result, 1.0 + info.duration_ms / 1000)


def test_demo_is_capped(tmp_path: Path, template: Path, long_demo: Path, short_music: Path) -> None:
    assert probe(long_demo).duration_ms == 30_000
    result = compose(ComposeInputs(template, long_demo, short_music, encode=FAST), tmp_path / "out")
    assert_output_shape(result, 3.0 + 20.0)


def _ffmpeg_children() -> list[int]:
    """ffmpeg processes whose parent is this test process."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        parent = int(stat[stat.rindex(")") + 2 :].split()[1])
        if parent == os.getpid() and "ffmpeg" in name:
            found.append(int(entry.name))
    return found


def test_cancel_kills_ffmpeg_quickly_and_leaves_nothing(
    tmp_path: Path, template: Path, long_demo: Path, short_music: Path
) -> None:
    workdir = tmp_path / "out"
    asked_at: list[float] = []
    progress: list[float] = []

    def should_stop() -> bool:
        if progress and progress[-1] > 0.05:  # ffmpeg is well into encoding
            asked_at.append(asked_at[0] if asked_at else time.monotonic())
            return True
        return False

    inputs = ComposeInputs(template, long_demo, short_music, hook=HOOK)
    with pytest.raises(ComposeCanceled):
        compose(inputs, workdir, on_progress=progress.append, should_stop=should_stop)
    assert asked_at and time.monotonic() - asked_at[0] < 2.0
    assert list(workdir.iterdir()) == []
    assert _ffmpeg_children() == []


def test_an_ffmpeg_past_its_deadline_is_killed_and_the_render_may_be_retried(
    tmp_path: Path, template: Path, long_demo: Path, short_music: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAYERS_FFMPEG_DEADLINE_SECONDS", "1.5")  # the long demo's encode takes far longer
    workdir = tmp_path / "out"
    started = time.monotonic()
    with pytest.raises(ComposeError, match="deadline") as raised:
        compose(ComposeInputs(template, long_demo, short_music, hook=HOOK), workdir)
    assert not raised.value.permanent
    assert time.monotonic() - started < 1.5 * 3 + 2.0  # no pass outlived its deadline by more than the stop
    assert list(workdir.iterdir()) == []
    assert _ffmpeg_children() == []


def test_run_ffmpeg_kills_a_run_that_never_ends_at_its_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever the machine's speed: this ffmpeg reads a silent source in real time, for ever."""
    monkeypatch.setenv("LAYERS_FFMPEG_DEADLINE_SECONDS", "1")
    endless = [ffmpeg_path(), "-hide_banner", "-nostdin", "-re", "-f", "lavfi", "-i", "anullsrc", "-f", "null", "-"]
    started = time.monotonic()
    with pytest.raises(ComposeError, match="1 s deadline") as raised:
        run_ffmpeg(endless, None, None)
    assert 1.0 <= time.monotonic() - started < 4.0
    assert not raised.value.permanent
    assert _ffmpeg_children() == []


@pytest.mark.parametrize("value", ["0.5", "inf", "nan", "0"])
def test_an_ffmpeg_deadline_below_a_second_or_not_finite_is_refused(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAYERS_FFMPEG_DEADLINE_SECONDS", value)
    with pytest.raises(ValidationError, match="ffmpeg_deadline_seconds"):
        RenderTools()


def test_should_stop_is_polled_often(tmp_path: Path, short_template: Path, landscape_demo: Path) -> None:
    polls: list[float] = []

    def should_stop() -> bool:
        polls.append(time.monotonic())
        return False

    compose(ComposeInputs(short_template, landscape_demo, None, encode=FAST), tmp_path / "out", should_stop=should_stop)
    gaps = [b - a for a, b in itertools.pairwise(polls)]
    assert len(polls) >= 3 and max(gaps) < 0.25


@pytest.mark.parametrize("damage", ["random-bytes", "truncated", "truncated-faststart"])
def test_a_corrupt_demo_is_an_input_error(tmp_path: Path, short_template: Path, short_music: Path, damage: str) -> None:
    demo = tmp_path / "demo.mp4"
    if damage == "random-bytes":
        clips.make_random_bytes(demo)
    else:
        source = clips.make_video(tmp_path / "source.mp4", 640, 360, 3, faststart=damage.endswith("faststart"))
        clips.make_truncated(source, demo, keep=0.4)
    workdir = tmp_path / "out"
    with pytest.raises(ComposeInputError) as caught:
        compose(ComposeInputs(short_template, demo, short_music, hook="hi", encode=FAST), workdir)
    assert caught.value.input_name == "demo" and caught.value.permanent
    assert "demo" in str(caught.value)
    assert list(workdir.iterdir()) == []


def test_corrupt_music_and_missing_template_are_input_errors(
    tmp_path: Path, short_template: Path, silent_template: Path, landscape_demo: Path
) -> None:
    music = clips.make_random_bytes(tmp_path / "music.m4a")
    with pytest.raises(ComposeInputError, match=r"^music: "):
        compose(ComposeInputs(short_template, landscape_demo, music), tmp_path / "a")
    with pytest.raises(ComposeInputError, match=r"^template: "):
        compose(ComposeInputs(tmp_path / "missing.mp4", landscape_demo, None), tmp_path / "b")
    # A track that is a video without sound is no music either.
    with pytest.raises(ComposeInputError, match=r"^music: has no audio"):
        compose(ComposeInputs(short_template, landscape_demo, silent_template), tmp_path / "c")


def test_other_ffmpeg_failures_are_compose_errors_with_stderr(
    tmp_path: Path, short_template: Path, landscape_demo: Path
) -> None:
    workdir = tmp_path / "out"
    inputs = ComposeInputs(short_template, landscape_demo, None, encode=EncodeSettings(preset="no-such-preset"))
    with pytest.raises(ComposeError) as caught:
        compose(inputs, workdir)
    assert not isinstance(caught.value, ComposeInputError) and not caught.value.permanent
    assert "preset" in str(caught.value).lower()
    assert list(workdir.iterdir()) == []


def test_renders_can_run_side_by_side(tmp_path: Path, short_template: Path, landscape_demo: Path) -> None:
    """The worker may run two renders at once: separate workdirs, separate outputs."""
    results: dict[int, ComposeResult] = {}

    def run(i: int) -> None:
        inputs = ComposeInputs(short_template, landscape_demo, None, hook=f"render {i}", encode=FAST)
        results[i] = compose(inputs, tmp_path / f"out{i}")

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(results) == [0, 1]
    assert results[0].checksum_sha256 != results[1].checksum_sha256
