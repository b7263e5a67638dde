"""The pure parts of compose: progress parsing, planning, blaming an input, the filter graph."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import pytest

from common.ffmpeg import ProbeResult
from services.renderer import compose
from services.renderer.compose import (
    MUSIC_ALONE,
    MUSIC_UNDER_VOICE,
    ComposeError,
    ComposeInputError,
    ComposeInputs,
    Gain,
    Loudness,
    Plan,
    ProgressTracker,
    audio_graph,
    classify_failure,
    damaged_input,
    face_in_frame,
    make_plan,
    music_volume,
    parse_loudness,
    parse_progress_line,
    sample_aspect,
)
from services.renderer.hook.regions import hook_region, safe_box


def probe_result(duration_ms: int, *, audio: bool = True, sar: str = "1:1") -> ProbeResult:
    return ProbeResult(
        format_name="mov,mp4",
        duration_ms=duration_ms,
        width=720,
        height=1280,
        has_video=True,
        has_audio=audio,
        video_codec="h264",
        audio_codec="aac" if audio else "",
        pix_fmt="yuv420p",
        frame_rate=30.0,
        sample_rate=44100 if audio else 0,
        channels=1 if audio else 0,
        raw={"streams": [{"codec_type": "video", "sample_aspect_ratio": sar}]},
    )


def test_progress_lines_give_microseconds() -> None:
    assert parse_progress_line("out_time_us=1500000\n") == 1_500_000
    assert parse_progress_line("out_time_ms=1500000") == 1_500_000  # ffmpeg's ms are µs too
    assert parse_progress_line("out_time_us=N/A") is None
    assert parse_progress_line("frame=12") is None
    assert parse_progress_line("out_time=00:00:01.500000") is None


def test_progress_never_goes_back_and_stays_in_range() -> None:
    seen: list[float] = []
    tracker = ProgressTracker(10.0, 0.9, seen.append)
    for us in (1_000_000, 500_000, 5_000_000, 5_000_000, 20_000_000):
        tracker.update(us)
    tracker.report(0.5)
    tracker.report(1.0)
    assert seen == pytest.approx([0.09, 0.45, 0.9, 1.0])


def test_demo_is_capped() -> None:
    plan = make_plan(probe_result(3000), probe_result(30_000), None, 20.0)
    assert plan.total_seconds == 23.0 and not plan.has_music
    plan = make_plan(probe_result(3000), probe_result(4_500), probe_result(1000), 20.0)
    assert plan.demo_seconds == 4.5 and plan.has_music


def test_non_square_pixels_are_noticed() -> None:
    assert sample_aspect(probe_result(1000, sar="1:1")) is None
    assert sample_aspect(probe_result(1000, sar="0:1")) is None
    assert sample_aspect(probe_result(1000, sar="4:3")) == 4 / 3


def test_audio_graph_keeps_audio_even_with_nothing_to_play() -> None:
    silent = Plan(1.0, 2.0, template_has_audio=False, has_music=False, template_sar=None, demo_sar=None)
    assert any("anullsrc" in chain and "[aout]" in chain for chain in audio_graph(silent, -1, None))
    both = Plan(1.0, 2.0, template_has_audio=True, has_music=True, template_sar=None, demo_sar=None)
    graph = ";".join(audio_graph(both, 2, None))
    assert "amix=inputs=2" in graph and "afade=t=out:st=2.000:d=1.000" in graph


def test_the_render_applies_the_gain_the_measuring_passes_chose() -> None:
    plan = Plan(1.0, 2.0, template_has_audio=True, has_music=True, template_sar=None, demo_sar=None)
    measuring = ";".join(audio_graph(plan, 2, Gain(3.0, limited=True), measuring=True))
    assert (
        "volume=3.00dB" in measuring
        and "alimiter=" in measuring
        and measuring.endswith("ebur128=peak=true:framelog=quiet[aout]")
    )
    stderr = [
        "[Parsed_ebur128_9 @ 0x1] [info] Summary:",
        "",
        "  Integrated loudness:",
        "    I:         -21.4 LUFS",
        "    Threshold: -31.4 LUFS",
        "",
        "  True peak:",
        "    Peak:      -15.0 dBFS",
        "[out#0/null @ 0x2] [info] video:0KiB audio:258KiB",
    ]
    assert parse_loudness(stderr) == Loudness(-21.4, -15.0)
    assert parse_loudness(["no summary here"]) is None
    assert parse_loudness(["Summary:", "I: -inf LUFS", "Peak: -inf dBFS"]) == Loudness(float("-inf"), float("-inf"))
    # A gain whose peaks stay under the ceiling is just that gain, at our sample rate.
    graph = ";".join(audio_graph(plan, 2, Gain(7.35, limited=False)))
    assert "volume=7.35dB" in graph and "alimiter" not in graph and "ebur128" not in graph
    # One that would clip goes through the limiter, at 4x the rate (true peaks), and comes back to 48 kHz.
    graph = ";".join(audio_graph(plan, 2, Gain(20.0, limited=True)))
    assert "volume=20.00dB,aresample=192000,alimiter=limit=0.7943:" in graph and graph.endswith("aresample=48000[aout]")
    # Nothing measured yet: the mix as it is.
    assert ";".join(audio_graph(plan, 2, None)).endswith("normalize=0[aout]")


def test_music_ducks_under_whichever_segment_has_its_own_audio() -> None:
    def plan(template_audio: bool, demo_audio: bool) -> Plan:
        return Plan(3.0, 5.0, template_audio, True, None, None, demo_has_audio=demo_audio)

    assert music_volume(plan(False, False)) == str(MUSIC_ALONE)
    assert music_volume(plan(True, True)) == str(MUSIC_UNDER_VOICE)
    assert music_volume(plan(True, False)).startswith(f"{MUSIC_UNDER_VOICE}+")
    assert music_volume(plan(False, True)).startswith(f"{MUSIC_ALONE}+-")


def test_the_face_box_follows_the_fill_s_scale_and_crop() -> None:
    # A 16:9 template is scaled to 1920 high (3413 wide) and cropped to its middle 1080 columns.
    wide = Plan(1.0, 1.0, False, False, None, None, template_pixels=(1280, 720))
    assert face_in_frame(wide, (0.5, 0.25, 0.1, 0.5)) == (540, 480, 882, 1440)
    assert face_in_frame(wide, (0.0, 0.0, 0.1, 0.1)) is None  # cropped away: nothing to avoid
    portrait = Plan(1.0, 1.0, False, False, None, None, template_pixels=(720, 1280))
    assert face_in_frame(portrait, (0.25, 0.25, 0.5, 0.25)) == (270, 480, 810, 960)
    assert face_in_frame(portrait, None) is None


def test_the_hook_goes_in_the_taller_band_of_the_safe_zone_beside_the_face() -> None:
    zone = safe_box(1080, 1920)
    assert zone == (65, 192, 918, 1536)
    assert hook_region(1080, 1920, None) is None
    low_face = hook_region(1080, 1920, (300, 900, 800, 1400))  # room above it
    assert low_face == (65, 192, 918, 900 - 29)
    high_face = hook_region(1080, 1920, (300, 300, 800, 700))  # room below it
    assert high_face == (65, 700 + 29, 918, 1536)


def test_errors_naming_an_input_blame_that_input() -> None:
    named = {"template": Path("/in/t.mp4"), "demo": Path("/in/d.mp4"), "music": Path("/in/m.m4a")}
    lines = ["[vist#1:0/h264 @ 0x1] [dec:h264 @ 0x2] Decoding error: Invalid data found when processing input"]
    failure = classify_failure(1, lines, named)
    assert isinstance(failure, ComposeInputError) and failure.input_name == "demo" and failure.permanent
    failure = classify_failure(1, ["Error opening input file /in/m.m4a."], named)
    assert isinstance(failure, ComposeInputError) and failure.input_name == "music"
    failure = classify_failure(1, ["[libx264 @ 0x3] Error setting preset"], named)
    assert isinstance(failure, ComposeError) and not failure.permanent and "libx264" in str(failure)
    # The hook PNG (input 3) is ours: never the partner's fault.
    assert isinstance(classify_failure(1, ["[in#3/png_pipe @ 0x4] broken"], named), ComposeError)


def test_a_truncated_input_is_noticed_even_when_ffmpeg_exits_zero() -> None:
    named = {"template": Path("/t.mp4"), "demo": Path("/d.mp4")}
    damaged = damaged_input(["[in#1/mov,mp4,m4a,3gp,3g2,mj2 @ 0x5] stream 0, offset 0x1ad7c: partial file"], named)
    assert damaged is not None and damaged.input_name == "demo"
    assert damaged_input(["[aac @ 0x6] Too many bits, clipping"], named) is None


def test_inputs_default_to_a_20_second_cap() -> None:
    assert ComposeInputs(Path("t"), Path("d"), None).demo_cap_seconds == 20.0


def _gain_chosen(
    monkeypatch: pytest.MonkeyPatch,
    first: Loudness,
    limited: Callable[[float], float],
    aac_overshoot: float = 0.0,
    encoded: list[Gain] | None = None,
    encoded_peak_of: Callable[[Gain], float] | None = None,
) -> tuple[Gain | None, list[float]]:
    """loudness_gain against a modelled mix: `first` unlimited, `limited(gain)` the limited loudness,
    peaking at the ceiling; AAC adds `aac_overshoot` to the peak (the gains it encodes go to `encoded`)."""
    measured: list[float] = []
    encoded = [] if encoded is None else encoded

    def measure(_inputs: object, _plan: object, gain: Gain | None, _stop: object) -> Loudness:
        if gain is None:
            return first
        measured.append(gain.db)
        return Loudness(limited(gain.db), gain.ceiling if gain.limited else first.true_peak + gain.db)

    def encoded_peak(_inputs: object, _plan: object, gain: Gain, _scratch: object, _stop: object) -> float:
        encoded.append(gain)
        if encoded_peak_of is not None:
            return encoded_peak_of(gain)
        peak = gain.ceiling if gain.limited else first.true_peak + gain.db
        return peak + aac_overshoot

    monkeypatch.setattr(compose, "_measure_mix", measure)
    monkeypatch.setattr(compose, "_encoded_peak", encoded_peak)
    plan = Plan(1.0, 2.0, template_has_audio=True, has_music=True, template_sar=None, demo_sar=None)
    return compose.loudness_gain(None, plan, None, Path("mix.aac")), measured  # type: ignore[arg-type]


def test_a_gain_that_stays_under_the_peak_ceiling_is_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    gain, limited_passes = _gain_chosen(monkeypatch, Loudness(-20.0, -9.0), lambda db: 0.0)
    assert gain == Gain(6.0, limited=False) and limited_passes == []


def test_a_mix_with_headroom_is_not_encoded_to_check_its_peaks(monkeypatch: pytest.MonkeyPatch) -> None:
    encoded: list[Gain] = []
    gain, _ = _gain_chosen(monkeypatch, Loudness(-20.0, -9.0), lambda db: 0.0, aac_overshoot=3.0, encoded=encoded)
    assert gain == Gain(6.0, limited=False) and encoded == []  # -3 dBTP before AAC: far from the ceiling


def test_aac_s_overshoot_lowers_the_limiter_s_ceiling_by_as_much(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bursts AAC overshoots by 1.4 dB: the ceiling comes down by that and more, and the gain is found
    again under it; the encoded peak then stays under ENCODED_PEAK_MAX."""
    encoded: list[Gain] = []
    gain, _ = _gain_chosen(
        monkeypatch, Loudness(-20.0, -3.0), lambda db: -20.0 + 0.9 * db, aac_overshoot=1.4, encoded=encoded
    )
    assert gain is not None and gain.limited
    assert gain.ceiling + 1.4 <= compose.ENCODED_PEAK_MAX < compose.LIMITER_CEILING + 1.4
    assert [g.ceiling for g in encoded] == [compose.LIMITER_CEILING, gain.ceiling]
    assert abs(-20.0 + 0.9 * gain.db - compose.TARGET_LUFS) <= compose.LOUDNESS_TOLERANCE


