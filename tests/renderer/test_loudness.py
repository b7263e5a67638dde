"""Every output plays at the platforms' loudness: -14 LUFS integrated (±1) with true peaks at or under
-1 dBTP, measured on the encoded MP4 with ffmpeg's ebur128; the music ducks under the clips' own audio."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.renderer.compose import ComposeInputs, EncodeSettings, compose
from tests.renderer import clips
from tests.renderer.media_checks import band_rms_db, ebur128

FAST = EncodeSettings(preset="ultrafast")
MUSIC_BAND = (170, 330)  # clips.make_music's 200 and 300 Hz, clear of the clips' 440 Hz


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("loudness_inputs")
    return {
        "template": clips.make_video(folder / "template.mp4", 720, 1280, 1.5),
        "silent_template": clips.make_video(folder / "template_silent.mp4", 720, 1280, 1.5, audio=False),
        "demo": clips.make_video(folder / "demo.mp4", 1280, 720, 2.5),
        "silent_demo": clips.make_video(folder / "demo_silent.mp4", 1280, 720, 2.5, audio=False),
        "music": clips.make_music(folder / "music.m4a", 6),
        "loud_music": clips.make_loud_music(folder / "loud.m4a", 6),
        "clipped_music": clips.make_clipped_music(folder / "clipped.m4a", 6),
        "spiky_music": clips.make_spiky_music(folder / "spiky.m4a", 6),
        "hat_music": clips.make_hat_music(folder / "hat.m4a", 6),
        "drum_music": clips.make_noise_drum_music(folder / "drum.m4a", 6),
        "near_silent_music": clips.make_near_silent_music(folder / "near_silent.m4a", 6),
    }


CASES = {
    "template, demo and music": ("template", "demo", "music"),
    "music alone under silent clips": ("silent_template", "silent_demo", "music"),
    "template's audio, no music": ("template", "silent_demo", None),
    "demo's audio, no music": ("silent_template", "demo", None),
    "full-scale music": ("silent_template", "silent_demo", "loud_music"),
    "full-scale music under the template": ("template", "demo", "loud_music"),
    # Clicks over quiet material: a gain that lifts the quiet part sends the clicks far over the ceiling.
    "spiky music": ("silent_template", "silent_demo", "spiky_music"),
    "spiky music under the template": ("template", "silent_demo", "spiky_music"),
    # Noise bursts: limited to the ceiling, AAC's encoding of them overshoots it by more than a dB.
    "hi-hat music": ("silent_template", "silent_demo", "hat_music"),
    "dense noise bursts": ("silent_template", "silent_demo", "drum_music"),
    "near-silent music": ("silent_template", "silent_demo", "near_silent_music"),
    "clipping music": ("silent_template", "silent_demo", "clipped_music"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_output_is_minus_14_lufs_with_peaks_under_minus_1_dbtp(
    tmp_path: Path, inputs: dict[str, Path], case: str
) -> None:
    template, demo, music = CASES[case]
    spec = ComposeInputs(inputs[template], inputs[demo], inputs[music] if music else None, encode=FAST)
    measured = ebur128(compose(spec, tmp_path).video_path)
    assert -15.0 <= measured.integrated_lufs <= -13.0, measured.summary
    assert measured.true_peak_dbtp <= -1.0, measured.summary


def test_music_is_ducked_under_the_clips_own_audio(tmp_path: Path, inputs: dict[str, Path]) -> None:
    # The template speaks, the demo is silent: the music must rise once the template is over.
    spec = ComposeInputs(inputs["template"], inputs["silent_demo"], inputs["music"], encode=FAST)
    video = compose(spec, tmp_path).video_path
    under_voice = band_rms_db(video, 0.2, 1.3, *MUSIC_BAND)
    alone = band_rms_db(video, 2.2, 3.0, *MUSIC_BAND)
    assert alone - under_voice >= 6, (under_voice, alone)


def test_music_fades_out_at_the_end(tmp_path: Path, inputs: dict[str, Path]) -> None:
    spec = ComposeInputs(inputs["silent_template"], inputs["silent_demo"], inputs["music"], encode=FAST)
    video = compose(spec, tmp_path).video_path
    assert band_rms_db(video, 3.88, 3.98, *MUSIC_BAND) < band_rms_db(video, 2.0, 2.8, *MUSIC_BAND) - 10