def test_an_unlimited_mix_aac_pushes_over_goes_through_the_limiter(monkeypatch: pytest.MonkeyPatch) -> None:
    encoded: list[Gain] = []
    gain, _ = _gain_chosen(
        monkeypatch, Loudness(-20.0, -7.6), lambda db: -20.0 + db, aac_overshoot=0.8, encoded=encoded
    )
    # Unlimited it peaks at -1.6 dBTP, -0.8 once encoded (0.4 over): limited to where, encoded, it stays
    # under the max. The ceiling comes down from the peak the mix reached, not from the limiter's default.
    assert gain is not None and gain.limited and gain.ceiling + 0.8 <= compose.ENCODED_PEAK_MAX
    overshoot = -1.6 + 0.8 - compose.ENCODED_PEAK_MAX
    assert gain.ceiling == pytest.approx(-1.6 - overshoot - compose.ENCODED_MARGIN_DB)
    assert [g.limited for g in encoded] == [False, True]


def test_peaks_no_lower_ceiling_keeps_down_are_trimmed_after_the_limiter(monkeypatch: pytest.MonkeyPatch) -> None:
    """Encoded, this mix peaks at -0.5 dBTP whatever the ceiling: after ENCODED_CHECKS lowered ceilings the
    whole mix is cut by the overshoot and the margin, and checked once more."""
    encoded: list[Gain] = []
    gain, _ = _gain_chosen(
        monkeypatch,
        Loudness(-20.0, -3.0),
        lambda db: -20.0 + 0.9 * db,
        encoded=encoded,
        encoded_peak_of=lambda gain: -0.5 + gain.trim_db,
    )
    overshoot = -0.5 - compose.ENCODED_PEAK_MAX
    assert gain is not None and gain.trim_db == pytest.approx(-(overshoot + compose.ENCODED_MARGIN_DB))
    assert len(encoded) == compose.ENCODED_CHECKS + 2 and encoded[-1] == gain
    assert gain.filters().endswith(f",volume={gain.trim_db:.2f}dB")  # after the limiter, not before it


def test_silence_and_audio_too_short_to_measure_are_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    # ebur128 reports -70.0 for both, whatever gain comes before it.
    assert _gain_chosen(monkeypatch, Loudness(-70.0, -80.0), lambda db: -70.0) == (None, [])


def test_bursts_a_limiter_flattens_are_brought_up_in_bounded_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    """Percussive audio: past the limiter, loudness grows a tenth as fast as the gain; the corrections
    follow the growth they measure instead of assuming one dB per dB."""
    gain, passes = _gain_chosen(monkeypatch, Loudness(-14.3, 1.0), lambda db: -16.3 + 0.1 * db + 0.02 * db**2)
    assert gain is not None and gain.limited
    assert abs(-16.3 + 0.1 * gain.db + 0.02 * gain.db**2 - compose.TARGET_LUFS) <= compose.LOUDNESS_TOLERANCE
    assert len(passes) <= compose.LIMITED_PASSES
    steps = [b - a for a, b in itertools.pairwise(passes)]
    assert all(abs(step) <= compose.MAX_CORRECTION_DB for step in steps), passes


def test_a_mix_no_gain_brings_to_the_target_keeps_the_nearest_one_measured(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    gain, passes = _gain_chosen(monkeypatch, Loudness(-40.0, 0.0), lambda db: -30.0 + 0.01 * db)
    assert gain is not None and gain.db in passes  # measured, never a guess
    assert gain.db == max(passes) and all(db <= compose.MAX_GAIN_DB for db in passes)
    assert len(passes) == compose.LIMITED_PASSES
    assert "LU from the target" in caplog.text


def test_a_fill_never_crops_to_nothing() -> None:
    """yuv420p crops whole 2×2 blocks: a sliver of a source (1280×2) keeps at least 2×2, and sizes stay even."""
    assert compose.cover((1280, 2), None, 1080, 1920).startswith("crop=2:2,")
    assert compose.cover((2, 1280), None, 1080, 1920).startswith("crop=2:")
    assert compose.cover((1281, 721), None, 1080, 1920).startswith("crop=406:721,")  # the cut side even
